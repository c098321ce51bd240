"""Settings: one TOML file plus `HANDOFF_` environment overrides (nested with `__`).

Every mistake is a ConfigError that names the file, the dotted key and what was expected, so
`handoff` can exit 2 with a message a person can act on. Tokens are SecretStr and registered
with `connectors.errors.register_secret` as soon as they are loaded, so no output can show them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.errors import ConfigError, register_secret
from mapping.escalation import EscalationConfig
from mapping.fields import FieldMaps
from mapping.link import LinkConfig
from mapping.people import Directory, PersonConfig
from mapping.rules import CODES, RulesConfig
from sync.writeback.annotations import DEFAULT_LABELS as PLAN_LABELS

__all__ = ["DEFAULT_LABELS", "Settings", "load_settings"]

# One set of defaults for the planner and the config: the labels a fresh install writes.
DEFAULT_LABELS = dict(PLAN_LABELS)
_NO_FILE = "{file}: file not found. Copy config.example.toml there, or pass --config."
_BAD_TOML = "{file}: not valid TOML: {error}"
_BAD_KEY = "{file}: {key}: {problem}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateSettings(_Section):
    path: str = "handoff-state.db"
    # A PostgreSQL database instead of the file (sync.store.postgres): several processes
    # share it. Its password is registered as a secret as soon as it is loaded.
    url: str = ""
    # Several workers on one PostgreSQL state (sync.engine.shared): how long a worker's scope
    # leases and outbox claims last unless its heartbeat renews them (every third of it), so a
    # killed worker's share is taken over this long after it died.
    lease_seconds: float = Field(default=60.0, gt=0)
    # How long a worker waits for another's plan (reconcile -> findings -> outbox) to finish
    # before it gives up with an error naming the holder.
    plan_wait_seconds: float = Field(default=600.0, gt=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("expected a postgresql:// URL (or leave it out and set path)")
        return value


class JiraSettings(_Section):
    url: str = ""
    email: str = ""
    token: SecretStr | None = None
    api_version: Literal[2, 3] = 3
    projects: list[str] = Field(default_factory=list)
    jql: str = ""
    page_size: int = Field(default=100, ge=1, le=100)
    webhook_secret: SecretStr | None = None  # the admin webhook's secret (`handoff serve`)

    @field_validator("api_version", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        # The environment gives "2"; TOML gives 2. Both mean the same version.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value


class GithubSettings(_Section):
    url: str = "https://api.github.com"
    token: SecretStr | None = None
    repos: list[str] = Field(default_factory=list)
    include_issues: bool = False
    webhook_secret: SecretStr | None = None  # the repository hook's secret (`handoff serve`)

    @field_validator("repos")
    @classmethod
    def _owner_name(cls, value: list[str]) -> list[str]:
        for repo in value:
            if repo.count("/") != 1 or repo.startswith("/") or repo.endswith("/"):
                raise ValueError(f"expected 'owner/name', got {repo!r}")
        return value


class NotionSettings(_Section):
    url: str = "https://api.notion.com"
    token: SecretStr | None = None
    databases: list[str] = Field(default_factory=list)
    # The subscription's verification_token, which signs its deliveries (`handoff serve`).
    webhook_secret: SecretStr | None = None


class NotionPropertySettings(_Section):
    name: str = "Handoff check"
    type: Literal["rich_text", "select", "multi_select", "checkbox"] = "rich_text"


class PacingSettings(_Section):
    """`[pacing.<system>]`: what to change of that system's budget (see `sync.systems`)."""

    rate: int | None = Field(default=None, ge=1)  # calls in any `per` seconds
    per: float | None = Field(default=None, gt=0)
    reads: bool | None = None  # reads count against the same budget
    width: int | None = Field(default=None, ge=1, le=16)  # scopes pulled side by side
    burst: int | None = Field(default=None, ge=0)  # at most this many in any one second


class CacheSettings(_Section):
    """`[cache]`: how long answers that rarely change (fields, people, who we are) are kept."""

    ttl_hours: float = Field(default=24.0, ge=0)


