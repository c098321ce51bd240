"""Every choice config.example.toml documents goes through `sync.systems.runtime`, the one
place settings become runtime pieces, and shows there: the example is parsed, each documented
choice (every Literal and yes/no key it holds, and the alternatives its comments describe) is
varied one at a time, and the runtime piece it drives is read back."""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import ROOT
from pydantic import BaseModel

from connectors._retry import RetryPolicy
from connectors.base import Scope
from mapping.rules import Finding
from sync.settings import Settings
from sync.systems import runtime as rt
from sync.systems.runtime import Runtime
from sync.writeback.plan import ItemView, Target, plan

EXAMPLE = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
Path = tuple[str | int, ...]


def _is_model(ann: Any) -> bool:
    """A settings section: a pydantic model, or a dataclass settings validate (`[[people]]`)."""
    return isinstance(ann, type) and (issubclass(ann, BaseModel) or dataclasses.is_dataclass(ann))


def _fields(model: Any) -> dict[str, Any]:
    if issubclass(model, BaseModel):
        return {k: f.annotation for k, f in model.model_fields.items()}
    return typing.get_type_hints(model)


def _choices(model: Any, data: dict[str, Any], at: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) for every Literal or bool key the example sets, each value it may take."""
    for key, value in data.items():
        ann = _fields(model).get(key)
        if _is_model(ann) and isinstance(value, dict):
            yield from _choices(ann, value, (*at, key))
        elif typing.get_origin(ann) is typing.Literal:
            yield from (((*at, key), v) for v in typing.get_args(ann))
        elif ann is bool:
            yield from (((*at, key), v) for v in (True, False))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            (inner,) = [a for a in typing.get_args(ann) if isinstance(a, type)] or [None]
            if _is_model(inner):
                for i, entry in enumerate(value):
                    yield from _choices(inner, entry, (*at, key, i))


def _varied(path: Path, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    node: Any = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return data


def _runtime(data: dict[str, Any]) -> Runtime:
    return rt.runtime(Settings(**data))


def _finding(system: str) -> Finding:
    return Finding(
        "missing-field", "error", "hypothesis", "no hypothesis", "EXP-1", system, "1", "EXP-1", ""
    )


def _property_write(r: Runtime) -> dict[str, Any]:
    """The page property value the plan writes for an item with one finding."""
    view = ItemView("notion", "notion:db", "p1", "Page", kind="page")
    ops = plan([Target(view, (_finding("notion"),))], r.plan, None)
    (op,) = [o for o in ops if o.action == "property.set"]
    assert op.name == "Handoff check"
    return dict(json.loads(op.value))


def _entity_writes(r: Runtime) -> list[str]:
    view = ItemView("jira", "jira:EXP", "1", "EXP-1", kind="issue")
    ops = plan([Target(view, (_finding("jira"),))], r.plan, None)
    return [o.name for o in ops if o.action == "entity_property.set"]


# What each documented Literal or yes/no choice changes in the runtime pieces.
SHOWS: dict[str, Callable[[Runtime, Any], bool]] = {
    "jira.api_version": lambda r, v: r.plan.fmt("jira") == {2: "jira-wiki", 3: "jira-adf"}[v],
    "github.include_issues": lambda r, v: _github_includes_issues(r) is v,
    "notion_property.type": lambda r, v: (
        r.plan.notion_property_type == v and _type_of(_property_write(r)) == v
    ),
    "writeback.jira_entity_property": lambda r, v: (
        r.entity_property_key == ("handoff-sync" if v else "")
        and _entity_writes(r) == (["handoff-sync"] if v else [])
    ),
    "escalation.ladder.to": lambda r, v: v in [s.to for s in r.rules.escalation.ladder],
    "people.active": lambda r, v: _active(r) is v,
    "writeback.mode": lambda r, v: _written(r) == _MODE_WRITES[v],
    "rules.decision_rights_people": lambda r, v: r.rules.decision_rights_people is v,
    "rules.separate_owners": lambda r, v: r.rules.separate_owners is v,
}
# What each `[writeback] mode` lets through of a GitHub item's comment and label.
_MODE_WRITES = {
    "report-only": set(),
    "labels": {"label.add"},
    "comments": {"comment.create", "label.add"},
}


def _written(r: Runtime) -> set[str]:
    from sync.writeback.rollout import allowed

    view = ItemView("github", "github:acme/web", "acme/web#1", "acme/web#1", kind="pull")
    ops = plan([Target(view, (_finding("github"),))], r.plan, None)
    return {o.action for o in allowed(ops, r.plan.rollout)}


def _type_of(value: dict[str, Any]) -> str:
    (kind,) = value
    return str(kind)


def _active(r: Runtime) -> bool:
    person = r.directory().get("lena")
    assert person is not None
    return person.active


def _github_includes_issues(r: Runtime) -> bool:
    """Whether the connector the GitHub spec opens from these settings lists issues too."""
    from sync.systems.github import SPEC

    # PyGithub asks nothing yet; the token is registered as a secret, so make it unlike any word
    conn = SPEC.open(r.settings, "runtime-test-github-token", RetryPolicy())
    return bool(getattr(conn, "include_issues"))  # noqa: B009


def _key(path: Path) -> str:
    return ".".join(str(p) for p in path if not isinstance(p, int))


CHOICES = list(_choices(Settings, EXAMPLE))


def test_the_example_documents_the_choices_this_test_checks() -> None:
    assert {_key(p) for p, _ in CHOICES} == set(SHOWS)


@pytest.mark.parametrize(("path", "value"), CHOICES, ids=lambda x: str(x))
def test_each_documented_choice_shows_in_the_runtime(path: Path, value: Any) -> None:
    r = _runtime(_varied(path, value))
    assert SHOWS[_key(path)](r, value), (path, value)


def test_the_example_as_shipped() -> None:
    r = _runtime(copy.deepcopy(EXAMPLE))
    assert r.scopes == [Scope("jira", "EXP"), Scope("github", "acme/web")]
    assert r.plan.fmt("jira") == "jira-adf"
    assert dict(r.plan.label_names) == EXAMPLE["labels"]
    assert r.property_name == "Handoff check" and r.entity_property_key == ""
    assert r.rules.escalation.leads == ["lena"]
    assert set(r.budgets) == {"jira", "github", "notion"}


# The alternatives the example's comments describe for keys that are not a Literal or bool.
def _with(section: str, **values: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data[section].update(values)
    return data


def test_an_empty_jira_url_disables_jira() -> None:
    assert [s.system for s in _runtime(_with("jira", url="")).scopes] == ["github"]


def test_jql_replaces_the_project_or_stands_alone() -> None:
    jql = "labels = experiment"
    assert _runtime(_with("jira", jql=jql)).scopes[0] == Scope("jira", "EXP", query=jql)
    alone = _runtime(_with("jira", jql=jql, projects=[])).scopes[0]
    assert alone == Scope("jira", "jql", query=jql)


def test_notion_databases_become_scopes_and_only_narrows_them() -> None:
    data = _with("notion", databases=["db-1"])
    assert Scope("notion", "db-1") in _runtime(data).scopes
    assert rt.runtime(Settings(**data), only=["notion"]).scopes == [Scope("notion", "db-1")]


def test_renamed_labels_are_the_plans_labels() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["labels"]["ownerless"] = "needs-owner"
    assert _runtime(data).plan.label_names["ownerless"] == "needs-owner"


def test_a_rules_escalation_table_is_kept_when_escalation_is_absent() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["rules"]["escalation"] = data.pop("escalation")
    data["rules"]["escalation"]["leads"] = ["other"]
    assert _runtime(data).rules.escalation.leads == ["other"]


def test_the_renamed_property_is_read_and_written() -> None:
    data = _with("notion_property", name="Check")
    r = _runtime(data)
    assert r.property_name == "Check" and r.plan.notion_property == "Check"
