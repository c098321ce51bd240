"""The pure half of `handoff doctor`: checks of mapped fields, properties and people against
what the systems reported. No I/O here; `sync.doctor` fetches and calls these."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from connectors.base import Account
from connectors.errors import ConnectorError
from mapping.fields import JIRA_STANDARD_FIELDS, JiraMap, NotionMap
from mapping.record import FIELD_KINDS
from sync.settings import Settings

__all__ = ["Check", "check_people", "jira_field_checks", "notion_property_checks"]

Status = Literal["ok", "info", "warn", "FAIL"]


# Field types that give a record field of each kind nothing to read.
UNUSABLE_JIRA = {
    "person": {"number", "date", "datetime"},
    "people": {"number", "date", "datetime"},
    "date": {"number", "user", "array", "option"},
    "money": {"user", "date", "datetime", "array"},
    "flag": {"user", "date", "datetime", "number"},
}
UNUSABLE_JIRA_TEXT = {"user", "date", "datetime"}
UNUSABLE_NOTION = {
    "person": {"number", "date", "checkbox", "files", "relation", "url"},
    "people": {"number", "date", "checkbox", "files", "relation", "url"},
    "date": {"people", "checkbox", "number", "files", "relation", "select", "multi_select"},
    "money": {"people", "date", "checkbox", "files", "relation"},
    "flag": {"people", "date", "number", "files", "relation"},
}
UNUSABLE_NOTION_TEXT = {"people", "files", "relation", "checkbox", "button"}
NOTION_TYPE_NAMES = {
    "rich_text": "Text",
    "select": "Select",
    "multi_select": "Multi-select",
    "checkbox": "Checkbox",
}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer."""

    system: str  # "config" | "jira" | "github" | "notion" | "people"
    status: Status
    message: str
    fix: str = ""


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
                        "jira",
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
                        "jira",
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
            0, Check("jira", "ok", "mapped custom fields found: " + ", ".join(sorted(set(found))))
        )
    if absent:
        out.append(
            Check(
                "jira",
                "info",
                "optional default fields not on this site (read from "
                "the description instead): " + ", ".join(sorted(set(absent))),
            )
        )
    return out


def notion_property_checks(settings: Settings, props: dict[str, str], db: str) -> list[Check]:
    """The write-back property, link properties, and mapped properties with usable types."""
    out: list[Check] = []
    folded = {k.strip().lower(): k for k in props}
    want = settings.notion_property
    type_name = NOTION_TYPE_NAMES.get(want.type, want.type)
    have = folded.get(want.name.strip().lower())
    if have is None:
        out.append(
            Check(
                "notion",
                "FAIL",
                f"database {db} has no property {want.name!r}, where the sync writes its result",
                f"add a {type_name} property named {want.name!r} to the database, or "
                "name an existing one in [notion_property] name",
            )
        )
    elif props[have] != want.type:
        out.append(
            Check(
                "notion",
                "FAIL",
                f"property {want.name!r} in database {db} is {props[have]}, not {want.type}",
                f"change it to {type_name} in Notion, or set [notion_property] "
                f"type = {json.dumps(props[have])} if that type is supported",
            )
        )
    for name in settings.link.notion_properties:
        if name.strip().lower() not in folded:
            out.append(
                Check(
                    "notion",
                    "FAIL",
                    f"link property {name!r} is not in database {db}",
                    "fix the name in [link] notion_properties",
                )
            )
    defaults = NotionMap().properties
    found: list[str] = []
    absent: list[str] = []
    for record_field, names in sorted(settings.fields.notion.properties.items()):
        kind = FIELD_KINDS.get(record_field, "text")
        for name in names:
            key = folded.get(name.strip().lower())
            optional = name in defaults.get(record_field, [])
            if key is None:
                if optional:
                    absent.append(name)
                else:
                    out.append(
                        Check(
                            "notion",
                            "FAIL",
                            f"property {name!r} (mapped to {record_field}) is not in database {db}",
                            f"fix the name in [fields.notion.properties] {record_field};"
                            f" properties there: {', '.join(sorted(props))}",
                        )
                    )
                continue
            if props[key] in UNUSABLE_NOTION.get(kind, UNUSABLE_NOTION_TEXT):
                out.append(
                    Check(
                        "notion",
                        "warn" if optional else "FAIL",
                        f"property {key!r} is {props[key]}, which gives {record_field} "
                        f"({kind}) nothing to read",
                        f"map {record_field} to another property in [fields.notion.properties]",
                    )
                )
            else:
                found.append(f"{key} ({props[key]})")
    if found:
        out.append(
            Check("notion", "ok", "mapped properties found: " + ", ".join(sorted(set(found))))
        )
    if absent:
        out.append(
            Check(
                "notion",
                "info",
                "optional default properties not in the database: "
                + ", ".join(sorted(set(absent))),
            )
        )
    return out


