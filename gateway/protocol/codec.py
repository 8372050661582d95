"""Frames to messages and back: encode, decode one frame, and the incremental Decoder.

Pure code: no ports, no clocks, no asyncio. The Decoder never raises on any input;
every invalid frame becomes a DecodeError whose reason, detail and seq are what a
NAK answering it would carry (docs/PROTOCOL.md section 4.7).
"""

from __future__ import annotations

import re
import struct
from binascii import crc_hqx
from collections.abc import Callable
from dataclasses import dataclass

from gateway.protocol import cobs
from gateway.protocol.constants import (
    CRC_LEN,
    HARDWARE_ID_LEN,
    HEADER_LEN,
    LCD_COLS,
    MAX_BODY,
    MAX_ENCODED,
    MIN_BODY,
    UID_LENGTHS,
    VERSION,
)
from gateway.protocol.crc import CRC_INIT, crc16
from gateway.protocol.messages import (
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    MessageType,
    Nak,
    NakReason,
    Result,
    Status,
    Swipe,
)

_HEADER = struct.Struct(">BBH")
_CRC = struct.Struct(">H")
_HELLO = struct.Struct(f">BI{HARDWARE_ID_LEN}sBBB")
_HELLO_ACK = struct.Struct(">BBH")
_NAK = struct.Struct(">BB")
_HEARTBEAT = Heartbeat()


@dataclass(frozen=True, slots=True)
class DecodeError:
    """An invalid frame: the verdict, and what a NAK answering it would carry.

    `seq` is the frame's seq when its CRC was valid (else 0); `raw` is the encoded
    frame without its delimiter, truncated to MAX_ENCODED bytes.
    """

    reason: NakReason
    detail: int
    seq: int
    raw: bytes

    def describe(self) -> str:
        """One line for a log: the verdict, its detail and the offending bytes."""
        what = {
            NakReason.BAD_CRC: "CRC mismatch",
            NakReason.UNSUPPORTED_VERSION: "unsupported protocol version",
            NakReason.UNKNOWN_TYPE: f"unknown message type {self.detail}",
            NakReason.TOO_LONG: f"frame longer than {MAX_ENCODED} bytes",
            NakReason.BAD_PAYLOAD: f"bad payload for message type {self.detail}",
            NakReason.NOT_READY: "not ready",
            NakReason.BAD_FRAMING: "bad COBS framing or body too short",
        }[self.reason]
        shown = self.raw[:24].hex()
        more = "..." if len(self.raw) > 24 else ""
        return f"{self.reason.name}: {what} (seq {self.seq}); frame {shown}{more}"

    def to_nak(self) -> Nak:
        """The NAK that answers this frame."""
        return Nak(self.reason, self.detail, self.seq)


# --- encoding -------------------------------------------------------------------------


def _text(text: str) -> bytes:
    # Length-prefixed like the UID: every payload states its own length, so a body that
    # gained or lost bytes through a framing error never parses (PROTOCOL.md section 4.1).
    data = text.encode("ascii")
    return bytes((len(data),)) + data


def encode_payload(msg: Message) -> tuple[MessageType, int, bytes]:
    """The (type, seq, payload) of a message."""
    if isinstance(msg, Swipe):
        return MessageType.SWIPE, msg.seq, bytes((len(msg.uid),)) + msg.uid
    if isinstance(msg, Result):
        return MessageType.RESULT, msg.seq, bytes((msg.status,)) + _text(msg.text)
    if isinstance(msg, Heartbeat):
        return MessageType.HEARTBEAT, 0, b""
    if isinstance(msg, Hello):
        major, minor, patch = msg.fw_version
        payload = _HELLO.pack(msg.role, msg.session, msg.hardware_id, major, minor, patch)
        return MessageType.HELLO, 0, payload
    if isinstance(msg, HelloAck):
        head = _HELLO_ACK.pack(int(msg.accepted), msg.role, msg.heartbeat_ms)
        return MessageType.HELLO_ACK, 0, head + _text(msg.text)
    if isinstance(msg, Nak):
        return MessageType.NAK, msg.seq, _NAK.pack(msg.reason, msg.detail)
    raise TypeError(f"not a protocol message: {msg!r}")


def encode_body(msg: Message) -> bytes:
    """The frame body before COBS: header, payload and CRC."""
    kind, seq, payload = encode_payload(msg)
    head = _HEADER.pack(VERSION, kind, seq) + payload
    return head + _CRC.pack(crc16(head))


def encode(msg: Message) -> bytes:
    """The full wire frame: COBS(body) followed by the 0x00 delimiter."""
    return cobs.encode(encode_body(msg)) + b"\x00"


# --- decoding -------------------------------------------------------------------------


