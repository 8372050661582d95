"""`[web]`'s upload limits (people and timetable files sent from the web pages)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.fields import Section, check_seconds

MAX_BYTES = 5 * 2**20
MAX_ROWS = 5000


@dataclass(frozen=True)
class UploadLimits:
    """A file's size and rows, checked while it arrives and while it is read; how long
    its body may take (a 5 MB file on a slow school line); how long its preview stays
    confirmable."""

    max_bytes: int = MAX_BYTES
    max_rows: int = MAX_ROWS
    timeout_s: float = 120.0
    preview_minutes: float = 15.0


def parse_upload_limits(sec: Section) -> UploadLimits:
    """upload_max_bytes, upload_max_rows, upload_timeout_s, upload_preview_minutes."""
    return UploadLimits(
        max_bytes=sec.get(
            "upload_max_bytes",
            int,
            MAX_BYTES,
            check=lambda v: None if 1024 <= v <= 100 * 2**20 else "must be 1024-104857600",
        ),
        # An .xlsx is never read past 65,536 rows (importing/xlsx_bounds.py).
        max_rows=sec.get(
            "upload_max_rows",
            int,
            MAX_ROWS,
            check=lambda v: None if 1 <= v <= 65_536 else "must be 1-65536",
        ),
        timeout_s=float(
            sec.get("upload_timeout_s", (int, float), 120.0, check=check_seconds(1, 3600))
        ),
        preview_minutes=float(
            sec.get(
                "upload_preview_minutes",
                (int, float),
                15.0,
                check=lambda v: None if 1 <= v <= 1440 else "must be from 1 to 1440",
            )
        ),
    )
