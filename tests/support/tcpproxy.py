"""A TCP proxy on loopback that a test can cut and restore: one gateway's path to
PostgreSQL going away (a switch, a VPN, a firewall) while the database itself stays up.

`cut()` closes the listening socket and every proxied connection at once (both sides
see the connection end, as when a link drops and a keepalive notices); new connections
are refused until `restore()`, which listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib

from bench.kit.pgcluster import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted since the start, for the test's figures

    @property
    def cut_off(self) -> bool:
        return self._server is None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # at once, no FIN handshake: a dropped link
        for task in list(self._pipes):
            task.cancel()
        for task in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            await server.wait_closed()

    async def close(self) -> None:
        await self.cut()

    def url_for(self, url: str) -> str:
        """`url` with its host:port replaced by the proxy's."""
        host, port = self.target
        return url.replace(f"@{host}:{port}/", f"@{self.host}:{self.port}/")

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, server_w}
        pipes = [
            asyncio.create_task(_pipe(client_r, server_w)),
            asyncio.create_task(_pipe(server_r, client_w)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
