"""Moving a Jira issue to another project, as Jira does it: the issue keeps its numeric id,
gets the next key of the new project, and its old key still finds it (Jira answers a request
for the old key with the moved issue)."""

from __future__ import annotations

from .jira_store import JiraStore

__all__ = ["move_issue"]


def move_issue(store: JiraStore, key: str, project: str) -> str:
    """Move issue `key` to `project` (created if new); returns its new key. Hold the
    sandbox's lock while calling."""
    issue = store.find_issue(key)
    store._project(project)
    taken = [
        int(k.rsplit("-", 1)[1])
        for k in store.by_key
        if k.rsplit("-", 1)[0] == project and k.rsplit("-", 1)[1].isdigit()
    ]
    new_key = f"{project}-{max(taken, default=0) + 1}"
    issue["key"], issue["project"] = new_key, project
    store.by_key[new_key] = issue["id"]  # the old key stays in by_key: it still finds it
    store.touch(issue)
    return new_key
