"""What we write back, decided without I/O and without a clock: the plan of writes
(plan.py), what an item shows reduced to what we set (shown.py), what a comment says
(render.py), the labels and property values (annotations.py) and how each system spells
it (markup.py).
May import: connectors.base, connectors.errors, mapping, sync.systems. Pure.
"""
