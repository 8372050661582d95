"""A database of the original NestJS system, with its exact schema and its quirks.

`generate()` makes deterministic data: people with accented names, card keys typed
in lower case or with spaces or colons, a key held by two people, a malformed key,
a person without a card, a timetable in the original's day/hour indices, and two
weeks of taps (mostly an input at the start of the person's shift and an output at
its end) including duplicate taps a second apart, a forgotten output, an entry with
a null "userUid" and one for a person who no longer exists. `load()` writes it into
an empty PostgreSQL database exactly as the original's ORM laid it out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

# From the notes on the original system: the tables as its ORM created them.
SCHEMA = """
CREATE TABLE "user" (uid varchar PRIMARY KEY, name varchar NOT NULL, key varchar);
CREATE TABLE auth_entity (id_key serial PRIMARY KEY, reader varchar NOT NULL,
    "timestamp" integer NOT NULL, "userUid" varchar REFERENCES "user"(uid));
CREATE TABLE user_schedule (uid serial PRIMARY KEY, day varchar NOT NULL, hour varchar NOT NULL,
    room varchar NOT NULL, "userUid" varchar REFERENCES "user"(uid));
"""

ZONE = ZoneInfo("Europe/Madrid")
# The original's 12 slots: hour index -> (start, end).
SLOTS = (
    (time(8, 15), time(9, 15)),
    (time(9, 15), time(10, 15)),
    (time(10, 15), time(11, 15)),
    (time(11, 45), time(12, 45)),
    (time(12, 45), time(13, 45)),
    (time(13, 45), time(14, 45)),
    (time(16, 0), time(17, 0)),
    (time(17, 0), time(18, 0)),
    (time(18, 0), time(19, 0)),
    (time(19, 0), time(20, 0)),
    (time(20, 10), time(21, 10)),
    (time(21, 10), time(22, 10)),
)
SHIFTS = ((time(8, 15), time(14, 45)), (time(16, 0), time(22, 15)))
FIRST_DAY = date(2026, 11, 9)  # a Monday
GONE_UID = "baja.antigua"  # referenced by an entry, absent from "user"

GIVEN = ("Ana", "José", "María", "Jesús", "Lucía", "Ángel", "Inés", "Íñigo", "Begoña", "Raúl")
SURNAMES = ("García", "Núñez", "Peña", "Ibáñez", "Muñoz", "Álvarez", "Domínguez", "Ruiz")
ROOMS = ("Aula 1", "Aula 2", "Laboratorio", "Biblioteca", "FCT", "Mayor de 55 años")


@dataclass
class OriginalData:
    users: list[tuple[str, str, str | None]] = field(default_factory=list)  # uid, name, key
    # id_key, reader, timestamp, userUid
    entries: list[tuple[int, str, int, str | None]] = field(default_factory=list)
    schedule: list[tuple[int, str, str, str, str | None]] = field(default_factory=list)
    first_day: date = FIRST_DAY
    days: int = 14

    def local(self, day: date, at: time) -> int:
        return int(datetime.combine(day, at, tzinfo=ZONE).timestamp())


def _key(rng: random.Random, n: int) -> str:
    raw = f"{n:08X}"
    style = n % 4
    if style == 0:
        return raw.lower()
    if style == 1:
        return " ".join(raw[i : i + 2] for i in range(0, 8, 2))
    if style == 2:
        return ":".join(raw[i : i + 2] for i in range(0, 8, 2)).lower()
    return raw


def generate(people: int = 60, *, seed: int = 15, days: int = 14) -> OriginalData:
    rng = random.Random(seed)
    data = OriginalData(days=days)
    for n in range(people):
        given, surname = GIVEN[n % len(GIVEN)], SURNAMES[(n // len(GIVEN)) % len(SURNAMES)]
        uid = f"{given}{surname}{n}".lower()
        uid = uid.translate(str.maketrans("áéíóúñü", "aeiounu"))
        data.users.append((uid, f"{given} {surname} {n}", _key(rng, 0x04A10000 + n)))
    # The quirks of the users table.
    data.users[1] = (data.users[1][0], data.users[1][1], None)  # no card yet
    data.users[2] = (data.users[2][0], data.users[2][1], "04-zz-12")  # malformed
    data.users[4] = (data.users[4][0], data.users[4][1], "04:a1:00:03")  # users[3]'s key
    sched_id = 0
    shift_of: dict[str, int] = {}
    for n, (uid, _, _) in enumerate(data.users):
        evening = 1 if n % 3 == 0 else 0
        shift_of[uid] = evening
        first = 6 * evening
        for day in range(5):
            if rng.random() < 0.2:
                continue
            start = first + rng.randint(0, 2)
            for hour in range(start, start + rng.randint(1, 4)):
                sched_id += 1
                room = ROOMS[(n + hour) % len(ROOMS)]
                data.schedule.append((sched_id, str(day), str(hour), room, uid))
    # A timetable row the import cannot map (an hour index past the 12 slots).
    data.schedule.append((sched_id + 1, "2", "12", "Aula 1", data.users[0][0]))

    id_key = 0

    def tap(reader: str, moment: int, uid: str | None) -> None:
        nonlocal id_key
        id_key += 1
        data.entries.append((id_key, reader, moment, uid))

    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        weekday = day.weekday()
        for uid, _, _ in data.users:
            rows = [
                int(h)
                for _, d, h, _, u in data.schedule
                if u == uid and d == str(weekday) and int(h) < len(SLOTS)
            ]
            if not rows or rng.random() < 0.1:
                continue  # absent that day
            start = SLOTS[min(rows)][0]
            end = SLOTS[max(rows)][1]
            arrive = data.local(day, start) - rng.randint(-25 * 60, 10 * 60)
            leave = data.local(day, end) + rng.randint(-10 * 60, 20 * 60)
            tap("input", arrive, uid)
            if rng.random() < 0.1:
                tap("input", arrive + 1, uid)  # the same card twice in a second
            if rng.random() < 0.07:
                continue  # forgot to clock out
            tap("output", leave, uid)
    tap("input", data.local(FIRST_DAY, time(9)), None)  # the original's null userUid
    tap("input", data.local(FIRST_DAY, time(9, 5)), GONE_UID)  # a person since deleted
    # Ids follow insertion, as the original's serial did; rows need not be in time order.
    return data


def load(url: str, data: OriginalData) -> None:
    """The original's tables and rows in the (empty) database at `url`."""
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            with cur.copy('COPY "user" (uid, name, key) FROM STDIN') as copy:
                for row in data.users:
                    copy.write_row(row)
            with cur.copy(
                'COPY user_schedule (uid, day, hour, room, "userUid") FROM STDIN'
            ) as copy:
                for row in data.schedule:
                    copy.write_row(row)
            # The entry of a deleted person cannot pass the foreign key: the original's
            # database got such rows when people were removed by hand. Replica mode
            # skips the constraint triggers for this session only.
            cur.execute("SET session_replication_role = replica")
            with cur.copy(
                'COPY auth_entity (id_key, reader, "timestamp", "userUid") FROM STDIN'
            ) as copy:
                for row in data.entries:
                    copy.write_row(row)
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("SELECT setval('auth_entity_id_key_seq', max(id_key)) FROM auth_entity")
            cur.execute("SELECT setval('user_schedule_uid_seq', max(uid)) FROM user_schedule")
