"""Helpers shared by the subcommand modules: common options, config, output."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.cli.envfile import load_env_file
from gateway.cli.state_owner import remember_state_dir
from gateway.config import SERVICE_ENV, Config, find_config_path, is_service_config, load_config
from gateway.logs import configure_logging


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $CLOCK_GATEWAY_CONFIG, "
        "~/.config/clock-gateway/config.toml, then /etc/clock-gateway/config.toml)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="override the configured log level",
    )


def add_gateway_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateway",
        metavar="ID",
        type=_gateway_id,
        help="only events recorded by this gateway ([gateway] id in its configuration)",
    )


def _gateway_id(value: str) -> str:
    from gateway.config import GATEWAY_ID

    if not GATEWAY_ID.match(value):
        raise argparse.ArgumentTypeError(
            f"invalid gateway id {value!r}: 1-63 letters, digits, '.', '_' or '-'"
        )
    return value


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def config_from_args(args: argparse.Namespace, *, default_level: str = "warning") -> Config:
    """Load the configuration named by --config and set up logging from it.

    Commands other than `run` log only warnings by default so that their output
    stays readable; `--log-level` overrides either. With the service's configuration
    file, the service's environment file is read too (the database URL is there).
    """
    explicit = getattr(args, "config", None)
    if is_service_config(find_config_path(explicit)):
        load_env_file(SERVICE_ENV, admin=True)
    config = load_config(explicit)
    remember_state_dir(config.state_dir)
    level = getattr(args, "log_level", None) or default_level
    configure_logging(level)
    return config


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


# Bidirectional overrides and isolates reorder what follows them on screen.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def for_terminal(text: str) -> str:
    """`text` with control characters shown as escapes (\\x1b, \\u202e).

    Cells come from the database, where any gateway, account or reader may have
    written them: printed raw, an ESC sequence in a `gateways` row could retitle
    the terminal, hide lines or move the cursor over the real output.
    """
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS
        else ch
        for ch in text
    )


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table; empty cells for None, control characters escaped."""
    text_rows = [["" if v is None else for_terminal(str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*headers).rstrip())
    for row in text_rows:
        print(fmt.format(*row).rstrip())
