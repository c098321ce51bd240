"""A fourth system plugs in through the registries alone: one SystemSpec (sync.systems), one
SystemMapping (mapping.link) and a connector, all in this file. A sync through the real connect
and Engine reads its items, finds what is missing and writes one Markdown marker comment each,
and a second sync writes nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from connectors._retry import FAST_POLICY, RetryPolicy
from connectors.base import (
    Account,
    CommentRef,
    Connector,
    Cursor,
    Scope,
    SourceItem,
    WriteOp,
    WriteResult,
)
from connectors.errors import NotFound
from mapping.fields import FieldMaps
from mapping.link import SystemMapping, item_values
from mapping.link import register as register_mapping
from mapping.link import unregister as unregister_mapping
from mapping.record import Provenance, Value
from sync import systems
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.settings import Settings
from sync.systems import Budget, SystemSpec

TOY = "toyboard"
WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class ToyConnector:
    """Two cards in memory; comments are the only thing it can write."""

    def __init__(self) -> None:
        self.cards: dict[str, dict[str, Any]] = {
            "c1": {"title": "Bigger buy button", "hypothesis": "More clicks", "owner": "ana"},
            "c2": {"title": "Dark mode", "hypothesis": "", "owner": ""},
        }
        self.comments: dict[str, list[CommentRef]] = {}
        self.writes: list[WriteOp] = []

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        for card_id, card in sorted(self.cards.items()):
            mine = self.comments.get(card_id, [])
            yield SourceItem(
                system=TOY,
                scope=scope.key,
                id=card_id,
                key=f"TOY-{card_id}",
                url=f"https://toy.example/{card_id}",
                kind="card",
                updated=WHEN,
                title=card["title"],
                fields=dict(card),
                comment=mine[0] if mine else None,
            )

    def people(self) -> Iterator[Account]:
        return iter(())

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        return next((c for c in self.comments.get(item_id, []) if marker in c.text), None)

    def apply(self, op: WriteOp) -> WriteResult:
        if op.item_id not in self.cards:
            raise NotFound(f"no card {op.item_id}", system=TOY, scope=op.scope)
        self.writes.append(op)
        shown = self.comments.setdefault(op.item_id, [])
        if op.action == "comment.create":
            shown.append(CommentRef(f"{op.item_id}-note", op.body))
        elif op.action == "comment.update":
            shown[:] = [CommentRef(op.target, op.body)]
        return WriteResult(op.key, True, target=f"{op.item_id}-note")


def _values(item: SourceItem, maps: FieldMaps) -> dict[str, tuple[Value, ...]]:
    """The toy mapping: a card's `hypothesis` and `owner` are those record fields."""
    out: dict[str, tuple[Value, ...]] = {}
    for name in ("hypothesis",):
        text = str(item.fields.get(name) or "")
        if text:
            where = Provenance(TOY, item.id, item.key, name, item.url)
            out[name] = (Value(text, where),)
    return out


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[tuple[Settings, ToyConnector]]:
    server = ToyConnector()
    opened: list[str] = []

    def open_toy(settings: Settings, token: str, policy: RetryPolicy) -> Connector:
        opened.append(token)
        return server

    section = type("ToySection", (), {"url": "https://toy.example", "token": SecretStr("t0k")})
    spec = SystemSpec(
        name=TOY,
        display="Toy Board",
        section=lambda s: section,
        scopes=lambda s: [Scope(TOY, "board-1")],
        open=open_toy,
        comment_format=lambda cfg: "github-md",
        budget=Budget(100, 1.0),
        wanted="[toyboard] boards",
    )
    systems.register(spec)
    register_mapping(TOY, SystemMapping(_values, lambda i, k, c: ([f"card:{i.id}"], []), 3))
    try:
        yield Settings(state={"path": str(tmp_path / "s.db")}), server  # type: ignore[arg-type]
        assert opened == ["t0k"] or opened == ["t0k", "t0k"]
    finally:
        systems.unregister(TOY)
        unregister_mapping(TOY)


def test_a_toy_fourth_system_syncs_through_the_real_engine(
    toy: tuple[Settings, ToyConnector],
) -> None:
    settings, server = toy
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    assert [s.key for s in conns.scopes] == [f"{TOY}:board-1"]
    result = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())

    assert not result.failed, result.errors
    assert result.records == 2
    missing = {(f.record_key, f.subject) for f in result.findings if f.code == "missing-field"}
    assert ("c2", "hypothesis") in missing
    assert ("c1", "hypothesis") not in missing
    # One Markdown comment per card, each with its marker, and nothing else (no labels or
    # properties: the spec declares no annotations).
    assert [(op.action, op.item_id) for op in server.writes] == [
        ("comment.create", "c1"),
        ("comment.create", "c2"),
    ]
    body = server.comments["c2"][0].text
    assert "handoff-sync:" in body and "Hypothesis" in body and "**" in body

    again = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())
    assert not again.failed and again.ops == []
    assert len(server.writes) == 2


def test_the_toy_system_is_offered_and_paced_like_the_others(
    toy: tuple[Settings, ToyConnector],
) -> None:
    from sync.engine.pacing import Pacer
    from sync.writeback.plan import PlanConfig

    assert TOY in systems.names()
    assert Pacer().budgets[TOY] == Budget(100, 1.0)
    assert PlanConfig().fmt(TOY) == "github-md"
    only = connect(toy[0], only=[TOY], policy=FAST_POLICY)
    assert set(only.connectors) == {TOY}
    item = replace(next(toy[1].pull(Scope(TOY, "board-1"), None)), fields={"hypothesis": "x"})
    assert item_values(item, FieldMaps())["hypothesis"][0].value == "x"
