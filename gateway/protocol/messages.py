"""The six version-1 messages as validated, immutable values (docs/PROTOCOL.md section 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

from gateway.protocol.constants import (
    HARDWARE_ID_LEN,
    LCD_COLS,
    LCD_ROWS,
    MAX_HEARTBEAT_MS,
    MAX_SEQ,
    MAX_TEXT,
    MIN_HEARTBEAT_MS,
    UID_LENGTHS,
)


class MessageType(IntEnum):
    HELLO = 1
    HELLO_ACK = 2
    SWIPE = 3
    RESULT = 4
    HEARTBEAT = 5
    NAK = 6


class Role(IntEnum):
    UNSET = 0
    IN = 1
    OUT = 2


class Status(IntEnum):
    # The values the original readers understood; 1 is deliberately unused.
    KO = 0
    OK = 2


class NakReason(IntEnum):
    BAD_CRC = 1
    UNSUPPORTED_VERSION = 2
    UNKNOWN_TYPE = 3
    TOO_LONG = 4
    BAD_PAYLOAD = 5
    NOT_READY = 6
    BAD_FRAMING = 7


_PRINTABLE = frozenset(range(0x20, 0x7F))
_VALID_TEXT = re.compile(rf"[ -~]{{0,{LCD_COLS}}}(?:\n[ -~]{{0,{LCD_COLS}}})?")


def validate_text(text: str) -> None:
    """Raise ValueError unless `text` fits the LCD as section 4.1 defines it."""
    if not isinstance(text, str):
        raise ValueError(f"display text must be a str, not {type(text).__name__}")
    if _VALID_TEXT.fullmatch(text):
        return
    # Slow path: say what is wrong.
    if len(text) > MAX_TEXT:
        raise ValueError(f"display text is {len(text)} characters, at most {MAX_TEXT} allowed")
    lines = text.split("\n")
    if len(lines) > LCD_ROWS:
        raise ValueError(f"display text has {len(lines)} lines, at most {LCD_ROWS} allowed")
    for number, line in enumerate(lines, 1):
        if len(line) > LCD_COLS:
            raise ValueError(
                f"display line {number} is {len(line)} characters, at most {LCD_COLS} allowed"
            )
        for ch in line:
            if ord(ch) not in _PRINTABLE:
                raise ValueError(f"display text contains non-printable character {ch!r}")
    raise AssertionError(f"unreachable: {text!r}")  # the checks above cover the regex


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")


def _check_enum(name: str, value: int, enum: type[IntEnum]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a {enum.__name__}, got {value!r}")
    if value not in enum._value2member_map_:
        allowed = ", ".join(f"{m.value} ({m.name})" for m in enum)
        raise ValueError(f"{name} must be one of {allowed}, got {value}")


def _check_bytes(name: str, value: bytes) -> None:
    if not isinstance(value, bytes):
        raise ValueError(f"{name} must be bytes, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Hello:
    """Reader to gateway: who I am (section 4.2). Carries seq 0."""

    role: Role
    session: int
    hardware_id: bytes
    fw_version: tuple[int, int, int]

    def __post_init__(self) -> None:
        _check_enum("role", self.role, Role)
        object.__setattr__(self, "role", Role(self.role))
        _check_int("session", self.session, 0, 0xFFFFFFFF)
        _check_bytes("hardware_id", self.hardware_id)
        if len(self.hardware_id) != HARDWARE_ID_LEN:
            raise ValueError(
                f"hardware_id must be {HARDWARE_ID_LEN} bytes, got {len(self.hardware_id)}"
            )
        version = tuple(self.fw_version)
        if len(version) != 3:
            raise ValueError(f"fw_version must have 3 parts, got {len(version)}")
        for part, value in zip(("major", "minor", "patch"), version, strict=True):
            _check_int(f"fw_version {part}", value, 0, 255)
        object.__setattr__(self, "fw_version", version)


@dataclass(frozen=True, slots=True)
class HelloAck:
    """Gateway to reader: accepted or refused, the assigned role, heartbeat, idle text."""

    accepted: bool
    role: Role
    heartbeat_ms: int
    text: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.accepted, bool):
            raise ValueError(f"accepted must be a bool, got {self.accepted!r}")
        _check_enum("role", self.role, Role)
        object.__setattr__(self, "role", Role(self.role))
        if self.accepted and self.role == Role.UNSET:
            raise ValueError("an accepting HELLO_ACK must assign role IN or OUT")
        _check_int("heartbeat_ms", self.heartbeat_ms, MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS)
        validate_text(self.text)


@dataclass(frozen=True, slots=True)
class Swipe:
    """Reader to gateway: a card was tapped. `seq` is 1..65535 within the session."""

    seq: int
    uid: bytes

    def __post_init__(self) -> None:
        _check_int("seq", self.seq, 1, MAX_SEQ)
        _check_bytes("uid", self.uid)
        if len(self.uid) not in UID_LENGTHS:
            raise ValueError(f"uid must be 4, 7 or 10 bytes, got {len(self.uid)}")

    @property
    def card_key(self) -> str:
        """The UID as upper-case hex, as the store keys cards: `04A1B2C3`."""
        return self.uid.hex().upper()


@dataclass(frozen=True, slots=True)
class Result:
    """Gateway to reader: the answer to the SWIPE with the same `seq`."""

    seq: int
    status: Status
    text: str = ""

    def __post_init__(self) -> None:
        _check_int("seq", self.seq, 1, MAX_SEQ)
        _check_enum("status", self.status, Status)
        object.__setattr__(self, "status", Status(self.status))
        validate_text(self.text)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Both ways: I am alive (section 6.2). Carries seq 0."""


@dataclass(frozen=True, slots=True)
class Nak:
    """Both ways: the frame with `seq` (0 if unknown) was refused for `reason`."""

    reason: NakReason
    detail: int = 0
    seq: int = field(default=0)

    def __post_init__(self) -> None:
        _check_enum("reason", self.reason, NakReason)
        object.__setattr__(self, "reason", NakReason(self.reason))
        _check_int("detail", self.detail, 0, 255)
        _check_int("seq", self.seq, 0, MAX_SEQ)


Message = Hello | HelloAck | Swipe | Result | Heartbeat | Nak

MESSAGE_TYPES: dict[type[Message], MessageType] = {
    Hello: MessageType.HELLO,
    HelloAck: MessageType.HELLO_ACK,
    Swipe: MessageType.SWIPE,
    Result: MessageType.RESULT,
    Heartbeat: MessageType.HEARTBEAT,
    Nak: MessageType.NAK,
}


def message_type(msg: Message) -> MessageType:
    return MESSAGE_TYPES[type(msg)]


def message_seq(msg: Message) -> int:
    """The `seq` a message carries on the wire (0 for HELLO, HELLO_ACK, HEARTBEAT)."""
    if isinstance(msg, Swipe | Result | Nak):
        return msg.seq
    return 0