# -- people -------------------------------------------------------------------------------
def check_people(
    settings: Settings,
    accounts: dict[str, list[Account]],
    github_user: Callable[[str], dict[str, Any] | None] | None = None,
) -> list[Check]:
    """Each configured person's ids exist in the systems that were read, and emails join."""
    out: list[Check] = []
    index = {s: {a.id: a for a in accts} for s, accts in accounts.items()}
    by_email = {s: {a.email.lower(): a for a in accts if a.email} for s, accts in accounts.items()}
    checked = 0
    for p in settings.people:
        ids = {"jira": p.jira, "notion": p.notion}
        for system, aid in ids.items():
            if system not in index:
                continue
            if not aid:
                hit = by_email[system].get(p.email.lower()) if p.email else None
                if hit is not None:
                    out.append(
                        Check(
                            "people",
                            "info",
                            f"{p.key}: joined to {system} account "
                            f"{hit.name or hit.id} by email {p.email}",
                        )
                    )
                continue
            checked += 1
            acct = index[system].get(aid)
            if acct is None:
                if not p.active:
                    continue  # Notion does not list deactivated members
                out.append(
                    Check(
                        "people",
                        "FAIL",
                        f"{p.key}: {system} account {aid} does not "
                        "exist or the token cannot see it",
                        f"correct [[people]] {system} for {p.key!r} (or remove it)",
                    )
                )
            elif acct.email and p.email and acct.email.lower() != p.email.lower():
                out.append(
                    Check(
                        "people",
                        "warn",
                        f"{p.key}: {system} account {aid} has email "
                        f"{acct.email}, the config says {p.email}",
                        f"correct [[people]] email or {system} for {p.key!r}",
                    )
                )
            elif system == "jira" and acct.active != p.active:
                state = "active" if acct.active else "deactivated"
                out.append(
                    Check(
                        "people",
                        "warn",
                        f"{p.key}: Jira says the account is {state}",
                        f"set active = {str(acct.active).lower()} for {p.key!r}",
                    )
                )
        if p.github and github_user is not None:
            checked += 1
            try:
                found = github_user(p.github)
            except ConnectorError as exc:
                out.append(Check("people", "FAIL", exc.message))
                continue
            if found is None:
                out.append(
                    Check(
                        "people",
                        "FAIL",
                        f"{p.key}: GitHub login {p.github!r} does not exist",
                        f"correct [[people]] github for {p.key!r}",
                    )
                )
    if settings.people and not accounts and github_user is None:
        return [Check("people", "info", "not checked: no system's accounts could be read")]
    if settings.people and not any(c.status in ("FAIL", "warn") for c in out):
        out.insert(
            0,
            Check(
                "people",
                "ok",
                f"{len(settings.people)} people: {checked} account ids found, emails agree",
            ),
        )
    if not settings.people:
        out.append(
            Check(
                "people",
                "info",
                "no [[people]] configured: owners are matched by "
                "what each system reports (email joins accounts across systems)",
            )
        )
    return out
