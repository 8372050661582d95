"""`clock-gateway config check|show`: validate and display the configuration."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.config import Config, redact_url
from gateway.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check or show the configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="validate the configuration file and exit 0 if it is valid"
    )
    add_config_option(check)
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="print the effective configuration (secrets redacted)")
    add_config_option(show)
    add_json_option(show)
    show.set_defaults(func=_show)


def summary(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, with the database password redacted."""
    data = asdict(config)
    data["state_dir"] = str(config.state_dir)
    data["database"]["url"] = redact_url(config.database.url)
    if config.database.listen_url:
        data["database"]["listen_url"] = redact_url(config.database.listen_url)
    if config.fleet.notify_url:
        data["fleet"]["notify_url"] = redact_url(config.fleet.notify_url)
    data["templates"] = dict(config.templates)
    web = data["web"]
    if web["board_token"] is not None:
        web["board_token"] = "***"  # whoever has it sees the board
    if web["session_secret_file"] is not None:
        web["session_secret_file"] = str(web["session_secret_file"])
    return data


def _check(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        if len(exc.problems) > 1:  # one per line for people, then the one-line summary
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        raise
    warnings = missing_ports(config)
    for warning in warnings:
        print(f"{config.source}: warning: {warning}", file=sys.stderr)
    noted = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"{config.source}: OK ({len(config.readers)} reader(s){noted})")
    return 0


def missing_ports(config: Config) -> list[str]:
    """Readers whose port is not there now. Only a warning: the daemon waits for a port
    to appear (a reader unplugged at boot), but a path never filled in, like the
    example's placeholder, would wait forever."""
    return [
        f"readers[{i}].port ({reader.name}): {reader.port} does not exist (not plugged in? "
        "'clock-gateway ports' lists the readers' /dev/serial/by-id names)"
        for i, reader in enumerate(config.readers)
        if not Path(reader.port).exists()
    ]


def _show(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    data = summary(config)
    if args.json:
        print_json(data)
        return 0
    print(f"source:     {data['source']}")
    print(f"state dir:  {data['state_dir']}")
    print(f"database:   {data['database']['url']}")
    print(f"time zone:  {config.timezone}    locale: {config.locale}")
    print(f"duplicate window: {config.duplicate_window_s:g} s")
    for reader in config.readers:
        print(f"reader {reader.name}: {reader.role:<3} {reader.port} @ {reader.baud}")
    if not config.readers:
        print("readers:    none configured")
    return 0
