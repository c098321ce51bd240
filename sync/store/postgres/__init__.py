"""The PostgreSQL backend of `sync.store` (psycopg 3): the verbs of `SqlStore` on a server
database (store.py), an advisory run lock (lock.py), and a dry run's private copy in a temporary
schema. The only place (with `sync.store`) that may import psycopg.

Nothing is imported here: `sync.store` reads `errors` (which needs no psycopg) for every state,
and imports `store` and `lock` (and with them psycopg) only when a state lives in PostgreSQL,
so a SQLite user never loads the driver (tests/test_store_lazy.py).
"""