class ServeSettings(_Section):
    """`[serve]`: how `handoff serve` takes webhooks in and when it polls anyway."""

    poll_minutes: float = Field(default=15.0, gt=0)  # the safety-net incremental poll
    debounce_seconds: float = Field(default=0.5, ge=0)  # quiet time that ends a burst
    max_wait_seconds: float = Field(default=20.0, ge=0)  # a burst never delays a sync longer
    max_body_bytes: int = Field(default=5_000_000, ge=1024)  # larger deliveries get 413
    # How long a replica's claim on the deliveries it syncs runs unrenewed (renewed every
    # third of it while the sync runs): after it, a dead replica's deliveries go to another.
    claim_seconds: float = Field(default=300.0, ge=1)
    # Where the services reach `handoff serve` from outside (`handoff webhooks register`,
    # doctor): each system's hook sends to <public_url>/webhooks/<system>. "": not set.
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError(f"expected an http(s):// address, got {value!r}")
        return value.rstrip("/")


class NotifySettings(_Section):
    """`[notify]`: where escalation steps are delivered besides the item (issue 17). Secrets
    come from the environment: HANDOFF_NOTIFY__SECRET, HANDOFF_NOTIFY__SMTP_PASSWORD."""

    reply: bool = True  # a new comment on the item per later ladder step (sync.engine.replies)
    slack_webhook: SecretStr | None = None  # a Slack incoming webhook URL (itself a secret)
    webhook_url: str = ""  # any URL taking a JSON POST, signed with `secret` (HMAC-SHA256)
    secret: SecretStr | None = None
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = ""
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    pace_seconds: float = Field(default=1.0, ge=0)  # between two deliveries
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError(f"expected an http(s):// address, got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> NotifySettings:
        slack = self.slack_webhook.get_secret_value() if self.slack_webhook else ""
        if slack and not slack.lower().startswith(("https://", "http://")):
            raise ValueError("slack_webhook: expected the incoming webhook's https:// address")
        if self.webhook_url and not self.secret:
            raise ValueError(
                "webhook_url is set but no secret to sign with: set HANDOFF_NOTIFY__SECRET"
            )
        if self.smtp_host and "@" not in self.smtp_from:
            raise ValueError("smtp_host is set: smtp_from must be the sender's email address")
        if self.smtp_user and not self.smtp_password:
            raise ValueError("smtp_user is set but no password: set HANDOFF_NOTIFY__SMTP_PASSWORD")
        return self

    def channels(self) -> list[str]:
        """The configured channels, in the order a digest is delivered."""
        on = {"slack": bool(self.slack_webhook), "webhook": bool(self.webhook_url)}
        on["email"] = bool(self.smtp_host)
        return [c for c, yes in on.items() if yes]


def _codes(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(CODES))
    if unknown:
        expected = ", ".join(CODES)
        raise ValueError(f"unknown finding code {unknown[0]!r}; expected one of {expected}")
    return value


class WritebackScopeSettings(_Section):
    """`[writeback.scopes."<project, owner/repo or database id>"]`: one scope's overrides."""

    mode: Literal["report-only", "labels", "comments"] | None = None
    severity: dict[str, Literal["warn", "fail"]] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _severity_codes(cls, value: dict[str, str]) -> dict[str, str]:
        return _codes(value)


class WritebackSettings(_Section):
    jira_entity_property: bool = False
    entity_property_key: str = "handoff-sync"
    # What is written back: nothing (report-only), labels and properties, or comments too.
    mode: Literal["report-only", "labels", "comments"] = "comments"
    # Per kind of finding: "warn" only reports it, "fail" (the default) writes it back.
    severity: dict[str, Literal["warn", "fail"]] = Field(default_factory=dict)
    scopes: dict[str, WritebackScopeSettings] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _severity_codes(cls, value: dict[str, str]) -> dict[str, str]:
        return _codes(value)


class Settings(BaseSettings):
    """Everything a run needs; see config.example.toml for each key."""

    model_config = SettingsConfigDict(
        env_prefix="HANDOFF_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    state: StateSettings = Field(default_factory=lambda: StateSettings())
    jira: JiraSettings = Field(default_factory=lambda: JiraSettings())
    github: GithubSettings = Field(default_factory=lambda: GithubSettings())
    notion: NotionSettings = Field(default_factory=lambda: NotionSettings())
    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    notion_property: NotionPropertySettings = Field(
        default_factory=lambda: NotionPropertySettings()
    )
    writeback: WritebackSettings = Field(default_factory=lambda: WritebackSettings())
    pacing: dict[str, PacingSettings] = Field(default_factory=dict)
    cache: CacheSettings = Field(default_factory=lambda: CacheSettings())
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings())
    notify: NotifySettings = Field(default_factory=lambda: NotifySettings())
    fields: FieldMaps = Field(default_factory=lambda: FieldMaps())
    link: LinkConfig = Field(default_factory=lambda: LinkConfig())
    rules: RulesConfig = Field(default_factory=lambda: RulesConfig())
    escalation: EscalationConfig = Field(default_factory=lambda: EscalationConfig())
    # mapping's own dataclass: pydantic validates it here (unknown keys refused, types checked),
    # so a `[[people]]` entry is declared once and reaches the Directory as it is.
    people: list[PersonConfig] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _label_codes(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CODES))
        if unknown:
            raise ValueError(f"unknown finding code {unknown[0]!r}; expected one of {CODES}")
        return {**DEFAULT_LABELS, **value}

    @model_validator(mode="after")
    def _writeback_scopes(self) -> Settings:
        # A scope override that names no configured scope would silently do nothing.
        known = {*self.jira.projects, *self.github.repos, *self.notion.databases}
        for name in self.writeback.scopes:
            if name not in known:
                raise ValueError(
                    f"writeback.scopes: {name!r} is not a configured Jira project, GitHub "
                    "repository or Notion database; name one of "
                    f"{', '.join(sorted(known)) or '(none configured)'}"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init kwargs; the environment overrides it.
        return (env_settings, init_settings)

    def rules_config(self) -> RulesConfig:
        """The rules with `[escalation]` folded in; a `[rules.escalation]` table is kept."""
        if "escalation" in self.rules.model_fields_set:
            return self.rules
        return self.rules.model_copy(update={"escalation": self.escalation})

    def directory(self) -> Directory:
        """A people directory holding `[[people]]` and `groups`."""
        return Directory.from_config(self.people, self.groups)

    def tokens(self) -> list[SecretStr]:
        """Every configured token and webhook secret (none may ever be shown)."""
        sections = (self.jira, self.github, self.notion)
        found = [t for s in sections for t in (s.token, s.webhook_secret) if t]
        n = self.notify
        return found + [t for t in (n.slack_webhook, n.secret, n.smtp_password) if t]


def _problem(error: Any) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").replace("Input should be", "expected")
    if loc and loc[-1] in ("token", "secret", "smtp_password", "slack_webhook"):
        return message  # never echo what was given for a token
    given = error.get("input")
    if isinstance(given, str | int | float | bool) and "got" not in message:
        message += f", got {given!r}"
    return message


def _check_state(settings: Settings, name: str) -> None:
    """One state: a file or a database, never both; the database's password is a secret."""
    state = settings.state
    if not state.url:
        return
    password = urlsplit(state.url).password
    if password:
        register_secret(password)
        register_secret(unquote(password))
    if "path" in state.model_fields_set:
        raise ConfigError(
            f"{name}: state: both path (a SQLite file) and url (a PostgreSQL database) are set "
            "(in the file or as HANDOFF_STATE__PATH / HANDOFF_STATE__URL); keep one."
        )


def load_settings(path: Path | None) -> Settings:
    """Settings from `path` (None: defaults and environment only); raise ConfigError."""
    data: dict[str, Any] = {}
    name = str(path) if path is not None else "environment"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(_NO_FILE.format(file=name)) from None
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(_BAD_TOML.format(file=name, error=exc)) from None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        errors = exc.errors()
        lines = [
            _BAD_KEY.format(
                file=name,
                key=".".join(str(p) for p in e.get("loc", ())) or "(top level)",
                problem=_problem(e),
            )
            for e in errors
        ]
        raise ConfigError(lines[0], internal="\n".join(lines)) from None
    for token in settings.tokens():
        register_secret(token.get_secret_value())
    _check_state(settings, name)
    both = "escalation" in settings.model_fields_set
    if both and "escalation" in settings.rules.model_fields_set:
        raise ConfigError(
            f"{name}: both [escalation] and [rules.escalation] are set; keep one "
            "(config.example.toml uses [escalation])."
        )
    return settings
