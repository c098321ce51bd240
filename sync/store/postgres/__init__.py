"""The PostgreSQL backend of `sync.store` (psycopg 3): the verbs of `SqlStore` on a server
database, an advisory run lock, and a dry run's private copy in a temporary schema. The only
place (with `sync.store`) that may import psycopg."""

from __future__ import annotations

from sync.store.postgres.errors import is_postgres, pg_error, redact
from sync.store.postgres.lock import run_lock
from sync.store.postgres.store import PostgresStore, schema_tables

__all__ = ["PostgresStore", "is_postgres", "pg_error", "redact", "run_lock", "schema_tables"]
