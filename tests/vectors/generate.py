"""Generate tests/vectors/protocol.json from the Python codec.

    .venv/bin/python -m tests.vectors.generate          # rewrite the file
    .venv/bin/python -m tests.vectors.generate --check  # exit 1 if it is stale

The file is consumed byte for byte by the firmware's C++ host tests, so its shape is
stable: {"protocol_version", "crc_check", "valid": [...], "invalid": [...]} with
fields encoded as described in `fields_of`. test_vectors.py checks the committed file
equals what this script produces.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

from gateway.protocol import (
    MAX_ENCODED,
    VERSION,
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    MessageType,
    Nak,
    NakReason,
    Result,
    Role,
    Status,
    Swipe,
    cobs,
    encode,
    encode_body,
    message_seq,
    message_type,
)
from gateway.protocol.crc import crc16

VECTORS = Path(__file__).with_name("protocol.json")

NOTES = [
    "frame_hex is the exact wire bytes: COBS(body) followed by the 0x00 delimiter.",
    "body_hex is the frame body before COBS: version, type, seq (BE), payload, CRC-16 (BE).",
    "fields: ints as numbers, byte strings as upper-case hex, text as a string, enums as "
    "their integer values, accepted as a boolean, fw_version as [major, minor, patch]; "
    "every message has seq (0 for HELLO, HELLO_ACK and HEARTBEAT).",
    "invalid: verdict is the NakReason name a decoder reports; seq and detail are what a "
    "NAK answering the frame carries (seq is 0 unless the CRC was valid).",
    "The 254-byte COBS block boundary (code byte 0xFF) cannot occur with MAX_BODY = 64; "
    "it is covered by the COBS unit tests instead (tests/protocol/test_cobs.py).",
]

HW_ID = bytes.fromhex("0102030405060708")


def fields_of(msg: Message) -> dict[str, Any]:
    """A message as JSON fields."""
    seq = message_seq(msg)
    if isinstance(msg, Hello):
        return {
            "seq": seq,
            "role": int(msg.role),
            "session": msg.session,
            "hardware_id": msg.hardware_id.hex().upper(),
            "fw_version": list(msg.fw_version),
        }
    if isinstance(msg, HelloAck):
        return {
            "seq": seq,
            "accepted": msg.accepted,
            "role": int(msg.role),
            "heartbeat_ms": msg.heartbeat_ms,
            "text": msg.text,
        }
    if isinstance(msg, Swipe):
        return {"seq": seq, "uid": msg.uid.hex().upper()}
    if isinstance(msg, Result):
        return {"seq": seq, "status": int(msg.status), "text": msg.text}
    if isinstance(msg, Nak):
        return {"seq": seq, "reason": int(msg.reason), "detail": msg.detail}
    return {"seq": seq}


def message_of(kind: str, fields: dict[str, Any]) -> Message:
    """The inverse of fields_of, given the vector's type name."""
    t = MessageType[kind]
    if t is MessageType.HELLO:
        return Hello(
            Role(fields["role"]),
            fields["session"],
            bytes.fromhex(fields["hardware_id"]),
            (fields["fw_version"][0], fields["fw_version"][1], fields["fw_version"][2]),
        )
    if t is MessageType.HELLO_ACK:
        return HelloAck(
            fields["accepted"], Role(fields["role"]), fields["heartbeat_ms"], fields["text"]
        )
    if t is MessageType.SWIPE:
        return Swipe(fields["seq"], bytes.fromhex(fields["uid"]))
    if t is MessageType.RESULT:
        return Result(fields["seq"], Status(fields["status"]), fields["text"])
    if t is MessageType.NAK:
        return Nak(NakReason(fields["reason"]), fields["detail"], fields["seq"])
    return Heartbeat()


def _first_swipe_with_zero_crc_byte(uid: bytes, index: int) -> Swipe:
    """The first seq whose SWIPE CRC has 0x00 as byte `index` (0 = high byte)."""
    for seq in range(1, 0x10000):
        msg = Swipe(seq, uid)
        if encode_body(msg)[-2 + index] == 0:
            return msg
    raise AssertionError("no such seq")


