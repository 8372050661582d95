"""Wire frames of the sizes the latency benchmark sends, encoded by the protocol codec.

The PTY floor must move exactly as many bytes as a real swipe: a SWIPE of a 4-byte
UID up and a RESULT with a typical LCD text down (docs/PROTOCOL.md sections 2 and 4).
"""

from __future__ import annotations

from gateway.protocol.codec import encode
from gateway.protocol.messages import Result, Status, Swipe

TYPICAL_TEXT = "Entrada - Ana"


def swipe_frame(seq: int, uid: bytes = b"\x04\xa1\xb2\xc3") -> bytes:
    return encode(Swipe(seq=seq, uid=uid))


def result_frame(seq: int, text: str = TYPICAL_TEXT) -> bytes:
    return encode(Result(seq=seq, status=Status.OK, text=text))
