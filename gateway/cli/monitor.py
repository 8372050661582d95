"""`clock-gateway monitor PORT`: decode and print the frames on a serial port, live.

Without --respond it only listens: a reader then shows its HELLOs (repeated every
second until someone answers). With --respond it also plays the gateway's part of the
handshake (HELLO_ACK, heartbeats) and answers every SWIPE with KO "Monitor only", so
both directions are printed and nothing is recorded. The daemon holds its ports
exclusively: stop it first (`systemctl stop clock-gateway`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from gateway.cli.common import add_json_option
from gateway.domain import Direction
from gateway.errors import GatewayError, UsageError
from gateway.link.machine import GatewayMachine, Note, Process, Send
from gateway.link.serial_port import PortError, SerialPort
from gateway.protocol import DecodeError, Decoder, Message, Status

MONITOR_TEXT = "Monitor only\nNot recorded"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="decode and print the frames on a serial port live",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("port", metavar="PORT", help="e.g. /dev/serial/by-id/usb-...")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    parser.add_argument(
        "--respond",
        choices=("in", "out"),
        metavar="ROLE",
        help="answer as a gateway with this role (in|out): handshake, heartbeats, KO to swipes",
    )
    parser.add_argument(
        "--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)"
    )
    add_json_option(parser)
    parser.set_defaults(func=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be greater than 0")
    return asyncio.run(_run(args))


def describe(item: Message | DecodeError) -> dict[str, Any]:
    """A frame as plain data: its type and fields, bytes in hex."""
    if isinstance(item, DecodeError):
        return {"type": "INVALID", "error": item.describe()}
    out: dict[str, Any] = {"type": type(item).__name__.upper()}
    if is_dataclass(item):
        for f in fields(item):
            value = getattr(item, f.name)
            if isinstance(value, bytes):
                value = value.hex().upper()
            elif hasattr(value, "name"):
                value = value.name
            elif isinstance(value, tuple):
                value = ".".join(map(str, value))
            out[f.name] = value
    return out


class _Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.start = time.monotonic()

    def frame(self, direction: str, item: Message | DecodeError) -> None:
        data = describe(item)
        if self.as_json:
            data = {"at": datetime.now().astimezone().isoformat(), "dir": direction, **data}
            print(json.dumps(data), flush=True)
            return
        stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        arrow = "<-" if direction == "rx" else "->"
        rest = " ".join(
            f"{k}={v!r}" if k == "text" else f"{k}={v}" for k, v in data.items() if k != "type"
        )
        print(f"{stamp} {arrow} {data['type']:<9} {rest}".rstrip(), flush=True)

    def note(self, text: str) -> None:
        if not self.as_json:
            print(f"-- {text}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    printer = _Printer(args.json)
    decoder = Decoder()
    machine = (
        GatewayMachine(
            Direction(args.respond),
            heartbeat_ms=1000,
            idle_text="Monitor mode",
        )
        if args.respond
        else None
    )
    port: SerialPort | None = None

    def execute(actions: list[Any]) -> None:
        assert machine is not None and port is not None
        for action in actions:
            if isinstance(action, Send):
                for item in Decoder().feed(action.data):
                    printer.frame("tx", item)
                port.write(action.data)
            elif isinstance(action, Process):
                execute(machine.complete(action, Status.KO, MONITOR_TEXT, time.monotonic()))
            elif isinstance(action, Note) and action.level != "debug":
                printer.note(f"{action.event} {action.fields or ''}".rstrip())

    def on_data(data: bytes) -> None:
        for item in decoder.feed(data):
            printer.frame("rx", item)
        if machine is not None:
            execute(machine.receive(data, time.monotonic()))

    try:
        port = await SerialPort.open(args.port, args.baud, on_data)
    except PortError as exc:
        raise GatewayError(f"cannot open {exc}") from None
    printer.note(f"listening on {args.port} at {args.baud} baud; Ctrl-C to stop")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if machine is not None:
        execute(machine.opened(time.monotonic()))
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while not stop.is_set() and not port.lost.done():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if machine is not None:
                execute(machine.tick(time.monotonic()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await stop.wait()
        if port.lost.done():
            printer.note(f"port lost: {port.lost.result() or 'closed'}")
            return 1
    finally:
        await port.close()
    return 0
