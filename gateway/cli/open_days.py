"""`clock-gateway register open-days [--mail]`: forgotten clock-outs flagged, each
worker told, nothing closed (issue 22 item 4; the rule is gateway/reports/open_days.py).

Why a command on a systemd timer (systemd/clock-gateway-open-days.timer) and not a loop
in the web process: the web may run as several processes or not at all, and restarts
on every upgrade; a timer runs the check exactly once per interval wherever it is
installed, catches up after the machine was off (Persistent=), and keeps SMTP, with
its slow servers and its password, out of the process that serves pages. Flagging is
idempotent (one notice per person and day), so running it by hand as well is harmless.

Each new open day is flagged with its proposed close (an out at the shift's end, a
company-side correction waiting for the worker). With --mail, every notice not yet
mailed goes to its worker's address: the username of their worker's account when it
is a mail address (the schema has no other address for a person). A notice that could
not be mailed stays unmailed and the next run tries again.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.config import Config
from gateway.config.mail import check_address
from gateway.errors import UsageError
from gateway.mail import Letter, MailError, send
from gateway.reports.open_days import open_days
from gateway.reports.rules import Rules
from gateway.store.audit import Actor
from gateway.store.open_days import NoticeRow
from gateway.store.stores import Stores

DEFAULT_DAYS = 3


def add_open_days(sub: Any) -> None:
    parser = sub.add_parser(
        "open-days",
        help="flag forgotten clock-outs, propose their close, mail the workers (--mail)",
        description="Flag every open day (an in with no out, [register] open_day_after "
        "past the shift's end in the timetable) of the last --days days, once, with a "
        "proposed close waiting for the worker's agreement; with --mail, tell each "
        "worker by mail ([mail]). Nothing is closed on its own.",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"how many days back to look (default {DEFAULT_DAYS})",
    )
    parser.add_argument("--mail", action="store_true", help="mail the workers not yet told")
    add_config_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=_open_days)


@dataclass
class Outcome:
    flagged: list[dict[str, Any]] = field(default_factory=list)
    mailed: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    mail_error: str | None = None


def _hhmm(moment: datetime, config: Config) -> str:
    return moment.astimezone(config.zone).strftime("%H:%M")


def _letter(config: Config, notice: NoticeRow, address: str) -> Letter:
    day = notice.day.isoformat()
    if config.locale == "es":
        subject = f"Jornada del {day} sin salida registrada"
        body = (
            f"Hola, {notice.name}:\n\n"
            f"El {day} se registró tu entrada y ninguna salida.\n"
            + (
                "La empresa propone cerrar esa jornada al final de tu turno. Nada cambia "
                "hasta que lo aceptes o lo rechaces en tu registro (Mi registro), donde "
                "también puedes pedir la hora real de salida.\n"
                if notice.correction_id
                else "Indica la hora real de salida en tu registro (Mi registro).\n"
            )
            + "\nEste aviso lo envía el registro de jornada; no respondas a este correo.\n"
        )
    else:
        subject = f"No clock-out recorded on {day}"
        body = (
            f"Hello {notice.name},\n\n"
            f"On {day} your clock-in was recorded and no clock-out.\n"
            + (
                "The company proposes to close that day at the end of your shift. Nothing "
                "changes until you accept or reject it on your record (My record), where "
                "you can also request the real time you left.\n"
                if notice.correction_id
                else "Please request the real time you left on your record (My record).\n"
            )
            + "\nThis notice comes from the working-time register; do not reply to it.\n"
        )
    return Letter(address, subject, body)


def _address(notice: NoticeRow) -> str | None:
    name = notice.username
    return name if name and "@" in name and check_address(name) is None else None


async def run_open_days(
    stores: Stores, config: Config, *, days: int, mail: bool, now: datetime
) -> Outcome:
    rules = Rules.from_config(config)
    after = timedelta(minutes=config.register.open_day_after_min)
    outcome = Outcome()
    actor = Actor.cli()
    for found in await open_days(stores, rules, now=now, after=after, days=days):
        reason = (
            f"forgotten clock-out: closed at the shift's end "
            f"({_hhmm(found.shift_end, config)}) if the worker agrees"
        )
        if await stores.open_days.flag(
            found.person_uid,
            found.day,
            now=now,
            close_at=found.proposed_out,
            reason=reason,
            actor=actor,
        ):
            outcome.flagged.append(
                {
                    "uid": found.person_uid,
                    "day": found.day.isoformat(),
                    "in": found.in_at.isoformat(),
                    "proposed_out": found.proposed_out.isoformat() if found.proposed_out else None,
                }
            )
    if not mail:
        return outcome
    waiting = await stores.open_days.notices(unmailed=True)
    letters: list[tuple[NoticeRow, Letter]] = []
    for notice in waiting:
        address = _address(notice)
        if address is None:
            outcome.no_address.append(notice.person_uid)
        else:
            letters.append((notice, _letter(config, notice, address)))
    if not letters:
        return outcome
    try:
        results = await send(config.mail, [letter for _notice, letter in letters])
    except MailError as exc:
        outcome.mail_error = str(exc)
        return outcome
    for (notice, letter), refused in zip(letters, results, strict=True):
        if refused is None:
            await stores.open_days.mailed(notice.person_uid, notice.day, datetime.now(UTC))
            outcome.mailed.append(letter.to)
        else:
            outcome.refused.append(refused)
    return outcome


def _open_days(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not 1 <= args.days <= 366:
        raise UsageError("--days must be from 1 to 366")
    if args.mail and not config.mail.enabled:
        raise UsageError("--mail needs a [mail] section with a host (docs/REGISTER.md)")

    async def work(stores: Stores) -> Outcome:
        return await run_open_days(
            stores, config, days=args.days, mail=args.mail, now=datetime.now(UTC)
        )

    outcome = with_stores(config, work)
    if args.json:
        print_json(outcome.__dict__)
    else:
        print(f"{len(outcome.flagged)} open day(s) newly flagged")
        for f in outcome.flagged:
            print(f"  {f['uid']}  {f['day']}")
        if args.mail:
            print(f"{len(outcome.mailed)} worker(s) mailed")
            if outcome.no_address:
                print(
                    f"{len(outcome.no_address)} without a mail address (their worker's account "
                    f"is not a mail address, or they have none): {', '.join(outcome.no_address)}"
                )
            for line in outcome.refused:
                print(line)
    if outcome.mail_error:
        why = outcome.mail_error
        print(f"{why}; nothing was mailed, the next run tries again", file=sys.stderr)
        return 1
    return 1 if outcome.refused else 0
