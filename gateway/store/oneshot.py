"""Run one piece of work against the configured database: for CLI commands.

Each command opens a repository, does its work in a fresh event loop and closes it,
so a command never leaves connections behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.config import Config

if TYPE_CHECKING:
    from gateway.store.repository import Repository

T = TypeVar("T")


def with_repository(
    config: Config, work: Callable[[Repository], Awaitable[T]], *, connect_timeout: float = 5.0
) -> T:
    """asyncio.run(work(repo)) with a repository for config.database.url, closed after."""

    # Imported here so that merely listing the CLI's commands does not load SQLAlchemy.
    from gateway.store.repository import Repository

    async def main() -> T:
        repo = Repository.from_url(
            config.database.url, connect_timeout=connect_timeout, pool_size=2
        )
        try:
            return await work(repo)
        finally:
            await repo.close()

    return asyncio.run(main())
