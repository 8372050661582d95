"""Serve the application with uvicorn until SIGTERM or Ctrl-C, within the limits of
gateway.web.limits: the open-files limit raised as far as allowed, connections capped
below it, idle and slow clients timed out, temporary files in the web's own folder."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable

import uvicorn

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.logs import get_logger
from gateway.store.stores import Stores
from gateway.web import limits
from gateway.web.app import create_app

log = get_logger("web")


def check_bindable(host: str, port: int) -> None:
    """Say plainly that the address is taken, before uvicorn logs a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError("web", "bind", f"cannot resolve {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError(
                "web", "port", f"cannot listen on {host}:{port}: {exc.strerror}"
            ) from None


def uvicorn_config(
    config: Config, stores: Stores, *, host: str, port: int, max_connections: int | None = None
) -> uvicorn.Config:
    web = config.web
    budget = web.max_connections if max_connections is None else max_connections
    return uvicorn.Config(
        create_app(config, stores=stores),
        host=host,
        port=port,
        # Access logs would print every URL, the board's token included.
        access_log=False,
        log_config=None,  # structlog's configuration stays in charge
        proxy_headers=True,  # X-Forwarded-For from the local reverse proxy only
        forwarded_allow_ips=",".join(limits.TRUSTED_PROXIES),
        timeout_graceful_shutdown=2,  # open event streams would keep it waiting
        lifespan="on",
        loop="asyncio",
        http=limits.connection_protocol(web, budget),
        limit_concurrency=budget,  # past it, requests get 503
        timeout_keep_alive=max(1, round(web.keepalive_timeout_s)),
    )


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT. The database is checked first, so a wrong URL or a
    missing schema is one line, not a traceback from inside the server."""
    host = host or config.web.bind
    port = config.web.port if port is None else port
    check_bindable(host, port)
    asyncio.run(serve_async(config, host, port, ready))


async def serve_async(
    config: Config, host: str, port: int, ready: Callable[[str], None] | None = None
) -> None:
    """`serve` inside a running event loop (the demo's)."""
    # Request bodies never exceed a few kilobytes (limits.BODY_LIMITS) and are read
    # into memory, except uploads (limits.STREAMED): their file part spills past 1 MB,
    # and routes_uploads copies it, here, in the web's own folder.
    tempfile.tempdir = str(limits.temp_dir(config))
    budget = limits.connection_budget(config.web, limits.open_files_limit())
    limits.install_loop_handler(asyncio.get_running_loop())
    limits.quiet_uvicorn()
    stores = await Stores.open_checked(config.database)  # checks the schema version
    try:
        server = uvicorn.Server(
            uvicorn_config(config, stores, host=host, port=port, max_connections=budget)
        )
        log.info(
            "web_limits",
            max_connections=budget,
            per_address=config.web.max_connections_per_address,
            temp_dir=tempfile.tempdir,
        )
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and ready is not None:
            ready(f"http://{host}:{port}/")
        await task
    finally:
        await stores.close()