class _BadPayload(Exception):
    """A payload that does not match its layout; the caller turns it into BAD_PAYLOAD."""


def _parse_text(data: bytes) -> str:
    """A length-prefixed text that must fill `data` exactly."""
    if not data or len(data) != 1 + data[0]:
        raise _BadPayload
    # Non-ASCII bytes raise UnicodeDecodeError (a ValueError); the constructors check
    # printability, line count and line length.
    return data[1:].decode("ascii")


def _parse_hello(seq: int, p: bytes) -> Message:
    if len(p) != _HELLO.size:
        raise _BadPayload
    role, session, hw_id, major, minor, patch = _HELLO.unpack(p)
    return Hello(role, session, hw_id, (major, minor, patch))


def _parse_hello_ack(seq: int, p: bytes) -> Message:
    if len(p) < _HELLO_ACK.size:
        raise _BadPayload
    accepted, role, heartbeat_ms = _HELLO_ACK.unpack_from(p)
    if accepted > 1:
        raise _BadPayload
    return HelloAck(bool(accepted), role, heartbeat_ms, _parse_text(p[_HELLO_ACK.size :]))


def _parse_swipe(seq: int, p: bytes) -> Message:
    if not p or len(p) != 1 + p[0]:
        raise _BadPayload
    return Swipe(seq, p[1:])


def _parse_result(seq: int, p: bytes) -> Message:
    if not p:
        raise _BadPayload
    return Result(seq, Status(p[0]), _parse_text(p[1:]))


def _parse_heartbeat(seq: int, p: bytes) -> Message:
    if p:
        raise _BadPayload
    return _HEARTBEAT


def _parse_nak(seq: int, p: bytes) -> Message:
    if len(p) != _NAK.size:
        raise _BadPayload
    reason, detail = _NAK.unpack(p)
    return Nak(reason, detail, seq)


_PARSERS: dict[int, Callable[[int, bytes], Message]] = {
    MessageType.HELLO: _parse_hello,
    MessageType.HELLO_ACK: _parse_hello_ack,
    MessageType.SWIPE: _parse_swipe,
    MessageType.RESULT: _parse_result,
    MessageType.HEARTBEAT: _parse_heartbeat,
    MessageType.NAK: _parse_nak,
}

# Fast paths for the frequent messages (SWIPE, RESULT, HEARTBEAT): they check exactly
# what the constructors check, then build the frozen instance without re-validating.
# tests/protocol/test_properties.py re-runs the constructors on every decoded message.
_T_SWIPE = int(MessageType.SWIPE)
_T_RESULT = int(MessageType.RESULT)
_T_HEARTBEAT = int(MessageType.HEARTBEAT)
_UID_LENGTHS = frozenset(UID_LENGTHS)
_STATUSES = {int(s): s for s in Status}
_TEXT = re.compile(rb"[\x20-\x7e]{0,%d}(?:\n[\x20-\x7e]{0,%d})?" % (LCD_COLS, LCD_COLS))
_new = object.__new__
_set = object.__setattr__


def _fast(kind: int, seq: int, body: bytes, n: int) -> Message | None:
    """The message for a hot type with a valid payload, else None (the slow path decides)."""
    if kind == _T_SWIPE:
        uid_len = body[4]
        if seq and uid_len in _UID_LENGTHS and n == MIN_BODY + 1 + uid_len:
            swipe = _new(Swipe)
            _set(swipe, "seq", seq)
            _set(swipe, "uid", body[5 : 5 + uid_len])
            return swipe
    elif kind == _T_RESULT:
        status = _STATUSES.get(body[4])
        text_len = body[5]
        if seq and status is not None and n == MIN_BODY + 2 + text_len:
            text = body[6 : 6 + text_len]
            if _TEXT.fullmatch(text):
                result = _new(Result)
                _set(result, "seq", seq)
                _set(result, "status", status)
                _set(result, "text", text.decode("ascii"))
                return result
    elif kind == _T_HEARTBEAT and n == MIN_BODY:
        return _HEARTBEAT
    return None


def decode_body(body: bytes, raw: bytes = b"") -> Message | DecodeError:
    """Check and parse a frame body (after COBS decoding). Never raises."""
    n = len(body)
    if n < MIN_BODY or n > MAX_BODY:
        return DecodeError(NakReason.BAD_FRAMING, 0, 0, raw)
    # The CRC is checked first: it is the one part every version keeps (section 4.7),
    # so line noise is reported as BAD_CRC whatever its first byte. A body followed by
    # its own big-endian CRC has a CRC residue of zero: no slicing needed.
    if crc_hqx(body, CRC_INIT):
        return DecodeError(NakReason.BAD_CRC, 0, 0, raw)
    if body[0] != VERSION:
        # Another version's seq may live elsewhere: answer with seq 0.
        return DecodeError(NakReason.UNSUPPORTED_VERSION, VERSION, 0, raw)
    kind = body[1]
    seq = body[2] << 8 | body[3]
    if n > MIN_BODY or kind == _T_HEARTBEAT:
        fast = _fast(kind, seq, body, n)
        if fast is not None:
            return fast
    parser = _PARSERS.get(kind)
    if parser is None:
        return DecodeError(NakReason.UNKNOWN_TYPE, kind, seq, raw)
    try:
        return parser(seq, body[HEADER_LEN:-CRC_LEN])
    except (_BadPayload, ValueError):
        return DecodeError(NakReason.BAD_PAYLOAD, kind, seq, raw)


