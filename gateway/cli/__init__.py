"""The `clock-gateway` command line: one module per subcommand group.

Each module in this package that defines `register(subparsers)` adds its
subcommands; `main` discovers them, so adding a command never edits a shared list.
"""
