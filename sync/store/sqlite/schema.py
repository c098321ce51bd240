"""The SQLite store's schema and migrations; `sync.store.sqlite.store` documents the tables."""

from __future__ import annotations

import threading

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from sync.store.sql import Sql

__all__ = ["FIX_HINT", "StateBase", "migrations"]

FIX_HINT = (
    "Move the file aside (or restore a backup) and run `handoff sync --full` to rebuild it; "
    "the comments already posted are found again by their marker."
)

migrations = Migrations("handoff_sync")


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    for sql in _SCHEMA_1:
        db.execute(sql)


@migrations(name="0002_item_activity")
def _item_activity(db: Database) -> None:
    # activity: the last change a person made. quiet_until: until then, a newer `updated` is
    # taken to be the echo of our own write-back, not a person's change.
    db.execute("ALTER TABLE items ADD COLUMN activity TEXT")
    db.execute("ALTER TABLE items ADD COLUMN quiet_until TEXT")


@migrations(name="0003_scope_reads")
def _scope_reads(db: Database) -> None:
    # When each scope was last read in full and without error: a run that cannot read it
    # uses its stored items and says how old they are.
    db.execute("CREATE TABLE scope_reads (scope TEXT PRIMARY KEY, read_at TEXT NOT NULL)")


@migrations(name="0004_served_config")
def _served_config(db: Database) -> None:
    # meta: small facts about the state itself, e.g. which config it serves (sync.store.identity).
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")


@migrations(name="0005_item_uid")
def _item_uid(db: Database) -> None:
    # uid: the id that survives renames and moves (GitHub's numeric issue id); our marker
    # names the item by it, so an item read back from the state must still know it.
    db.execute("ALTER TABLE items ADD COLUMN uid TEXT")


@migrations(name="0006_item_digest")
def _item_digest(db: Database) -> None:
    # digest: the item's content as the rules and plan read it, without edit times or our
    # comment; a pull counts an item as changed only when it differs (sync.store.sqlite.items).
    # Rows stored before have none and count as changed once.
    db.execute("ALTER TABLE items ADD COLUMN digest TEXT")


@migrations(name="0007_item_links")
def _item_links(db: Database) -> None:
    # What reconcile needs to touch only what changed (sync.store.sqlite.links): each item's
    # link nodes and record, stamped with the item row they were computed from; when each
    # record's findings can next change by time alone; items still to be planned.
    for sql in _SCHEMA_7:
        db.execute(sql)


@migrations(name="0008_findings_by_record")
def _findings_by_record(db: Database) -> None:
    # A run reads the open findings of the records it evaluates, not every open finding.
    db.execute("CREATE INDEX findings_record ON findings (record_key, resolved_at)")


@migrations(name="0009_reuse")
def _item_extracts(db: Database) -> None:
    # extract: the item's field values and link tokens as mapping extracted them from the row
    # its link row was computed from (mapping.stored), so a rebuild folds records from them
    # instead of parsing every item's payload again. NULL: extract again.
    db.execute("ALTER TABLE item_nodes ADD COLUMN extract TEXT")
    # rendered: the render key our comment's body was last found current for
    # (sync.writeback.render.render_key): the same key next time needs no rendering.
    db.execute("ALTER TABLE comments ADD COLUMN rendered TEXT")
    # shown: a digest of the text a service showed for our comment's body when that text was
    # found current (sync.engine.comments): the same text next time is not compared again.
    db.execute("ALTER TABLE comments ADD COLUMN shown TEXT")


@migrations(name="0010_webhook_inbox")
def _webhook_inbox(db: Database) -> None:
    # `handoff serve`: each signed delivery, stored before it is answered and kept once per
    # delivery id; `done_at` is set when a sync that began after its arrival has finished.
    db.execute(
        """CREATE TABLE inbox (n INTEGER PRIMARY KEY, system TEXT NOT NULL,
        delivery TEXT NOT NULL, event TEXT, subject TEXT, body BLOB,
        received_at TEXT NOT NULL, done_at TEXT, run_id INTEGER,
        UNIQUE (system, delivery))"""
    )
    db.execute("CREATE INDEX inbox_pending ON inbox (done_at, n)")


