"""Parsing of the weekdays, times, dates and instants people type or put in files."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, tzinfo

from gateway.errors import InvalidInputError

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# English and Spanish names and abbreviations, accents already stripped.
_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("mon", "monday", "lun", "lunes", "l"),
        ("tue", "tues", "tuesday", "mar", "martes", "m"),
        ("wed", "wednesday", "mie", "miercoles", "x"),
        ("thu", "thur", "thurs", "thursday", "jue", "jueves", "j"),
        ("fri", "friday", "vie", "viernes", "v"),
        ("sat", "saturday", "sab", "sabado", "s"),
        ("sun", "sunday", "dom", "domingo", "d"),
    ),
    start=1,
):
    for _name in _names:
        _WEEKDAYS[_name] = _number

# ASCII digits only: `\d` would take full-width and other scripts' digits too.
_TIME = re.compile(r"^([0-9]{1,2})[:.h]([0-9]{2})(?::([0-9]{2}))?$")
# Dates a report or a query may name: wide enough for any real record, narrow
# enough that a day's lookback and a session's length never overflow a date.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


def _fold(text: str) -> str:
    """Lower case without accents: 'Miércoles' -> 'miercoles'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).rstrip(".")


def parse_weekday(text: str) -> int:
    """ISO weekday 1..7 from '1'..'7', 'Mon'..'Sun', 'Monday', 'lun'..'dom', 'lunes'..."""
    if any(c.isdigit() and not c.isascii() for c in text):
        # NFKD folding would turn '１' or '𝟙' into '1': a digit must be ASCII.
        raise InvalidInputError(f"bad weekday {text!r}: use 1-7 (1 = Monday), Mon..Sun or lun..dom")
    folded = _fold(text)
    if folded.isdigit() and 1 <= int(folded) <= 7:
        return int(folded)
    if folded in _WEEKDAYS:
        return _WEEKDAYS[folded]
    raise InvalidInputError(f"bad weekday {text!r}: use 1-7 (1 = Monday), Mon..Sun or lun..dom")


def parse_clock_time(text: str) -> time:
    """A wall-clock time 'HH:MM' or 'HH:MM:SS' (also '8.15' or '8h15')."""
    match = _TIME.match(text.strip())
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise InvalidInputError(f"bad time {text!r}: use HH:MM (00:00 to 23:59)")


def parse_date(text: str) -> date:
    raw = text.strip()
    try:
        if not raw.isascii():
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(f"bad date {text!r}: use YYYY-MM-DD") from None
    _check_range(day, text)
    return day


def _check_range(day: date, text: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInputError(
            f"date {text.strip()!r} is out of range: use a date from {FIRST_DAY} to {LAST_DAY}"
        )


def parse_instant(text: str, zone: tzinfo, *, today: date) -> datetime:
    """An instant in UTC from 'HH:MM' (that time on `today`), a local 'YYYY-MM-DD HH:MM',
    or an ISO-8601 time with an offset ('2026-03-29T10:00+02:00').

    Local times are read in the configured zone; a time skipped by a DST change is
    taken as the instant the clocks jumped over (fold=0), as zoneinfo does.
    """
    raw = text.strip()
    if _TIME.match(raw):
        local = datetime.combine(today, parse_clock_time(raw), tzinfo=zone)
        return local.astimezone(UTC)
    try:
        if not raw.isascii():
            raise ValueError
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(
            f"bad time {text!r}: use HH:MM, 'YYYY-MM-DD HH:MM' or ISO-8601 with an offset"
        ) from None
    _check_range(parsed.date(), text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def weekday_name(weekday: int) -> str:
    return WEEKDAY_NAMES[weekday - 1]


def format_duration(seconds: float) -> str:
    """'7:45' for hours and minutes, rounded down to the minute; '-0:05' when negative."""
    sign = "-" if seconds < 0 else ""
    minutes = int(abs(seconds)) // 60
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"