def _valid_messages() -> list[tuple[str, Message]]:
    uid4 = bytes.fromhex("04A1B2C3")
    return [
        ("hello_worked_example", Hello(Role.IN, 1, HW_ID, (1, 0, 0))),
        ("hello_role_out", Hello(Role.OUT, 0x2A, HW_ID, (1, 2, 3))),
        ("hello_role_unset", Hello(Role.UNSET, 7, HW_ID, (0, 9, 255))),
        ("hello_max_session", Hello(Role.IN, 0xFFFFFFFF, HW_ID, (255, 255, 255))),
        ("hello_zero_bytes", Hello(Role.UNSET, 0, bytes(8), (0, 0, 0))),
        ("hello_ack_worked_example", HelloAck(True, Role.IN, 1000, "Clock in")),
        ("hello_ack_out_two_lines", HelloAck(True, Role.OUT, 1000, "Salida\nAcerque tarjeta")),
        ("hello_ack_refused", HelloAck(False, Role.IN, 1000, "Wrong reader\nCheck cables")),
        ("hello_ack_min_heartbeat_empty_text", HelloAck(True, Role.IN, 100, "")),
        ("hello_ack_max_heartbeat", HelloAck(True, Role.OUT, 60000, "Idle")),
        ("swipe_worked_example_uid4", Swipe(1, uid4)),
        ("swipe_uid7", Swipe(2, bytes.fromhex("04112233445566"))),
        ("swipe_uid10", Swipe(3, bytes.fromhex("04112233445566778899"))),
        ("swipe_uid_with_zero_bytes", Swipe(4, bytes.fromhex("00A100C3"))),
        ("swipe_uid_all_zero", Swipe(5, bytes(7))),
        ("swipe_crc_high_byte_zero", _first_swipe_with_zero_crc_byte(uid4, 0)),
        ("swipe_crc_low_byte_zero", _first_swipe_with_zero_crc_byte(uid4, 1)),
        ("swipe_max_seq", Swipe(65535, uid4)),
        ("swipe_seq_256_has_zero_byte", Swipe(256, uid4)),
        ("result_worked_example_ok", Result(1, Status.OK, "In - Ana")),
        ("result_ok_es", Result(2, Status.OK, "Entrada - Ana")),
        ("result_ko", Result(3, Status.KO, "Error en la\nentrada")),
        ("result_longest_text", Result(4, Status.OK, "Salida - Maria J\nGarcia-Lopez 8h0")),
        ("result_empty_text", Result(5, Status.KO, "")),
        ("result_only_line_feed", Result(6, Status.OK, "\n")),
        ("result_printable_edges", Result(7, Status.OK, " !~}\n~ ")),
        ("result_max_seq", Result(65535, Status.KO, "Unknown card")),
        ("heartbeat", Heartbeat()),
        *[
            (f"nak_{reason.name.lower()}", Nak(reason, detail, seq))
            for reason, detail, seq in (
                (NakReason.BAD_CRC, 0, 0),
                (NakReason.UNSUPPORTED_VERSION, VERSION, 0),
                (NakReason.UNKNOWN_TYPE, 9, 12),
                (NakReason.TOO_LONG, 0, 0),
                (NakReason.BAD_PAYLOAD, int(MessageType.SWIPE), 3),
                (NakReason.NOT_READY, 0, 17),
                (NakReason.BAD_FRAMING, 0, 0),
            )
        ],
        ("nak_max_seq_max_detail", Nak(NakReason.UNKNOWN_TYPE, 255, 65535)),
    ]


def _frame(version: int, kind: int, seq: int, payload: bytes, *, crc_xor: int = 0) -> bytes:
    head = struct.pack(">BBH", version, kind, seq) + payload
    return cobs.encode(head + struct.pack(">H", crc16(head) ^ crc_xor)) + b"\x00"


def _t(text: bytes) -> bytes:
    """A length-prefixed text field."""
    return bytes((len(text),)) + text


def _flip(frame: bytes, body_index: int, mask: int) -> bytes:
    """Re-encode a valid frame with one body byte changed (CRC left alone)."""
    body = bytearray(cobs.decode(frame[:-1]))
    body[body_index] ^= mask
    return cobs.encode(bytes(body)) + b"\x00"


