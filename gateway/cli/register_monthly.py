"""`clock-gateway register monthly`: each worker's monthly summary as a PDF and an
xlsx, in Spanish and English (gateway/reports/monthly.py has the content); with
`--mail`, each worker's PDF mailed to them (ET art. 12.4.c and 35.5: part-time workers
and anyone with overtime get it with the payslip). A worker's address is the username
of their worker account when it is a mail address, as for the open-day notices: the
schema keeps no other address for a person."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.cli.report import rules_from_args
from gateway.config import Config
from gateway.config.mail import check_address
from gateway.documents.export_files import write_xlsx
from gateway.errors import UsageError
from gateway.mail import Letter, MailError, send_blocking
from gateway.reports.export import check_target
from gateway.reports.monthly import Summary, month_range, monthly_summaries
from gateway.reports.monthly_files import write_summaries
from gateway.reports.rules import DEFAULT_MAX_SESSION
from gateway.store.audit import Actor
from gateway.store.stores import Stores


def add_monthly(sub: Any) -> None:
    monthly = sub.add_parser(
        "monthly",
        help="each worker's monthly summary (PDF and xlsx, Spanish and English)",
        description="Write one PDF and one xlsx per worker for a month to a new directory: "
        "each day's start, end, pauses, net time and class, the month's totals by class, "
        "the regime, the corrections, the flags and the register's chain head.",
    )
    monthly.add_argument("--month", required=True, metavar="YYYY-MM")
    monthly.add_argument("--person", action="append", default=[], metavar="UID")
    monthly.add_argument("--out", required=True, metavar="DIR")
    monthly.add_argument(
        "--mail",
        action="store_true",
        help="also mail each worker their PDF ([mail] section; to their worker account's address)",
    )
    add_config_option(monthly)
    add_json_option(monthly)
    monthly.set_defaults(func=_monthly)


def _monthly(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    rules = rules_from_args(config, DEFAULT_MAX_SESSION.total_seconds() / 3600)
    month_range(args.month)  # a bad month is one line before anything else
    out = Path(args.out).absolute()
    check_target(out)
    if args.mail and not config.mail.enabled:
        raise UsageError("--mail needs a [mail] section with a host (docs/REGISTER.md)")

    async def work(stores: Stores) -> tuple[list[Summary], dict[str, str]]:
        found = await monthly_summaries(
            stores, rules, config.register.worktime, args.month.strip(), args.person
        )
        return found, (await stores.accounts.workers()) if args.mail else {}

    summaries, workers = with_stores(config, work)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_summaries(staging, summaries, write_xlsx)
        os.chmod(staging, 0o755)
        if out.exists():
            out.rmdir()  # empty (checked): rename needs it gone
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.name for p in out.iterdir())
    sent = None
    if args.mail:
        sent, trail = _mail(config, out, summaries, workers)
        _audit_mails(config, args.month.strip(), trail)
    if args.json:
        print_json(
            {"out": str(out), "files": files, "workers": len(summaries)}
            | ({} if sent is None else sent.__dict__)
        )
    else:
        print(f"{out}: {len(summaries)} worker(s), {len(files)} file(s)")
        if sent is not None:
            print(f"{len(sent.mailed)} worker(s) mailed")
            if sent.no_address:
                print(
                    f"{len(sent.no_address)} without a mail address: {', '.join(sent.no_address)}"
                )
            for line in sent.refused:
                print(line)
    if sent is not None and sent.error:
        print(f"{sent.error}; nothing was mailed (the files are in {out})", file=sys.stderr)
        return 1
    return 1 if sent is not None and sent.refused else 0


@dataclass
class Mailed:
    mailed: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    error: str | None = None


# (uid, address, "sent" | "refused" | "failed", why): one audit row per mail tried.
MailTrail = list[tuple[str, str, str, str | None]]


def _audit_mails(config: Config, month: str, trail: MailTrail) -> None:
    """Each mail sent or failed leaves an audit row, as the open-day notices and the
    web's exports do: who was sent which month, and what the server said."""
    if not trail:
        return

    async def work(stores: Stores) -> None:
        for uid, address, outcome, why in trail:
            await stores.audit.record(
                Actor.cli(),
                "register.monthly.mail",
                uid,
                {"month": month, "to": address, "outcome": outcome, "error": why},
            )

    with_stores(config, work)


def _mail(
    config: Config, out: Path, summaries: list[Summary], workers: dict[str, str]
) -> tuple[Mailed, MailTrail]:
    sent = Mailed()
    trail: MailTrail = []
    letters = []
    uids = []
    for s in summaries:
        address = workers.get(s.uid, "")
        if "@" not in address or check_address(address) is not None:
            sent.no_address.append(s.uid)
            continue
        pdf = (out / f"{s.file_stem}.pdf").read_bytes()
        uids.append(s.uid)
        letters.append(
            Letter(
                address,
                f"Resumen mensual de jornada / Monthly working-time summary {s.month}",
                f"{s.name}:\n\nAdjuntamos tu resumen mensual de jornada de {s.month}.\n"
                f"Your monthly working-time summary for {s.month} is attached.\n",
                ((f"{s.file_stem}.pdf", pdf),),
            )
        )
    if not letters:
        return sent, trail
    try:
        results = send_blocking(config.mail, letters)
    except MailError as exc:
        sent.error = str(exc)
        failed = zip(uids, letters, strict=True)
        return sent, [(uid, letter.to, "failed", sent.error) for uid, letter in failed]
    for uid, letter, refused in zip(uids, letters, results, strict=True):
        if refused is None:
            sent.mailed.append(letter.to)
            trail.append((uid, letter.to, "sent", None))
        else:
            sent.refused.append(refused)
            trail.append((uid, letter.to, "refused", refused))
    return sent, trail
