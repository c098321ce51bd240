"""The demo workspace (`handoff demo`, end-to-end tests) and a config that points at a sandbox.

demo.json holds the team and about twenty handoffs, each listed with the Jira issue, pull
requests and Notion brief that describe it and the findings it must produce (`shows`). This
module turns it into the workspace format the three sandbox services load (see workspace.py and
each service's docstring): dates become real dates relative to *now*, so an expired handoff is
still expired whenever the demo runs; briefs become Jira descriptions (wiki markup or ADF with
real heading, task and mention nodes) and PR bodies (Markdown sections and task items); person
keys become each system's ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .workspace import DEFAULT_TOKENS, JIRA_EMAIL

__all__ = [
    "DEMO_CLEAN",
    "DEMO_EXPECTED",
    "DEMO_LEADS",
    "demo_workspace",
    "sandbox_config",
]

SOURCE = Path(__file__).with_name("demo.json")
JIRA_SITE = "https://acme.atlassian.net"
DEMO_LEADS = ("lena",)
_TOKEN = re.compile(r"\{([tdh])([+-]\d+(?:\.\d+)?)\}")
_MENTION = re.compile(r"@([a-z]+)\b")


def _source() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SOURCE.read_text(encoding="utf-8"))
    return data


def _expected(handoffs: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for h in handoffs:
        for code in h["shows"]:
            found.setdefault(code, []).append(h["key"])
    return {code: tuple(keys) for code, keys in found.items()}


_HANDOFFS = _source()["handoffs"]
# Finding code -> record keys that must show it (the demo's known problems).
DEMO_EXPECTED: dict[str, tuple[str, ...]] = _expected(_HANDOFFS)
# Record keys whose handoff is complete: no findings at all.
DEMO_CLEAN: tuple[str, ...] = tuple(h["key"] for h in _HANDOFFS if not h["shows"])


# -- dates ---------------------------------------------------------------------------------
def _dates(now: datetime) -> Callable[[Any], Any]:
    """A walker replacing {t-3} (timestamp), {h-5} (hours) and {d+21} (date) in strings."""
    base = now.astimezone(UTC).replace(microsecond=0)

    def one(match: re.Match[str]) -> str:
        kind, amount = match.group(1), float(match.group(2))
        if kind == "d":
            return (base + timedelta(days=amount)).date().isoformat()
        delta = timedelta(hours=amount) if kind == "h" else timedelta(days=amount)
        return (base + delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _TOKEN.sub(one, value) if "{" in value else value
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk


# -- Jira descriptions -------------------------------------------------------------------
def _lines(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _brief_wiki(brief: dict[str, Any], ids: dict[str, str]) -> str:
    def mention(m: re.Match[str]) -> str:
        aid = ids.get(m.group(1))
        return f"[~accountid:{aid}]" if aid else m.group(0)

    out = ["Experiment brief. Owners, cost cap and dates are in the fields on the right."]
    for heading, value in brief.items():
        out.append(f"h2. {heading}")
        for line in _lines(value):
            text = _MENTION.sub(mention, line)
            out.append(f"* {text}" if isinstance(value, list) else text)
    return "\n".join(out)


def _adf_inline(text: str, ids: dict[str, str], names: dict[str, str]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    pos = 0
    for m in _MENTION.finditer(text):
        aid = ids.get(m.group(1))
        if not aid:
            continue
        if m.start() > pos:
            nodes.append({"type": "text", "text": text[pos : m.start()]})
        nodes.append(
            {"type": "mention", "attrs": {"id": aid, "text": f"@{names[m.group(1)]}"}}
        )
        pos = m.end()
    if pos < len(text):
        nodes.append({"type": "text", "text": text[pos:]})
    return nodes


def _brief_adf(brief: dict[str, Any], ids: dict[str, str], names: dict[str, str]) -> Any:
    def para(text: str) -> dict[str, Any]:
        return {"type": "paragraph", "content": _adf_inline(text, ids, names)}

    content = [para("Experiment brief. Owners, cost cap and dates are in the fields on the right.")]
    for n, (heading, value) in enumerate(brief.items()):
        content.append(
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": heading}],
            }
        )
        if not isinstance(value, list):
            content.append(para(value))
        elif all(re.match(r"\[[ x]\] ", v) for v in value):
            items = [
                {
                    "type": "taskItem",
                    "attrs": {"localId": f"t{n}-{i}", "state": "DONE" if v[1] == "x" else "TODO"},
                    "content": _adf_inline(v[4:], ids, names),
                }
                for i, v in enumerate(value)
            ]
            content.append({"type": "taskList", "attrs": {"localId": f"l{n}"}, "content": items})
        else:
            items = [{"type": "listItem", "content": [para(v)]} for v in value]
            content.append({"type": "bulletList", "content": items})
    return {"type": "doc", "version": 1, "content": content}


def _issue(key: str, spec: dict[str, Any], ids: dict[str, str], names: dict[str, str]) -> Any:
    brief = spec.get("brief") or {}
    if spec.get("format") == "adf":
        description: Any = _brief_adf(brief, ids, names)
    else:
        description = _brief_wiki(brief, ids)
    issue = {k: v for k, v in spec.items() if k not in ("brief", "format")}
    issue.update(key=key, type="Task", description=description)
    return issue


# -- GitHub bodies -----------------------------------------------------------------------
def _pull(spec: dict[str, Any]) -> dict[str, Any]:
    parts = [spec.get("summary", "")]
    for heading, text in (spec.get("sections") or {}).items():
        parts.append(f"## {heading}\n{text}")
    tasks = spec.get("tasks") or []
    if tasks:
        parts.append("## Checklist\n" + "\n".join(f"- [{'x' if d else ' '}] {t}" for t, d in tasks))
    pull = {k: v for k, v in spec.items() if k not in ("summary", "sections", "tasks")}
    pull["body"] = "\n\n".join(p for p in parts if p)
    if pull.get("merged_at"):
        pull["state"] = "closed"
    return pull


# -- Notion pages ------------------------------------------------------------------------
def _page(spec: dict[str, Any], schema: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    people = {n for n, t in schema.items() if (t if isinstance(t, str) else t["type"]) == "people"}
    props = {
        name: [ids.get(v, v) for v in value] if name in people else value
        for name, value in spec.get("properties", {}).items()
    }
    page = dict(spec, properties=props, created_by=ids.get(spec.get("created_by", ""), ""))
    page.setdefault("comments", [])
    return page


def demo_workspace(now: datetime | None = None) -> dict[str, Any]:
    """The demo team's workspace, with every date placed relative to `now` (default: now)."""
    src = _dates(now or datetime.now(UTC))(_source())
    people = src["people"]
    jira_ids = {p["key"]: p["jira_account_id"] for p in people}
    names = {p["key"]: p["name"] for p in people}
    notion_ids = {p["key"]: p["notion_user_id"] for p in people}
    notion_users = []
    for user in src["notion"]["users"]:
        notion_ids[user["key"]] = user["id"]
        notion_users.append({k: v for k, v in user.items() if k != "key"})
    db = src["notion"]["database"]
    issues, pulls, pages = [], [], []
    for h in src["handoffs"]:
        if "jira" in h:
            issues.append(_issue(h["key"], h["jira"], jira_ids, names))
        pulls += [_pull(p) for p in h.get("pulls", [])]
        if "page" in h:
            pages.append(_page(h["page"], db["properties"], notion_ids))
    pulls += [_pull(p) for p in src["ignored"]["pulls"]]
    gh = src["github"]
    return {
        "people": people,
        "tokens": DEFAULT_TOKENS,
        "jira": {**src["jira"], "issues": issues},
        "github": {
            "users": gh["users"],
            "orgs": gh["orgs"],
            "repos": {
                gh["repo"]: {
                    "labels": gh["labels"],
                    "pulls": sorted(pulls, key=lambda p: p["number"]),
                }
            },
        },
        "notion": {
            "bot": src["notion"]["bot"],
            "users": notion_users,
            "databases": [{**db, "pages": pages}],
        },
        # The team's `[rules]` (the checks it turns on); `sandbox_config` writes them out.
        "rules": src.get("rules") or {},
    }


