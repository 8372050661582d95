"""The table of commands: name -> (module under gateway.cli, one-line help).

`clock-gateway status` should not pay for SQLAlchemy, psycopg and the daemon, so
main imports only the module of the command being run. The help lines here build
the command list of `clock-gateway --help` without importing anything.

Adding a command: write gateway/cli/NAME.py with `register(subparsers)` and add its
line here. tests/test_cli_main.py checks that this table and the modules agree
(every module with `register` is listed, and each registers its names with this help).
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "accounts": Command("accounts", "accounts of the web pages, each with a role"),
    "admins": Command("accounts", "the same as 'accounts' (its name before accounts had roles)"),
    "backup": Command(
        "backup", "save the database, the spool and the card directory to a directory"
    ),
    "cards": Command("cards", "assign, revoke and discover cards"),
    "config": Command("config_cmd", "check or show the configuration"),
    "corrections": Command(
        "corrections", "add a missed clock-in/out, void a mistaken tap, list corrections"
    ),
    "db": Command("db", "create, check or upgrade the database"),
    "demo": Command("demo", "run the gateway with two emulated readers and a scripted morning"),
    "emulate": Command("emulate", "run a virtual card reader on a pseudo-terminal"),
    "events": Command("events", "export clock events"),
    "import-original": Command(
        "import_original",
        "import people, cards, timetable and taps from the original system's database",
    ),
    "monitor": Command("monitor", "decode and print the frames on a serial port live"),
    "ports": Command("ports", "list serial ports and their /dev/serial/by-id names"),
    "regime": Command(
        "regime", "set or show a person's working regime (full or part time, place, overtime)"
    ),
    "register": Command(
        "register", "verify the working-time register's seals, seal now, show the chain head"
    ),
    "report": Command("report", "hours worked per person per day, with flags and month totals"),
    "restore": Command("backup", "put a backup made by 'backup' back (stop the service first)"),
    "run": Command("run", "run the gateway daemon: serve the configured readers"),
    "status": Command("status", "show the running daemon's readers, spool and database state"),
    "timetable": Command("timetable", "import or list the timetable"),
    "users": Command("users", "add, list and import people"),
    "web": Command("web", "serve the presence board and the admin pages"),
    "who": Command("who", "who the timetable says must be here now: present or absent"),
}
