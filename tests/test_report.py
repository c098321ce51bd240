"""The leads' report: data gathered from state, Markdown/HTML/JSON renderers, the command."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from stand_ins import Rec, Src, finding

from connectors.base import SourceItem
from mapping.rules import Finding
from sync.commands.report import report_command
from sync.report.data import Filters, ReportData, gather
from sync.report.html import CSP, render_html
from sync.report.render import render_json, render_markdown
from sync.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3, hours=1)
EVIL_TITLE = "<script>document.title='pwned'</script> Evil <img src=x onerror=alert(1)>"
NAMES = {"ana": "Ana Lima", "ben": "Ben Okafor", "lena": "Lena Ortiz"}


def _item(n: int, title: str, team: str | None, system: str = "jira") -> SourceItem:
    fields = {"summary": title} | ({"Team": {"select": {"name": team}}} if team else {})
    scope = "jira:EXP" if system == "jira" else "github:acme/web"
    return SourceItem(
        system=system,
        scope=scope,
        id=str(n),
        key=f"EXP-{n}",
        url=f"https://jira.example/browse/EXP-{n}",
        kind="issue",
        updated=T0,
        title=title,
        fields=fields,
    )


def _f(n: int, code: str, subject: str, **kw: object) -> Finding:
    where = {
        "item_id": str(n),
        "item_key": f"EXP-{n}",
        "url": f"https://jira.example/browse/EXP-{n}",
    }
    return finding(f"EXP-{n}", code, subject, **(where | kw))


# EXP-1 Growth/ana, EXP-2 Growth/ben, EXP-3 (no Team field: its project EXP)/ana,
# EXP-4 Checkout with an evil title, owner missing.
ITEMS = [
    _item(1, "Bigger button", "Growth"),
    _item(2, "Shorter form", "Growth"),
    _item(3, "Free shipping banner", None),
    _item(4, EVIL_TITLE, "Checkout"),
]
FIRST = [
    _f(1, "missing-field", "hypothesis"),
    _f(1, "missing-field", "primary_metric"),
    _f(2, "missing-field", "hypothesis", notify=("ben",)),
    _f(3, "missing-field", "hypothesis"),
    _f(1, "ownerless", "monitoring_owner"),
    _f(3, "expired", "expiry"),
    _f(4, "ownerless", "outcome_owner", notify=(), message=EVIL_TITLE),
]
SECOND = [
    *[f for f in FIRST if f.id != "EXP-1:missing-field:primary_metric"],
    _f(2, "ownerless", "engineering_owner", notify=("ben",)),
    _f(2, "decision-missing", "go/no-go", notify=("ben",)),
    _f(2, "stale", "last_activity", notify=("ben",), severity="warning"),
    _f(3, "conflict", "cost_cap", severity="warning", message="8,000 (EXP-3); 9,500 (page)"),
    _f(
        3,
        "decision-missing",
        "cost-cap sign-off",
        escalation=2,
        notify=("ana", "ana", "ben", "lena"),
    ),
]


def fill(state: SqliteStore) -> None:
    """Two runs three days apart, through the store API only."""
    run = state.start_run(T0)
    state.upsert_items(ITEMS, run, T0)
    recs = [Rec(i.key, i.title, "run", (Src("jira", i.id),)) for i in ITEMS]
    state.upsert_records(recs, T0)
    state.record_findings(run, FIRST, T0)
    state.finish_run(run, T0, outcome="ok", counts={})
    later = T0 + timedelta(days=3)
    run = state.start_run(later)
    state.record_findings(run, SECOND, later)
    state.finish_run(run, later, outcome="ok", counts={})


@pytest.fixture
def state() -> Iterator[SqliteStore]:
    with SqliteStore.memory() as st:
        fill(st)
        yield st


@pytest.fixture
def data(state: SqliteStore) -> ReportData:
    return gather(state, now=NOW, names=NAMES)


def keys(lines: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{ln.record}:{ln.subject}" for ln in lines]


# --- data ----------------------------------------------------------------------------------


def test_sections_hold_the_right_findings(data: ReportData) -> None:
    # Oldest first: EXP-1 and EXP-4 opened in run 1, EXP-2 in run 2.
    assert keys(data.ownerless) == [
        "EXP-1:monitoring_owner",
        "EXP-4:outcome_owner",
        "EXP-2:engineering_owner",
    ]
    assert keys(data.no_decision) == ["EXP-2:go/no-go"]  # the sign-off is not a go/no-go
    assert keys(data.expired_or_stale) == ["EXP-3:expiry", "EXP-2:last_activity"]
    assert keys(data.conflicts) == ["EXP-3:cost_cap"]
    assert keys(data.escalations) == ["EXP-3:cost-cap sign-off"]
    assert data.escalations[0].notified == ("Ana Lima", "Ben Okafor", "Lena Ortiz")
    assert keys(list(data.closed)) == ["EXP-1:primary_metric"]
    assert data.ownerless[0].age_days(NOW) == 3


def test_owner_is_the_first_person_told_unless_the_outcome_owner_is_missing(
    data: ReportData,
) -> None:
    owners = {ln.record: ln.owner_name for ln in data.open_lines}
    assert owners == {"EXP-1": "Ana Lima", "EXP-2": "Ben Okafor", "EXP-3": "Ana Lima", "EXP-4": ""}


def test_missing_field_heatmaps_by_team_and_owner(data: ReportData) -> None:
    team = data.heatmap("team")
    assert team.rows == ("Growth", "EXP")  # most missing first; no Team field: its project
    assert team.at("Growth", "Hypothesis") == 2
    assert team.at("EXP", "Hypothesis") == 1
    assert team.at("Growth", "Primary metric") == 0  # closed in run 2
    owner = data.heatmap("owner")
    assert owner.at("Ana Lima", "Hypothesis") == 2 and owner.at("Ben Okafor", "Hypothesis") == 1


def test_trend_has_one_point_per_run(data: ReportData) -> None:
    assert [p.total for p in data.trend] == [7, 11]
    assert data.trend[1].by_code["ownerless"] == 3


def test_filters_by_team_owner_and_since(state: SqliteStore) -> None:
    growth = gather(state, now=NOW, filters=Filters(team="growth"), names=NAMES)
    assert {ln.record for ln in growth.open_lines} == {"EXP-1", "EXP-2"}
    assert [p.total for p in growth.trend] == [4, 6]  # rebuilt for the team
    ben = gather(state, now=NOW, filters=Filters(owner="Ben Okafor"), names=NAMES)
    assert {ln.record for ln in ben.open_lines} == {"EXP-2"}
    by_key = gather(state, now=NOW, filters=Filters(owner="BEN"), names=NAMES)
    assert by_key.open_lines == ben.open_lines
    late = gather(state, now=NOW, filters=Filters(since=NOW))
    assert late.closed == () and late.trend == ()
    early = gather(state, now=NOW, filters=Filters(since=T0))
    assert len(early.closed) == 1 and len(early.trend) == 2


# --- renderers -----------------------------------------------------------------------------


def test_markdown_names_every_section_and_links_each_item(data: ReportData) -> None:
    md = render_markdown(data)
    for heading in (
        "## Ownerless items, oldest first",
        "## Missing fields by team and by owner",
        "## Entering run without a go/no-go",
        "## Expired and stale handoffs",
        "## Conflicts between systems",
        "## Escalations and who they reached",
        "## Loops closed since 2026-02-26",
        "## Open findings over the last runs",
    ):
        assert heading in md
    assert "[EXP-2](https://jira.example/browse/EXP-2)" in md
    assert "Ana Lima, Ben Okafor, Lena Ortiz" in md
    assert "| Growth | 2 |" in md


def test_user_text_is_inert_in_markdown_and_html(data: ReportData) -> None:
    md = render_markdown(data)
    assert "<script" not in md and "<img" not in md and "&lt;script&gt;" in md
    page = render_html(data)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    # The quote may be spelled &#x27; (html.escape) or &#39; (markupsafe): both are inert.
    q = "&#(?:x27|39);"
    assert re.search(f"&lt;script&gt;document.title={q}pwned{q}&lt;/script&gt;", page)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp and html.unescape(csp[1]) == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP


def test_only_http_links_survive(state: SqliteStore) -> None:
    run = state.start_run(NOW)
    bad = _f(9, "unlinked", "link", url="javascript:alert(1)")
    state.record_findings(run, [*SECOND, bad], NOW)
    data = gather(state, now=NOW)
    assert "javascript:" not in render_html(data) and "javascript:" not in render_markdown(data)
    doc = json.loads(render_json(data))
    assert {f["url"] for f in doc["findings"] if f["record"] == "EXP-9"} == {None}


def test_json_keeps_user_text_exact(data: ReportData) -> None:
    doc = json.loads(render_json(data))
    titles = {f["record"]: f["title"] for f in doc["findings"]}
    assert titles["EXP-4"] == EVIL_TITLE
    assert doc["open"]["missing-field"] == 3
    assert doc["missing_fields"]["by_team"]["rows"] == ["Growth", "EXP"]
    assert [p["open"] for p in doc["trend"]] == [7, 11]
    assert doc["escalations"][0]["notified"] == ["Ana Lima", "Ben Okafor", "Lena Ortiz"]


def test_html_draws_charts_as_inline_svg(data: ReportData) -> None:
    page = render_html(data)
    assert page.count('<svg class="chart') == 3  # trend + two heatmaps
    assert (
        len(
            re.findall(
                r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" '
                r'fill="#',
                page,
            )
        )
        >= 2
    )
    assert "http://" not in page.split("<body>")[0].replace("http://www.w3.org", "")


def test_empty_state_renders_in_every_format() -> None:
    with SqliteStore.memory() as st:
        data = gather(st, now=NOW)
    assert "No runs yet" in render_markdown(data)
    assert "No runs yet" in render_html(data)
    assert json.loads(render_json(data))["findings"] == []


# --- the command ---------------------------------------------------------------------------


def _state_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with SqliteStore.open(path) as st:
        fill(st)
    return path


def test_command_reads_state_without_changing_it(tmp_path: Path) -> None:
    path = _state_file(tmp_path)
    before = path.read_bytes()
    # --dry-run: not even the time of this report is kept (see test_report_atrisk.py).
    args = ["--state", str(path), "--team", "Growth", "--dry-run"]
    result = CliRunner().invoke(report_command, args)
    assert result.exit_code == 0, result.output
    assert "[EXP-1](https://jira.example/browse/EXP-1)" in result.output
    assert "EXP-3" not in result.output
    assert path.read_bytes() == before


def test_command_writes_html_to_its_default_file(tmp_path: Path) -> None:
    path = _state_file(tmp_path)
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(report_command, ["--state", str(path), "--format", "html"])
        assert result.exit_code == 0, result.output
        assert Path("handoff-report.html").read_text().startswith("<!DOCTYPE html>")
    out = tmp_path / "r.json"
    result = runner.invoke(
        report_command, ["--state", str(path), "--format", "json", "-o", str(out)]
    )
    assert result.exit_code == 0 and json.loads(out.read_text())["handoffs"] == 4


def test_command_says_when_there_is_no_state_and_rejects_bad_dates(tmp_path: Path) -> None:
    result = CliRunner().invoke(report_command, ["--state", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "run `handoff sync` first" in result.output
    path = _state_file(tmp_path)
    result = CliRunner().invoke(report_command, ["--state", str(path), "--since", "last week"])
    assert result.exit_code == 2 and "not a date" in result.output


# --- end to end: a real sync of the demo workspace -----------------------------------------


def _sections(md: str) -> dict[str, str]:
    parts = re.split(r"^## ", md, flags=re.MULTILINE)[1:]
    return {p.split("\n", 1)[0]: p for p in parts}


def test_report_of_a_real_demo_sync_names_its_known_problems(tmp_path: Path) -> None:
    from connectors._retry import FAST_POLICY
    from connectors.sandbox import Sandbox
    from connectors.sandbox.demo import DEMO_EXPECTED, demo_workspace, sandbox_config
    from sync.engine.connect import connect
    from sync.engine.run import Engine, SyncOptions
    from sync.settings import load_settings

    config = tmp_path / "handoff.toml"
    with Sandbox(demo_workspace()) as sb:
        config.write_text(sandbox_config(sb, state_path=str(tmp_path / "state.db")))
        settings = load_settings(config)
        conns = connect(settings, policy=FAST_POLICY)
        result = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())
        assert result.exit_code == 0, result.errors
    with SqliteStore.copy_of(tmp_path / "state.db") as state:
        data = gather(state, now=datetime.now(UTC))
    for code, records in DEMO_EXPECTED.items():
        assert {ln.record for ln in data.of(code)} == set(records), code
    result = CliRunner().invoke(report_command, ["--config", str(config)])
    assert result.exit_code == 0, result.output
    sections = _sections(result.output)
    checks = {
        "Ownerless items, oldest first": DEMO_EXPECTED["ownerless"],
        "Expired and stale handoffs": DEMO_EXPECTED["expired"] + DEMO_EXPECTED["stale"],
        "Conflicts between systems": DEMO_EXPECTED["conflict"],
        "Entering run without a go/no-go": [ln.record for ln in data.no_decision],
    }
    for title, records in checks.items():
        assert records, title
        for key in records:
            assert re.search(rf"\[{re.escape(key)}\b[^]]*\]\(https?://", sections[title]), key
    # Names come from the config's people, not directory keys.
    assert "Ana Lima" in sections["Missing fields by team and by owner"]
