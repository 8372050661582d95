"""All the stores of one database, opened from one URL.

`Stores.open(url)` gives a Database and one store per aggregate over it; `close()`
closes them all. Nothing connects until the first query.
"""

from __future__ import annotations

from gateway.config import DatabaseConfig
from gateway.store.accounts import AccountStore
from gateway.store.audit import AuditStore
from gateway.store.clock_steps import ClockStepStore
from gateway.store.corrections import CorrectionStore
from gateway.store.database import Database
from gateway.store.events import EventStore
from gateway.store.gateways import GatewayStore
from gateway.store.imports import ImportStore
from gateway.store.lifecycle import LifecycleStore
from gateway.store.open_days import OpenDayStore
from gateway.store.people import PeopleStore
from gateway.store.regimes import RegimeStore
from gateway.store.retention import RetentionStore
from gateway.store.seals import SealStore
from gateway.store.sessions import SessionStore
from gateway.store.swipes import SwipeStore
from gateway.store.throttle import ThrottleStore
from gateway.store.timetable import TimetableStore


class Stores:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.swipes = SwipeStore(db)
        self.people = PeopleStore(db)
        self.timetable = TimetableStore(db)
        self.events = EventStore(db)
        self.gateways = GatewayStore(db)
        self.imports = ImportStore(db)
        self.clock_steps = ClockStepStore(db)
        # The web's and the admin commands' (schema v2): every change with its audit row.
        self.accounts = AccountStore(db)
        self.audit = AuditStore(db)
        self.corrections = CorrectionStore(db)
        self.lifecycle = LifecycleStore(db)
        self.seals = SealStore(db)  # the register's chain (schema v3)
        self.retention = RetentionStore(db)
        # The web's sign-in state (schema v4).
        self.sessions = SessionStore(db)
        self.throttle = ThrottleStore(db)
        # Forgotten clock-outs flagged (schema v5).
        self.open_days = OpenDayStore(db)
        # Working time (schema v5): regimes and overtime choices.
        self.regimes = RegimeStore(db)

    @classmethod
    def open(
        cls, url: str | DatabaseConfig, *, connect_timeout: float = 5.0, pool_size: int = 5
    ) -> Stores:
        """The stores of a postgresql:// or sqlite:/// URL, or of a [database] section
        (its pooler and listen_url too); connects lazily."""
        if isinstance(url, DatabaseConfig):
            return cls(
                Database(
                    url.url,
                    connect_timeout=connect_timeout,
                    pool_size=pool_size,
                    pooler=url.pooler,
                    listen_url=url.listen_url,
                )
            )
        return cls(Database(url, connect_timeout=connect_timeout, pool_size=pool_size))

    @classmethod
    async def open_checked(cls, url: str | DatabaseConfig) -> Stores:
        """The stores of a database whose schema is known to be there (else the
        one-line DatabaseUnavailableError of Database.check)."""
        stores = cls.open(url)
        try:
            await stores.db.check()
        except BaseException:
            await stores.close()
            raise
        return stores

    async def close(self) -> None:
        await self.swipes.close()
        await self.db.close()
