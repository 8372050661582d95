"""Decoder throughput: MB/s of valid frames and of random noise, each against a floor.

The floor is the irreducible work on the same bytes in the same run: split the stream
at every 0x00 (bytes.split) and run the C CRC (binascii.crc_hqx) over every piece. The
ratio value/floor is what to compare between machines; 1.0 would mean the Python
decoder costs nothing beyond finding frames and checking their CRC.

    .venv/bin/python -m bench.decoder [--seconds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from binascii import crc_hqx
from collections.abc import Callable
from typing import Any

from gateway.protocol import Decoder, Heartbeat, Message, Result, Status, Swipe, encode

CHUNK = 4096  # a serial read returns at most a few KB
STREAM_BYTES = 256 * 1024


def _valid_stream() -> bytes:
    """A realistic mix: swipes with 4/7-byte UIDs, results with text, heartbeats."""
    rnd = random.Random(7)
    frames: list[bytes] = []
    seq = 0
    size = 0
    while size < STREAM_BYTES:
        seq = seq % 0xFFFF + 1
        msg: Message
        kind = seq % 4
        if kind == 0:
            msg = Heartbeat()
        elif kind == 1:
            msg = Result(seq, Status.OK, "Entrada - Ana\nMartinez Lopez")
        else:
            msg = Swipe(seq, rnd.randbytes(rnd.choice((4, 7))))
        frame = encode(msg)
        frames.append(frame)
        size += len(frame)
    return b"".join(frames)


def _noise_stream() -> bytes:
    return random.Random(11).randbytes(STREAM_BYTES)


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _decode(chunks: list[bytes]) -> int:
    decoder = Decoder()
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    return n


def _floor(chunks: list[bytes]) -> int:
    # Chunks are not rejoined: frames split across chunks are a real decoder's cost too,
    # and ignoring them makes the floor slightly faster, never slower.
    n = 0
    for chunk in chunks:
        for piece in chunk.split(b"\x00"):
            n ^= crc_hqx(piece, 0xFFFF)
    return n


def _rate(fn: Callable[[list[bytes]], int], chunks: list[bytes], nbytes: int) -> float:
    start = time.perf_counter()
    fn(chunks)
    return nbytes / (time.perf_counter() - start) / 1e6


def _measure(data: bytes, seconds: float) -> tuple[float, float]:
    """Best MB/s of the decoder and of the floor over alternating rounds.

    The best round is the one least disturbed by other processes on a shared machine;
    alternating keeps both figures under the same conditions.
    """
    chunks = _chunks(data)
    values: list[float] = []
    floors: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(values) < 3 or time.perf_counter() < deadline:
        values.append(_rate(_decode, chunks, len(data)))
        floors.append(_rate(_floor, chunks, len(data)))
    return max(values), max(floors)


def run(seconds: float = 2.0, *, quick: bool = False) -> list[dict[str, Any]]:
    """Rows {name, value, unit, floor, ratio} for `python -m bench`."""
    if quick:
        seconds = min(seconds, 0.3)
    rows: list[dict[str, Any]] = []
    for name, data in (
        ("decoder: valid frames", _valid_stream()),
        ("decoder: noise", _noise_stream()),
    ):
        value, floor = _measure(data, seconds / 2)
        rows.append(
            {"name": name, "value": value, "unit": "MB/s", "floor": floor, "ratio": value / floor}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decoder", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time in all")
    args = parser.parse_args(argv)
    print(f"{'benchmark':<24} {'value':>12} {'floor':>12} {'ratio':>7}")
    for r in run(args.seconds):
        value = f"{r['value']:.1f} {r['unit']}"
        floor = f"{r['floor']:.1f} {r['unit']}"
        print(f"{r['name']:<24} {value:>12} {floor:>12} {r['ratio']:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
