"""The real firmware binary, simulated in real time, against protocol v1.

Each test boots the compiled ELF in firmware/sim's harness (MFRC522 model,
HD44780 LCD, LEDs, buzzer) and plays the gateway on its serial port with
`gateway.protocol`. Times from the simulator are simulated milliseconds;
the gateway side measures wall time, so bounds on those are looser.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from gateway.protocol import (
    DecodeError,
    Heartbeat,
    Hello,
    HelloAck,
    Nak,
    NakReason,
    Result,
    Role,
    Status,
    Swipe,
    encode,
)
from tests.firmware.simharness import Link, Sim

pytestmark = pytest.mark.firmware

UID = "04A1B2C3"


def nth(gw: Link, kind: type, n: int, timeout: float, since: int = 0) -> list:
    """Wait until `n` messages of `kind` arrived after `since`; return them."""
    deadline = time.monotonic() + timeout
    while True:
        got = gw.messages(kind, since)
        if len(got) >= n:
            return got[:n]
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(got)} {kind.__name__} in {timeout} s, wanted {n}")
        time.sleep(0.05)


NAK_MIN_GAP_MS = 250  # the firmware's NAK rate limit (protocol section 4.7)


def quiet_for(sim: Sim, ms: float, timeout: float = 15.0) -> None:
    """Wait until `ms` of *simulated* time have passed. The firmware's limits run on its
    own clock; on a loaded machine the simulator runs behind the wall clock, so a wall
    sleep is not enough."""
    start = sim.now()
    deadline = time.monotonic() + timeout
    while sim.now() - start < ms:
        if time.monotonic() > deadline:
            raise AssertionError(f"{ms} simulated ms did not pass in {timeout} s")
        time.sleep(0.05)


def linked(sim: Sim, gw: Link) -> None:
    gw.expect(Hello, timeout=5, since=0)
    sim.wait_lcd("Clock in", timeout=5)


def test_boot_hello_until_ack_then_idle_screen(sim: Sim) -> None:
    with Link(sim.pty, auto_ack=False, heartbeat=None) as gw:
        hellos = nth(gw, Hello, 3, timeout=20)
        h = hellos[0].msg
        assert h.role == Role.IN
        assert h.session == 1  # first boot of a blank EEPROM
        assert h.fw_version == (1, 0, 0)
        assert h.hardware_id not in (bytes(8), b"\xff" * 8)
        # Repeated every 1000 ms, byte for byte the same (same session).
        assert len({r.raw for r in hellos}) == 1
        gaps = [b.wall - a.wall for a, b in itertools.pairwise(hellos)]
        assert all(0.8 < g < 1.6 for g in gaps), gaps
        sim.wait_lcd("Clock reader", "Connecting...")
        # Nobody answers for 3.5 s: the offline screen.
        sim.wait_lcd("Offline", "Waiting for PC", timeout=6)
        # HELLO_ACK: the idle text, no more HELLOs while the gateway lives.
        gw.heartbeat = 1000
        m = sim.mark()
        gw.send(HelloAck(True, Role.IN, 1000, "Entrada\nAcerque tarjeta"))
        sim.wait_lcd("Entrada", "Acerque tarjeta", since=m)
        i = gw.mark()
        nth(gw, Heartbeat, 1, timeout=10, since=i)  # the reader's heartbeats
        time.sleep(2.5)  # a window with no HELLO in it (not a wait for something)
        assert gw.messages(Hello, i) == []


def test_swipe_result_on_lcd_with_ok_signal(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        m, i = sim.mark(), gw.mark()
        tap = sim.card(UID)
        sw = gw.expect(Swipe, since=i)
        assert sw.msg.seq == 1 and sw.msg.uid == bytes.fromhex(UID)
        sim.wait_lcd("Please wait", UID, since=m)
        gw.send(Result(1, Status.OK, "In - Ana\nHave a nice day"))
        shown = sim.wait_lcd("In - Ana", "Have a nice day", since=m)
        latency = shown.t - tap.t
        print(f"\ntap-to-LCD latency (simulated, incl. the test gateway): {latency:.1f} ms")
        assert latency < 500
        # OK: green LED, one short beep, no red.
        leds = sim.of_kind("LED", m)
        assert ("green", "1") in [e.args for e in leds]
        assert ("red", "1") not in [e.args for e in leds]
        beeps = sim.of_kind("BUZZER", m)
        on = [e for e in beeps if e.args == ("1",)]
        assert len(on) == 1
        off = sim.wait(lambda e: e.kind == "BUZZER" and e.args == ("0",) and e.t > on[0].t, since=m)
        assert 50 < off.t - on[0].t < 200
        # About 3 s later, the idle screen again.
        back = sim.wait_lcd("Clock in", since=sim.events.index(shown), timeout=6)
        assert 2800 < back.t - shown.t < 3400


def test_held_card_is_one_swipe_and_a_new_tap_is_another(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        i = gw.mark()
        sim.card(UID)
        first = gw.expect(Swipe, since=i)
        gw.send(Result(first.msg.seq, Status.OK, "In - Ana"))
        time.sleep(3.0)  # held on the reader
        time_lift = sim.mark()
        sim.nocard()
        time.sleep(0.2)  # lifted for less than 500 ms
        sim.card(UID)
        time.sleep(1.5)
        assert len(gw.messages(Swipe, i)) == 1, "a held card must give one SWIPE"
        assert sim.of_kind("CARD", time_lift)
        sim.nocard()
        quiet_for(sim, 1000)  # away for 500 ms or more: the next tap counts
        sim.card(UID)
        second = gw.expect(Swipe, since=i, pred=lambda s: s.seq == 2)
        assert second.msg.uid == bytes.fromhex(UID)
        assert len(gw.messages(Swipe, i)) == 2


def test_swipe_retransmitted_five_times_then_local_ko(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        m, i = sim.mark(), gw.mark()
        sim.card(UID)
        swipes = nth(gw, Swipe, 6, timeout=30)
        assert len({s.raw for s in swipes}) == 1  # same frame, same seq
        assert swipes[0].msg.seq == 1
        gaps = [b.wall - a.wall for a, b in itertools.pairwise(swipes)]
        assert all(0.8 < g < 1.5 for g in gaps), gaps
        sim.wait_lcd("No answer", "Try again", since=m, timeout=3)
        assert ("red", "1") in [e.args for e in sim.of_kind("LED", m)]
        greens = [e.args for e in sim.of_kind("LED", m) if e.args[0] == "green"]
        assert greens[-1] == ("green", "0")  # it blinked while waiting, off now
        time.sleep(1.5)
        assert len(gw.messages(Swipe, i)) == 6, "no seventh send"
        # A late RESULT for the abandoned seq never turns into an OK.
        m2 = sim.mark()
        gw.send(Result(1, Status.OK, "In - Ana"))
        time.sleep(0.5)
        assert not [e for e in sim.of_kind("LCD", m2) if e.args[0].startswith("In - Ana")]


def test_nak_bad_crc_resends_and_not_ready_rehellos(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        session = gw.messages(Hello)[0].msg.session
        m, i = sim.mark(), gw.mark()
        sim.card(UID)
        first = gw.expect(Swipe, since=i)
        gw.send(Nak(NakReason.BAD_CRC))
        again = gw.expect(Swipe, since=gw.received.index(first) + 1, timeout=1)
        assert again.raw == first.raw and again.wall - first.wall < 0.6
        j = gw.mark()
        gw.send(Nak(NakReason.NOT_READY))
        hello = gw.expect(Hello, since=j, timeout=1)
        assert hello.msg.session == session  # the gateway restarted, not us
        # After the (automatic) HELLO_ACK the pending SWIPE goes again.
        third = gw.expect(Swipe, since=gw.received.index(hello) + 1, timeout=1)
        assert third.raw == first.raw
        gw.send(Result(first.msg.seq, Status.KO, "Unknown card"))
        sim.wait_lcd("Unknown card", since=m)
        assert ("red", "1") in [e.args for e in sim.of_kind("LED", m)]
        on = next(e for e in sim.of_kind("BUZZER", m) if e.args == ("1",))
        off = sim.wait(lambda e: e.kind == "BUZZER" and e.args == ("0",) and e.t > on.t, since=m)
        assert off.t - on.t > 400  # KO: a long beep


def test_garbage_on_the_line_is_survived(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        i = gw.mark()
        bad_crc = bytearray(encode(Result(7, Status.OK, "x")))
        bad_crc[-3] ^= 0x10
        frames = [
            b"\x55" * 300 + b"\x00",  # too long
            b"\x07\x01\x02\x00",  # COBS code past the end
            bytes(bad_crc),
        ]
        for n, frame in enumerate(frames, 1):
            gw.write(frame)
            nth(gw, Nak, n, timeout=10, since=i)  # each frame its own NAK...
            quiet_for(sim, NAK_MIN_GAP_MS + 50)  # ...once the rate limit lets it
        started = sim.now()
        gw.write(os.urandom(2000))  # noise, zeros included
        gw.write(b"\x00")
        quiet_for(sim, 1500)  # the noise's own NAKs, if any, for the storm check below
        elapsed = sim.now() - started
        naks = gw.messages(Nak, i)
        reasons = [r.msg.reason for r in naks]
        assert reasons[:3] == [NakReason.TOO_LONG, NakReason.BAD_FRAMING, NakReason.BAD_CRC]
        # No storm: at most one NAK per 250 simulated ms, however much noise came.
        assert len(naks) - 3 <= elapsed / NAK_MIN_GAP_MS + 1, ("NAK storm", len(naks), elapsed)
        assert not [r for r in gw.messages(None, i) if isinstance(r.msg, DecodeError)]
        assert gw.messages(Hello, i) == [], "the link must not drop"
        # And it still works.
        m, j = sim.mark(), gw.mark()
        sim.card(UID)
        sw = gw.expect(Swipe, since=j)
        gw.send(Result(sw.msg.seq, Status.OK, "Still here"))
        sim.wait_lcd("Still here", since=m)


def test_gateway_gone_offline_then_reconnect(sim: Sim) -> None:
    with Link(sim.pty) as gw:
        linked(sim, gw)
        session = gw.messages(Hello)[0].msg.session
        m, i = sim.mark(), gw.mark()
        gw.heartbeat = None  # the gateway goes silent
        gw.auto_ack = False
        hello = gw.expect(Hello, since=i, timeout=20)
        # Gone after 3.5 heartbeat intervals without a frame (section 6.2).
        assert 3.3 < hello.wall - gw.last_tx < 4.5, hello.wall - gw.last_tx
        assert hello.msg.session == session
        sim.wait_lcd("Offline", "Waiting for PC", since=m)
        # A tap while offline is kept (section 6.3): nothing is sent yet...
        m2, j = sim.mark(), gw.mark()
        sim.card(UID)
        sim.wait_lcd("Please wait", UID, since=m2)
        time.sleep(1.0)
        assert gw.messages(Swipe, j) == []
        # ...and goes as soon as the gateway is back and acknowledges HELLO.
        gw.auto_ack = True
        gw.heartbeat = 1000
        sw = gw.expect(Swipe, since=j, timeout=3)
        assert sw.msg.uid == bytes.fromhex(UID)
        gw.send(Result(sw.msg.seq, Status.OK, "Welcome back"))
        sim.wait_lcd("Welcome back", since=m2)
        sim.wait_lcd("Clock in", since=m2, timeout=6)


def test_role_out_uids_7_and_10_and_persistent_identity(firmware: None, tmp_path: Path) -> None:
    eeprom = tmp_path / "board.eeprom"
    with Sim(tmp_path, role="out", eeprom=eeprom) as sim, Link(sim.pty, role=Role.OUT) as gw:
        linked(sim, gw)
        h1 = gw.messages(Hello)[0].msg
        assert h1.role == Role.OUT and h1.session == 1
        i = gw.mark()
        sim.card("04112233445566")
        sw = gw.expect(Swipe, since=i)
        assert sw.msg.uid == bytes.fromhex("04112233445566")
        gw.send(Result(sw.msg.seq, Status.OK, "Out - Bob"))
        sim.nocard()
        time.sleep(0.8)
        sim.card("0A0B0C0D0E0F10111213")
        sw2 = gw.expect(Swipe, since=i, pred=lambda s: s.seq == 2)
        assert sw2.msg.uid == bytes.fromhex("0A0B0C0D0E0F10111213")
        # Reset (what DTR does to an Uno): a new session, the same hardware id.
        j = gw.mark()
        sim.command("reset")
        h2 = gw.expect(Hello, since=j, timeout=5).msg
        assert h2.session == 2 and h2.hardware_id == h1.hardware_id
    # RAM: 2048 bytes; static data is about 600 (avr-size); the stack must
    # keep well clear of it after reads of 7- and 10-byte UIDs and a reset.
    assert sim.stack_bytes is not None and sim.stack_bytes < 700, sim.stack_bytes
    print(f"\nstack high-water mark: {sim.stack_bytes} bytes")
    # Power the board off and on: the EEPROM keeps the id and the counter.
    with Sim(tmp_path, role="out", eeprom=eeprom) as sim, Link(sim.pty, role=Role.OUT) as gw:
        h3 = gw.expect(Hello, timeout=5, since=0).msg
        assert h3.session == 3 and h3.hardware_id == h1.hardware_id
    # Another board (blank EEPROM, other noise) gets another id.
    with Sim(tmp_path, eeprom=tmp_path / "other.eeprom", seed=12345) as sim, Link(sim.pty) as gw:
        h4 = gw.expect(Hello, timeout=5, since=0).msg
        assert h4.hardware_id != h1.hardware_id and h4.role == Role.IN
