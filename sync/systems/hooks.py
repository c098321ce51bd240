"""What `handoff webhooks register` and `doctor` decide about one scope's webhooks, the same
way for every system that has a registration API.

A hook is ours when it sends to our address, `<public_url>/webhooks/<system>`. Ours is kept
when it is active with the events we need, and corrected in place otherwise (it is ours: it
only ever served this service). A hook that sends to another address ending in the same path
is reported and left alone: it may be another deployment's (staging) or an old address, and
taking it over would cut that one off; the person who knows deletes it. `decide` is pure;
`act` calls what it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from connectors.hooks import FoundHook

__all__ = [
    "REGISTER", "Action", "Decision", "HookResult", "Mode", "Target", "act", "decide", "endpoint",
    "not_https",
]

Mode = Literal["check", "dry-run", "apply"]
# kept, created, corrected: done; would create / would correct: a dry run; missing and
# differs: what a check found; elsewhere: another address, left alone; refused: a permission
# or config problem (exit 2); failed: anything else (exit 1); manual: no API (steps printed).
Action = Literal[
    "kept", "created", "corrected", "would create", "would correct", "missing", "differs",
    "elsewhere", "refused", "failed", "manual",
]


@dataclass(frozen=True)
class HookResult:
    """One line of the answer: a scope's hook and what was (or would be) done about it."""

    system: str
    scope: str
    action: Action
    message: str
    fix: str = ""


@dataclass(frozen=True)
class Decision:
    """For one scope: our hook (None: there is none), what is wrong with it, the others."""

    ours: FoundHook | None
    wrong: list[str] = field(default_factory=list)
    extra: list[FoundHook] = field(default_factory=list)  # more hooks at our address
    elsewhere: list[FoundHook] = field(default_factory=list)


def endpoint(public_url: str, system: str) -> str:
    """Where `handoff serve` takes this system's deliveries."""
    return f"{public_url.rstrip('/')}/webhooks/{system}"


def not_https(public_url: str) -> bool:
    return not public_url.lower().startswith("https://")


def decide(
    found: list[FoundHook], url: str, events: frozenset[str], settings: Mapping[str, str]
) -> Decision:
    """Our hook among `found` (the oldest, when several send to our address) and how it
    differs from what we need; the hooks that send to the same path elsewhere."""
    path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
    mine = sorted((h for h in found if h.url.rstrip("/") == url), key=_order)
    elsewhere = [h for h in found if h.url.rstrip("/") != url and h.url.rstrip("/").endswith(path)]
    if not mine:
        return Decision(None, elsewhere=elsewhere)
    ours = mine[0]
    wrong = [] if ours.active else ["inactive"]
    missing = sorted(events - ours.events)
    if missing:
        wrong.append(f"without the events {', '.join(missing)}")
    for key, value in settings.items():
        if ours.settings.get(key, "") != value:
            wrong.append(f"{key} {ours.settings.get(key, '')!r} instead of {value!r}")
    return Decision(ours, wrong, mine[1:], elsewhere)


def _order(hook: FoundHook) -> tuple[int, str]:
    return (int(hook.id), hook.id) if hook.id.isdigit() else (0, hook.id)


REGISTER = "run `handoff webhooks register`"


@dataclass(frozen=True)
class Target:
    """One scope's hook to bring about: which system and scope, how to name it in a line,
    where it sends and for which events."""

    system: str
    scope: str
    what: str  # "repository acme/web", "the Jira site"
    url: str
    events: frozenset[str]
    where_to_delete: str  # where a person removes a hook we leave alone


def act(
    t: Target,
    decision: Decision,
    mode: Mode,
    create: Callable[[], object],
    correct: Callable[[FoundHook], object],
) -> list[HookResult]:
    """What `mode` does about `decision`: a check reports, a dry run says what it would do,
    apply creates or corrects. A failure of `create` or `correct` goes up to the caller."""
    out = [
        HookResult(t.system, t.scope, "elsewhere",
                   f"{t.what}: a webhook also sends to {h.url} (another address); left as it is",
                   f"if that is an old address of this service, delete it in {t.where_to_delete}")
        for h in decision.elsewhere
    ]
    if decision.extra:
        out.append(HookResult(
            t.system, t.scope, "elsewhere",
            f"{t.what}: {len(decision.extra)} more webhook(s) send to {t.url}; each delivery "
            "arrives more than once (`handoff serve` keeps one)",
            f"delete the newer ones in {t.where_to_delete}"))
    events = ", ".join(sorted(t.events))
    if decision.ours is None:
        if mode == "check":
            return [*out, HookResult(t.system, t.scope, "missing",
                                     f"{t.what}: no webhook sends to {t.url}", REGISTER)]
        if mode == "dry-run":
            return [*out, HookResult(t.system, t.scope, "would create",
                                     f"{t.what}: would create a webhook to {t.url} ({events})")]
        create()
        return [*out, HookResult(t.system, t.scope, "created",
                                 f"{t.what}: created a webhook to {t.url} ({events})")]
    if not decision.wrong:
        return [*out, HookResult(t.system, t.scope, "kept",
                                 f"{t.what}: the webhook to {t.url} is active with the events "
                                 "`handoff serve` needs")]
    wrong = "; ".join(decision.wrong)
    if mode == "check":
        return [*out, HookResult(t.system, t.scope, "differs",
                                 f"{t.what}: the webhook to {t.url} is {wrong}", REGISTER)]
    if mode == "dry-run":
        return [*out, HookResult(t.system, t.scope, "would correct",
                                 f"{t.what}: would correct the webhook to {t.url} ({wrong})")]
    correct(decision.ours)
    return [*out, HookResult(t.system, t.scope, "corrected",
                             f"{t.what}: corrected the webhook to {t.url} (it was {wrong})")]
