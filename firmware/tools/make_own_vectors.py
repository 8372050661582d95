#!/usr/bin/env python3
"""Write firmware/host/own_vectors.json: protocol vectors built from the spec.

An independent second implementation (Python's binascii.crc_hqx and a COBS
written here, nothing shared with proto.cpp) encodes messages laid out field
by field from docs/PROTOCOL.md, so the C++ codec is checked against
something that did not come from itself. tests/vectors/protocol.json is the
shared contract; these extra vectors cover the same ground plus a few edge
cases, in the same JSON shape.

Run: python3 firmware/tools/make_own_vectors.py > firmware/host/own_vectors.json
"""

from __future__ import annotations

import binascii
import json
import struct
import sys


def cobs(data: bytes) -> bytes:
    out = bytearray()
    for chunk in data.split(b"\x00"):
        # Long runs become 0xFF blocks of 254 bytes (not needed in v1).
        while len(chunk) >= 254:
            out += b"\xff" + chunk[:254]
            chunk = chunk[254:]
        out += bytes([len(chunk) + 1]) + chunk
    return bytes(out)


def body(typ: int, seq: int, payload: bytes, version: int = 1) -> bytes:
    b = struct.pack(">BBH", version, typ, seq) + payload
    return b + struct.pack(">H", binascii.crc_hqx(b, 0xFFFF))


def text(t: bytes) -> bytes:
    """Display text is length-prefixed (PROTOCOL.md 4.1)."""
    return bytes([len(t)]) + t


def frame(b: bytes) -> str:
    return (cobs(b) + b"\x00").hex().upper()


HW = bytes.fromhex("0102030405060708")


