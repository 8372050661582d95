"""Entry point of the `clock-gateway` command."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import gateway.cli
from gateway import __version__
from gateway.errors import ExitCode, GatewayError
from gateway.logs import configure_logging, get_logger
from gateway.redact import redact_text


def build_parser() -> argparse.ArgumentParser:
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
    for info in sorted(pkgutil.iter_modules(gateway.cli.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"gateway.cli.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    return int(code or ExitCode.OK)


if __name__ == "__main__":
    raise SystemExit(main())
