"""The sandbox's list endpoints that `handoff init --from-sandbox` reads answer as the real APIs
describe them: GitHub's /user/repos and Jira's project list against the official descriptions."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from engine_fixtures import DB_ID, workspace
from openapi_check import validate_schema

from connectors.sandbox import JIRA_EMAIL, Sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as server:
        yield server


def test_user_repos_is_a_list_of_github_repositories(
    sb: Sandbox, shared_api: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "github.json"
    spec.write_bytes(
        gzip.decompress((shared_api / "specs/github.api.github.com.json.gz").read_bytes())
    )
    resp = requests.get(
        f"{sb.url}/api/v3/user/repos",
        headers={"Authorization": "token sandbox-github-read"},
        timeout=5,
    )
    assert resp.status_code == 200
    repos = resp.json()
    assert [r["full_name"] for r in repos] == ["acme/web"]
    for repo in repos:
        validate_schema(spec, "repository", repo)


def test_jira_project_list_is_a_list_of_projects(sb: Sandbox, shared_api: Path) -> None:
    spec = shared_api / "specs/jira-platform-v3.swagger-v3.v3.json"
    resp = requests.get(
        f"{sb.url}/rest/api/3/project", auth=(JIRA_EMAIL, "sandbox-jira-read"), timeout=5
    )
    assert resp.status_code == 200
    projects = resp.json()
    assert [p["key"] for p in projects] == ["EXP"]
    for project in projects:
        validate_schema(spec, "Project", project)


def test_notion_search_finds_shared_data_sources_with_their_database(sb: Sandbox) -> None:
    resp = requests.post(
        f"{sb.url}/v1/search",
        headers={"Authorization": "Bearer sandbox-notion-read", "Notion-Version": "2025-09-03"},
        json={"filter": {"property": "object", "value": "data_source"}, "page_size": 1},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert [r["object"] for r in body["results"]] == ["data_source"]
    assert body["results"][0]["parent"] == {"type": "database_id", "database_id": DB_ID}
