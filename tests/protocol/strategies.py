"""Hypothesis strategies for valid protocol messages."""

from __future__ import annotations

from hypothesis import strategies as st

from gateway.protocol import (
    LCD_COLS,
    MAX_HEARTBEAT_MS,
    MIN_HEARTBEAT_MS,
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    Nak,
    NakReason,
    Result,
    Role,
    Status,
    Swipe,
)

_line = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=LCD_COLS)
texts = st.one_of(_line, st.builds(lambda a, b: f"{a}\n{b}", _line, _line))
seqs = st.integers(1, 0xFFFF)
# UIDs biased towards 0x00 bytes: they exercise COBS.
_uid_byte = st.sampled_from([0, 0, 1, 0x88, 0xFF]) | st.integers(0, 255)
uids = st.sampled_from([4, 7, 10]).flatmap(
    lambda n: st.lists(_uid_byte, min_size=n, max_size=n).map(bytes)
)

messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(
        Hello,
        st.sampled_from(Role),
        st.integers(0, 0xFFFFFFFF),
        st.binary(min_size=8, max_size=8),
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    ),
    st.builds(
        HelloAck,
        st.just(True),
        st.sampled_from([Role.IN, Role.OUT]),
        st.integers(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS),
        texts,
    ),
    st.builds(
        HelloAck,
        st.just(False),
        st.sampled_from(Role),
        st.integers(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS),
        texts,
    ),
    st.builds(Swipe, seqs, uids),
    st.builds(Result, seqs, st.sampled_from(Status), texts),
    st.just(Heartbeat()),
    st.builds(Nak, st.sampled_from(NakReason), st.integers(0, 255), st.integers(0, 0xFFFF)),
)
