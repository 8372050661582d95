"""`clock-gateway ports`: the serial ports of this machine, with their stable by-id names."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from gateway.cli.common import add_json_option, print_json, print_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ports",
        help="list serial ports and their /dev/serial/by-id names",
        description="List the serial ports the system knows. Configure readers with the "
        "/dev/serial/by-id/... path: it stays the same when a reader is replugged.",
    )
    add_json_option(parser)
    parser.set_defaults(func=_ports)


def _ports(args: argparse.Namespace) -> int:
    from gateway.link.serial_port import list_serial_ports

    ports = list_serial_ports()
    if args.json:
        print_json([asdict(p) for p in ports])
        return 0
    if not ports:
        print("no serial ports found (is the reader plugged in? see 'dmesg | tail')")
        return 0
    print_table(
        ("DEVICE", "BY-ID", "DESCRIPTION", "VID:PID", "SERIAL"),
        (
            (
                p.device,
                ", ".join(p.by_id) or "-",
                p.description,
                f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else "",
                p.serial_number,
            )
            for p in ports
        ),
    )
    return 0
