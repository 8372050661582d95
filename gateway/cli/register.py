"""`clock-gateway register verify|seal|head`: the working-time register's seals.

verify recomputes every seal and names each row altered, deleted, inserted out of
band or reordered (docs/REGISTER.md); it changes nothing, so an Inspector's read-only
role can run it. Exit status: 0 every seal holds; 5 something does not (the findings
say what); 4 a heads file that is not there; 6 the database is away; 7 a bad date or
head.
"""

from __future__ import annotations

import argparse
from datetime import datetime, time, timedelta
from typing import Any

from gateway.cli.argtypes import add_date_range, date_range
from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.config import Config
from gateway.errors import ExitCode
from gateway.store.chain import Head, Link
from gateway.store.heads import HEADS_FILE, append_head, heads_from_argument, heads_path
from gateway.store.seal_check import SEALING_DELAY, Report, verify
from gateway.store.seals import SealRound
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "register",
        help="verify the working-time register's seals, seal now, show the chain head",
        description="The working-time register: every clock event, correction and audit "
        "row is sealed into one hash chain within a minute of being stored (by the daemon), "
        "and the chain's head is copied out of the database (the heads log in the state "
        "directory, the journal). See docs/REGISTER.md.",
    )
    sub = parser.add_subparsers(dest="register_command", metavar="ACTION", required=True)

    check = sub.add_parser(
        "verify",
        help="recompute the seals; name every row altered, deleted, inserted or reordered",
        description="Recompute every seal of the chain and compare every sealed row with "
        "what was sealed. Exit status: 0 all hold; 5 something does not (each finding names "
        "the row and what differs); 4 no such heads file; 6 database unavailable.",
    )
    add_date_range(
        check,
        required=False,
        from_help="only rows dated from this day (YYYY-MM-DD)",
        to_help="... to this day, inclusive",
    )
    check.add_argument(
        "--head",
        action="append",
        default=[],
        metavar="FILE|VALUE",
        help="a head kept earlier: SEQ:SEAL, or a file of them (the heads log "
        f"<state_dir>/{HEADS_FILE}, an export's manifest line); repeatable. "
        "Catches a chain rewritten wholesale or cut back.",
    )
    add_config_option(check)
    add_json_option(check)
    check.set_defaults(func=_verify)

    seal = sub.add_parser(
        "seal",
        help="seal the rows stored and not sealed yet (the daemon does it every few seconds)",
        description="Seal now what is stored and not sealed yet: for a database no daemon "
        "serves (imports, the web alone). The daemon seals every few seconds.",
    )
    add_config_option(seal)
    add_json_option(seal)
    seal.set_defaults(func=_seal)

    head = sub.add_parser(
        "head",
        help="print the chain's head; --record also appends it to the heads log",
        description="Print the chain's current head (SEQ:SEAL). Keep it somewhere the "
        "database's owner cannot change: `register verify --head` checks against it later.",
    )
    head.add_argument(
        "--record", action="store_true", help="append it to the heads log in the state directory"
    )
    add_config_option(head)
    add_json_option(head)
    head.set_defaults(func=_head)

    from gateway.cli.register_export import add_export

    add_export(sub)
    from gateway.cli.register_monthly import add_monthly

    add_monthly(sub)

    from gateway.cli.open_days import add_open_days

    add_open_days(sub)


def _range(config: Config, args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    first, last = date_range(args)
    zone = config.zone
    start = None if first is None else datetime.combine(first, time(0), zone)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(0), zone)
    return start, end


def _verify(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    start, end = _range(config, args)
    heads: list[Head] = []
    for value in args.head:
        heads += heads_from_argument(value)

    async def work(stores: Stores) -> Report:
        await stores.db.check()
        return await verify(stores.db, start=start, end=end, heads=heads)

    report = with_stores(config, work)
    if args.json:
        print_json(_report_json(report, start, end))
    else:
        _print_report(report, start, end)
    return int(ExitCode.OK if report.ok else ExitCode.CONFLICT)


def _head_json(link: Link | None) -> dict[str, Any] | None:
    if link is None:
        return None
    return {
        "seq": link.seq,
        "seal": link.seal,
        "head": f"{link.seq}:{link.seal}",
        "sealed_at": link.sealed_at.isoformat(),
    }


def _report_json(report: Report, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    checkpoint = report.checkpoint
    return {
        "ok": report.ok,
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
        "head": _head_json(report.head),
        "first_seq": report.first_seq,
        "seals": report.seals,
        "rows": report.rows,
        "pending": report.pending,
        "heads_checked": report.heads,
        "checkpoint": None
        if checkpoint is None
        else {
            "before": checkpoint.before,
            "through_seq": checkpoint.through_seq,
            "through_seal": checkpoint.through_seal,
            "removed": dict(checkpoint.removed),
        },
        "findings": [f.as_json() for f in report.findings],
        "unlisted": report.unlisted,
    }


def _print_report(report: Report, start: datetime | None, end: datetime | None) -> None:
    head = report.head
    scope = ""
    if start or end:
        first = start.date() if start else "..."
        last = (end - timedelta(days=1)).date() if end else "..."
        scope = f" (rows dated {first} to {last})"
    # The kinds of schema v5 (steps, regimes, overtime choices) only when there are any.
    rows = ", ".join(
        f"{n} {kind}(s)"
        for kind, n in report.rows.items()
        if n or kind in ("event", "correction", "audit")
    )
    print(f"checked {report.seals} seal(s) and {rows}{scope}")
    if report.checkpoint is not None:
        c = report.checkpoint
        print(
            f"the chain starts after the purge of the rows before {c.before} "
            f"(seals 1..{c.through_seq} removed)"
        )
    if report.heads:
        print(f"checked against {report.heads} head(s) kept outside the database")
    if report.pending:
        print(
            f"{report.pending} row(s) stored in the last {int(SEALING_DELAY.total_seconds())} s "
            "are not sealed yet (the sealer runs every few seconds)"
        )
    for finding in report.findings:
        print(f"{finding.problem.upper()}: {finding.detail}")
        for column, before, now in finding.differences:
            print(f"    {column}: sealed {before!r}, now {now!r}")
    if report.unlisted:
        print(f"... and {report.unlisted} more finding(s) not listed")
    if head is None:
        print("chain head: none (nothing sealed yet)")
    else:
        print(f"chain head: {head.seq}:{head.seal} (sealed {head.sealed_at.isoformat()})")
    if report.ok:
        print("OK: every seal holds")
    else:
        count = len(report.findings) + report.unlisted
        print(f"NOT OK: {count} finding(s): the register was changed outside clock-gateway")


def _seal(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> SealRound:
        await stores.db.check()
        return await stores.seals.seal_pending()

    result = with_stores(config, work)
    if args.json:
        print_json(
            {
                "sealed": result.sealed,
                "busy": result.busy,
                "pending": result.pending,
                "head": _head_json(result.head),
            }
        )
    elif result.busy:
        print(f"sealed {result.sealed} row(s); another sealer is at work on the rest")
    else:
        print(f"sealed {result.sealed} row(s)")
    return 0


def _head(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> Link | None:
        await stores.db.check()
        return await stores.seals.head()

    link = with_stores(config, work)
    if link is not None and args.record:
        append_head(config.state_dir, link, why="cli", gateway=config.gateway_id)
    if args.json:
        print_json(_head_json(link))
    elif link is None:
        print("nothing sealed yet")
    else:
        print(f"{link.seq}:{link.seal}")
        if args.record:
            print(f"recorded in {heads_path(config.state_dir)}")
    return 0
