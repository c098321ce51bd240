"""Render bench/serve_latency.py's figures as the RESULTS.md section of issue 14, each target
beside its goal and "met" or "missed"."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TITLE", "percentile", "render", "replace_section", "summary"]

TITLE = "## Issue 14: webhook latency (bench/serve_latency.py)"
GOALS = {"p50": 2.0, "p99": 10.0, "reads_per_delivery": 5.0}


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(ph: dict[str, Any]) -> dict[str, Any]:
    """One series' figures: latency percentiles over the edits seen, requests per delivery."""
    secs = [r["seconds"] for r in ph["rows"] if r["seconds"] is not None]
    deliveries = sum(ph["deliveries"].values())
    req = ph["requests"]
    edits = len(ph["rows"])
    return {
        "edits": edits, "seen": len(secs),
        "p50": percentile(secs, 50), "p99": percentile(secs, 99),
        "max": max(secs) if secs else math.nan,
        "deliveries": deliveries, "syncs": ph["syncs"],
        "reads": req["reads"], "writes": req["writes"],
        "reads_per_delivery": req["reads"] / deliveries if deliveries else math.nan,
        "reads_per_edit": req["reads"] / edits if edits else math.nan,
        "writes_per_edit": req["writes"] / edits if edits else math.nan,
    }


def _goal(value: float, goal: float, unit: str) -> str:
    met = "met" if value <= goal else "**missed**"
    return f"{value:.2f}{unit} (goal <= {goal:g}{unit}): {met}"


def _phase(name: str, ph: dict[str, Any]) -> list[str]:
    s = summary(ph)
    req = ph["requests"]
    by_system = ", ".join(
        f"{k} {req['reads_by_system'].get(k, 0)} reads + {req['writes_by_system'].get(k, 0)} "
        f"writes" for k in ("jira", "github", "notion"))
    per_system: dict[str, list[float]] = {}
    for row in ph["rows"]:
        if row["seconds"] is not None:
            per_system.setdefault(row["system"], []).append(row["seconds"])
    systems = "; ".join(f"{k} p50 {percentile(v, 50):.2f} s, max {max(v):.2f} s"
                        for k, v in sorted(per_system.items()))
    return [
        f"### {name}",
        "",
        f"- edits: {s['edits']}, comment change observed for {s['seen']}"
        f" (series {ph['wall']:.0f} s wall)",
        f"- **p50**: {_goal(s['p50'], GOALS['p50'], ' s')}",
        f"- **p99**: {_goal(s['p99'], GOALS['p99'], ' s')}; max {s['max']:.2f} s",
        f"- by system: {systems}",
        f"- deliveries posted to the service: {s['deliveries']} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(ph['deliveries'].items()))}; the edits' "
        f"own and the echoes of our writes); syncs: {s['syncs']:.0f}",
        "- **reads per delivery**: "
        f"{_goal(s['reads_per_delivery'], GOALS['reads_per_delivery'], '')}"
        f" ({s['reads']} reads / {s['deliveries']} deliveries); per edit "
        f"{s['reads_per_edit']:.2f} reads, {s['writes_per_edit']:.2f} writes",
        f"- requests of the service: {by_system}; 429/403 answers {req['throttled']}",
        "- by method: " + ", ".join(f"{k} {v}" for k, v in req["by_method"].items()),
        "",
    ]


def render(res: dict[str, Any]) -> str:
    mach = res["machine"]
    first = res["first_sync"]
    out = [
        TITLE,
        "",
        f"- date: {mach['date']}; commit {mach['commit']}; machine: {mach['nproc']} CPUs, "
        f"{mach['platform']}, Python {mach['python']} (shared with other work while it ran)",
        f"- command: `{res['command']}`",
        f"- workspace: `generate_workspace({res['items']}, seed=0)`; the first sync "
        f"(bench/child.py) took {first['wall']:.0f} s; then `handoff serve` as a subprocess"
        f" ([serve] {res['serve_settings'] or 'defaults'}), its start-up poll "
        f"{res['startup_seconds']:.1f} s",
        "- latency: from just before the person's request is sent to the moment the sandbox "
        "holds a changed comment on the edited item (its state polled every 20 ms in-process,"
        " no request); percentiles by nearest rank",
        f"- edits {res['gap']:g} s apart once the comment changed; every third group of three"
        " edits sent at once (a burst); requests from the sandbox's log, the person's own left"
        " out, counted until the service was idle again (the echoes of our writes included)",
        f"- serve process: peak RSS (VmHWM) {res['serve']['rss_mb']:.0f} MB, CPU "
        f"{res['serve']['cpu']:.1f} s over its life (start-up poll included)",
        "",
    ]
    out += _phase("Without latency", res["fast"])
    if "slow" in res:
        out += _phase(f"With {res['slow']['latency'] * 1000:.0f} ms per request and the APIs'"
                      " rate limits (same service, next series)", res["slow"])
    return "\n".join(out).rstrip("\n") + "\n"


def replace_section(text: str, section: str, title: str = TITLE) -> str:
    """`text` with the section under `title` replaced (or appended); others stay as they are."""
    start = text.find(title)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    nxt = text.find("\n## ", start + len(title))
    end = len(text) if nxt < 0 else nxt + 1
    return text[:start] + section + ("\n" + text[end:] if nxt >= 0 else "")
