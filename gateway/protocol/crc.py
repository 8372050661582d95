"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final XOR).

`binascii.crc_hqx` is exactly this CRC when seeded with 0xFFFF, and it runs in C:
the decoder's throughput depends on it.
"""

from __future__ import annotations

from binascii import crc_hqx

CRC_INIT = 0xFFFF
CHECK_VALUE = 0x29B1  # crc16(b"123456789")


def crc16(data: bytes) -> int:
    """The CRC-16/CCITT-FALSE of `data`."""
    return crc_hqx(data, CRC_INIT)


def crc16_bitwise(data: bytes) -> int:
    """The same CRC computed bit by bit, as the spec's C reference does (for tests)."""
    crc = CRC_INIT
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
