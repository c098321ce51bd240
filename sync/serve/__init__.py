"""`handoff serve`: signed webhooks in, targeted syncs out.

Lives here: checking a delivery (verify.py), the ASGI app that stores each one in the store's
inbox before answering (app.py), the worker that drains the inbox a burst at a time and polls
anyway every few minutes (worker.py), and the counters /metrics shows (metrics.py). The
command itself (options, the server's lifetime, signals) is `sync.commands.serve`.
May import: connectors, sync.engine, sync.store, sync.systems, sync.settings.
"""
