"""How the GitHub sandbox renders its state in GitHub's own JSON shapes.

Shapes follow the official description (`pull-request`, `pull-request-simple`, `issue`,
`issue-comment`, `simple-user`, `team-simple`, `label`, `full-repository`); the tests validate
them with openapi-core. URLs point at the host the client used, under `/api/v3`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .github_model import Comment, Item, Repo
from .server import iso

__all__ = ["Render"]


# The URL templates of a repository's related resources, relative to its API URL.
_REPO_URLS = {
    "archive": "{archive_format}{/ref}",
    "assignees": "assignees{/user}",
    "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}",
    "collaborators": "collaborators{/collaborator}",
    "comments": "comments{/number}",
    "commits": "commits{/sha}",
    "compare": "compare/{base}...{head}",
    "contents": "contents/{+path}",
    "contributors": "contributors",
    "deployments": "deployments",
    "downloads": "downloads",
    "events": "events",
    "forks": "forks",
    "git_commits": "git/commits{/sha}",
    "git_refs": "git/refs{/sha}",
    "git_tags": "git/tags{/sha}",
    "hooks": "hooks",
    "issue_comment": "issues/comments{/number}",
    "issue_events": "issues/events{/number}",
    "issues": "issues{/number}",
    "keys": "keys{/key_id}",
    "labels": "labels{/name}",
    "languages": "languages",
    "merges": "merges",
    "milestones": "milestones{/number}",
    "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}",
    "releases": "releases{/id}",
    "stargazers": "stargazers",
    "statuses": "statuses/{sha}",
    "subscribers": "subscribers",
    "subscription": "subscription",
    "tags": "tags",
    "teams": "teams",
    "trees": "git/trees{/sha}",
}


def _reactions(url: str, contents: Sequence[str] = ()) -> dict[str, Any]:
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0
    )
    for content in contents:
        counts[content] += 1
    return {"url": f"{url}/reactions", "total_count": len(contents), **counts}


class Render:
    """Renders state for one request: `api`/`html` are the roots on the client's host."""

    def __init__(
        self, api: str, html: str, users: dict[str, dict[str, Any]], orgs: dict[str, Any]
    ) -> None:
        self.api = api
        self.html = html
        self.users = users
        self.orgs = orgs

    def user(self, login: str, full: bool = False) -> dict[str, Any]:
        api, html = self.api, self.html
        info = self.users.get(login) or {"id": 0, "type": "User"}
        u = f"{api}/users/{login}"
        out: dict[str, Any] = {
            "login": login,
            "id": info["id"],
            "node_id": f"U_{info['id']}",
            "avatar_url": f"{html}/avatars/{login}",
            "gravatar_id": "",
            "url": u,
            "html_url": f"{html}/{login}",
            "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events",
            "type": info.get("type", "User"),
            "user_view_type": "public",
            "site_admin": False,
        }
        if full:
            out.update(
                {
                    "name": info.get("name"),
                    "email": info.get("email"),
                    "company": None,
                    "blog": "",
                    "location": None,
                    "hireable": None,
                    "bio": None,
                    "twitter_username": None,
                    "public_repos": 0,
                    "public_gists": 0,
                    "followers": 0,
                    "following": 0,
                    "created_at": "2020-01-01T00:00:00Z",
                    "updated_at": "2020-01-01T00:00:00Z",
                }
            )
        return out

    def team(self, team: str) -> dict[str, Any]:
        api, html = self.api, self.html
        org, slug = team.split("/", 1)
        spec = self.orgs.get(org, {}).get("teams", {}).get(slug) or {"id": 0, "name": slug}
        return {
            "id": spec["id"],
            "node_id": f"T_{spec['id']}",
            "url": f"{api}/teams/{spec['id']}",
            "members_url": f"{api}/teams/{spec['id']}/members{{/member}}",
            "name": spec.get("name", slug),
            "description": spec.get("description"),
            "permission": "pull",
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "html_url": f"{html}/orgs/{org}/teams/{slug}",
            "repositories_url": f"{api}/teams/{spec['id']}/repos",
            "slug": slug,
            "type": "organization",
            "parent": None,
        }

    def label(self, repo: Repo, name: str) -> dict[str, Any]:
        api = self.api
        lab = repo.labels[name.lower()]
        return {
            "id": lab["id"],
            "node_id": f"LA_{lab['id']}",
            "url": f"{api}/repos/{repo.full}/labels/{lab['name']}",
            "name": lab["name"],
            "color": lab["color"],
            "default": False,
            "description": lab["description"],
        }

    def repo(self, repo: Repo, full: bool = False) -> dict[str, Any]:
        api, html = self.api, self.html
        r = f"{api}/repos/{repo.full}"
        urls = {f"{k}_url": f"{r}/{v}" for k, v in _REPO_URLS.items()}
        stamp = iso(repo.created)
        out: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full,
            "owner": self.user(repo.owner),
            "private": True,
            "html_url": f"{html}/{repo.full}",
            "description": None,
            "fork": False,
            "url": r,
            **urls,
            "git_url": f"git://{html[7:]}/{repo.full}.git",
            "ssh_url": f"git@{html[7:]}:{repo.full}.git",
            "clone_url": f"{html}/{repo.full}.git",
            "svn_url": f"{html}/{repo.full}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": "main",
            "open_issues_count": 0,
            "open_issues": 0,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "license": None,
            "visibility": "private",
            "pushed_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if full:
            out.update(
                {
                    "network_count": 0,
                    "subscribers_count": 0,
                    "permissions": {"admin": False, "push": True, "pull": True},
                }
            )
        return out

    def _pull_links(self, repo: Repo, it: Item, sha: str) -> dict[str, str]:
        """A pull's related URLs, by their `_links` names."""
        r = f"{self.api}/repos/{repo.full}"
        return {
            "self": f"{r}/pulls/{it.number}",
            "html": f"{self.html}/{repo.full}/pull/{it.number}",
            "issue": f"{r}/issues/{it.number}",
            "comments": f"{r}/issues/{it.number}/comments",
            "review_comments": f"{r}/pulls/{it.number}/comments",
            "review_comment": f"{r}/pulls/comments{{/number}}",
            "commits": f"{r}/pulls/{it.number}/commits",
            "statuses": f"{r}/statuses/{sha}",
        }

    def _ref(self, repo: Repo, repo_json: dict[str, Any], name: str, sha: str) -> dict[str, Any]:
        """A pull's `head` or `base`: a branch of the pull's own repository."""
        return {
            "label": f"{repo.owner}:{name}",
            "ref": name,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": repo_json,
        }

    def _pull_merge_facts(self, it: Item) -> dict[str, Any]:
        """What only the one-pull route (`pull-request`, not `-simple`) adds."""
        return {
            "merged": it.merged is not None,
            "mergeable": None if it.merged else True,
            "rebaseable": None,
            "mergeable_state": "unknown" if it.merged else "clean",
            "merged_by": self.user(it.user) if it.merged else None,
            "comments": len(it.comments),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 1,
            "deletions": 0,
            "changed_files": 1,
        }

    def pull(self, repo: Repo, it: Item, full: bool) -> dict[str, Any]:
        sha = hashlib.sha1(f"{repo.full}#{it.number}:{it.head}".encode()).hexdigest()
        repo_json = self.repo(repo)
        links = self._pull_links(repo, it, sha)
        out: dict[str, Any] = {
            "url": links["self"],
            "id": it.id,
            "node_id": f"PR_{it.id}",
            "html_url": links["html"],
            "diff_url": links["html"] + ".diff",
            "patch_url": links["html"] + ".patch",
            "issue_url": links["issue"],
            "number": it.number,
            "state": it.state,
            "locked": False,
            "title": it.title,
            "user": self.user(it.user),
            "body": it.body,
            "created_at": iso(it.created),
            "updated_at": iso(it.updated),
            "closed_at": iso(it.closed) if it.closed else None,
            "merged_at": iso(it.merged) if it.merged else None,
            "merge_commit_sha": sha if it.merged else None,
            "assignee": self.user(it.assignees[0]) if it.assignees else None,
            "assignees": [self.user(a) for a in it.assignees],
            "requested_reviewers": [self.user(a) for a in it.reviewers],
            "requested_teams": [self.team(t) for t in it.teams],
            "labels": [self.label(repo, n) for n in it.labels],
            "milestone": None,
            "draft": it.draft,
            "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"],
            "comments_url": links["comments"],
            "statuses_url": links["statuses"],
            "head": self._ref(repo, repo_json, it.head, sha),
            "base": self._ref(repo, repo_json, it.base, hashlib.sha1(it.base.encode()).hexdigest()),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if full:
            out.update(self._pull_merge_facts(it))
        return out

    def issue(self, repo: Repo, it: Item) -> dict[str, Any]:
        api, html = self.api, self.html
        r = f"{api}/repos/{repo.full}/issues/{it.number}"
        page = f"{html}/{repo.full}/{'pull' if it.is_pull else 'issues'}/{it.number}"
        out: dict[str, Any] = {
            "id": it.id,
            "node_id": f"I_{it.id}",
            "url": r,
            "repository_url": f"{api}/repos/{repo.full}",
            "labels_url": f"{r}/labels{{/name}}",
            "comments_url": f"{r}/comments",
            "events_url": f"{r}/events",
            "html_url": page,
            "number": it.number,
            "state": it.state,
            "title": it.title,
            "body": it.body,
            "user": self.user(it.user),
            "labels": [self.label(repo, n) for n in it.labels],
            "assignee": self.user(it.assignees[0]) if it.assignees else None,
            "assignees": [self.user(a) for a in it.assignees],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(it.comments),
            "closed_at": iso(it.closed) if it.closed else None,
            "created_at": iso(it.created),
            "updated_at": iso(it.updated),
            "closed_by": None,
            "author_association": "MEMBER",
            "timeline_url": f"{r}/timeline",
            "reactions": _reactions(r),
            "performed_via_github_app": None,
        }
        if it.state == "closed":
            # GitHub sends null while open; the spec's nullable enum rejects null, so omit it.
            out["state_reason"] = "completed"
        if it.is_pull:
            pr = f"{api}/repos/{repo.full}/pulls/{it.number}"
            out["pull_request"] = {
                "url": pr,
                "html_url": page,
                "diff_url": page + ".diff",
                "patch_url": page + ".patch",
                "merged_at": iso(it.merged) if it.merged else None,
            }
            out["draft"] = it.draft
        return out

    def reaction(self, rid: int, login: str, content: str, created: datetime) -> dict[str, Any]:
        return {"id": rid, "node_id": f"REA_{rid}", "user": self.user(login), "content": content,
                "created_at": iso(created)}  # fmt: skip

    def comment(self, repo: Repo, c: Comment) -> dict[str, Any]:
        api, html = self.api, self.html
        kind = "pull" if repo.items[c.number].is_pull else "issues"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/repos/{repo.full}/issues/comments/{c.id}",
            "body": c.body,
            "html_url": f"{html}/{repo.full}/{kind}/{c.number}#issuecomment-{c.id}",
            "issue_url": f"{api}/repos/{repo.full}/issues/{c.number}",
            "user": self.user(c.user),
            "created_at": iso(c.created),
            "updated_at": iso(c.updated),
            "author_association": "MEMBER",
            "reactions": _reactions(
                f"{api}/repos/{repo.full}/issues/comments/{c.id}", [r[2] for r in c.reactions]
            ),
            "performed_via_github_app": None,
        }
