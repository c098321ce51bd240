"""`handoff doctor`'s webhook checks: with `[serve] public_url` set, each configured GitHub
repository and the Jira site must have a hook that sends to `<public_url>/webhooks/<system>`,
active, with the events `handoff serve` needs. Reads only; Notion cannot be asked."""

from __future__ import annotations

from collections.abc import Collection

from connectors._retry import RetryPolicy
from sync import systems
from sync.commands.doctor_checks import Check, Status
from sync.commands.webhooks import collect
from sync.engine.connect import scopes_of
from sync.settings import Settings
from sync.systems.hooks import endpoint

__all__ = ["check_hooks"]

_STATUS: dict[str, Status] = {"kept": "ok", "manual": "info"}  # anything else: warn


def check_hooks(settings: Settings, policy: RetryPolicy, skip: Collection[str] = ()) -> list[Check]:
    """One line per scope's hook; none when no public address is configured. `skip`: the
    systems whose token already failed (their failure is said once)."""
    public_url = settings.serve.public_url
    if not public_url:
        return []
    results, _ = collect(settings, public_url, "check", policy=policy, skip=skip)
    out = _secrets(settings, skip)
    for r in results:
        status = _STATUS.get(r.action, "warn")
        message = r.message
        if r.action == "manual":
            message = (f"webhooks cannot be checked by API: the integration's subscription must "
                       f"send to {endpoint(public_url, r.system)} (`handoff webhooks register` "
                       "prints the steps)")
        out.append(Check(r.system, status, message, r.fix))
    return out


def _secrets(settings: Settings, skip: Collection[str]) -> list[Check]:
    """A system whose deliveries are signed with a secret we do not have: `handoff serve`
    would refuse every one of them (401). A handshake system learns its secret at
    verification, so it needs none set."""
    configured = {s.system for s in scopes_of(settings)} - set(skip)
    out = []
    for spec in systems.SYSTEMS.values():
        hook = spec.webhook
        if spec.name not in configured or hook is None or hook.handshake:
            continue
        secret = getattr(spec.section(settings), "webhook_secret", None)
        if secret is None or not secret.get_secret_value():
            out.append(Check(
                spec.name, "warn",
                f"[{spec.name}] webhook_secret is not set: `handoff serve` would refuse every "
                f"{spec.display} webhook delivery (401)",
                f"set HANDOFF_{spec.name.upper()}__WEBHOOK_SECRET (the one its webhooks are "
                "registered with)"))
    return out
