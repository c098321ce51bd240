"""The report's at-risk table: one row per handoff, blockers first, natural key order, due times
from the escalation ladder in the owner's time zone, and what changed since the last report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from colour_check import contrast_with_white, delta_e
from stand_ins import Rec, Src
from test_report import NAMES, _f, _item

from mapping.escalation import EscalationConfig
from sync.commands.report import report_command
from sync.report.atrisk import natural_key
from sync.report.data import LAST_REPORT, Filters, ReportData, gather
from sync.report.html import COLORS, render_html
from sync.report.render import render_json, render_markdown
from sync.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
KEYS = (22, 5, 7, 13)


def _fill(state: SqliteStore, runs: list[tuple[datetime, list]]) -> None:  # type: ignore[type-arg]
    items = [_item(n, f"Handoff {n}", "Growth") for n in KEYS]
    first = state.start_run(runs[0][0])
    state.upsert_items(items, first, runs[0][0])
    recs = [Rec(i.key, i.title, "design", (Src("jira", i.id),)) for i in items]
    state.upsert_records(recs, runs[0][0])
    state.finish_run(first, runs[0][0], outcome="ok", counts={})
    for at, found in runs:
        run = state.start_run(at)
        state.record_findings(run, found, at)
        state.finish_run(run, at, outcome="ok", counts={})


FOUND = [
    _f(22, "missing-field", "hypothesis", severity="warning"),
    _f(5, "missing-field", "hypothesis", severity="warning"),
    _f(5, "missing-field", "primary_metric", severity="warning"),
    _f(5, "noisy", "informed", severity="info"),
    _f(7, "missing-field", "hypothesis", severity="warning"),
    _f(7, "ownerless", "engineering_owner"),
    _f(13, "noisy", "informed", severity="info", notify=("ben",)),
]


@pytest.fixture
def state() -> Iterator[SqliteStore]:
    with SqliteStore.memory() as st:
        _fill(st, [(T0, FOUND)])
        yield st


def _data(state: SqliteStore, now: datetime = T0 + timedelta(hours=1)) -> ReportData:
    zones = {"ana": "Europe/Berlin"}
    return gather(state, now=now, names=NAMES, escalation=EscalationConfig(), zones=zones)


def test_one_row_per_handoff_blockers_first_then_keys_in_natural_order(
    state: SqliteStore,
) -> None:
    rows = _data(state).at_risk
    assert [r.record for r in rows] == ["EXP-7", "EXP-5", "EXP-22", "EXP-13"]
    assert [r.blocker for r in rows] == [True, False, False, False]
    five = rows[1]
    assert five.missing() == ["missing-field: hypothesis, primary metric", "noisy: informed"]
    # Worst first: the blocker, then the warnings.
    assert rows[0].missing() == ["ownerless: engineering owner", "missing-field: hypothesis"]


def test_natural_key_reads_numbers_as_numbers() -> None:
    keys = ["EXP-22", "exp-5", "EXP-100", "GRO-3", "EXP-5a"]
    assert sorted(keys, key=natural_key) == ["exp-5", "EXP-5a", "EXP-22", "EXP-100", "GRO-3"]


def test_due_time_is_the_next_ladder_step_in_the_owners_time_zone(state: SqliteStore) -> None:
    rows = {r.record: r for r in _data(state).at_risk}
    # Ana works in Berlin: opened Mon 10:00 local, 16 working hours (9-17) reach Wed 10:00.
    due = rows["EXP-7"].due
    assert due is not None and due.to == "approver" and due.zone == "Europe/Berlin"
    assert due.local == datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    # Ben has no time zone: the default (UTC), Mon 09:00 + 16 working hours = Tue 17:00.
    ben = rows["EXP-13"].due
    assert ben is not None and ben.zone == "UTC"
    assert ben.local == datetime(2026, 3, 3, 17, 0, tzinfo=ZoneInfo("UTC"))


def test_due_moves_up_the_ladder_and_stops_at_the_top(state: SqliteStore) -> None:
    later = _data(state, now=datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # Wed, 18 hours in
    due = {r.record: r.due for r in later.at_risk}["EXP-7"]
    assert due is not None and due.to == "lead"
    # 40 working hours from Mon 10:00 Berlin: Mon 7 + Tue 8 + Wed 8 + Thu 8 + Fri 8 = 39,
    # so the next Monday at 10:00.
    assert due.local == datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    top = _data(state, now=datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    assert all(r.due is None and r.top for r in top.at_risk)


def test_new_and_resolved_count_from_the_last_report() -> None:
    later = T0 + timedelta(days=2)
    second = [f for f in FOUND if f.id != "EXP-5:noisy:informed"]
    second.append(_f(5, "expired", "expiry"))
    with SqliteStore.memory() as st:
        _fill(st, [(T0, FOUND), (later, second)])
        first = _data(st, now=later)
        assert first.last_report is None
        assert all(r.new == () and r.resolved == () for r in first.at_risk)
        st.remember_fact(LAST_REPORT, (T0 + timedelta(days=1)).isoformat())
        data = _data(st, now=later)
    rows = {r.record: r for r in data.at_risk}
    assert [(ln.code, ln.subject) for ln in rows["EXP-5"].new] == [("expired", "expiry")]
    assert [(ln.code, ln.subject) for ln in rows["EXP-5"].resolved] == [("noisy", "informed")]
    assert rows["EXP-7"].new == () and rows["EXP-7"].resolved == ()
    # Both are blockers now; EXP-5's new finding reaches the approver on Friday, before
    # EXP-7's reaches the lead next Monday: the sooner due comes first.
    assert [r.record for r in data.at_risk][:2] == ["EXP-5", "EXP-7"]
    md = render_markdown(data)
    assert "| Since last report |" in md and "(2026-03-03 09:00 UTC)" in md
    [five] = [ln for ln in _md_rows(md, "## At risk") if ln.startswith("| [EXP-5]")]
    assert five.endswith("| new expired: expiry; resolved noisy: informed |")
    page = render_html(data)
    assert "new: expired expiry" in page and "resolved: noisy informed" in page
    assert "Since last report" not in render_markdown(first)  # nothing to compare with yet


# --- renderers ----------------------------------------------------------------------------


def _md_rows(md: str, heading: str) -> list[str]:
    part = md.split(heading, 1)[1].split("\n## ", 1)[0]
    return [ln for ln in part.splitlines() if ln.startswith("| [")]


def test_markdown_opens_with_the_at_risk_table_in_the_same_order(state: SqliteStore) -> None:
    data = _data(state)
    md = render_markdown(data)
    headings = re.findall(r"^## .*$", md, flags=re.MULTILINE)
    assert headings[0] == "## At risk, blockers first"
    rows = _md_rows(md, headings[0])
    assert [re.match(r"\| \[([^]]+)\]", r)[1] for r in rows] == [  # type: ignore[index]
        r.record for r in data.at_risk
    ]
    assert "blocker" in rows[0] and "Wed 4 Mar 10:00 Europe/Berlin" in rows[0]
    assert "missing-field: hypothesis, primary metric; noisy: informed" in rows[1]  # one row


def test_json_lists_the_at_risk_rows(state: SqliteStore) -> None:
    doc = json.loads(render_json(_data(state)))
    assert [r["record"] for r in doc["at_risk"]] == ["EXP-7", "EXP-5", "EXP-22", "EXP-13"]
    assert doc["at_risk"][0]["due"]["to"] == "approver"
    assert doc["at_risk"][0]["due"]["local"].startswith("2026-03-04T10:00:00+01:00")


def test_a_first_run_has_no_trend_chart_but_says_when_it_starts() -> None:
    with SqliteStore.memory() as st:
        run = st.start_run(T0)
        st.record_findings(run, FOUND, T0)
        st.finish_run(run, T0, outcome="ok", counts={})
        data = _data(st)
    assert len(data.trend) == 1
    page = render_html(data)
    assert 'id="trend-chart"' not in page and "Trend starts after the next run" in page
    md = render_markdown(data)
    assert "Trend starts after the next run" in md and "| Run | Open |" not in md


def test_a_since_that_leaves_one_run_says_so_rather_than_first_run(state: SqliteStore) -> None:
    later = T0 + timedelta(days=1)
    run = state.start_run(later)
    state.record_findings(run, FOUND, later)
    state.finish_run(run, later, outcome="ok", counts={})
    data = gather(state, now=later, filters=Filters(since=later - timedelta(hours=1)))
    assert len(data.trend) == 1
    note = "One run since 2026-03-03: 7 open findings after it"
    assert note in render_html(data) and note in render_markdown(data)
    assert "Trend starts after the next run" not in render_markdown(data)


# --- colours -------------------------------------------------------------------------------


def test_every_kind_has_its_own_colour_readable_under_white_text() -> None:
    from mapping.rules import CODES

    assert set(CODES) <= set(COLORS)
    close = [(a, b) for a, b in combinations(COLORS, 2) if delta_e(COLORS[a], COLORS[b]) < 20]
    assert close == []  # the pairs: ownerless/expired and noisy/unlinked
    assert delta_e(COLORS["ownerless"], COLORS["expired"]) >= 20
    assert delta_e(COLORS["noisy"], COLORS["unlinked"]) >= 20
    dim = {c: round(contrast_with_white(v), 2) for c, v in COLORS.items()}
    assert all(v >= 4.5 for v in dim.values()), dim  # WCAG AA for the badges' white text


def test_tiles_go_by_severity_and_name_blockers(state: SqliteStore) -> None:
    page = render_html(_data(state))
    tiles = re.findall(r'<div class="tile[^"]*" data-kind="([^"]+)"', page)
    assert tiles[:3] == ["ownerless", "missing-field", "noisy"]  # error, warning, info
    assert re.search(r'data-kind="ownerless"[^>]*>.*?blocker', page, flags=re.S)


def test_a_written_report_is_remembered_and_a_dry_run_is_not(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore.open(path) as st:
        _fill(st, [(T0, FOUND)])
    before = path.read_bytes()
    dry = CliRunner().invoke(report_command, ["--state", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "No earlier report" in dry.output
    assert path.read_bytes() == before
    out = tmp_path / "r.md"
    done = CliRunner().invoke(report_command, ["--state", str(path), "-o", str(out)])
    assert done.exit_code == 0, done.output
    with SqliteStore.open(path) as st:
        written = st.fact(LAST_REPORT)
    assert written is not None
    at = datetime.fromisoformat(written)
    assert abs((at - datetime.now(UTC)).total_seconds()) < 60
    again = CliRunner().invoke(report_command, ["--state", str(path), "--dry-run"])
    assert f"since the last report ({at:%Y-%m-%d %H:%M} UTC)" in again.output
