"""The reader state machine (PROTOCOL.md section 6) on a fake clock: no I/O, no sleeping."""

from __future__ import annotations

from gateway.protocol import (
    DecodeError,
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
    decode_body,
    encode_body,
)
from gateway.protocol.crc import crc16
from gateway.protocol.reader import (
    NO_ANSWER_SCREEN,
    OFFLINE_SCREEN,
    Offline,
    Online,
    ReaderEvent,
    ReaderMachine,
    ReaderState,
    Rebooted,
    Refused,
    SwipeDone,
)

HW = bytes.fromhex("0102030405060708")
UID = bytes.fromhex("04A1B2C3")
ACK = HelloAck(True, Role.IN, 1000, "Entrada\nAcerque tarjeta")


class Sim:
    """A reader and a fake clock; collects everything it sends, with the time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.m = ReaderMachine(Role.IN, HW, 42)
        self.sent: list[tuple[float, Message]] = []
        self.events: list[ReaderEvent] = []
        self.m.start(self.now)
        self._collect()

    def _collect(self) -> None:
        self.sent += [(self.now, msg) for msg in self.m.take_output()]
        self.events += self.m.take_events()

    def advance(self, seconds: float) -> None:
        """Let time pass, calling poll at every deadline as a driver would."""
        end = self.now + seconds
        for _ in range(10_000):
            deadline = self.m.next_deadline()
            if deadline > end:
                break
            self.now = max(self.now, deadline)
            self.m.poll(self.now)
            self._collect()
            assert self.m.next_deadline() > self.now, "poll left a deadline due"
        else:
            raise AssertionError("timers did not advance")
        self.now = end
        self.m.poll(self.now)
        self._collect()

    def receive(self, msg: Message | DecodeError) -> None:
        self.m.receive(msg, self.now)
        self._collect()

    def tap(self, uid: bytes = UID) -> int | None:
        seq = self.m.tap(uid, self.now)
        self._collect()
        return seq

    def sent_of(self, kind: type) -> list[tuple[float, Message]]:
        return [(t, m) for t, m in self.sent if isinstance(m, kind)]

    def online(self) -> None:
        self.receive(ACK)
        self.sent.clear()
        self.events.clear()


def test_hello_at_start_and_every_second_until_acknowledged() -> None:
    sim = Sim()
    sim.advance(3.5)
    hellos = sim.sent_of(Hello)
    assert [round(t - 100.0, 6) for t, _ in hellos] == [0.0, 1.0, 2.0, 3.0]
    assert hellos[0][1] == Hello(Role.IN, 42, HW, (1, 0, 0))
    assert sim.m.state is ReaderState.CONNECTING
    assert sim.m.counters.hellos_sent == 4


def test_ack_makes_it_online_with_the_idle_screen_and_heartbeats() -> None:
    sim = Sim()
    sim.receive(ACK)
    assert sim.m.online and sim.m.lcd == ["Entrada", "Acerque tarjeta"]
    assert Online(1000, Role.IN, ACK.text) in sim.events
    sim.sent.clear()
    # The gateway keeps talking; the reader sends a HEARTBEAT each idle second.
    for _ in range(5):
        sim.advance(0.5)
        sim.receive(Heartbeat())
    beats = sim.sent_of(Heartbeat)
    assert len(beats) == 2
    assert sim.sent_of(Hello) == []


def test_tap_then_result() -> None:
    sim = Sim()
    sim.online()
    assert sim.tap() == 1
    assert sim.sent == [(sim.now, Swipe(1, UID))]
    sim.advance(0.05)
    sim.receive(Result(1, Status.OK, "Entrada - Ana"))
    (done,) = [e for e in sim.events if isinstance(e, SwipeDone)]
    assert done.status is Status.OK and done.text == "Entrada - Ana" and done.sends == 1
    assert abs(done.latency_s - 0.05) < 1e-9
    assert sim.m.lcd == ["Entrada - Ana", ""]
    sim.receive(Heartbeat())
    sim.advance(3.1)
    assert sim.m.lcd == ["Entrada", "Acerque tarjeta"]
    assert sim.tap() == 2  # the next tap gets the next seq


def test_retransmits_with_the_same_seq_then_gives_up() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    for _ in range(20):  # the gateway is alive but never answers the SWIPE
        sim.advance(0.4)
        sim.receive(Heartbeat())
    swipes = sim.sent_of(Swipe)
    assert [m for _, m in swipes] == [Swipe(1, UID)] * 6
    times = [t - swipes[0][0] for t, _ in swipes]
    assert [round(t, 6) for t in times] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    (done,) = [e for e in sim.events if isinstance(e, SwipeDone)]
    assert done.status is None and done.sends == 6
    assert abs(done.latency_s - 6.0) < 1e-6


def test_no_answer_screen_never_ok() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    for _ in range(16):
        sim.advance(0.4)
        sim.receive(Heartbeat())
    assert sim.m.lcd == NO_ANSWER_SCREEN


def test_result_for_another_seq_is_ignored() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    sim.receive(Result(7, Status.OK, "late"))
    assert [e for e in sim.events if isinstance(e, SwipeDone)] == []
    assert sim.m.pending_seq == 1
    assert sim.m.counters.results_ignored == 1


def test_taps_while_pending_are_ignored() -> None:
    sim = Sim()
    sim.online()
    assert sim.tap() == 1
    assert sim.tap() is None


def test_nak_not_ready_sends_hello_and_then_the_pending_swipe() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    sim.sent.clear()
    sim.receive(Nak(NakReason.NOT_READY, 0, 1))
    assert [m for _, m in sim.sent] == [Hello(Role.IN, 42, HW, (1, 0, 0))]
    sim.sent.clear()
    sim.receive(ACK)
    assert [m for _, m in sim.sent] == [Swipe(1, UID)]
    sim.receive(Result(1, Status.KO, "Unknown card"))
    (done,) = [e for e in sim.events if isinstance(e, SwipeDone)]
    assert done.status is Status.KO and done.sends == 2


def test_nak_bad_crc_retransmits_at_once() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    sim.receive(Nak(NakReason.BAD_CRC))
    assert [m for _, m in sim.sent] == [Swipe(1, UID), Swipe(1, UID)]


def test_gateway_gone_after_three_and_a_half_intervals() -> None:
    sim = Sim()
    sim.online()
    sim.advance(3.4)
    assert sim.m.online
    sim.advance(0.2)
    assert not sim.m.online and Offline() in sim.events
    assert sim.m.lcd == OFFLINE_SCREEN
    sim.advance(2.05)
    hellos = sim.sent_of(Hello)
    assert [m for _, m in hellos] == [Hello(Role.IN, 42, HW, (1, 0, 0))] * 3  # same session


def test_refused_retries_every_five_seconds() -> None:
    sim = Sim()
    sim.receive(HelloAck(False, Role.OUT, 1000, "Wrong reader"))
    assert sim.m.state is ReaderState.REFUSED and sim.m.lcd == ["Wrong reader", ""]
    assert Refused("Wrong reader") in sim.events
    sim.sent.clear()
    sim.advance(11.0)
    assert len(sim.sent_of(Hello)) == 2


def _body_error(head: bytes) -> DecodeError:
    result = decode_body(head + crc16(head).to_bytes(2, "big"))
    assert isinstance(result, DecodeError)
    return result


def test_bad_frames_get_rate_limited_naks_but_naks_get_none() -> None:
    sim = Sim()
    sim.online()
    body = bytearray(encode_body(Heartbeat()))
    body[-1] ^= 0xFF
    bad_crc = decode_body(bytes(body))
    assert isinstance(bad_crc, DecodeError)
    sim.receive(bad_crc)
    sim.receive(bad_crc)
    assert [m for _, m in sim.sent] == [Nak(NakReason.BAD_CRC)]
    sim.advance(0.3)
    sim.receive(Heartbeat())
    sim.sent.clear()
    sim.receive(_body_error(bytes.fromhex("0106000000 00")))  # a NAK with reason 0
    assert sim.sent_of(Nak) == []
    sim.receive(_body_error(bytes.fromhex("0109000C")))  # unknown type 9
    assert [m for _, m in sim.sent] == [Nak(NakReason.UNKNOWN_TYPE, 9, 12)]


def test_a_new_session_before_seq_wraps() -> None:
    sim = Sim()
    sim.online()
    sim.m._next_seq = 0xFFFF
    assert sim.tap() == 0xFFFF
    sim.receive(Result(0xFFFF, Status.OK, "ok"))
    sim.sent.clear()
    assert sim.tap() == 1
    assert any(isinstance(e, Rebooted) for e in sim.events)
    assert [m for _, m in sim.sent_of(Hello)] == [Hello(Role.IN, 43, HW, (1, 0, 0))]
    sim.receive(ACK)
    assert sim.sent_of(Swipe)[-1][1] == Swipe(1, UID)


def test_reboot_on_open_loses_the_pending_swipe() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    sim.m.host_opened(sim.now, reset=True)
    sim.events += sim.m.take_events()
    done = [e for e in sim.events if isinstance(e, SwipeDone)]
    assert done and done[0].status is None
    assert sim.m.session != 42 and not sim.m.online


def test_deadline_is_never_in_the_past_after_poll() -> None:
    sim = Sim()
    sim.online()
    sim.tap()
    for _ in range(50):
        sim.advance(0.37)
        assert sim.m.next_deadline() > sim.now


def test_empty_texts_show_the_readers_own_screen() -> None:
    sim = Sim()
    sim.receive(HelloAck(True, Role.IN, 1000, ""))
    assert sim.m.lcd == ["Ready", ""]
    sim.tap()
    sim.receive(Result(1, Status.KO, ""))
    assert sim.m.lcd == ["KO", ""]
