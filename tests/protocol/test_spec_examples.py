"""The examples written in docs/PROTOCOL.md agree with the codec and the vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.protocol import cobs
from gateway.protocol.crc import crc16
from tests.vectors.generate import VECTORS

SPEC = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()
VALID = {v["name"]: v for v in json.loads(VECTORS.read_text())["valid"]}


def _block_after(marker: str) -> list[str]:
    start = SPEC.index(marker)
    block = SPEC[SPEC.index("```", start) + 3 :]
    return block[: block.index("```")].strip().splitlines()


def test_worked_example_wire_bytes_match_the_vectors() -> None:
    lines = _block_after("On the wire (COBS, then the delimiter):")
    frames = {line.split()[0]: "".join(line.split()[1:]) for line in lines}
    assert frames == {
        "HELLO": VALID["hello_worked_example"]["frame_hex"],
        "HELLO_ACK": VALID["hello_ack_worked_example"]["frame_hex"],
        "SWIPE": VALID["swipe_worked_example_uid4"]["frame_hex"],
        "RESULT": VALID["result_worked_example_ok"]["frame_hex"],
    }


def test_worked_example_bodies_match_the_vectors() -> None:
    lines = _block_after("taps card `04 A1 B2 C3`:")
    names = ["hello_worked_example", "hello_ack_worked_example", "swipe_worked_example_uid4",
             "result_worked_example_ok"]  # fmt: skip
    for line, name in zip(lines, names, strict=True):
        body = line.split("body", 1)[1]
        text = re.search(r'"([^"]*)"', body)
        hex_part = re.sub(r'"[^"]*"', text.group(1).encode().hex() if text else "", body)
        assert "".join(hex_part.split()).upper() == VALID[name]["body_hex"]


def test_crc_check_value_in_the_spec() -> None:
    assert "**`0x29B1`**" in SPEC and crc16(b"123456789") == 0x29B1


def test_cobs_examples_in_the_spec() -> None:
    for body, encoded in re.findall(r"body `([0-9A-F ]+)` → `([0-9A-F ]+)`", SPEC):
        assert cobs.encode(bytes.fromhex(body)) == bytes.fromhex(encoded)
    assert len(re.findall(r"body `([0-9A-F ]+)` → `", SPEC)) == 3
