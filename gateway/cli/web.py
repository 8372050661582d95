"""`clock-gateway web`: the board and the admin pages (a process of its own)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import add_config_option, config_from_args


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the presence board and the admin pages",
        description="Serve the live presence board (/) and the admin pages (people and "
        "cards, corrections, reports, readers, audit log) over HTTP on web.bind:web.port "
        "(127.0.0.1:8080 by default: put a TLS reverse proxy in front, see the README). "
        "Never touches a serial port. Stop with SIGTERM or Ctrl-C.",
    )
    add_config_option(parser)
    parser.add_argument("--bind", metavar="ADDRESS", help="override web.bind")
    parser.add_argument("--port", type=int, metavar="N", help="override web.port")
    parser.set_defaults(func=_web)


def _web(args: argparse.Namespace) -> int:
    config = config_from_args(args, default_level="info")
    from gateway.web.server import serve  # the web stack loads only for this command

    serve(
        config,
        host=args.bind,
        port=args.port,
        ready=lambda url: print(f"serving {url}", flush=True),
    )
    return 0
