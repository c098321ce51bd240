"""Which scopes follow a Jira key convention, read from the SQLite store's link rows.

A scope follows the convention when at least one of its present items names a Jira key
(a `key:` link node: in a PR's title, branch or body, a Notion page's properties). The rollout
modes (`sync.writeback.rollout`) report `unlinked` only, without writing, in the others: a
repository whose PRs never name a key would otherwise get a comment on every PR.
"""

from __future__ import annotations

from sync.store.sqlite.schema import StateBase

__all__ = ["Conventions"]


class Conventions(StateBase):
    """`key_scopes`: plain SQL over item_links (indexed by node) and items."""

    def key_scopes(self) -> set[tuple[str, str]]:
        """(system, scope) of every scope with a present item that names a Jira key; an item
        that is itself a Jira issue (its own key node) counts for its own project only."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT i.system, i.scope FROM item_links l "
                "JOIN item_nodes n ON n.n = l.n "
                "JOIN items i ON i.system = n.system AND i.id = n.item_id "
                "WHERE l.node >= 'key:' AND l.node < 'key;' AND n.kept = 1 "
                "AND i.state = 'present'"
            ).fetchall()
        return {(r[0], r[1]) for r in rows}
