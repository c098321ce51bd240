"""`handoff webhooks register` and doctor's hook checks, through PyGithub and the `jira`
client against the sandbox's repository hooks and Jira admin webhooks.

Counts come from the sandbox's request log, never from our own code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from engine_fixtures import workspace, write_config

from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.commands.cli import main

PUBLIC = "https://handoff.example.com"
SECRETS = {"github": "gh-hook-secret-7c1d9e", "jira": "jira-hook-secret-44aa01"}
HOOKS = "/rest/webhooks/1.0/webhook"
GH_AUTH = {"Authorization": "token sandbox-github-write"}
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")


def _workspace(**github: Any) -> dict[str, Any]:
    ws = workspace()
    ws["github"]["repos"]["acme/api"] = {"pulls": []}
    ws["github"].update(github)
    return ws


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for system in ("JIRA", "GITHUB", "NOTION"):
        monkeypatch.delenv(f"HANDOFF_{system}__TOKEN", raising=False)
        monkeypatch.delenv(f"HANDOFF_{system}__WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("HANDOFF_SERVE__PUBLIC_URL", raising=False)
    for system, secret in SECRETS.items():
        monkeypatch.setenv(f"HANDOFF_{system.upper()}__WEBHOOK_SECRET", secret)


def _config(sb: Sandbox, tmp_path: Path, public_url: str = "") -> Path:
    path = write_config(tmp_path / "handoff.toml", sb.url, tmp_path / "state.db")
    text = path.read_text(encoding="utf-8")
    text = text.replace('repos = ["acme/web"]', 'repos = ["acme/web", "acme/api"]')
    if public_url:
        text += f'\n[serve]\npublic_url = "{public_url}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def _handoff(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def _writes(sb: Sandbox) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in sb.log(write=True)]


def _gh_hooks(sb: Sandbox, repo: str) -> list[dict[str, Any]]:
    r = requests.get(f"{sb.url}/api/v3/repos/{repo}/hooks", headers=GH_AUTH, timeout=10)
    assert r.status_code == 200, r.text
    hooks: list[dict[str, Any]] = r.json()
    return hooks


def _jira_hooks(sb: Sandbox) -> list[dict[str, Any]]:
    r = requests.get(f"{sb.url}{HOOKS}", auth=JIRA_AUTH, timeout=10)
    assert r.status_code == 200, r.text
    hooks: list[dict[str, Any]] = r.json()
    return hooks


def _no_secrets(text: str) -> None:
    for secret in [*SECRETS.values(), "sandbox-github-write", "sandbox-jira-write"]:
        assert secret not in text


def test_register_creates_one_hook_per_repo_and_one_jira_webhook_then_none(
    tmp_path: Path,
) -> None:
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path, PUBLIC)
        first = _handoff(config, "webhooks", "register")
        assert first.exit_code == 0, first.output
        assert sorted(_writes(sb)) == [
            ("POST", "/api/v3/repos/acme/api/hooks"),
            ("POST", "/api/v3/repos/acme/web/hooks"),
            ("POST", HOOKS),
        ]
        for repo in ("acme/web", "acme/api"):
            (hook,) = _gh_hooks(sb, repo)
            assert hook["name"] == "web" and hook["active"] is True
            assert hook["config"]["url"] == f"{PUBLIC}/webhooks/github"
            assert hook["config"]["content_type"] == "json"
            assert hook["config"]["secret"] == "********"  # GitHub never shows it again
            assert {"pull_request", "issues", "issue_comment"} <= set(hook["events"])
        (jira,) = _jira_hooks(sb)
        assert jira["url"] == f"{PUBLIC}/webhooks/jira" and jira["enabled"] is True
        assert {"jira:issue_updated", "comment_created"} <= set(jira["events"])
        assert "EXP" in jira["filters"]["issue-related-events-section"]
        assert "secret" not in jira  # Jira does not give a webhook's secret back
        # Notion has no API for it: the steps, with the address to paste.
        assert f"{PUBLIC}/webhooks/notion" in first.output
        assert "page.properties_updated" in first.output
        _no_secrets(first.output)

        sb.clear_log()
        second = _handoff(config, "webhooks", "register", "--json")
        assert second.exit_code == 0, second.output
        assert _writes(sb) == []  # nothing doubled
        body = json.loads(second.output)
        actions = {(h["system"], h["scope"]): h["action"] for h in body["hooks"]}
        assert actions[("github", "acme/web")] == "kept"
        assert actions[("jira", "site")] == "kept"
        assert len(_gh_hooks(sb, "acme/web")) == 1 and len(_jira_hooks(sb)) == 1
        _no_secrets(second.output)


def test_dry_run_says_what_it_would_create_and_creates_nothing(tmp_path: Path) -> None:
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path)
        result = _handoff(config, "webhooks", "register", "--dry-run", "--url", PUBLIC)
        assert result.exit_code == 0, result.output
        assert _writes(sb) == []
        assert "would create" in result.output
        assert f"{PUBLIC}/webhooks/github" in result.output
        assert _gh_hooks(sb, "acme/web") == [] and _jira_hooks(sb) == []


def test_without_a_public_url_it_refuses_and_asks_nothing(tmp_path: Path) -> None:
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path)
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 2
        assert "public_url" in result.output and "--url" in result.output
        assert sb.log() == []


def test_a_hook_elsewhere_is_reported_and_left_and_ours_is_corrected_not_doubled(
    tmp_path: Path,
) -> None:
    with Sandbox(_workspace()) as sb:
        old = "https://old.example.com/webhooks/github"
        for url, events, active in ((old, ["push"], True), (f"{PUBLIC}/webhooks/github",
                                                            ["push"], False)):
            r = requests.post(
                f"{sb.url}/api/v3/repos/acme/web/hooks",
                json={"name": "web", "config": {"url": url, "content_type": "form"},
                      "events": events, "active": active},
                headers=GH_AUTH,
                timeout=10,
            )
            assert r.status_code == 201, r.text
        config = _config(sb, tmp_path, PUBLIC)
        sb.clear_log()
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 0, result.output
        assert old in result.output  # reported, with what to do
        ours_id = _hook_id(sb, f"{PUBLIC}/webhooks/github")
        writes = [w for w in _writes(sb) if "acme/web" in w[1]]
        assert writes == [("PATCH", f"/api/v3/repos/acme/web/hooks/{ours_id}")]
        hooks = {h["config"]["url"]: h for h in _gh_hooks(sb, "acme/web")}
        assert set(hooks) == {old, f"{PUBLIC}/webhooks/github"}
        ours = hooks[f"{PUBLIC}/webhooks/github"]
        assert ours["active"] is True and ours["config"]["content_type"] == "json"
        assert {"pull_request", "issues", "issue_comment"} <= set(ours["events"])
        assert ours["config"]["secret"] == "********"
        assert hooks[old]["events"] == ["push"]  # someone else's hook stays as it was


def _hook_id(sb: Sandbox, url: str) -> int:
    return next(h["id"] for h in _gh_hooks(sb, "acme/web") if h["config"]["url"] == url)


def test_github_403_names_the_permission_and_jira_still_registers(tmp_path: Path) -> None:
    # The bot may comment on acme/web but is no admin there: GitHub refuses its hooks.
    with Sandbox(_workspace(hook_admins={"acme/web": []})) as sb:
        config = _config(sb, tmp_path, PUBLIC)
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 2, result.output
        assert "acme/web" in result.output and "admin:repo_hook" in result.output
        assert sorted(_writes(sb)) == [("POST", "/api/v3/repos/acme/api/hooks"), ("POST", HOOKS)]
        _no_secrets(result.output)


def test_jira_403_names_jira_admin_and_github_still_registers(tmp_path: Path) -> None:
    ws = _workspace()
    ws["jira"]["webhook_admin"] = False
    with Sandbox(ws) as sb:
        config = _config(sb, tmp_path, PUBLIC)
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 2, result.output
        assert "Administer Jira" in result.output
        assert sorted(_writes(sb)) == [
            ("POST", "/api/v3/repos/acme/api/hooks"),
            ("POST", "/api/v3/repos/acme/web/hooks"),
        ]
        _no_secrets(result.output)


def test_doctor_reports_missing_hooks_and_passes_after_register(tmp_path: Path) -> None:
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path, PUBLIC)
        before = _handoff(config, "doctor", "--json")
        checks = json.loads(before.output)["checks"]
        hooks = [c for c in checks if "webhook" in c["message"].lower() or "hook" in c["message"]]
        missing = [c for c in hooks if c["status"] == "warn"]
        assert {c["system"] for c in missing} == {"github", "jira"}, hooks
        assert all("handoff webhooks register" in c["fix"] for c in missing)
        assert any(c["system"] == "notion" and "/webhooks/notion" in c["message"] for c in hooks)
        writes_before = len(sb.log(write=True))
        assert writes_before == 0  # doctor reads only

        assert _handoff(config, "webhooks", "register").exit_code == 0
        after = _handoff(config, "doctor", "--json")
        checks = json.loads(after.output)["checks"]
        hook_checks = [c for c in checks if c["system"] in ("github", "jira") and "hook" in
                       c["message"].lower()]
        assert hook_checks and all(c["status"] == "ok" for c in hook_checks), hook_checks
        _no_secrets(before.output + after.output)


# -- what goes over the wire, checked against the services' descriptions ----------------------
GITHUB_SPEC = "github.api.github.com.json.gz"
JIRA_V3 = "jira-platform-v3.swagger-v3.v3.json"
JIRA_SUBSET = "jira.sync-subset.v3+v2.json"
# Documented for admin webhooks (developer.atlassian.com/cloud/jira/platform/webhooks), which
# Atlassian's OpenAPI file does not describe: it holds only the apps' /rest/api/3/webhook.
JIRA_HOOK_KEYS = {"name", "url", "events", "filters", "excludeBody", "secret", "enabled"}


def test_every_request_of_register_is_one_the_services_describe(
    tmp_path: Path, shared_api: Path
) -> None:
    from openapi_check import find_template, validate_request, validate_schema

    specs = shared_api / "specs"
    with Sandbox(_workspace()) as sb:
        # One hook of ours to correct (PATCH), the rest to create (POST), all listed (GET).
        r = requests.post(f"{sb.url}/api/v3/repos/acme/web/hooks", headers=GH_AUTH, timeout=10,
                          json={"config": {"url": f"{PUBLIC}/webhooks/github"}})
        assert r.status_code == 201, r.text
        config = _config(sb, tmp_path, PUBLIC)
        sb.clear_log()
        assert _handoff(config, "webhooks", "register").exit_code == 0
        log = sb.log()
        answers = [_gh_hooks(sb, repo) for repo in ("acme/web", "acme/api")]
    assert {e.method for e in log if e.service == "github"} == {"GET", "POST", "PATCH"}
    for e in log:
        if e.service == "github":
            validate_request(specs / GITHUB_SPEC, e.method, e.path.removeprefix("/api/v3"),
                             query=e.query, headers=e.headers, body=e.body or None)
        elif e.path.startswith("/rest/api/2/"):
            validate_request(specs / JIRA_SUBSET, e.method, e.path, query=e.query,
                             headers=e.headers, body=e.body or None)
        else:  # the admin webhooks: not in the description, checked for the documented shape
            assert e.path == HOOKS and find_template(specs / JIRA_V3, e.method, e.path) is None
            if e.method == "POST":
                assert set(e.body) <= JIRA_HOOK_KEYS and {"name", "url", "events"} <= set(e.body)
                assert set(e.body["filters"]) == {"issue-related-events-section"}
    # The sandbox's hooks have the shape of GitHub's `hook` schema.
    full = tmp_path / "github.json"
    import gzip

    full.write_bytes(gzip.decompress((specs / GITHUB_SPEC).read_bytes()))
    for hooks in answers:
        for hook in hooks:
            validate_schema(full, "hook", hook)


def test_a_missing_secret_refuses_that_system_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HANDOFF_GITHUB__WEBHOOK_SECRET")
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path, PUBLIC)
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 2, result.output
        assert "HANDOFF_GITHUB__WEBHOOK_SECRET" in result.output
        assert _writes(sb) == [("POST", HOOKS)]


def test_a_jira_webhook_of_ours_with_other_projects_is_corrected_and_dry_run_only_says_so(
    tmp_path: Path,
) -> None:
    with Sandbox(_workspace()) as sb:
        body = {"name": "old", "url": f"{PUBLIC}/webhooks/jira", "events": ["jira:issue_updated"],
                "filters": {"issue-related-events-section": 'project = "OTHER"'}}
        r = requests.post(f"{sb.url}{HOOKS}", json=body, auth=JIRA_AUTH, timeout=10)
        assert r.status_code == 201, r.text
        config = _config(sb, tmp_path, PUBLIC)
        sb.clear_log()
        dry = _handoff(config, "webhooks", "register", "--dry-run", "--only", "jira")
        assert dry.exit_code == 0 and "would correct" in dry.output, dry.output
        assert _writes(sb) == []
        done = _handoff(config, "webhooks", "register", "--only", "jira")
        assert done.exit_code == 0, done.output
        assert _writes(sb) == [("PUT", f"{HOOKS}/1")]
        (hook,) = _jira_hooks(sb)
        assert hook["filters"]["issue-related-events-section"] == 'project in ("EXP")'
        assert {"comment_created", "jira:issue_updated"} <= set(hook["events"])


def test_a_public_url_that_is_no_address_is_refused_with_the_key(tmp_path: Path) -> None:
    with Sandbox(_workspace()) as sb:
        config = _config(sb, tmp_path, "handoff.example.com")
        result = _handoff(config, "webhooks", "register")
        assert result.exit_code == 2
        assert "serve.public_url" in result.output and "http" in result.output
        bad_flag = _handoff(_config(sb, tmp_path), "webhooks", "list", "--url", "ftp://x")
        assert bad_flag.exit_code == 2 and "--url" in bad_flag.output
        assert sb.log() == []


def test_doctor_says_when_a_webhook_secret_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HANDOFF_JIRA__WEBHOOK_SECRET")
    with Sandbox(_workspace()) as sb:
        result = _handoff(_config(sb, tmp_path, PUBLIC), "doctor", "--json")
        checks = json.loads(result.output)["checks"]
        unsigned = [c for c in checks if "webhook_secret" in c["message"]]
        assert [(c["system"], c["status"]) for c in unsigned] == [("jira", "warn")], unsigned
        assert "HANDOFF_JIRA__WEBHOOK_SECRET" in unsigned[0]["fix"]


@pytest.mark.slow
def test_a_registered_hook_is_pinged_and_handoff_serve_acknowledges_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """register against a running `handoff serve`: GitHub's first delivery to a new hook, the
    signed `ping`, is verified and acknowledged (and ignored: it names no item)."""
    from test_serve_e2e import SECRETS as SERVED
    from test_serve_e2e import serving

    for system, secret in SERVED.items():
        monkeypatch.setenv(f"HANDOFF_{system.upper()}__WEBHOOK_SECRET", secret)
    with Sandbox(_workspace()) as sb, serving(sb, tmp_path) as served:
        result = _handoff(tmp_path / "handoff.toml", "webhooks", "register", "--only", "github",
                          "--url", served.url)
        assert result.exit_code == 0, result.output
        sb.webhooks.drain()
        pings = [d for d in sb.webhooks.sent if d.headers.get("X-GitHub-Event") == "ping"]
        assert len(pings) == 1 and pings[0].status == 202, [(d.headers, d.status) for d in pings]
        assert served.metrics().get("handoff_deliveries_ignored_total", 0.0) == 1.0
