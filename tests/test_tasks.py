"""Comments as tasks: one line per task saying who, what, where and by when; same-kind findings
grouped; blockers marked; nothing said twice; dates readable in Markdown; only actions that
exist in that system; mentions shown as names in the dry-run diff."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from test_mapping_rules import DIRECTORY, NOW, good_record

from mapping import HandoffRecord, RulesConfig, SourceRef, evaluate
from mapping.people import Directory, PersonConfig
from mapping.rules import Finding
from sync.writeback.plan import ItemView, PlanConfig, Target, describe, plan
from sync.writeback.render import render_comment, to_text

URL = "https://acme.atlassian.net/browse/EXP-42"
PEOPLE = Directory.from_config(
    [PersonConfig("ana", name="Ana Lima", github="ana-lima", time_zone="America/Sao_Paulo")]
)


def _finding(subject: str, message: str, **kw: object) -> Finding:
    values: dict[str, object] = {
        "code": "missing-field",
        "severity": "error",
        "subject": subject,
        "message": message,
        "record_key": "EXP-42",
        "system": "jira",
        "item_id": "10001",
        "item_key": "EXP-42",
        "url": URL,
    }
    values.update(kw)
    return Finding(**values)  # type: ignore[arg-type]


def _bullets(body: str) -> list[str]:
    return [ln for ln in body.splitlines() if ln.startswith("- ")]


def test_a_finding_is_due_when_it_climbs_the_ladder_shown_in_the_owners_time_zone() -> None:
    record = good_record(hypothesis=())
    opened = datetime(2025, 3, 5, 8, tzinfo=UTC)  # 09:00 in Berlin, Wednesday
    (found,) = evaluate(
        record, RulesConfig(), DIRECTORY, NOW, {"EXP-42:missing-field:hypothesis": opened}
    )
    # 16 working hours from Wednesday 09:00 Berlin: Thursday 17:00 Berlin (16:00 UTC).
    assert found.zone == "Europe/Berlin"
    assert (
        found.due is not None
        and abs((found.due - datetime(2025, 3, 6, 16, tzinfo=UTC)).total_seconds()) < 60
    )
    body = render_comment("github", [found], DIRECTORY, fmt="github-md", item_id="acme/web#1")
    assert "Due by Thu 6 Mar 17:00 (Europe/Berlin)." in body


def test_same_kind_findings_fixed_in_one_place_are_one_task_that_says_nothing_twice() -> None:
    findings = [
        _finding(
            s, f"{s} is missing. From the pre-run stage on, the handoff needs it. Add it in EXP-42."
        )
        for s in ("Guardrail metrics", "Sample size", "Expected duration")
    ]
    body = render_comment("github", findings, None, fmt="github-md", item_id="acme/web#1")
    (line,) = _bullets(body)
    assert line.startswith(
        "- **Blocker · Missing:** Expected duration, Guardrail metrics and Sample size are"
        " missing. From the pre-run stage on"
    )
    assert line.count("From the pre-run stage on") == 1 and line.count("EXP-42") == 1
    assert "the handoff needs them. Add them in EXP-42." in line
    sentences = re.split(r"(?<=\.)\s+", to_text(body))
    assert len(sentences) == len(set(sentences))


def test_the_place_is_said_once_and_a_warning_is_not_marked_as_a_blocker() -> None:
    warning = _finding(
        "cost cap",
        "The cost cap 60,000 USD is high: hold a pre-run sync before launch.",
        code="needs-sync",
        severity="warning",
    )
    blocker = _finding("hypothesis", "Hypothesis is missing. Add it in EXP-42.")
    body = render_comment("github", [warning, blocker], None, fmt="github-md", item_id="acme/web#1")
    first, second = _bullets(body)
    assert first == "- **Blocker · Missing:** Hypothesis is missing. Add it in EXP-42."
    assert second.startswith("- **Needs a pre-run sync:** The cost cap")
    assert second.endswith(f"Fix it in [EXP-42]({URL}).")


def test_markdown_leaves_dates_and_keys_readable() -> None:
    found = _finding(
        "expiry", "The expiry or review date 2026-11-18 has passed. Review it in EXP-42."
    )
    body = render_comment("github", [found], None, fmt="github-md", item_id="acme/web#1")
    assert "2026-11-18" in body and "2026\\-11\\-18" not in body and "EXP\\-42" not in body


def test_an_unlinked_pull_request_is_never_told_to_set_a_property() -> None:
    pr = SourceRef(
        "github", "acme/web#9", "acme/web#9", "https://github.com/acme/web/pull/9", "pull"
    )
    page = SourceRef("notion", "pg9", "Brief", "https://notion.so/pg9", "page")
    lone_pr = HandoffRecord("acme/web#9", "Tidy", good_record().stage, (pr,), linked=False)
    lone_page = replace(lone_pr, key="pg9", sources=(page,))
    (on_pr,) = evaluate(lone_pr, RulesConfig(), DIRECTORY, NOW)
    (on_page,) = evaluate(lone_page, RulesConfig(), DIRECTORY, NOW)
    assert "propert" not in on_pr.message and "title or branch name" in on_pr.message
    assert "This pull request" in on_pr.message
    assert "propert" in on_page.message


def test_the_dry_run_diff_names_people_instead_of_their_handles() -> None:
    found = _finding("hypothesis", "Hypothesis is missing. Add it in EXP-42.", notify=("ana",))
    view = ItemView("github", "github:acme/web", "acme/web#1", "acme/web#1")
    ops = plan([Target(view, (found,))], PlanConfig(), PEOPLE)
    assert "@ana-lima" in ops[0].body  # the comment itself mentions the login
    text = describe(ops, [view], PEOPLE)
    assert "Who: @Ana Lima." in text and "@ana-lima" not in text