@migrations(name="0011_commands")
def _commands(db: Database) -> None:
    # People's `/handoff` commands in comments (sync.store.sqlite.said): a list since a cursor
    # shows a comment once, so they are kept and applied at every reconcile of their record.
    db.execute(
        """CREATE TABLE said (system TEXT NOT NULL, comment_id TEXT NOT NULL,
        item_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL,
        seen_at TEXT, answer TEXT, PRIMARY KEY (system, comment_id))"""
    )
    db.execute("CREATE INDEX said_item ON said (system, item_id)")


@migrations(name="0032_item_history")
def _item_history(db: Database) -> None:
    # `handoff show`: each item's content as each pull that changed it stored it (its digest,
    # state, title and fields), so a lead sees what changed when (sync.store.sqlite.item_history).
    db.execute(
        """CREATE TABLE item_history (n INTEGER PRIMARY KEY, system TEXT NOT NULL,
        item_id TEXT NOT NULL, at TEXT NOT NULL, run_id INTEGER, digest TEXT, state TEXT,
        title TEXT, fields TEXT)"""
    )
    db.execute("CREATE INDEX item_history_item ON item_history (system, item_id, n)")


@migrations(name="0050_notices")
def _notices(db: Database) -> None:
    # Issue 17 (sync.store.sqlite.notices): each ladder step owed to a person, kept until it
    # is delivered; `told_at` is set in the transaction that marks its delivery as sending, so
    # a crash mid-delivery never sends it twice (at most once; the receiver has its id).
    db.execute(
        """CREATE TABLE notices (key TEXT PRIMARY KEY, person TEXT NOT NULL,
        finding_id TEXT NOT NULL, step INTEGER NOT NULL, role TEXT, reached_at TEXT NOT NULL,
        deliver_at TEXT NOT NULL, line TEXT, told_at TEXT, op_key TEXT)"""
    )
    db.execute("CREATE INDEX notices_owed ON notices (told_at, deliver_at)")


@migrations(name="0052_step_replies")
def _step_replies(db: Database) -> None:
    # Issue 17 (sync.store.sqlite.replies): the reply we left on an item for one finding at one
    # escalation step (found by `marker`), whom it told, and whether it now says done.
    db.execute(
        """CREATE TABLE step_replies (system TEXT NOT NULL, item_id TEXT NOT NULL,
        marker TEXT NOT NULL, finding_id TEXT NOT NULL, step INTEGER NOT NULL,
        people TEXT NOT NULL, comment_id TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        at TEXT NOT NULL, PRIMARY KEY (system, item_id, marker))"""
    )


_SCHEMA_7 = (
    """CREATE TABLE item_nodes (n INTEGER PRIMARY KEY, system TEXT NOT NULL,
        item_id TEXT NOT NULL, seen TEXT, stamp TEXT, content TEXT,
        kept INTEGER NOT NULL DEFAULT 0, project TEXT, record_key TEXT,
        UNIQUE (system, item_id))""",
    "CREATE INDEX item_nodes_record ON item_nodes (record_key)",
    """CREATE TABLE item_links (n INTEGER NOT NULL, node TEXT NOT NULL,
        PRIMARY KEY (n, node)) WITHOUT ROWID""",
    "CREATE INDEX item_links_node ON item_links (node, n)",
    "ALTER TABLE records ADD COLUMN next_due TEXT",
    "CREATE INDEX records_due ON records (next_due)",
    """CREATE TABLE dirty_items (system TEXT NOT NULL, item_id TEXT NOT NULL,
        PRIMARY KEY (system, item_id)) WITHOUT ROWID""",
)


@migrations(name="0040_outbox_claims")
def _outbox_claims(db: Database) -> None:
    # Which worker sends a planned write, until when (sync.store.sqlite.claims): several
    # workers on one PostgreSQL state send each write once; a dead worker's claim expires.
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN claim_until TEXT")


