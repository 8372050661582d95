"""The `clock-gateway` command line: one module per subcommand group.

Each command module defines `register(subparsers)`; gateway/cli/commands.py lists
them, and main imports only the module of the command being run.
"""
