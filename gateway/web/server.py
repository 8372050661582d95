"""Serve the application with uvicorn until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from gateway.config import Config
from gateway.errors import ConfigError, DatabaseUnavailableError
from gateway.store.stores import Stores
from gateway.web.app import create_app


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


def uvicorn_config(config: Config, stores: Stores, *, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config, stores=stores),
        host=host,
        port=port,
        # Access logs would print every URL, the board's token included.
        access_log=False,
        log_config=None,  # structlog's configuration stays in charge
        proxy_headers=True,  # X-Forwarded-For from the local reverse proxy only
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=2,  # open event streams would keep it waiting
        lifespan="on",
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
    stores = await Stores.open_checked(config.database.url)
    try:
        version = await stores.db.check()
        if version < 2:
            raise DatabaseUnavailableError(
                f"the database schema is version {version}; the web pages need version 2: "
                "run 'clock-gateway db upgrade'"
            )
        server = uvicorn.Server(uvicorn_config(config, stores, host=host, port=port))
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and ready is not None:
            ready(f"http://{host}:{port}/")
        await task
    finally:
        await stores.close()
