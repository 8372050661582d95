"""Entry point of the `clock-gateway` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli.commands import COMMANDS
from gateway.cli.state_owner import hand_back_state_files
from gateway.errors import ExitCode, GatewayError
from gateway.logs import configure_logging, get_logger
from gateway.redact import redact_text


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full options of `command` only.

    Every other command gets a placeholder with its help line, so `--help` lists
    them all and a typo is reported with the choices, but its module (and what
    that imports) is not loaded. `command=None` loads none of them.
    """
    parser = argparse.ArgumentParser(
        prog="clock-gateway",
        description=(
            "Clock-in/clock-out gateway: card readers on USB serial, "
            "clock events in PostgreSQL (or an embedded SQLite file)."
        ),
        epilog="Run 'clock-gateway COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"clock-gateway {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command in COMMANDS:
        module = importlib.import_module(f"gateway.cli.{COMMANDS[command].module}")
        module.register(subparsers)
    for name, entry in COMMANDS.items():
        if name not in subparsers.choices:  # a module may register several names
            subparsers.add_parser(name, help=entry.help)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command word: the first argument that is not an option.

    The top-level options (--help, --version) take no value, so this is exact.
    """
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_in(args_in))
    args = parser.parse_args(args_in)
    # Commands configure logging again once they know the configured level;
    # this default keeps early failures structured too.
    configure_logging(getattr(args, "log_level", None) or "warning")
    try:
        code = args.func(args)
    except GatewayError as exc:
        print(f"clock-gateway: error: {redact_text(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `clock-gateway ... | head` closed the pipe: not an error worth a message.
        return int(ExitCode.OK)
    except Exception as exc:  # the last line of defence: one line for people, details in the log
        get_logger("cli").error("internal_error", exc_info=True)
        print(
            f"clock-gateway: internal error: {type(exc).__name__}: {redact_text(str(exc))}",
            file=sys.stderr,
        )
        return int(ExitCode.FAILURE)
    finally:
        hand_back_state_files()
    return int(code or ExitCode.OK)


if __name__ == "__main__":
    raise SystemExit(main())
