"""Whatever the gateway does, a tap settles within about 6 s and OK comes only from a RESULT."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocol import (
    SWIPE_RETRIES,
    Heartbeat,
    HelloAck,
    Nak,
    NakReason,
    Result,
    Role,
    Status,
    Swipe,
)
from gateway.protocol.reader import ReaderMachine, SwipeDone

UID = bytes.fromhex("04A1B2C3")
SETTLE_BOUND_S = (SWIPE_RETRIES + 1) * 1.0 + 1.0  # 6 retry slots, plus one slot of slack

_step = st.one_of(
    st.tuples(st.just("advance"), st.floats(0.01, 4.0)),
    st.tuples(st.just("tap"), st.none()),
    st.tuples(st.just("ack"), st.booleans()),
    st.tuples(st.just("answer"), st.sampled_from(Status)),
    st.tuples(st.just("stale"), st.integers(1, 0xFFFF)),
    st.tuples(st.just("nak"), st.sampled_from(NakReason)),
    st.tuples(st.just("heartbeat"), st.none()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=30))
def test_taps_settle_and_ok_needs_a_result(steps: list[tuple[str, object]]) -> None:
    now = 0.0
    m = ReaderMachine(Role.IN, bytes(8), 1)
    m.start(now)
    tapped: dict[int, float] = {}
    oks_sent: set[int] = set()
    done: list[SwipeDone] = []

    def drain() -> None:
        for msg in m.take_output():
            if isinstance(msg, Swipe):
                assert msg.seq == m.pending_seq  # only the pending SWIPE is ever sent
        done.extend(e for e in m.take_events() if isinstance(e, SwipeDone))

    for kind, arg in [*steps, ("advance", SETTLE_BOUND_S + 0.5)]:
        if kind == "advance":
            assert isinstance(arg, float)
            end = now + arg
            for _ in range(10_000):  # a deadline that never moves on would loop forever
                deadline = m.next_deadline()
                if deadline > end:
                    break
                now = max(now, deadline)
                m.poll(now)
                drain()
                assert m.next_deadline() > now, "poll left a deadline due"
            else:
                raise AssertionError("timers did not advance")
            now = end
            m.poll(now)
        elif kind == "tap":
            seq = m.tap(UID, now)
            if seq is not None:
                tapped[seq] = now
        elif kind == "ack":
            m.receive(HelloAck(bool(arg), Role.IN, 1000, "Idle"), now)
        elif kind == "answer" and m.pending_seq is not None:
            assert isinstance(arg, Status)
            if arg is Status.OK:
                oks_sent.add(m.pending_seq)
            m.receive(Result(m.pending_seq, arg, "x"), now)
        elif kind == "stale":
            assert isinstance(arg, int)
            if arg != m.pending_seq:
                m.receive(Result(arg, Status.OK, "late"), now)
        elif kind == "nak":
            assert isinstance(arg, NakReason)
            m.receive(Nak(arg), now)
        elif kind == "heartbeat":
            m.receive(Heartbeat(), now)
        drain()
        pending = m.pending_seq
        if pending is not None:
            assert now - tapped[pending] <= SETTLE_BOUND_S
    # After the final long wait every tap has been settled, exactly once.
    assert m.pending_seq is None
    assert sorted(e.seq for e in done) == sorted(tapped)
    for event in done:
        assert event.sends <= SWIPE_RETRIES + 1
        assert event.latency_s <= SETTLE_BOUND_S
        if event.status is Status.OK:
            assert event.seq in oks_sent
