"""Run one piece of work against the configured database: for CLI commands.

Each command opens the stores, does its work in a fresh event loop and closes them,
so a command never leaves connections behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gateway.config import Config

if TYPE_CHECKING:
    from gateway.store.stores import Stores

T = TypeVar("T")


def with_stores(
    config: Config, work: Callable[[Stores], Awaitable[T]], *, connect_timeout: float = 5.0
) -> T:
    """asyncio.run(work(stores)) with the stores of config.database.url, closed after."""

    # Imported here so that merely listing the CLI's commands does not load SQLAlchemy.
    from gateway.store.stores import Stores

    async def main() -> T:
        stores = Stores.open(config.database, connect_timeout=connect_timeout, pool_size=2)
        try:
            return await work(stores)
        finally:
            await stores.close()

    return asyncio.run(main())
