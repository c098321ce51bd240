"""What the three extractors share: collecting values with provenance, labels, task items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import SourceItem
from mapping.coerce import convert
from mapping.record import FIELD_KINDS, LIST_FIELDS, Provenance, Value
from mapping.text import sections, task_items

__all__ = ["Collector", "Folded"]


class Folded:
    """A field looked up by its name regardless of case and surrounding space ("Outcome
    owner" finds " outcome Owner"); the first such field in the payload's order wins. The
    folded index is built once per item, on the first miss, not once per field name."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields
        self._index: dict[str, Any] | None = None

    def get(self, name: str) -> Any:
        if self._index is None:
            self._index = {}
            for key, value in self._fields.items():
                if isinstance(key, str):
                    self._index.setdefault(key.strip().lower(), value)
        return self._index.get(name.strip().lower())


class Collector:
    """Values of one item, field by field.

    Within one item the first place that yields a value wins for single-valued fields (a site's
    "Outcome owner" field before the reporter fallback); list fields gather from every place.
    """

    def __init__(self, item: SourceItem, default_currency: str = "") -> None:
        self.item = item
        self.currency = default_currency
        self._found: dict[str, list[Value]] = {}

    def add(self, name: str, raw: Any, where: str) -> None:
        """Coerce `raw` to the field's kind and keep it, unless the field is already set."""
        kind = FIELD_KINDS.get(name)
        if kind is None or raw is None:
            return
        if name in self._found and name not in LIST_FIELDS:
            return
        self.add_values(name, convert(kind, raw, self.item.system, self.currency), where)

    def add_values(self, name: str, values: Iterable[Any], where: str) -> None:
        """Keep already-coerced values of a field, without duplicates."""
        if name in self._found and name not in LIST_FIELDS:
            return
        source = Provenance(
            self.item.system, self.item.id, self.item.key, where, self.item.url
        )
        kept = self._found.setdefault(name, [])
        seen = {v.value for v in kept}
        for value in values:
            if value not in seen:
                seen.add(value)
                kept.append(Value(value, source))
        if not kept:
            del self._found[name]

    def add_text(self, text: str, headings: Mapping[str, list[str]], where: str) -> None:
        """Fields found under headings in a body or description."""
        found = sections(text)
        for name, names in headings.items():
            for heading in names:
                body = found.get(heading.strip().lower())
                if body:
                    self.add(name, body, f"{where}: {heading}")
                    break

    def add_tasks(self, text: str, tasks: Mapping[str, list[str]], where: str) -> None:
        """Flags set by task items such as `- [x] Instrumentation verified`."""
        items = {t.lower().rstrip(" .:"): done for t, done in task_items(text)}
        for name, texts in tasks.items():
            for text_ in texts:
                done = items.get(text_.lower())
                if done is not None:
                    self.add_values(name, [done], f"{where}: task '{text_}'")
                    break

    def add_labels(self, labels: Iterable[str], prefixes: Mapping[str, str]) -> None:
        """Fields set by labels such as `risk:high` (the label's rest is the value)."""
        for label in sorted(labels):
            for prefix, name in prefixes.items():
                if label.lower().startswith(prefix.lower()) and len(label) > len(prefix):
                    rest = label[len(prefix) :].strip()
                    self.add(name, rest, f"label {label}")

    def result(self) -> dict[str, tuple[Value, ...]]:
        """The values found, by record field; fields with no value are left out."""
        self.add("last_activity", self.item.activity or self.item.updated, "updated")
        return {name: tuple(values) for name, values in self._found.items()}
