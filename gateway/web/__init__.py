"""`clock-gateway web`: the presence board and the admin pages, a process of its own.

It reads and changes the database through the same stores as the CLI, never opens a
serial port, and learns about new taps from the database itself (PostgreSQL
LISTEN/NOTIFY, or a cheap change check on SQLite), so taps from any gateway show.
"""
