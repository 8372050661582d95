"""Tap to screen on the reader: the real firmware in simavr, the real daemon.

A card enters the simulated MFRC522's field (the simulator's `CARD <ms>` event);
the compiled firmware reads it, sends SWIPE over the simulated UART (115200 baud)
and the simulator's PTY to `python -m gateway run` (SQLite, so the module runs
without a PostgreSQL cluster), which answers RESULT; the firmware writes the text
to the simulated HD44780, and the simulator stamps the last cell that changed
(`LCD <ms>`). Both stamps are simulated time, from the AVR's cycle count.

How simulated time relates to the daemon's wall time: clock_sim runs the AVR at
real time (250 us slices, paced against CLOCK_MONOTONIC, at most a slice ahead), so
while the firmware waits for the RESULT its clock advances as the wall clock does,
and the daemon's reply latency (its wall time from the SWIPE's last byte on the
PTY to the RESULT's first byte on it) enters the simulated figure 1:1, plus up to
a slice (0.25 ms) for the AVR's bytes to reach the PTY (host bytes go into the
UART as soon as they wake the simulator). Only when the host cannot
keep up does simulated time run slower than the wall (it skips, never squeezes).

The floor is what no firmware can beat on this hardware: the card read at the
driver's SPI clock (fosc/4, 2 us a byte; the bytes of WUPA, anticollision and
SELECT as the driver sends them) plus the RF exchanges as the model times them
(ISO 14443-3: 106 kbit/s, 86 us frame delay), the SWIPE and the RESULT on the wire
at 115200 baud (10 bits a byte), and the LCD writes the driver makes for the reply
(50 us each, the driver's wait). The poll wait, the daemon and the PTY are not in it.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.kit.harness import DaemonProcess, seed, write_config
from bench.kit.simavr import Event, Sim, build
from bench.rows import Row, percentile, row
from gateway.protocol import Result, Status, Swipe, encode

UID_BYTES = 4
BAUD = 115200
SPI_BYTE_US = 2.0  # 8 SCK at fosc/4 = 4 MHz
LCD_WRITE_US = 50.0  # lcd.cpp waits 50 us after each instruction or character
PLEASE_WAIT = "Please wait..."

_LCD = re.compile(r"^LCD (\S+) \|(.{16})\|(.{16})\|$")


def _rf_us(tx_bits: int, rx_bits: int) -> float:
    """One exchange as the MFRC522 model times it: bits at 106 kbit/s with a
    parity bit per byte, the card's 86 us frame delay, 20 us to the IRQ."""
    bit = 9.44
    return (tx_bits + tx_bits // 8) * bit + 86 + (rx_bits + rx_bits // 8) * bit + 20


def card_read_floor_ms() -> float:
    """WUPA, anticollision and SELECT of a 4-byte UID (one cascade level).

    SPI bytes per driver transceive: 13 + tx before (IDLE, clear IRQs, flush, FIFO,
    framing, TRANSCEIVE, StartSend), 9 + rx after (one IRQ poll, framing, error,
    level, the FIFO read); plus 4 for ValuesAfterColl. HLTA follows the SWIPE.
    """
    exchanges = [(7, 16, 1, 2), (16, 40, 2, 5), (72, 24, 9, 3)]  # bits and bytes
    spi = 4 + sum(22 + tx + rx for _, _, tx, rx in exchanges)
    rf = sum(_rf_us(tb, rb) for tb, rb, _, _ in exchanges)
    return (spi * SPI_BYTE_US + rf) / 1000


def wire_ms(frame: bytes) -> float:
    return len(frame) * 10 / BAUD * 1000


def lcd_writes(before: tuple[str, str], after: tuple[str, str]) -> int:
    """The writes lcd::show makes: one per changed cell, one to move the cursor."""
    writes, cursor = 0, -1
    for r in range(2):
        for c in range(16):
            if before[r][c] == after[r][c]:
                continue
            addr = r * 0x40 + c
            writes += 1 + (cursor != addr)
            cursor = addr + 1
    return writes


@dataclass(frozen=True)
class Tap:
    total_ms: float  # card in the field -> last LCD cell of the reply, simulated
    floor_ms: float
    screen: tuple[str, str]
    to_swipe_ms: float  # card in the field -> the SWIPE's first byte leaves the UART
    to_result_ms: float  # -> the RESULT's bytes handed to the UART (daemon, PTY)
    to_lcd_ms: float  # -> the reply's last LCD write (RESULT on the wire, LCD)


def _t(line: str) -> float:
    return float(line.split()[1])


def _screen(line: str) -> tuple[float, tuple[str, str]] | None:
    m = _LCD.match(line)
    return (float(m.group(1)), (m.group(2), m.group(3))) if m else None


def measure(tmp: Path, taps: int) -> list[Tap]:
    """`taps` taps by as many people on one simulated entrance reader."""
    build()
    people = [(f"p{i:03d}", f"P{i:03d}", f"04{i:06X}") for i in range(1, taps + 1)]
    url = f"sqlite:///{tmp / 'clock.db'}"
    seed(url, people)
    board = Sim(tmp, trace=True)
    daemon: DaemonProcess | None = None

    def lines(since: int) -> list[str]:
        with board._cond:
            return [e.line for e in board.events[since:]]

    try:
        config = write_config(
            tmp / "config.toml",
            database_url=url,
            state_dir=tmp / "state",
            readers=[("entrance", board.pty, "in")],
        )
        daemon = DaemonProcess(config).start()
        daemon.wait_ready()
        idle = board.wait(lambda e: e.kind == "LCD" and "Tap your card" in e.line, 20)
        shown = _screen(idle.line)
        assert shown is not None
        before = shown[1]
        out: list[Tap] = []
        for seq, (_, name, card) in enumerate(people, start=1):
            m = board.mark()
            board.command(f"card {card}")
            placed = board.wait(lambda e: e.kind == "CARD", 10, m).t

            def reply(e: Event, n: str = name) -> bool:
                return e.kind == "LCD" and n in e.line and PLEASE_WAIT not in e.line

            got = _screen(board.wait(reply, 10, m).line)
            assert got is not None
            at, screen = got
            hops = lines(m)
            # The driver draws "Please wait..." first; the reply's writes are from it.
            waiting = [s for ln in hops if (s := _screen(ln)) and PLEASE_WAIT in ln]
            base = waiting[-1][1] if waiting else before
            text = screen[0].rstrip() + ("\n" + screen[1].rstrip() if screen[1].strip() else "")
            swipe = encode(Swipe(seq, bytes.fromhex(card)))
            result = encode(Result(seq, Status.OK, text))
            floor = (
                card_read_floor_ms()
                + wire_ms(swipe)
                + wire_ms(result)
                + lcd_writes(base, screen) * LCD_WRITE_US / 1000
            )
            tx = next(_t(ln) for ln in hops if ln.startswith("TX ") and _t(ln) >= placed)
            rx = next(_t(ln) for ln in hops if ln.startswith("RX ") and _t(ln) >= tx)
            out.append(Tap(at - placed, floor, screen, tx - placed, rx - tx, at - rx))
            m = board.mark()
            board.command("nocard")
            board.wait(lambda e: e.kind == "CARD", 10, m)
            time.sleep(0.02)  # the next card is another person: no absence wait needed
            before = screen
        return out
    finally:
        if daemon is not None and daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop()
        board.close()


async def run(quick: bool = False) -> list[Row]:
    """In a thread: measure() blocks, and seeding runs an event loop of its own."""
    taps = 30 if quick else 200
    with tempfile.TemporaryDirectory(prefix="tap_screen.") as d:
        got = await asyncio.to_thread(measure, Path(d), taps)
    values = [t.total_ms for t in got]
    floor = sorted(t.floor_ms for t in got)[len(got) // 2]
    p50, worst = percentile(values, 50), max(values)
    note = f"{len(got)} taps, simulated ms; the simulator in real time, the daemon on SQLite"

    def hop(name: str, values: list[float], what: str) -> Row:
        return row(f"tap to screen: {name} p50", percentile(values, 50), "ms", note=what)

    return [
        row("tap to screen floor", floor, "ms", note="card read + 2 frames + LCD writes"),
        row(
            "tap to screen p50",
            p50,
            "ms",
            floor=floor,
            target="<= 1.5x floor",
            met=p50 <= 1.5 * floor,
            note=note,
        ),
        row(
            "tap to screen max",
            worst,
            "ms",
            floor=floor,
            target="<= 2x floor",
            met=worst <= 2 * floor,
        ),
        hop("card to SWIPE", [t.to_swipe_ms for t in got], "poll wait + card read"),
        hop("SWIPE to RESULT", [t.to_result_ms for t in got], "SWIPE wire + daemon + PTY"),
        hop("RESULT to LCD", [t.to_lcd_ms for t in got], "RESULT into the UART + LCD writes"),
    ]
