"""Presence and reports, all derived from the raw clock events (which are never modified).

The pure rules live in `rules`, `schedule`, `sessions` and `presence` (no I/O); the
`service` module feeds them from the stores; `render` turns results into tables, CSV
and JSON for the CLI. Reading files in (timetables, people) is gateway.importing's.
"""