# -- config ------------------------------------------------------------------------------
def _toml(value: Any) -> str:
    """A TOML value: JSON's string escapes are valid TOML basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _write_token(ws: dict[str, Any], system: str) -> str:
    tokens = (ws.get("tokens") or DEFAULT_TOKENS).get(system) or DEFAULT_TOKENS[system]
    return next(t for t, access in tokens.items() if access == "write")


def _scopes(ws: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    jira = ws.get("jira") or {}
    projects = [p["key"] for p in jira.get("projects") or []]
    for issue in jira.get("issues") or []:
        project = issue.get("project") or issue["key"].rsplit("-", 1)[0]
        if project not in projects:
            projects.append(project)
    repos = list((ws.get("github") or {}).get("repos") or {})
    databases = [d["id"] for d in (ws.get("notion") or {}).get("databases") or []]
    return projects, repos, databases


def _groups(ws: dict[str, Any]) -> list[str]:
    names = [g["name"] for g in (ws.get("jira") or {}).get("groups") or []]
    for org in ((ws.get("github") or {}).get("orgs") or {}).values():
        names += [t["slug"] for t in org.get("teams", [])]
    return list(dict.fromkeys(names))


def _hook_secret(sb: Any, service: str) -> list[str]:
    """The webhook secret the sandbox signs this service's deliveries with, if it sends any."""
    hooks = getattr(sb, "webhooks", None)
    secret = hooks.secrets.get(service) if hooks is not None else None
    return [f"webhook_secret = {_toml(secret)}"] if secret else []


