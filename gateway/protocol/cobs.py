"""Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999).

The encoder follows the paper: a run of 254 non-zero bytes is closed with a 0xFF
code byte, and a body that ends with such a run gets a final 0x01 code byte. The
decoder accepts both that and the shorter variant without the final 0x01.
"""

from __future__ import annotations

_MAX_RUN = 254


class CobsError(ValueError):
    """The bytes are not a valid COBS encoding."""


def encode(data: bytes) -> bytes:
    """COBS-encode `data`; the result contains no 0x00 byte and no delimiter."""
    out = bytearray()
    # Each segment between zeros becomes code byte + run; bytes.split does the scan in C.
    for segment in data.split(b"\x00"):
        while len(segment) >= _MAX_RUN:
            out.append(0xFF)
            out += segment[:_MAX_RUN]
            segment = segment[_MAX_RUN:]
        out.append(len(segment) + 1)
        out += segment
    return bytes(out)


def decode(data: bytes) -> bytes:
    """Decode one COBS frame (without its delimiter); raise CobsError if it is invalid."""
    n = len(data)
    if n == 0:
        raise CobsError("empty COBS frame")
    code = data[0]
    if code == n and 0 not in data:
        # One block, no zero in the body: the common case for small frames.
        return data[1:]
    out = bytearray()
    i = 0
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f"0x00 inside a COBS frame at offset {i}")
        end = i + code
        if end > n:
            raise CobsError(f"COBS code byte at offset {i} points past the end of the frame")
        run = data[i + 1 : end]
        if 0 in run:
            raise CobsError(f"0x00 inside a COBS frame after offset {i}")
        out += run
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
