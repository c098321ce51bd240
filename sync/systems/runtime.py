"""Settings turned into the pieces a run uses, in one place: the scopes to pull, the plan's
configuration (formats, labels, properties), the item views' property names, each system's
write budget, the rules (with `[escalation]` folded in) and the people directory. Connectors
are opened from settings by each system's spec (`SystemSpec.open`). The engine, connect, the
pacer and doctor read these, never the raw sections, so a documented choice means the same
thing everywhere.

May import `sync.writeback.plan`, `sync.settings` and the registry; nothing imports it but
those users.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import cast

from connectors.base import Scope
from mapping.people import Directory
from mapping.rules import RulesConfig
from sync import systems
from sync.settings import Settings
from sync.systems.spec import Budget
from sync.writeback.annotations import PropType
from sync.writeback.plan import PlanConfig
from sync.writeback.rollout import Rollout, ScopeRollout

__all__ = ["Runtime", "entity_property_key", "plan_config", "runtime", "scopes"]


@dataclass(frozen=True)
class Runtime:
    """What a run takes from settings."""

    settings: Settings  # what it was made from (each system's spec opens its connector)
    scopes: list[Scope]
    plan: PlanConfig
    budgets: Mapping[str, Budget]
    property_name: str  # the page property an item view reads ("" : none)
    entity_property_key: str  # the entity property an item view reads ("" : none)
    rules: RulesConfig = field(default_factory=RulesConfig)
    # A fresh people directory of `[[people]]` and `groups` (a run adds accounts to it).
    directory: Callable[[], Directory] = Directory


def scopes(settings: Settings, only: Collection[str] = ()) -> list[Scope]:
    """Every configured scope, in a stable order (registry order, then as configured)."""
    return [
        scope
        for spec in systems.SYSTEMS.values()
        if not only or spec.name in only
        for scope in spec.scopes(settings)
    ]


def entity_property_key(settings: Settings) -> str:
    """The entity property we write and read back, or "" when that is off."""
    writeback = settings.writeback
    return writeback.entity_property_key if writeback.jira_entity_property else ""


def plan_config(settings: Settings) -> PlanConfig:
    """How to write back, from settings."""
    return PlanConfig(
        jira_format="adf" if settings.jira.api_version == 3 else "wiki",
        label_names=dict(settings.labels),
        notion_property=settings.notion_property.name,
        notion_property_type=cast(PropType, settings.notion_property.type),
        jira_entity_property=settings.writeback.jira_entity_property,
        jira_entity_property_key=settings.writeback.entity_property_key,
        rollout=rollout(settings),
    )


def rollout(settings: Settings) -> Rollout:
    """`[writeback] mode`, `severity` and `scopes` as the plan reads them."""
    wb = settings.writeback
    return Rollout(
        mode=wb.mode,
        severity=dict(wb.severity),
        scopes={k: ScopeRollout(v.mode, dict(v.severity)) for k, v in wb.scopes.items()},
    )


def runtime(settings: Settings, only: Collection[str] = ()) -> Runtime:
    """Every runtime piece of `settings`; `only` narrows the scopes to those systems."""
    return Runtime(
        settings=settings,
        scopes=scopes(settings, only),
        plan=plan_config(settings),
        budgets=systems.budgets(),
        property_name=settings.notion_property.name,
        entity_property_key=entity_property_key(settings),
        rules=settings.rules_config(),
        directory=settings.directory,
    )