def main() -> None:
    assert binascii.crc_hqx(b"123456789", 0xFFFF) == 0x29B1
    valid = []

    def v(name: str, typ: str, code: int, seq: int, payload: bytes, **fields: object) -> None:
        valid.append(
            {"name": name, "type": typ, "seq": seq, **fields, "frame_hex": frame(body(code, seq, payload))}
        )

    # Section 8, the worked example.
    v("hello_example", "HELLO", 1, 0, bytes([1]) + struct.pack(">I", 1) + HW + bytes([1, 0, 0]),
      role=1, session=1, hardware_id=HW.hex(), fw_major=1, fw_minor=0, fw_patch=0)
    v("hello_ack_example", "HELLO_ACK", 2, 0, bytes([1, 1]) + struct.pack(">H", 1000) + text(b"Clock in"),
      accepted=1, role=1, heartbeat_ms=1000, text="Clock in")
    v("swipe_example", "SWIPE", 3, 1, bytes([4]) + bytes.fromhex("04A1B2C3"), uid="04A1B2C3")
    v("result_example", "RESULT", 4, 1, bytes([2]) + text(b"In - Ana"), status=2, text="In - Ana")
    # Zeros everywhere (COBS), big numbers (byte order), the edges of ranges.
    v("hello_zero_hw_role_unset", "HELLO", 1, 0, bytes([0]) + struct.pack(">I", 0) + bytes(8) + bytes(3),
      role=0, session=0, hardware_id="00" * 8, fw_major=0, fw_minor=0, fw_patch=0)
    v("hello_out_big_session", "HELLO", 1, 0,
      bytes([2]) + struct.pack(">I", 0xDEADBEEF) + bytes.fromhex("FF00FF00A5005AFF") + bytes([2, 10, 255]),
      role=2, session=0xDEADBEEF, hardware_id="FF00FF00A5005AFF", fw_major=2, fw_minor=10, fw_patch=255)
    v("hello_ack_refused", "HELLO_ACK", 2, 0, bytes([0, 2]) + struct.pack(">H", 100) + text(b"Wrong port"),
      accepted=0, role=2, heartbeat_ms=100, text="Wrong port")
    v("hello_ack_max", "HELLO_ACK", 2, 0,
      bytes([1, 2]) + struct.pack(">H", 60000) + text(b"0123456789ABCDEF\n~!\"#$%&'()*+,-./"),
      accepted=1, role=2, heartbeat_ms=60000, text="0123456789ABCDEF\n~!\"#$%&'()*+,-./")
    v("hello_ack_empty_text", "HELLO_ACK", 2, 0, bytes([1, 1]) + struct.pack(">H", 256) + text(b""),
      accepted=1, role=1, heartbeat_ms=256, text="")
    v("swipe_7", "SWIPE", 3, 2, bytes([7]) + bytes.fromhex("04112233445566"), uid="04112233445566")
    v("swipe_10_seq_max", "SWIPE", 3, 65535, bytes([10]) + bytes.fromhex("00112233445566778899"),
      uid="00112233445566778899")
    v("swipe_seq_256", "SWIPE", 3, 256, bytes([4]) + bytes.fromhex("00000000"), uid="00000000")
    v("result_ko_two_lines", "RESULT", 4, 7, bytes([0]) + text(b"Unknown card\nAsk the office"),
      status=0, text="Unknown card\nAsk the office")
    v("result_ok_empty", "RESULT", 4, 3, bytes([2]) + text(b""), status=2, text="")
    v("heartbeat", "HEARTBEAT", 5, 0, b"")
    v("nak_bad_crc", "NAK", 6, 0, bytes([1, 0]), reason="BAD_CRC", detail=0)
    v("nak_not_ready_seq", "NAK", 6, 5, bytes([6, 0]), reason="NOT_READY", detail=0)

    invalid = []

    def bad(name: str, raw: bytes, verdict: str) -> None:
        invalid.append({"name": name, "frame_hex": raw.hex().upper(), "verdict": verdict})

    hb = body(5, 0, b"")
    corrupt = bytearray(hb)
    corrupt[-1] ^= 1
    bad("heartbeat_bad_crc", cobs(bytes(corrupt)) + b"\x00", "BAD_CRC")
    bad("code_past_end", bytes([0x05, 0x01, 0x02, 0x00]), "BAD_FRAMING")
    bad("short_body", cobs(b"\x01\x05\x00\x00\x00") + b"\x00", "BAD_FRAMING")
    bad("too_long", b"\x01" * 66 + b"\x00", "TOO_LONG")
    bad("version_2", cobs(body(5, 0, b"", version=2)) + b"\x00", "UNSUPPORTED_VERSION")
    bad("unknown_type", cobs(body(0x42, 0, b"")) + b"\x00", "UNKNOWN_TYPE")
    bad("swipe_uid_5", cobs(body(3, 1, bytes([5]) + b"\x01\x02\x03\x04\x05")) + b"\x00", "BAD_PAYLOAD")
    bad("swipe_len_mismatch", cobs(body(3, 1, bytes([4]) + b"\x01\x02\x03")) + b"\x00", "BAD_PAYLOAD")
    bad("result_status_1", cobs(body(4, 1, bytes([1]) + text(b"x"))) + b"\x00", "BAD_PAYLOAD")
    bad("result_three_lines", cobs(body(4, 1, bytes([2]) + text(b"a\nb\nc"))) + b"\x00", "BAD_PAYLOAD")
    bad("result_line_17", cobs(body(4, 1, bytes([2]) + text(b"A" * 17))) + b"\x00", "BAD_PAYLOAD")
    bad("result_tab", cobs(body(4, 1, bytes([2]) + text(b"a\tb"))) + b"\x00", "BAD_PAYLOAD")
    bad("hello_ack_hb_99", cobs(body(2, 0, bytes([1, 1]) + struct.pack(">H", 99) + text(b""))) + b"\x00", "BAD_PAYLOAD")
    bad("result_len_too_big", cobs(body(4, 1, bytes([2, 3]) + b"ab")) + b"\x00", "BAD_PAYLOAD")
    bad("result_len_too_small", cobs(body(4, 1, bytes([2, 1]) + b"ab")) + b"\x00", "BAD_PAYLOAD")
    bad("hello_ack_len_34", cobs(body(2, 0, bytes([1, 1, 3, 232, 34]) + b"A" * 16 + b"\n" + b"B" * 17))
        + b"\x00", "BAD_PAYLOAD")
    bad("hello_short", cobs(body(1, 0, bytes(15))) + b"\x00", "BAD_PAYLOAD")
    bad("heartbeat_payload", cobs(body(5, 0, b"\x00")) + b"\x00", "BAD_PAYLOAD")
    # tests/vectors/protocol.json makes reasons outside 1..7 BAD_PAYLOAD.
    bad("nak_reason_238", cobs(body(6, 0, bytes([0xEE, 9]))) + b"\x00", "BAD_PAYLOAD")
    bad("swipe_seq_0", cobs(body(3, 0, bytes([4]) + b"\x01\x02\x03\x04")) + b"\x00", "BAD_PAYLOAD")
    bad("nak_long", cobs(body(6, 0, b"\x01\x00\x00")) + b"\x00", "BAD_PAYLOAD")

    json.dump({"valid": valid, "invalid": invalid}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
