"""`handoff show` as aligned text for a lead, or as one JSON object (`--json`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.engine.knowledge import age
from sync.report.data import field_label
from sync.report.show import Shown, changed_fields
from sync.report.show_values import value_text

__all__ = ["render_show_json", "render_show_text", "stale_note"]

_WIDE = 24  # width of the name column
_HISTORY = 20  # latest content changes and writes shown in text (all of them in JSON)


def _at(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "—"


def stale_note(shown: Shown, max_age: timedelta) -> str:
    """A sentence when the state is older than `max_age` (or was never synced)."""
    now = shown.now or datetime.now(UTC)
    if shown.last_sync is None:
        return "No sync has finished into this state yet: run `handoff sync`."
    if now - shown.last_sync > max_age:
        return (
            f"The state is {age(now - shown.last_sync)} old (last sync {_at(shown.last_sync)} "
            "UTC): run `handoff sync` for what changed since."
        )
    return ""


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Columns padded to their widest cell; the last column is left ragged."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        indent + "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]])
        for r in rows
    ]


def render_show_text(shown: Shown, max_age: timedelta) -> str:
    rec = shown.record
    step = shown.escalation()
    out = [f"{rec.key} · {rec.title}" if rec.title else rec.key]
    head = [f"stage {rec.stage.value}", f"{len(rec.sources)} linked item(s)"]
    head.append(f"escalation step {step}" if shown.findings else "no open findings")
    out += ["  " + " · ".join(head)]
    note = stale_note(shown, max_age)
    out += [f"  {note}"] if note else []
    out += ["", "Linked items"]
    out += _table([[s.system, s.item_key, s.kind, s.url] for s in rec.sources])
    out += ["", "Fields (value · from system item, field, item changed)"]
    rows, empty = [], []
    for name, values in shown.fields():
        if not values:
            empty.append(field_label(name))
            continue
        for i, v in enumerate(values):
            src = v["source"]
            where = f"{src['system']} {src['item']}, {src['field']}, {_at(src['when'])}"
            rows.append([field_label(name) if i == 0 else "", v["text"], where])
    out += _table([[n[:_WIDE], t[:60], w] for n, t, w in rows])
    if empty:
        out += ["  Empty: " + ", ".join(empty)]
    out += _findings(shown)
    out += _decisions(shown)
    out += _history(shown)
    return "\n".join(out) + "\n"


def _findings(shown: Shown) -> list[str]:
    out = ["", f"Open findings ({len(shown.findings)})"]
    if not shown.findings:
        return [*out, "  none"]
    rows = []
    for f in sorted(shown.findings, key=lambda f: (f.row.severity != "blocker", f.row.code)):
        r = f.row
        nxt = (
            f"{f.next_to} told from {_at(f.next_at.astimezone(UTC))} UTC ({f.zone} hours)"
            if f.next_at
            else "top of the ladder"
        )
        told = ", ".join(f.told) or "nobody"
        when = f"open since {_at(r.first_seen)}; step {f.step}, tells {told}; {nxt}"
        rows.append([r.severity, r.code, r.item_key or r.system, value_text(r.message, 70), when])
    return out + _table(rows)


def _decisions(shown: Shown) -> list[str]:
    out = ["", "Decision log"]
    entries = shown.record.decision_log
    if not entries:
        return [*out, "  none recorded"]
    return out + _table(
        [[value_text(v.value), f"{v.source.system} {v.source.item_key}, {v.source.field}"]
         for v in entries]
    )  # fmt: skip


def _history(shown: Shown) -> list[str]:
    out = ["", "Changes (as the syncs saw them)"]
    changes = changed_fields(shown.history)[-_HISTORY:]
    keys = {(s.system, s.item_id): s.item_key for s in shown.record.sources}
    rows = [
        [_at(c.at), c.system, keys.get((c.system, c.item_id), c.item_id),
         ", ".join(names) if names else "first seen"]
        for c, names in changes
    ]
    out += _table(rows) or ["  none stored (this state predates the history)"]
    out += ["", "Our writes"]
    # One line per write, as it ended (the audit also keeps its "sending" step; JSON has all).
    last = {w.op_key or f"{w.at}:{i}": w for i, w in enumerate(shown.writes)}
    writes = sorted(last.values(), key=lambda w: w.at)[-_HISTORY:]
    rows = [[_at(w.at), w.system, w.item_key or w.item_id, w.action, w.result] for w in writes]
    return out + (_table(rows) or ["  none"])


def render_show_json(shown: Shown, max_age: timedelta) -> dict[str, Any]:
    now = shown.now or datetime.now(UTC)
    rec = shown.record
    return {
        "query": shown.query,
        "record": {"key": rec.key, "title": rec.title, "stage": rec.stage.value,
                   "linked": rec.linked},
        "items": [
            {"system": s.system, "item": s.item_key, "item_id": s.item_id, "kind": s.kind,
             "url": s.url} for s in rec.sources
        ],
        "fields": {
            name: [{"value": v["text"], "source": _src(v["source"])} for v in values]
            for name, values in shown.fields()
        },
        "findings": [_finding_json(f) for f in shown.findings],
        "escalation": shown.escalation(),
        "decisions": [
            {"entry": value_text(v.value), "source": _src({"system": v.source.system,
             "item": v.source.item_key, "item_id": v.source.item_id,
             "field": v.source.field, "url": v.source.url, "when": None})}
            for v in rec.decision_log
        ],
        "history": [
            {"at": c.at.isoformat(), "system": c.system, "item_id": c.item_id,
             "run_id": c.run_id, "changed": names, "first": not names}
            for c, names in changed_fields(shown.history)
        ],
        "writes": [
            {"at": w.at.isoformat(), "system": w.system, "item_id": w.item_id,
             "item": w.item_key, "action": w.action, "result": w.result, "target": w.target}
            for w in shown.writes
        ],
        "state": {
            "last_sync": shown.last_sync.isoformat() if shown.last_sync else None,
            "age_minutes": int((now - shown.last_sync).total_seconds() // 60)
            if shown.last_sync else None,
            "note": stale_note(shown, max_age),
        },
    }


def _src(src: dict[str, Any]) -> dict[str, Any]:
    when = src.get("when")
    return {**src, "when": when.isoformat() if isinstance(when, datetime) else when}


def _finding_json(f: Any) -> dict[str, Any]:
    r = f.row
    return {
        "code": r.code, "severity": r.severity, "subject": r.subject, "message": r.message,
        "system": r.system, "item": r.item_key, "url": r.url,
        "opened": r.first_seen.isoformat(), "escalation": f.step, "told": list(f.told),
        "next_step_at": f.next_at.isoformat() if f.next_at else None,
        "next_step_to": f.next_to or None, "time_zone": f.zone,
    }  # fmt: skip
