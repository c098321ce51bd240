"""The `handoff` command line: one module per command or group (cli.py is the entry
point; run.py is `sync`; status, demo, doctor, init), the progress line, and the one
place where errors become exit codes and text. May import every other sync package;
nothing imports it.
"""
