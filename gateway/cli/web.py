"""`clock-gateway web`: the board and the admin pages (a process of its own).

The session key (web-session.key, 0600) must belong to the user the service runs as.
`make install` creates it so; a `web` run as root (to try something by hand) that
creates the key hands it at once to the owner of the directory it is in, as the
other admin commands run as root do with the files they create there, rather than
refusing: refusing would only turn a harmless check into a puzzle. And a web run as
that user that finds a key it may not read in its own directory (left by an older
version run as root) replaces it, with a warning, instead of exiting 3 and staying
down under systemd's RestartPreventExitStatus=3: the only cost is that open
sessions end.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gateway.cli.argtypes import int_range
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
    parser.add_argument(
        "--port", type=int_range(1, 65535), metavar="N", help="override web.port (1-65535)"
    )
    parser.set_defaults(func=_web)


def _web(args: argparse.Namespace) -> int:
    config = config_from_args(args, default_level="info")
    from gateway.web.server import serve  # the web stack loads only for this command

    prepare_session_key(config.session_secret_path)
    serve(
        config,
        host=args.bind,
        port=args.port,
        ready=lambda url: print(f"serving {url}", flush=True),
    )
    return 0


def prepare_session_key(path: Path) -> None:
    """Leave the session key readable by the user the service runs as (see above)."""
    from gateway.logs import get_logger
    from gateway.web.security import load_or_create_secret

    try:
        folder = path.parent.stat()
    except OSError:
        return  # load_or_create_secret creates the folder, or says why it cannot
    if os.geteuid() == 0:
        load_or_create_secret(path)
        if folder.st_uid != 0 and path.stat().st_uid == 0:
            os.chown(path, folder.st_uid, folder.st_gid)
        return
    if folder.st_uid != os.geteuid() or os.access(path, os.R_OK) or not path.exists():
        return
    # Ours to replace: the directory is ours, and nobody can use a key we cannot read.
    get_logger("web").warning(
        "web_session_key_replaced", path=str(path), reason="unreadable: open sessions end"
    )
    path.unlink()
