"""Which config a state file serves: its systems, their URLs and their scopes.

The first sync stores them; a later sync with another config (a stray empty one, a copy for
another team, the sandbox's) is refused before it reads or writes anything, because its items,
findings and runs would mix with this state's and falsify the report. `--adopt-config` makes the
state serve the new config from then on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.errors import ConfigError
from sync import systems
from sync.engine.connect import scopes_of
from sync.settings import Settings
from sync.store.protocol import Store

__all__ = ["ADOPT_FLAG", "check_served", "served_by"]

ADOPT_FLAG = "--adopt-config"
Served = dict[str, dict[str, Any]]


def served_by(settings: Settings) -> Served:
    """Each system with scopes: its URL and its scope names, sorted."""
    out: Served = {}
    for scope in scopes_of(settings):
        spec = systems.get(scope.system)
        url = spec.url(settings) if spec else ""
        entry = out.setdefault(scope.system, {"url": _url(url), "scopes": []})
        entry["scopes"].append(scope.name)
    for entry in out.values():
        entry["scopes"] = sorted(set(entry["scopes"]))
    return out


def _url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def check_served(state: Store, served: Served, *, adopt: bool) -> None:
    """Store `served` on the first sync (or when adopting); refuse a different config."""
    stored = _load(state.served_config())
    if stored is not None and stored != served and not adopt:
        raise ConfigError(
            f"The state file {state.path} serves another config ({difference(stored, served)}); "
            f"point [state] path at another file, or pass {ADOPT_FLAG} to make it serve "
            "this config from now on."
        )
    if stored != served:
        state.serve_config(json.dumps(served, sort_keys=True))


def _load(text: str | None) -> Served | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def difference(stored: Mapping[str, Any], served: Mapping[str, Any]) -> str:
    """The first differences, said briefly: "jira scopes EXP -> OPS; notion not configured"."""
    parts = []
    named = [*systems.names(), *sorted((set(stored) | set(served)) - set(systems.names()))]
    for system in named:
        was, now = stored.get(system), served.get(system)
        if was == now:
            continue
        if was is None and now is not None:
            parts.append(f"it has no {system}; this config adds {', '.join(now['scopes'])}")
        elif now is None and was is not None:
            scopes = ", ".join(was["scopes"])
            parts.append(f"it has {system} {scopes}; this config has no {system}")
        elif was is None or now is None:
            continue
        elif was["url"] != now["url"]:
            parts.append(f"{system} at {was['url']}, this config {now['url']}")
        else:
            before, after = ", ".join(was["scopes"]), ", ".join(now["scopes"])
            parts.append(f"{system} scopes {before}; this config {after}")
    return "; ".join(parts) or "its systems differ"
