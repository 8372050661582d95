"""`clock-gateway emulate`: a virtual card reader on a pseudo-terminal.

Point the daemon's reader `port` at the printed path (or at --link), then tap cards
given as arguments or typed one per line on stdin; each tap prints what the reader's
LCD shows. --json prints one JSON object per line for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from gateway.emulator import TapResult, VirtualReader
from gateway.errors import InvalidInputError, UsageError
from gateway.logs import configure_logging
from gateway.protocol import HARDWARE_ID_LEN, UID_LENGTHS, Status

_SEPARATORS = str.maketrans("", "", ": -")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="run a virtual card reader on a pseudo-terminal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role", choices=("in", "out"), required=True, help="entrance or exit")
    parser.add_argument(
        "--link",
        metavar="PATH",
        help="keep a symlink at PATH pointing to the PTY, like /dev/serial/by-id/...",
    )
    parser.add_argument(
        "--hardware-id",
        metavar="HEX",
        help=f"{HARDWARE_ID_LEN}-byte id in hex (default: a hash of the name, so the same "
        "name always gives the same id)",
    )
    parser.add_argument(
        "--name",
        default="",
        help="name used in logs and for the hardware id (default: emulated-ROLE)",
    )
    parser.add_argument(
        "--reset-on-open",
        action="store_true",
        help="start a new session whenever the host opens the port, as an Uno does",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="with CARDs: how long to wait for the gateway to answer HELLO (default 30)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines for scripts")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="log level"
    )
    parser.add_argument(
        "cards", nargs="*", metavar="CARD", help="card UIDs in hex (4, 7 or 10 bytes) to tap"
    )
    parser.set_defaults(func=_main)


def parse_card(text: str) -> bytes:
    """A card UID from hex, with optional ':', '-' or space separators."""
    digits = text.strip().translate(_SEPARATORS)
    try:
        uid = bytes.fromhex(digits)
    except ValueError:
        uid = b""
    if len(uid) not in UID_LENGTHS:
        raise InvalidInputError(
            f"card {text.strip()!r}: expected 8, 14 or 20 hex digits (a 4, 7 or 10-byte UID)"
        )
    return uid


def _hardware_id(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        value = bytes.fromhex(text.translate(_SEPARATORS))
    except ValueError:
        value = b""
    if len(value) != HARDWARE_ID_LEN:
        raise UsageError(f"--hardware-id {text!r}: expected {2 * HARDWARE_ID_LEN} hex digits")
    return value


class _Output:
    """What the person (or the script) sees."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, event: str, human: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": event, **fields}), flush=True)
        else:
            print(human, flush=True)

    def error(self, message: str) -> None:
        if self.as_json:
            print(json.dumps({"event": "error", "message": message}), flush=True)
        else:
            print(f"clock-gateway: error: {message}", file=sys.stderr, flush=True)

    def tap(self, card: str, result: TapResult, lcd: list[str]) -> None:
        status = "NO ANSWER" if result.status is None else result.status.name
        ms = round(result.latency_s * 1000, 1)
        sends = f"{result.sends} send{'s' if result.sends != 1 else ''}"
        box = "\n".join(
            [f"  +{'-' * 16}+", *(f"  |{line:<16}|" for line in lcd), f"  +{'-' * 16}+"]
        )
        self.emit(
            "tap",
            f"tap {card}: {status} ({ms:g} ms, {sends})\n{box}",
            card=card,
            status=status,
            ok=result.status is Status.OK,
            text=result.text,
            lcd=lcd,
            latency_ms=ms,
            sends=result.sends,
        )


def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of stdin on a queue, None at EOF.

    A daemon thread reads: add_reader cannot watch a regular file, and a thread blocked
    in readline must not keep the process alive at exit.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


async def _tap(reader: VirtualReader, card_text: str, uid: bytes, out: _Output) -> None:
    result = await reader.tap(uid)
    out.tap(card_text, result, reader.lcd)


async def _run(args: argparse.Namespace, uids: list[tuple[str, bytes]]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    out = _Output(args.json)
    reader = VirtualReader(
        args.role,
        name=args.name or f"emulated-{args.role}",
        hardware_id=_hardware_id(args.hardware_id),
        link_path=Path(args.link) if args.link else None,
        reset_on_open=args.reset_on_open,
    )
    try:
        await reader.start()
    except OSError as exc:
        await reader.close()
        at = f" at {args.link}" if args.link else ""
        raise UsageError(f"cannot create the virtual reader{at}: {exc.strerror}") from None
    try:
        where = reader.pty_path if not args.link else f"{args.link} -> {reader.pty_path}"
        out.emit(
            "started",
            f"virtual {args.role} reader on {where}\n"
            f"hardware id {reader.hardware_id.hex().upper()}, session {reader.session}; "
            "waiting for the gateway to open it (Ctrl-C to quit)",
            port=reader.port,
            pty=reader.pty_path,
            role=args.role,
            hardware_id=reader.hardware_id.hex().upper(),
            session=reader.session,
        )
        work = asyncio.create_task(_work(reader, args, uids, out))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        out.emit("stopped", "stopped")
        return 0
    finally:
        await reader.close()


async def _work(
    reader: VirtualReader, args: argparse.Namespace, uids: list[tuple[str, bytes]], out: _Output
) -> int:
    online = asyncio.create_task(_announce_online(reader, out))
    try:
        if uids:
            try:
                await reader.wait_online(args.timeout)
            except TimeoutError:
                out.error(f"no gateway answered HELLO on {reader.port} within {args.timeout:g} s")
                return 1
            for text, uid in uids:
                await _tap(reader, text, uid, out)
            return 0
        lines = stdin_lines(asyncio.get_running_loop())
        while (line := await lines.get()) is not None:
            if not line.strip():
                continue
            try:
                uid = parse_card(line)
            except InvalidInputError as exc:
                out.error(str(exc))
                continue
            await _tap(reader, line.strip(), uid, out)
        return 0
    finally:
        online.cancel()


async def _announce_online(reader: VirtualReader, out: _Output) -> None:
    """Say when the reader comes online or drops offline, for the person watching."""
    while True:
        await reader.wait_online()
        out.emit("online", f"online: the LCD shows {' / '.join(reader.lcd)!r}", lcd=reader.lcd)
        await reader.wait_offline()
        out.emit("offline", f"offline: the LCD shows {' / '.join(reader.lcd)!r}", lcd=reader.lcd)


def _check_link(link: str | None) -> None:
    """The symlink's folder must exist: say so, naming it (not the PTY it would point at)."""
    if link is None:
        return
    folder = Path(link).parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"--link {link}: the folder {folder} {what}")


def _main(args: argparse.Namespace) -> int:
    configure_logging(args.log_level or "warning")
    uids = [(text, parse_card(text)) for text in args.cards]  # bad input: exit before starting
    _check_link(args.link)
    return asyncio.run(_run(args, uids))
