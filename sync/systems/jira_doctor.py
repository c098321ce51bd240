"""`handoff doctor` for Jira: the token, each project's permissions, the mapped custom
fields. Reads only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors._retry import RetryPolicy
from connectors.errors import ConfigError, ConnectorError, NotFound
from mapping.fields import JIRA_STANDARD_FIELDS, JiraMap
from mapping.record import FIELD_KINDS
from sync.commands.doctor_checks import Check, Reached, fail, token_fix
from sync.engine.connect import open_connector
from sync.settings import Settings
from sync.systems.jira import NAME

if TYPE_CHECKING:
    from connectors.jira import JiraConnector


# Jira project permissions the write-back needs, with the names Jira's admin screens use.
JIRA_PERMISSIONS = {
    "BROWSE_PROJECTS": ("Browse projects", "read its issues"),
    "ADD_COMMENTS": ("Add comments", "post the handoff comment"),
    "EDIT_ISSUES": ("Edit issues", "add and remove labels"),
}


def check_jira(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, project permissions, mapped custom fields; the accounts for the people check."""
    cfg = settings.jira
    try:
        conn: JiraConnector = open_connector(settings, NAME, policy)  # type: ignore[assignment]
        me = conn.account()
    except (ConfigError, ConnectorError) as exc:
        return Reached([fail(NAME, exc, token_fix(NAME, exc))])
    who = me.get("displayName") or cfg.email
    out = [Check(NAME, "ok", f"token works at {cfg.url}: signed in as {who} ({cfg.email})")]
    for project in cfg.projects:
        out.append(_jira_project(conn, project, cfg.email))
    if cfg.jql and not cfg.projects:
        out.append(
            Check(
                NAME,
                "info",
                "scope is a JQL query: permissions are checked per "
                "project only; list the projects in [jira] projects to check them",
            )
        )
    try:
        fields = conn.fields()
    except ConnectorError as exc:
        return Reached([*out, fail(NAME, exc)])
    out += jira_field_checks(settings.fields.jira, fields, cfg.url)
    try:
        return Reached(out, list(conn.people()))
    except ConnectorError as exc:
        out.append(
            fail(
                NAME,
                exc,
                "give the account the 'Browse users and groups' global "
                "permission so owners can be matched to people",
            )
        )
    return Reached(out)


def _jira_project(conn: JiraConnector, project: str, email: str) -> Check:
    try:
        held = conn.my_permissions(project, list(JIRA_PERMISSIONS))
    except NotFound:
        return Check(
            NAME,
            "FAIL",
            f"project {project} does not exist or {email} cannot see it",
            f"check the key in [jira] projects (keys are upper case, e.g. EXP), or "
            f"give {email} 'Browse projects' in {project}",
        )
    except ConnectorError as exc:
        return fail(NAME, exc)
    missing = [k for k, ok in held.items() if not ok]
    if not missing:
        return Check(NAME, "ok", f"project {project}: can read, comment and label")
    names = " and ".join(f"'{JIRA_PERMISSIONS[k][0]}'" for k in missing)
    needs = " or ".join(JIRA_PERMISSIONS[k][1] for k in missing)
    plural = "s" if len(missing) > 1 else ""
    return Check(
        NAME,
        "FAIL",
        f"the token lacks {names} in project {project}: it cannot {needs}",
        f"give the bot account {email} the {names} project permission{plural} in "
        f"{project}'s permission scheme (Project settings → Permissions)",
    )


# Field types that give a record field of each kind nothing to read.
UNUSABLE_JIRA = {
    "person": {"number", "date", "datetime"},
    "people": {"number", "date", "datetime"},
    "date": {"number", "user", "array", "option"},
    "money": {"user", "date", "datetime", "array"},
    "flag": {"user", "date", "datetime", "number"},
}
UNUSABLE_JIRA_TEXT = {"user", "date", "datetime"}


def jira_field_checks(fmap: JiraMap, fields: list[dict[str, Any]], site: str) -> list[Check]:
    """Each mapped custom field exists with a type the mapping can read; default names are
    optional (present or absent is info), names added in config must exist."""
    by_name = {f.get("name"): f for f in fields}
    by_id = {f.get("id"): f for f in fields}
    defaults = JiraMap().fields
    out: list[Check] = []
    found: list[str] = []
    absent: list[str] = []
    for record_field, names in sorted(fmap.fields.items()):
        kind = FIELD_KINDS.get(record_field, "text")
        for name in names:
            if name in JIRA_STANDARD_FIELDS:
                continue
            field = by_id.get(name) or by_name.get(name)
            optional = name in defaults.get(record_field, [])
            if field is None:
                if optional:
                    absent.append(name)
                    continue
                known = sorted(str(f.get("name")) for f in fields if f.get("custom"))
                out.append(
                    Check(
                        NAME,
                        "FAIL",
                        f"custom field {name!r} (mapped to {record_field}) does not exist "
                        f"at {site}",
                        f"fix the name in [fields.jira.fields] {record_field}; custom fields "
                        "there: " + (", ".join(known[:15]) or "none"),
                    )
                )
                continue
            typ = str((field.get("schema") or {}).get("type") or "any")
            bad = UNUSABLE_JIRA.get(kind, UNUSABLE_JIRA_TEXT)
            if typ in bad:
                out.append(
                    Check(
                        NAME,
                        "warn" if optional else "FAIL",
                        f"field {name!r} is of type {typ}, which gives {record_field} ({kind}) "
                        "nothing to read",
                        f"map {record_field} to another field in [fields.jira.fields]",
                    )
                )
            else:
                found.append(f"{name} ({field.get('id')}, {typ})")
    if found:
        out.insert(
            0, Check(NAME, "ok", "mapped custom fields found: " + ", ".join(sorted(set(found))))
        )
    if absent:
        out.append(
            Check(
                NAME,
                "info",
                "optional default fields not on this site (read from "
                "the description instead): " + ", ".join(sorted(set(absent))),
            )
        )
    return out
