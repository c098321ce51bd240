"""Commands reach the pure reconcile as data: their effects and answers land in the plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine_fixtures import workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from mapping.commands import CommandSource, parse_commands
from sync.engine.connect import connect
from sync.engine.knowledge import jira_keys
from sync.engine.pull import pull
from sync.engine.reconcile import reconcile
from sync.settings import load_settings
from sync.store import memory_store
from sync.systems import runtime

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def test_commands_change_the_record_and_are_answered_in_our_comment(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        conns = connect(settings, policy=FAST_POLICY)
        rt = runtime.runtime(settings)
        directory = rt.directory()
        for connector in conns.connectors.values():
            directory.add_accounts(connector.people())
        store = memory_store()
        outcomes = pull(
            conns.connectors,
            conns.scopes,
            {s.key: None for s in conns.scopes},
            store,
            run_id=store.start_run(NOW, dry_run=True),
            now=NOW,
            progress=lambda phase, done, total: None,
        )
    items = [i for i in store.iter_items() if i.state == "present"]
    by_key = {i.key: i for i in items}
    exp3, pr2 = by_key["EXP-3"], by_key["acme/web#2"]

    def on(item, author: str, text: str):
        source = CommandSource(item.system, item.id, item.key, "c9", author, NOW, item.url)
        return {(item.system, item.id): parse_commands(text, source)}

    commands = on(exp3, "acc-ana", "/handoff owner outcome [~accountid:acc-ben]") | on(
        pr2, "mallory", "/handoff waive unlinked trust me"
    )

    def run(with_commands):
        return reconcile(
            items,
            rt,
            directory,
            now=NOW,
            opened=store.opened_at(),
            comments={},
            systems=list(conns.connectors),
            known_keys=jira_keys(store, outcomes),
            commands=with_commands,
        )

    before, after = run(None), run(commands)
    assert any(f.code == "ownerless" for f in before.findings["EXP-3"])
    assert not any(f.code == "ownerless" for f in after.findings["EXP-3"])
    (record,) = [r for r in after.records if r.key == "EXP-3"]
    assert record.outcome_owner[0].value.key == "ben"
    assert record.outcome_owner[0].source.field == "command by ana"
    assert [o.ok for o in after.outcomes] == [True, False]

    def body(done, item) -> str:
        (op,) = [o for o in done.ops if o.item_id == item.id and o.action == "comment.create"]
        return op.body

    assert "/handoff owner outcome" in body(after, exp3)
    assert "outcome owner is now Ben Okafor" in body(after, exp3)
    assert "I don't know mallory" in body(after, pr2)
    assert "/handoff" not in body(before, exp3)
    # one comment per item still: the answers ride in the comment we write anyway
    creates = [o for o in after.ops if o.action == "comment.create"]
    assert len(creates) == len({o.item_id for o in creates})
