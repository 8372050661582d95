"""The corrections list's search on PostgreSQL and SQLite (CorrectionStore.recent with
`text`): every word in the person's name (case and accents ignored), uid or reason,
with the uid, kind and keyset page as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.store.audit import Actor
from tests.store.support import open_stores

CLI = Actor.cli()


async def test_corrections_found_by_name_uid_or_reason(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("lucia.f", "Lucía Ferrer", CLI)
        await stores.lifecycle.add_person("pau", "Pau Soler", CLI)
        at = datetime.now(UTC) - timedelta(days=1)
        ids = {}
        for uid, reason in (
            ("lucia.f", "tarjeta olvidada"),
            ("pau", "lector averiado"),
            ("pau", "50%_raro"),
        ):
            ids[reason] = await stores.corrections.add_missing(uid, "in", at, reason, CLI)

        async def found(
            text: str, uid: str | None = None, kind: str | None = None, before: int | None = None
        ) -> list[str]:
            rows = await stores.corrections.recent(text=text, uid=uid, kind=kind, before_id=before)
            return [c.reason for c in rows]

        assert await found("LUCIA") == ["tarjeta olvidada"]
        assert await found("ferrer olvidada") == ["tarjeta olvidada"]
        assert await found("lucia.f") == ["tarjeta olvidada"]
        assert await found("pau") == ["50%_raro", "lector averiado"]
        assert await found("averiado", uid="pau") == ["lector averiado"]
        assert await found("averiado", uid="lucia.f") == []
        assert await found("averiado", kind="void") == []
        assert await found("%") == ["50%_raro"]  # LIKE's wildcard is a letter here
        assert await found("pau", before=ids["50%_raro"]) == ["lector averiado"]
        assert await found("") == ["50%_raro", "lector averiado", "tarjeta olvidada"]
