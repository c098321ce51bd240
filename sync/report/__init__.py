"""The leads' report, read from the store alone: gather (data.py, people.py), render as
Markdown/JSON (render.py, with the `report` command) or HTML through a Jinja2 template
(html.py, templates/), and publish it in place (publish.py). May import: mapping,
sync.store, sync.systems, sync.writeback.markup, sync.settings.
"""
