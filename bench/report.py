"""Render the benchmark's figures (bench/run.py's JSON) as the RESULTS.md section: one row per
target of issue 13, each cell the measured figure beside its goal and "met" or "missed", then
the request counts of every run by kind.

Wall-time bound of a full re-sync under latency: reads page by page (a page's cursor comes
from the one before), so one scope's pages form a chain; scopes run side by side within each
API's budget. A system's bound is the longer of its longest chain times the latency and its
reads beyond the rate limit's burst over the sustained rate; the sync's bound is the slowest
system's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import measure as m
from bench import targets as t

__all__ = ["TITLE", "render", "replace_section"]

TITLE = "## Issue 13: cost follows change, each target measured (bench/run.py)"
Size = dict[str, Any]
Cell = tuple[str, bool | None]  # (text, met?) ; None: not measured at this size


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.2f}"


def _kind(run: dict[str, Any], kind: str, systems: tuple[str, ...] = t.SYSTEMS) -> int:
    return sum(run["by_kind"].get(f"{s}:{kind}", 0) for s in systems)


def _reads(run: dict[str, Any]) -> int:
    return int(run["requests"]["reads"])


def _writes(run: dict[str, Any]) -> int:
    return int(run["requests"]["writes"])


def _total(run: dict[str, Any]) -> int:
    return int(run["requests"]["total"])


def _at_most(value: float, goal: float, fmt: str = "{}") -> Cell:
    return f"{fmt.format(_n(value))} (goal <= {fmt.format(_n(goal))})", value <= goal


def _ratio(ours: float, naive: float, goal: float, unit: str = "") -> Cell:
    ratio = naive / ours if ours else float("inf")
    return (f"{_n(naive)}{unit} / {_n(ours)}{unit} = {ratio:,.1f}x (goal >= {goal:g}x)",
            ratio >= goal)


def full_bound(size: Size, latency: float) -> float:
    """The least wall time of a full re-sync that reads the page floor (not what the run
    read: needless requests must not raise the bar they are measured against)."""
    per = m.read_bound(size["scopes"], size["floor_by_system"], latency)
    return max(max(b["concurrent"], b["rate"]) for b in per.values())


def _slow(fn: Callable[[Size], Cell]) -> Callable[[Size], Cell]:
    """A target measured under latency: only at the sizes that ran with it."""
    return lambda s: fn(s) if s.get("slow") else ("not run at this size", None)


def _naive(fn: Callable[[Size], Cell]) -> Callable[[Size], Cell]:
    return lambda s: fn(s) if "naive_second" in s else ("naive not run", None)


def _at(n: int, fn: Callable[[Size], Cell]) -> Callable[[Size], Cell]:
    """A target the issue sets at one size; other sizes show the figure without a verdict."""
    return lambda s: fn(s) if s["items"] == n else (fn(s)[0].split(" (goal")[0], None)


TARGETS: list[tuple[str, Callable[[Size], Cell]]] = [
    ("first sync: reads <= 1.10 x (page floor + constants) + Notion pages already ours",
     lambda s: _at_most(_reads(s["first"]), s["first_limit"])),
    ("first sync: per-item comment reads on Jira and GitHub",
     lambda s: _at_most(_kind(s["first"], "lookup", ("jira", "github")), 0)),
    ("run after a writing run: per-item comment reads",
     lambda s: _at_most(_kind(s["after"], "lookup"), 0)),
    ("run after a writing run: writes", lambda s: _at_most(_writes(s["after"]), 0)),
    ("run after a writing run: reads <= pages holding the items our writes touched "
     "(+ GitHub comment pages + uncached constants)",
     lambda s: _at_most(_reads(s["after"]), s["after_goal"])),
    ("no-change run: reads besides constants (list pages, comment lists, lookups) <= 1 per "
     "scope",
     lambda s: _at_most(sum(_kind(s["quiet"], k) for k in ("list", "comments", "lookup")),
                        len(s["scopes"]))),
    ("no-change run: writes", lambda s: _at_most(_writes(s["quiet"]), 0)),
    ("no-change run at 100k: CPU s",
     _at(100_000, lambda s: _at_most(s["quiet"]["cpu"], 2, "{} s"))),
    ("no-change run at 100k: peak RSS",
     _at(100_000, lambda s: _at_most(s["quiet"]["rss_mb"], 300, "{} MB"))),
    ("full rebuild at 100k (--full after a config change): CPU s",
     _at(100_000, lambda s: _at_most(s["rebuild"]["cpu"], 30, "{} s"))),
    ("full rebuild at 100k: peak RSS",
     _at(100_000, lambda s: _at_most(s["rebuild"]["rss_mb"], 500, "{} MB"))),
    ("latency + rate limits: no-change run wall time",
     _slow(lambda s: _at_most(s["quiet"]["wall"], 5, "{} s"))),
    ("latency + rate limits: full re-sync wall <= 1.5 x its bound",
     _slow(lambda s: _at_most(s["rebuild"]["wall"],
                              1.5 * full_bound(s, s["rebuild"]["latency"]),
                              "{} s"))),
    ("requests, naive / ours, no-change run",
     _naive(lambda s: _ratio(_total(s["quiet"]), _total(s["naive_second"]), 10))),
    ("requests, naive / ours, run after a writing run",
     _naive(lambda s: _ratio(_total(s["after"]), _total(s["naive_second"]), 10))),
    ("latency + rate limits: wall, naive / ours, no-change run",
     _slow(_naive(lambda s: _ratio(s["quiet"]["wall"], s["naive_second"]["wall"], 5, " s")))),
    ("latency + rate limits: wall, naive / ours, run after a writing run",
     _slow(_naive(lambda s: _ratio(s["after"]["wall"], s["naive_second"]["wall"], 5, " s")))),
]

RUNS = [("first", "first sync"), ("after", "run right after it"),
        ("quiet", "no change"), ("person", "one item changed by a person"),
        ("rebuild", "--full after a config change"), ("naive_first", "naive: first"),
        ("naive_second", "naive: second")]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _verdict(cell: Cell) -> str:
    text, met = cell
    return text if met is None else f"{text}: **{'met' if met else 'missed'}**"


def _counts(run: dict[str, Any]) -> str:
    parts = [f"{k} {_n(_kind(run, k))}" for k in ("list", "comments", "lookup", "const")]
    return (", ".join(parts) + f"; writes {_n(_writes(run))}; {run['wall']:.1f} s wall, "
            f"{run['cpu']:.1f} CPU s, {run['rss_mb']:.0f} MB RSS"
            + (f", {run['traced_mb']:.0f} MB traced" if "traced_mb" in run else ""))


def render(results: dict[str, Any]) -> str:
    sizes = sorted(results["sizes"].values(), key=lambda s: s["items"])
    mach, lat = results["machine"], float(results["latency"])
    head = ["target", *[f"{_n(s['items'])} items" for s in sizes]]
    sep = "|" + "---|" * len(head)
    out = [
        TITLE, "",
        f"- date: {mach['date']}; commit {mach['commit']} (with the tree as it stood)",
        f"- machine: nproc {mach['nproc']}, {mach['platform']}, Python {mach['python']}",
        f"- command: `{results['command']}`"
        + (f" ({results['note']})" if results.get("note") else ""),
        "- workspaces: `generate_workspace(n, seed=0)` (40% Jira in 4 projects, 40% PRs in 4 "
        "repositories, 20% Notion pages in 2 databases: 10 scopes). Each sync runs in a "
        "process of its own (bench/child.py); requests are counted in the sandbox's log; CPU "
        "is the child's user + system time and peak RSS its VmHWM (its own: a child's "
        "ru_maxrss starts at its parent's peak, the sandbox's), both from its start "
        "(imports and loading the state included)"
        + ("; tracemalloc ran from the child's first line" if results.get("tracemalloc")
           else "") + ".",
        f"- runs 1-5 are {results.get('gap', 15):g} minutes apart (a cron period) on the "
        "sandbox's and the engine's clocks; in the no-change run nobody changed anything. "
        "Latency runs: every "
        f"run after the first sync at {lat * 1000:.0f} ms per request with the APIs' rate "
        "limits on (Notion ~3/s, GitHub 900 points/min and 80 writes/min, Jira 20/s).",
        "- page floor (bench/targets.py): per scope ceil(items/100) list pages (at least 1), "
        "per GitHub repository ceil(comments/100) pages of its repository-wide comment list "
        "(at least 1), and the constant reads: Jira 5 (serverInfo, /myself, /field, users, "
        "groups), GitHub 1 (/user), Notion 2 + 1 per database (/users/me, /users, the data "
        "source id). Later runs within the constants' time-to-live may read only Jira's "
        "serverInfo (the jira library's constructor asks for it).",
        "",
        "### Targets",
        "",
        _row(head), sep,
    ]
    out += [_row([name, *[_verdict(fn(s)) for s in sizes]]) for name, fn in TARGETS]
    out += ["", "### Requests of every run, by kind", "",
            _row(["run", *head[1:]]), sep]
    for key, name in RUNS:
        cells = [_counts(s[key]) if key in s else "not run" for s in sizes]
        out.append(_row([name, *cells]))
    floors = [f"{_n(s['floor'])}" for s in sizes]
    out += [_row(["page floor (pages + comment pages + constants)", *floors])]
    bounds = [f"{full_bound(s, lat):.1f} s" if s.get("slow") else "-"
              for s in sizes]
    out += [_row(["latency and rate-limit bound of the full re-sync", *bounds])]
    return "\n".join(out) + "\n"


def replace_section(text: str, section: str) -> str:
    """`text` with our section replaced (or appended); other sections stay as they are."""
    start = text.find(TITLE)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    nxt = text.find("\n## ", start + len(TITLE))
    end = len(text) if nxt < 0 else nxt + 1
    return text[:start] + section + ("\n" + text[end:] if nxt >= 0 else "")