def _decode_unzeroed(frame: bytes) -> Message | DecodeError:
    """decode_frame for a frame known to hold no 0x00 and at most MAX_ENCODED bytes."""
    if frame[0] == len(frame):
        # One COBS block: the body has no zero byte (most frames).
        return decode_body(frame[1:], frame)
    try:
        body = cobs.decode(frame)
    except cobs.CobsError:
        return DecodeError(NakReason.BAD_FRAMING, 0, 0, frame)
    return decode_body(body, frame)


def decode_frame(frame: bytes | bytearray) -> Message | DecodeError:
    """Decode one encoded frame given without its 0x00 delimiter. Never raises."""
    frame = bytes(frame)
    if len(frame) > MAX_ENCODED:
        return DecodeError(NakReason.TOO_LONG, 0, 0, frame[:MAX_ENCODED])
    if not frame or 0 in frame:
        return DecodeError(NakReason.BAD_FRAMING, 0, 0, frame)
    return _decode_unzeroed(frame)


class Decoder:
    """Incremental decoder: feed it bytes in any chunks, get messages and errors back.

    The output is the same whatever the chunking. Bytes up to the next 0x00 after an
    error are discarded (resynchronisation); at most MAX_ENCODED bytes of a partial
    frame are kept, and a longer one is reported once as TOO_LONG and then skipped.
    """

    __slots__ = ("_buf", "_skipping", "bytes_dropped", "frames_bad", "frames_ok")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False  # inside an over-long frame: drop bytes up to the next 0x00
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_dropped = 0  # bytes of invalid frames, delimiters not counted

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held (or being skipped) right now."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget any partial frame, e.g. when the port is reopened."""
        self.bytes_dropped += len(self._buf)
        self._buf.clear()
        self._skipping = False

    def feed(self, data: bytes | bytearray) -> list[Message | DecodeError]:
        if data == _HEARTBEAT_FRAME and not self._buf and not self._skipping:
            # An idle reader's one frame, whole and alone on a frame boundary (how a
            # port read delivers it): decoded once at import, not once per reader
            # per interval. Same result, same counts as the general path below.
            self.frames_ok += 1
            return [_HEARTBEAT]
        out: list[Message | DecodeError] = []
        if not data:
            return out
        if not isinstance(data, bytes):
            data = bytes(data)
        start = 0
        if self._skipping:
            idx = data.find(0)
            if idx < 0:
                self.bytes_dropped += len(data)
                return out
            self.bytes_dropped += idx
            self._skipping = False
            start = idx + 1
        last = data.rfind(0)
        if last >= start:
            # bytes.split runs the delimiter scan in C; frames are small.
            frames = data[start:last].split(b"\x00")
            if self._buf:
                frames[0] = bytes(self._buf) + frames[0]
                self._buf.clear()
            for frame in frames:
                if not frame:
                    continue  # empty frames (repeated delimiters) are ignored
                if len(frame) > MAX_ENCODED:
                    self._too_long(frame, out)
                    continue
                result = _decode_unzeroed(frame)
                if result.__class__ is DecodeError:
                    self.frames_bad += 1
                    self.bytes_dropped += len(frame)
                else:
                    self.frames_ok += 1
                out.append(result)
            start = last + 1
        if start < len(data):
            self._buf += data[start:]
            if len(self._buf) > MAX_ENCODED:
                self._too_long(bytes(self._buf), out)
                self._buf.clear()
                self._skipping = True
        return out

    def _too_long(self, frame: bytes, out: list[Message | DecodeError]) -> None:
        self.frames_bad += 1
        self.bytes_dropped += len(frame)
        out.append(DecodeError(NakReason.TOO_LONG, 0, 0, frame[:MAX_ENCODED]))


# The one encoding of a heartbeat (it has no fields: _HEARTBEAT stands for all).
_HEARTBEAT_FRAME = encode(_HEARTBEAT)


__all__ = [
    "DecodeError",
    "Decoder",
    "decode_body",
    "decode_frame",
    "encode",
    "encode_body",
]
