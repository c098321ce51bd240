"""`handoff doctor` for Notion: the token, each database, the mapped properties, reading
comments. Reads only."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from connectors._retry import RetryPolicy
from connectors.base import Scope
from connectors.errors import AuthError, ConfigError, ConnectorError, NotFound
from mapping.fields import NotionMap
from mapping.record import FIELD_KINDS
from sync.commands.doctor_checks import Check, Reached, fail, token_fix
from sync.engine.connect import open_connector
from sync.settings import Settings
from sync.systems.notion import NAME

if TYPE_CHECKING:
    from connectors.notion import NotionConnector


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


def check_notion(settings: Settings, policy: RetryPolicy) -> Reached:
    """Token, each database shared, mapped properties, the capabilities a read can show."""
    try:
        conn: NotionConnector = open_connector(settings, NAME, policy)  # type: ignore[assignment]
        conn.me()
    except (ConfigError, ConnectorError) as exc:
        return Reached([fail(NAME, exc, token_fix(NAME, exc))])
    out = [Check(NAME, "ok", f"token works at {settings.notion.url}")]
    probed = False
    for db in settings.notion.databases:
        scope = Scope(NAME, db)
        try:
            props = conn.properties(scope)
        except NotFound:
            out.append(
                Check(
                    NAME,
                    "FAIL",
                    f"database {db} does not exist or is not shared with the integration",
                    "open the database in Notion → ••• → Connections → add the "
                    "integration; check the id in [notion] databases",
                )
            )
            continue
        except ConnectorError as exc:
            out.append(fail(NAME, exc))
            continue
        out.append(Check(NAME, "ok", f"database {db}: shared, {len(props)} properties"))
        out += notion_property_checks(settings, props, db)
        if not probed:
            probed = True
            out.append(_notion_comment_probe(conn, scope))
    out.append(
        Check(
            NAME,
            "info",
            "whether the integration may insert comments and update "
            "pages cannot be checked without writing; the first sync will say "
            "(capabilities: Insert comments, Update content)",
        )
    )
    try:
        return Reached(out, list(conn.people()))
    except ConnectorError as exc:
        out.append(fail(NAME, exc))
    return Reached(out)


def _notion_comment_probe(conn: NotionConnector, scope: Scope) -> Check:
    """Read one page's comments: the sync reads them to find its own, and it writes nothing."""
    try:
        first = next(iter(conn.pull(scope, None)), None)
        if first is None:
            return Check(
                NAME,
                "info",
                f"database {scope.name} has no pages yet: the "
                "'Read comments' capability is checked once it has one",
            )
        conn.find_comment(scope, first.id, "handoff-doctor-probe")
    except AuthError:
        return Check(
            NAME,
            "FAIL",
            "the integration cannot read comments",
            "enable 'Read comments' in the integration's capabilities "
            "(notion.so/profile/integrations)",
        )
    except ConnectorError as exc:
        return fail(NAME, exc)
    return Check(NAME, "ok", "the integration can read comments")


def notion_property_checks(settings: Settings, props: dict[str, str], db: str) -> list[Check]:
    """The write-back property, link properties, and mapped properties with usable types."""
    folded = {k.strip().lower(): k for k in props}
    return (
        _writeback_property_checks(settings, props, folded, db)
        + _link_property_checks(settings, folded, db)
        + _mapped_property_checks(settings, props, folded, db)
    )


def _writeback_property_checks(
    settings: Settings, props: dict[str, str], folded: dict[str, str], db: str
) -> list[Check]:
    """The property the sync writes its result to exists and has the configured type."""
    want = settings.notion_property
    type_name = NOTION_TYPE_NAMES.get(want.type, want.type)
    have = folded.get(want.name.strip().lower())
    if have is None:
        return [
            Check(
                NAME,
                "FAIL",
                f"database {db} has no property {want.name!r}, where the sync writes its result",
                f"add a {type_name} property named {want.name!r} to the database, or "
                "name an existing one in [notion_property] name",
            )
        ]
    if props[have] != want.type:
        return [
            Check(
                NAME,
                "FAIL",
                f"property {want.name!r} in database {db} is {props[have]}, not {want.type}",
                f"change it to {type_name} in Notion, or set [notion_property] "
                f"type = {json.dumps(props[have])} if that type is supported",
            )
        ]
    return []


def _link_property_checks(settings: Settings, folded: dict[str, str], db: str) -> list[Check]:
    return [
        Check(
            NAME,
            "FAIL",
            f"link property {name!r} is not in database {db}",
            "fix the name in [link] notion_properties",
        )
        for name in settings.link.notion_properties
        if name.strip().lower() not in folded
    ]


def _mapped_property_checks(
    settings: Settings, props: dict[str, str], folded: dict[str, str], db: str
) -> list[Check]:
    """Each mapped property exists (a missing default is only noted) and has a readable type."""
    out: list[Check] = []
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
                            NAME,
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
                        NAME,
                        "warn" if optional else "FAIL",
                        f"property {key!r} is {props[key]}, which gives {record_field} "
                        f"({kind}) nothing to read",
                        f"map {record_field} to another property in [fields.notion.properties]",
                    )
                )
            else:
                found.append(f"{key} ({props[key]})")
    if found:
        out.append(Check(NAME, "ok", "mapped properties found: " + ", ".join(sorted(set(found)))))
    if absent:
        out.append(
            Check(
                NAME,
                "info",
                "optional default properties not in the database: "
                + ", ".join(sorted(set(absent))),
            )
        )
    return out