def _invalid_frames() -> list[tuple[str, bytes, NakReason, int, int]]:
    swipe = int(MessageType.SWIPE)
    result = int(MessageType.RESULT)
    hello = int(MessageType.HELLO)
    ack = int(MessageType.HELLO_ACK)
    beat = int(MessageType.HEARTBEAT)
    nak = int(MessageType.NAK)
    uid = bytes.fromhex("04A1B2C3")
    good = encode(Swipe(9, uid))
    hello_payload = struct.pack(">BI8sBBB", 1, 1, HW_ID, 1, 0, 0)
    bad_payload = NakReason.BAD_PAYLOAD
    return [
        # name, frame, verdict, seq, detail
        ("bad_crc_low_byte", _flip(good, -1, 0x01), NakReason.BAD_CRC, 0, 0),
        ("bad_crc_high_byte", _flip(good, -2, 0x80), NakReason.BAD_CRC, 0, 0),
        ("bad_crc_payload_bit_flipped", _flip(good, 6, 0x10), NakReason.BAD_CRC, 0, 0),
        ("bad_crc_seq_bit_flipped", _flip(good, 3, 0x01), NakReason.BAD_CRC, 0, 0),
        (
            "bad_crc_crc_swapped",
            _frame(1, swipe, 9, b"\x04" + uid, crc_xor=0xFFFF),
            NakReason.BAD_CRC,
            0,
            0,
        ),
        (
            "unsupported_version_2",
            _frame(2, swipe, 9, b"\x04" + uid),
            NakReason.UNSUPPORTED_VERSION,
            0,
            VERSION,
        ),
        (
            "unsupported_version_0",
            _frame(0, beat, 0, b""),
            NakReason.UNSUPPORTED_VERSION,
            0,
            VERSION,
        ),
        (
            "unsupported_version_255",
            _frame(255, 0x40, 3, b"future"),
            NakReason.UNSUPPORTED_VERSION,
            0,
            VERSION,
        ),
        ("unknown_type_0", _frame(1, 0, 5, b""), NakReason.UNKNOWN_TYPE, 5, 0),
        ("unknown_type_7", _frame(1, 7, 6, b"\x01\x02"), NakReason.UNKNOWN_TYPE, 6, 7),
        ("unknown_type_255", _frame(1, 255, 0, b""), NakReason.UNKNOWN_TYPE, 0, 255),
        ("too_long_66_bytes", b"\x42" * (MAX_ENCODED + 1) + b"\x00", NakReason.TOO_LONG, 0, 0),
        (
            "too_long_body_65_bytes",
            _frame(1, result, 1, b"\x02" + _t(b"A" * 57)),
            NakReason.TOO_LONG,
            0,
            0,
        ),
        (
            "too_long_noise_300_bytes",
            bytes((i % 255) + 1 for i in range(300)) + b"\x00",
            NakReason.TOO_LONG,
            0,
            0,
        ),
        ("bad_payload_hello_short", _frame(1, hello, 0, hello_payload[:-1]), bad_payload, 0, hello),
        (
            "bad_payload_hello_long",
            _frame(1, hello, 0, hello_payload + b"\x00"),
            bad_payload,
            0,
            hello,
        ),
        (
            "bad_payload_hello_role_3",
            _frame(1, hello, 0, b"\x03" + hello_payload[1:]),
            bad_payload,
            0,
            hello,
        ),
        ("bad_payload_hello_ack_short", _frame(1, ack, 0, b"\x01\x01\x03"), bad_payload, 0, ack),
        (
            "bad_payload_hello_ack_accepted_2",
            _frame(1, ack, 0, b"\x02\x01\x03\xe8\x00"),
            bad_payload,
            0,
            ack,
        ),
        (
            "bad_payload_hello_ack_role_3",
            _frame(1, ack, 0, b"\x01\x03\x03\xe8\x00"),
            bad_payload,
            0,
            ack,
        ),
        (
            "bad_payload_hello_ack_accepted_role_unset",
            _frame(1, ack, 0, b"\x01\x00\x03\xe8\x00"),
            bad_payload,
            0,
            ack,
        ),
        (
            "bad_payload_hello_ack_heartbeat_99",
            _frame(1, ack, 0, b"\x01\x01\x00\x63\x00"),
            bad_payload,
            0,
            ack,
        ),
        (
            "bad_payload_hello_ack_heartbeat_60001",
            _frame(1, ack, 0, b"\x01\x01\xea\x61\x00"),
            bad_payload,
            0,
            ack,
        ),
        ("bad_payload_swipe_empty", _frame(1, swipe, 9, b""), bad_payload, 9, swipe),
        (
            "bad_payload_swipe_uid_len_5",
            _frame(1, swipe, 9, b"\x05" + uid + b"\x01"),
            bad_payload,
            9,
            swipe,
        ),
        (
            "bad_payload_swipe_uid_len_mismatch",
            _frame(1, swipe, 9, b"\x07" + uid),
            bad_payload,
            9,
            swipe,
        ),
        (
            "bad_payload_swipe_trailing_byte",
            _frame(1, swipe, 9, b"\x04" + uid + b"\x00"),
            bad_payload,
            9,
            swipe,
        ),
        ("bad_payload_swipe_seq_0", _frame(1, swipe, 0, b"\x04" + uid), bad_payload, 0, swipe),
        ("bad_payload_result_empty", _frame(1, result, 2, b""), bad_payload, 2, result),
        (
            "bad_payload_result_no_text_length",
            _frame(1, result, 2, b"\x02"),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_text_length_short",
            _frame(1, result, 2, b"\x02\x02Hi!"),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_text_length_long",
            _frame(1, result, 2, b"\x02\x04Hi!"),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_extra_zero_byte",
            _frame(1, result, 2, b"\x02" + _t(b"Ana") + b"\x00"),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_hello_ack_no_text_length",
            _frame(1, ack, 0, b"\x01\x01\x03\xe8"),
            bad_payload,
            0,
            ack,
        ),
        (
            "bad_payload_result_status_1",
            _frame(1, result, 2, b"\x01" + _t(b"Hi")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_seq_0",
            _frame(1, result, 0, b"\x02" + _t(b"Hi")),
            bad_payload,
            0,
            result,
        ),
        (
            "bad_payload_result_control_char",
            _frame(1, result, 2, b"\x02" + _t(b"Hi\tthere")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_carriage_return",
            _frame(1, result, 2, b"\x02" + _t(b"Hi\r\nthere")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_non_ascii",
            _frame(1, result, 2, b"\x02" + _t(b"Mar\xc3\xada")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_del",
            _frame(1, result, 2, b"\x02" + _t(b"Hi\x7f")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_three_lines",
            _frame(1, result, 2, b"\x02" + _t(b"a\nb\nc")),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_line_17",
            _frame(1, result, 2, b"\x02" + _t(b"A" * 17)),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_second_line_17",
            _frame(1, result, 2, b"\x02" + _t(b"A\n" + b"B" * 17)),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_text_34",
            _frame(1, result, 2, b"\x02" + _t(b"A" * 16 + b"\n" + b"B" * 17)),
            bad_payload,
            2,
            result,
        ),
        (
            "bad_payload_result_nul_in_text",
            _frame(1, result, 2, b"\x02" + _t(b"Ana\x00")),
            bad_payload,
            2,
            result,
        ),
        ("bad_payload_heartbeat_with_payload", _frame(1, beat, 0, b"\x00"), bad_payload, 0, beat),
        ("bad_payload_nak_short", _frame(1, nak, 0, b"\x01"), bad_payload, 0, nak),
        ("bad_payload_nak_long", _frame(1, nak, 0, b"\x01\x00\x00"), bad_payload, 0, nak),
        ("bad_payload_nak_reason_0", _frame(1, nak, 4, b"\x00\x00"), bad_payload, 4, nak),
        ("bad_payload_nak_reason_8", _frame(1, nak, 4, b"\x08\x00"), bad_payload, 4, nak),
        ("bad_framing_code_past_end", b"\x05\x01\x02\x00", NakReason.BAD_FRAMING, 0, 0),
        ("bad_framing_second_code_past_end", b"\x02\x01\x09\x01\x00", NakReason.BAD_FRAMING, 0, 0),
        ("bad_framing_empty_body", b"\x01\x00", NakReason.BAD_FRAMING, 0, 0),
        (
            "bad_framing_body_5_bytes",
            cobs.encode(b"\x01\x05\x00\x00\x12") + b"\x00",
            NakReason.BAD_FRAMING,
            0,
            0,
        ),
        (
            "bad_framing_header_only",
            cobs.encode(b"\x01\x05\x00\x00") + b"\x00",
            NakReason.BAD_FRAMING,
            0,
            0,
        ),
        ("bad_framing_truncated_frame", good[:4] + b"\x00", NakReason.BAD_FRAMING, 0, 0),
    ]


def generate() -> dict[str, Any]:
    valid = []
    for name, msg in _valid_messages():
        valid.append(
            {
                "name": name,
                "type": message_type(msg).name,
                "fields": fields_of(msg),
                "body_hex": encode_body(msg).hex().upper(),
                "frame_hex": encode(msg).hex().upper(),
            }
        )
    invalid = [
        {
            "name": name,
            "frame_hex": frame.hex().upper(),
            "verdict": verdict.name,
            "seq": seq,
            "detail": detail,
        }
        for name, frame, verdict, seq, detail in _invalid_frames()
    ]
    return {
        "protocol_version": VERSION,
        "crc_check": {"input_ascii": "123456789", "crc": f"{crc16(b'123456789'):04X}"},
        "notes": NOTES,
        "valid": valid,
        "invalid": invalid,
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not VECTORS.exists() or VECTORS.read_text() != text:
            print(f"{VECTORS} is stale: run python -m tests.vectors.generate", file=sys.stderr)
            return 1
        return 0
    VECTORS.write_text(text)
    print(f"wrote {VECTORS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
