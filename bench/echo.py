"""The trivial peer of the PTY floor: answer every frame with a RESULT-sized frame.

Run as `python -m bench.echo PTY_PATH REPLY_HEX`. It does nothing but read up to each
0x00 delimiter and write the reply, so the round trip it allows is what the kernel's
PTY and a Python process's wake-up cost: the least the gateway could ever take.
"""

from __future__ import annotations

import os
import sys
import termios
import tty


def serve(path: str, reply: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    # Raw mode as a serial port would be opened: no echo, no line discipline.
    tty.setraw(fd, termios.TCSANOW)
    print("ready", flush=True)
    try:
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed the PTY
                return
            if not chunk:
                return
            for _ in range(chunk.count(0)):
                os.write(fd, reply)
    finally:
        os.close(fd)


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: python -m bench.echo PTY_PATH REPLY_HEX", file=sys.stderr)
        return 2
    serve(sys.argv[1], bytes.fromhex(sys.argv[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
