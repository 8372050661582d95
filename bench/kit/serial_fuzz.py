"""A seeded fuzzer for the serial line: hostile bytes into the gateway's link machine.

Random noise (rich in 0x00, as a floating line reads), valid frames, and valid frames
mutated (bits flipped, bytes cut, dropped, repeated, delimiters added or removed) are
fed to a GatewayMachine on a simulated 115200-baud clock, with valid HELLOs and intact
SWIPEs in between. Checked after every chunk:

- nothing raises;
- every swipe the machine hands on was sent intact (no false row), and every intact
  new SWIPE after a HELLO is handed on exactly once (no lost swipe);
- NAKs go out at most one per 250 ms; the decoder's buffer stays bounded;
- the log stays quiet: bad frames are summarised, not logged one by one.

Used by tests/edges/test_serial_fuzz.py (a few seconds) and bench/soak.py --fuzz (long).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from gateway.domain import Direction
from gateway.link.machine import GatewayMachine, Note, Process, Send
from gateway.protocol import (
    DecodeError,
    Decoder,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    Role,
    Status,
    Swipe,
    encode,
)

BYTE_S = 10 / 115200  # one byte on the wire at 115200 baud, 8N1
HW = bytes.fromhex("F00DFACE00C0FFEE")


@dataclass
class FuzzFigures:
    seed: int
    bytes_fed: int = 0
    frames_mutated: int = 0
    swipes_sent: int = 0  # intact SWIPEs with a seq not sent before in this session
    swipes_processed: int = 0
    false_swipes: int = 0
    lost_swipes: int = 0
    naks_sent: int = 0
    nak_gap_violations: int = 0
    log_lines: int = 0  # log lines about bad frames
    simulated_s: float = 0.0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.false_swipes or self.lost_swipes or self.nak_gap_violations or self.errors)


def _mutate(frame: bytes, rng: random.Random) -> bytes:
    data = bytearray(frame)
    kind = rng.randrange(6)
    if kind == 0 and data:  # flip one bit
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and len(data) > 1:  # cut
        del data[rng.randrange(1, len(data)) :]
    elif kind == 2 and data:  # drop a byte
        del data[rng.randrange(len(data))]
    elif kind == 3 and data:  # repeat a byte
        i = rng.randrange(len(data))
        data.insert(i, data[i])
    elif kind == 4:  # a stray delimiter inside
        data.insert(rng.randrange(len(data) + 1), 0)
    else:  # random garbage appended before the delimiter
        data[-1:-1] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
    return bytes(data)


def fuzz(seed: int, seconds: float) -> FuzzFigures:
    """Run for `seconds` of wall time (bounded), return the figures."""
    rng = random.Random(seed)
    figures = FuzzFigures(seed)
    machine = GatewayMachine(Direction.IN, heartbeat_ms=1000, idle_text="Clock in")
    now = 0.0
    machine.opened(now)
    session = 1
    seq = 0
    # (seq, uid): the UIDs are random, so a pair names one intended swipe.
    processed: set[tuple[int, bytes]] = set()
    expected: set[tuple[int, bytes]] = set()
    last_nak = float("-inf")
    out = Decoder()
    shadow = Decoder()  # the bytes as the gateway received them
    on_line: set[tuple[int, bytes]] = set()
    helloed = False
    started = time.monotonic()

    def feed(data: bytes) -> None:
        nonlocal now, last_nak
        at = now
        # What was really on the line: some mutations leave a valid frame (a cut that
        # only removed the delimiter, completed by the next byte 0x00).
        for msg in shadow.feed(data):
            if isinstance(msg, Swipe):
                on_line.add((msg.seq, msg.uid))
        try:
            actions = machine.receive(data, at) + machine.tick(at)
        except Exception as exc:  # the one thing that must never happen
            figures.errors.append(f"{type(exc).__name__}: {exc}")
            return
        figures.bytes_fed += len(data)
        now += len(data) * BYTE_S
        for action in actions:
            if isinstance(action, Process):
                key = (action.swipe.seq, action.swipe.uid)
                figures.swipes_processed += 1
                if (action.swipe.seq, action.swipe.uid) not in on_line:
                    figures.false_swipes += 1
                processed.add(key)
                machine.complete(action, Status.OK, "OK", at)
            elif isinstance(action, Send):
                for msg in out.feed(action.data):
                    if isinstance(msg, Nak) and not isinstance(msg, DecodeError):
                        figures.naks_sent += 1
                        if at - last_nak < 0.25 - 1e-9:
                            figures.nak_gap_violations += 1
                        last_nak = at
            elif isinstance(action, Note) and action.event in ("bad_frame", "bad_frames"):
                figures.log_lines += 1
        if machine.decoder.pending > 66:  # 65 bytes of a frame and its delimiter at most
            figures.errors.append(f"decoder buffer grew to {machine.decoder.pending}")

    while time.monotonic() - started < seconds and not figures.errors:
        choice = rng.random()
        if not helloed or choice < 0.02:
            if rng.random() < 0.1:
                session += 1  # a reboot: a new session, numbering starts again
                seq = 0
            feed(b"\x00" + encode(Hello(Role.IN, session, HW, (1, 0, 0))))
            helloed = True
        elif choice < 0.30:
            noise = bytes(
                0 if rng.random() < 0.3 else rng.randrange(1, 256)
                for _ in range(rng.randrange(1, 200))
            )
            feed(noise)
        elif choice < 0.60:
            template = rng.choice(
                [
                    encode(Swipe(rng.randrange(1, 65536), rng.randbytes(rng.choice((4, 7, 10))))),
                    encode(Hello(Role.IN, rng.randrange(1 << 32), HW, (1, 0, 0))),
                    encode(Heartbeat()),
                    encode(Nak(rng.choice(list(NakReason)), 0, 0)),
                ]
            )
            figures.frames_mutated += 1
            feed(b"\x00" + _mutate(template, rng))
        elif choice < 0.85:
            seq += 1
            if seq > 65535:
                session, seq = session + 1, 0
                continue
            uid = rng.randbytes(rng.choice((4, 7, 10)))
            expected.add((seq, uid))
            figures.swipes_sent += 1
            # A lone 0x00 first flushes whatever half frame noise left (section 2).
            feed(b"\x00" + encode(Swipe(seq, uid)))
        else:
            feed(b"\x00" + encode(Heartbeat()))
    # Every intact swipe after its HELLO was handed on once.
    figures.lost_swipes = len(expected - processed)
    figures.simulated_s = round(now, 1)
    figures.wall_s = round(time.monotonic() - started, 2)
    return figures
