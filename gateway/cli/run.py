"""`clock-gateway run`: the daemon, in the foreground (systemd runs it like this)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from gateway.cli.common import add_config_option
from gateway.cli.envfile import load_env_file
from gateway.config import SERVICE_ENV, find_config_path, is_service_config, load_config
from gateway.logs import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the gateway daemon: serve the configured readers",
        description="Serve the configured card readers until SIGTERM; SIGHUP reloads the "
        "configuration. Logs are JSON lines on stderr unless it is a terminal.",
    )
    add_config_option(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = find_config_path(args.config)
    # Run by hand with the service's configuration: the service's environment too, as
    # systemd would give it (under systemd the variables are already set and win).
    if is_service_config(path):
        load_env_file(SERVICE_ENV, admin=False)
    config = load_config(args.config)
    configure_logging(args.log_level or config.log_level)
    # Imported here: the other commands need not load the daemon's dependencies.
    from gateway.daemon import Daemon

    daemon = Daemon(config, config_path=str(path) if path else None)
    return asyncio.run(daemon.run())
