"""Reconcile and plan alone, no I/O: records, findings, targets and writes from stored items.

The items come from a state file a benchmark sync filled (read before timing). To reach a
record count above what one workspace gives, the items are copied with every Jira key, id and
URL shifted (EXP-12 -> EXP-1000012 in the copy), so each copy links into records of its own.
Timed twice: CPU seconds (time.process_time) without tracing, then peak memory (tracemalloc).
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import SourceItem
from sync.engine.reconcile import reconcile
from sync.settings import Settings
from sync.store import open_store
from sync.systems.runtime import runtime

__all__ = ["load_items", "measure", "replicate"]

_KEY = re.compile(r"\b(EXP|GRO|PAY|ONB)-(\d+)\b")
_SHIFT = 1_000_000


def load_items(path: str | Path) -> list[SourceItem]:
    with open_store(path) as state:
        return [i for i in state.iter_items() if i.state == "present"]


def _shift(text: str, k: int) -> str:
    return _KEY.sub(lambda m: f"{m.group(1)}-{int(m.group(2)) + k * _SHIFT}", text)


def _copy(item: SourceItem, k: int) -> SourceItem:
    fields: Any = json.loads(_shift(json.dumps(item.fields, default=str), k))
    if item.system == "jira":
        new_id = str(int(item.id) + k * 10 * _SHIFT) if item.id.isdigit() else f"{item.id}.{k}"
    elif item.system == "github":
        repo, _, num = item.id.rpartition("#")
        new_id = f"{repo}#{int(num) + k * _SHIFT}"
    else:
        new_id = f"{item.id[:-3]}{k:03d}"
    return replace(item, id=new_id, key=_shift(item.key, k) if item.system != "github" else new_id,
                   url=_shift(item.url, k), title=_shift(item.title, k), fields=fields)


def replicate(items: list[SourceItem], copies: int) -> list[SourceItem]:
    """`items` and `copies - 1` shifted copies of them."""
    out = list(items)
    for k in range(1, copies):
        out += [_copy(i, k) for i in items]
    return out


def _pipeline(settings: Settings, items: list[SourceItem], now: datetime) -> tuple[int, int]:
    # A first run's view: no finding seen before, no comment of ours anywhere yet.
    done = reconcile(
        items,
        runtime(settings),
        settings.directory(),
        now=now,
        opened={},
        comments={},
        systems=["jira", "github", "notion"],
    )
    return len(done.records), len(done.ops)


def measure(settings: Settings, items: list[SourceItem]) -> dict[str, float]:
    """CPU seconds and peak traced memory (MB) of reconcile + plan over `items`."""
    now = datetime.now(UTC)
    cpu = time.process_time()
    records, ops = _pipeline(settings, items, now)
    cpu = time.process_time() - cpu
    tracemalloc.start()
    _pipeline(settings, items, now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"items": len(items), "records": records, "ops": ops, "cpu_s": cpu,
            "peak_mb": peak / 2**20}
