"""The run: connect, pull every scope into the store, reconcile, plan and apply.

Lives here: the Engine (run.py) and its steps: pulling into the store (pull.py), reading our
comments as they show now (comments.py), the pure reconcile and plan (reconcile.py); what a
run knows about each scope (knowledge.py), the server clock (clock.py), opening connectors
(connect.py), applying writes through the outbox (apply.py) and pacing them under each
system's budget (pacing.py). May import: connectors,
mapping, sync.systems, sync.store, sync.writeback, sync.settings. Never imported by mapping
or connectors.
"""