def _rules(rules: dict[str, Any]) -> list[str]:
    """`[rules]` from the workspace's "rules" (scalars, then one table per mapping)."""
    if not rules:
        return []
    out = ["", "[rules]"]
    out += [f"{k} = {_toml(v)}" for k, v in rules.items() if not isinstance(v, dict)]
    for name, table in rules.items():
        if isinstance(table, dict):
            out += ["", f"[rules.{name}]", *(f"{k} = {_toml(v)}" for k, v in table.items())]
    return out


def sandbox_config(
    sb: Any, *, state_path: str, api_version: int = 3, leads: Sequence[str] = ()
) -> str:
    """A complete config (TOML) for the workspace `sb` serves: URLs, write tokens, every scope,
    the people directory and group names; `sync.settings.load_settings` reads it as is."""
    ws: dict[str, Any] = sb.workspace
    projects, repos, databases = _scopes(ws)
    account = (ws.get("jira") or {}).get("account") or {}
    out = [
        "# Generated for the handoff-sync sandbox; its tokens work only on this loopback server.",
        f"groups = {_toml(_groups(ws))}",
        "",
        "[state]",
        f"path = {_toml(state_path)}",
        "",
        "[jira]",
        f"url = {_toml(sb.url)}",
        f"email = {_toml(account.get('email') or JIRA_EMAIL)}",
        f"token = {_toml(_write_token(ws, 'jira'))}",
        *_hook_secret(sb, "jira"),
        f"api_version = {int(api_version)}",
        f"projects = {_toml(projects)}",
        "",
        "[github]",
        f"url = {_toml(sb.url + '/api/v3')}",
        f"token = {_toml(_write_token(ws, 'github'))}",
        *_hook_secret(sb, "github"),
        f"repos = {_toml(repos)}",
        "",
        "[notion]",
        f"url = {_toml(sb.url)}",
        f"token = {_toml(_write_token(ws, 'notion'))}",
        *_hook_secret(sb, "notion"),
        f"databases = {_toml(databases)}",
        "",
        "[link]",
        f"projects = {_toml(projects)}",
        "",
        "[escalation]",
        f"leads = {_toml(list(leads))}",
        *_rules(ws.get("rules") or {}),
    ]
    for p in ws.get("people") or []:
        out += ["", "[[people]]", f"key = {_toml(p['key'])}"]
        for name, field in (
            ("name", "name"),
            ("email", "email"),
            ("jira", "jira_account_id"),
            ("github", "github_login"),
            ("notion", "notion_user_id"),
            ("time_zone", "time_zone"),
        ):
            if p.get(field):
                out.append(f"{name} = {_toml(p[field])}")
        out.append(f"active = {_toml(bool(p.get('active', True)))}")
    return "\n".join(out) + "\n"
