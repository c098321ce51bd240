"""`handoff doctor`'s look at the state: can it be reached, is it migrated (to which step),
and does it serve this config. Reads only; the URL's password never shows (it is a
registered secret, and the store names a database by its URL without it)."""

from __future__ import annotations

import json

from sync.commands.doctor_checks import Check
from sync.settings import Settings
from sync.store import inspect_state
from sync.store.identity import ADOPT_FLAG, difference, served_by

__all__ = ["check_state"]

_WHERE = "[state] url (or HANDOFF_STATE__URL)"


def check_state(settings: Settings) -> list[Check]:
    info = inspect_state(settings)
    name = f"{info.kind} state at {info.where}"
    setting = _WHERE if info.kind == "PostgreSQL" else "[state] path"
    if not info.reachable:
        return [Check("state", "FAIL", info.error)]  # the error says what to check
    out = [Check("state", "ok", f"{name} can be read")]
    total = len(info.applied) + len(info.pending)
    if info.newer:
        newer = ", ".join(info.newer)
        fix = f"upgrade handoff-sync, or point {setting} at another state"
        text = f"{name} was written by a newer handoff-sync ({newer})"
        out.append(Check("state", "FAIL", text, fix))
    elif not info.applied:
        out.append(Check("state", "info", f"{name} is empty: the first sync creates it "
                         f"({total} migrations)"))  # fmt: skip
    elif info.pending:
        todo = f"{len(info.pending)} more ({', '.join(info.pending)})"
        out.append(Check("state", "info", f"{name} is at migration {info.applied[-1]}; the next "
                         f"sync applies {todo}"))  # fmt: skip
    else:
        out.append(Check("state", "ok", f"{name} is migrated to {info.applied[-1]} "
                         f"(all {total} migrations)"))  # fmt: skip
    out.append(_identity(settings, info.served, name, setting))
    return out


def _identity(settings: Settings, text: str | None, name: str, setting: str) -> Check:
    try:
        stored = json.loads(text) if text else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        return Check(
            "state", "info", f"{name} serves no config yet: the first sync records this one"
        )
    served = served_by(settings)
    if stored == served:
        return Check("state", "ok", f"{name} serves this config")
    return Check(
        "state", "FAIL", f"{name} serves another config ({difference(stored, served)})",
        fix=f"point {setting} at another state, or run `handoff sync {ADOPT_FLAG}` to make it "
        "serve this config",
    )  # fmt: skip
