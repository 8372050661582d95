"""Presence and reports, all derived from the raw clock events (which are never modified).

The pure rules live in `rules`, `schedule`, `sessions` and `presence` (no I/O); the
`service` module feeds them from the stores; `timetable_file` reads timetable
files; `render` turns results into tables, CSV and JSON for the CLI.
"""