@migrations(name="0041_scope_leases")
def _scope_leases(db: Database) -> None:
    # Which worker pulls a scope, until when (sync.store.sqlite.claims).
    db.execute(
        "CREATE TABLE scope_leases (scope TEXT PRIMARY KEY, holder TEXT NOT NULL, "
        "expires TEXT NOT NULL)"
    )


@migrations(name="0042_outbox_item")
def _outbox_item(db: Database) -> None:
    # An outbox claim looks for another worker's live claim on the same item, and a shared
    # plan supersedes by item (sync.store.sqlite.workers): both search the outbox by item.
    db.execute("CREATE INDEX outbox_item ON outbox (system, item_id)")


@migrations(name="0043_dirty_items_run")
def _dirty_items_run(db: Database) -> None:
    # Which run took each marked item up last (sync.store.sqlite.adopt): on a shared state a
    # run clears only the marks it took up, and another worker's later marks survive it.
    db.execute("ALTER TABLE dirty_items ADD COLUMN run_id INTEGER")


@migrations(name="0045_inbox_claims")
def _inbox_claims(db: Database) -> None:
    # Which `serve` replica syncs a delivery, until when (sync.store.sqlite.inbox_claims).
    db.execute("ALTER TABLE inbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE inbox ADD COLUMN claim_until TEXT")


_SCHEMA_1 = (
    """CREATE TABLE items (system TEXT NOT NULL, id TEXT NOT NULL, scope TEXT NOT NULL,
        key TEXT, url TEXT, kind TEXT, title TEXT, updated TEXT, fields TEXT, labels TEXT,
        comment_id TEXT, comment_text TEXT, state TEXT NOT NULL DEFAULT 'present',
        first_seen TEXT, last_seen TEXT, run_id INTEGER, PRIMARY KEY (system, id))""",
    "CREATE INDEX items_scope ON items (scope)",
    """CREATE TABLE comments (system TEXT NOT NULL, item_id TEXT NOT NULL,
        comment_id TEXT NOT NULL, body TEXT NOT NULL, written_at TEXT, op_key TEXT,
        PRIMARY KEY (system, item_id))""",
    """CREATE TABLE records (key TEXT PRIMARY KEY, title TEXT, stage TEXT, item_ids TEXT,
        first_seen TEXT, last_seen TEXT)""",
    """CREATE TABLE findings (id TEXT PRIMARY KEY, record_key TEXT, code TEXT, severity TEXT,
        subject TEXT, message TEXT, system TEXT, item_id TEXT, item_key TEXT, url TEXT,
        notify TEXT, escalation INTEGER, first_seen TEXT, last_seen TEXT, resolved_at TEXT,
        run_id INTEGER)""",
    "CREATE INDEX findings_open ON findings (resolved_at, code)",
    """CREATE TABLE finding_counts (run_id INTEGER NOT NULL, code TEXT NOT NULL,
        open INTEGER NOT NULL, opened INTEGER NOT NULL, resolved INTEGER NOT NULL,
        PRIMARY KEY (run_id, code))""",
    """CREATE TABLE cursors (scope TEXT PRIMARY KEY, updated TEXT NOT NULL, item_id TEXT,
        advanced_at TEXT, run_id INTEGER)""",
    """CREATE TABLE outbox (op_key TEXT PRIMARY KEY, run_id INTEGER, system TEXT, scope TEXT,
        item_id TEXT, item_key TEXT, action TEXT, op TEXT, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, error TEXT, target TEXT, created_at TEXT,
        updated_at TEXT)""",
    "CREATE INDEX outbox_status ON outbox (status, system)",
    """CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, run_id INTEGER,
        op_key TEXT, system TEXT, scope TEXT, item_id TEXT, item_key TEXT, action TEXT,
        name TEXT, result TEXT NOT NULL, target TEXT, detail TEXT)""",
    "CREATE INDEX audit_op ON audit (op_key)",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT,
        dry_run INTEGER NOT NULL DEFAULT 0, counts TEXT, outcome TEXT)""",
)


class StateBase:
    """What the state mixins share: one connection and the lock that serialises it."""

    db: Sql
    path: str
    _lock: threading.RLock
