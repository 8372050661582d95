"""The links' shared heartbeat timer (gateway/link/ticker.py): callbacks run at their
time, those of one instant from one loop timer, in order; cancelled ones never."""

from __future__ import annotations

import asyncio

from gateway.link import Ticker


async def _until(condition: object, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_callbacks_of_one_instant_share_one_loop_timer_and_run_in_order() -> None:
    loop = asyncio.get_running_loop()
    ticker = Ticker(loop)
    ran: list[tuple[str, float]] = []
    at = loop.time() + 0.05
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    for name in ("a", "b", "c"):
        ticker.call_at(at, lambda n=name: ran.append((n, loop.time())))  # type: ignore[misc]
    assert len(loop._scheduled) == before + 1  # type: ignore[attr-defined]
    assert ticker.pending == 3
    await _until(lambda: len(ran) == 3)
    assert [n for n, _ in ran] == ["a", "b", "c"]
    assert all(t >= at for _, t in ran)
    assert ticker.pending == 0


async def test_an_earlier_slot_armed_later_runs_first_and_cancelled_ones_never() -> None:
    loop = asyncio.get_running_loop()
    ticker = Ticker(loop)
    ran: list[str] = []
    now = loop.time()
    ticker.call_at(now + 0.08, lambda: ran.append("late"))
    ticker.call_at(now + 0.02, lambda: ran.append("early"))
    gone = ticker.call_at(now + 0.02, lambda: ran.append("cancelled"))
    gone.cancel()
    await _until(lambda: len(ran) == 2)
    assert ran == ["early", "late"]
    await asyncio.sleep(0.05)
    assert ran == ["early", "late"]


async def test_a_callback_may_arm_the_next_and_a_failing_one_stops_no_other() -> None:
    loop = asyncio.get_running_loop()
    ticker = Ticker(loop)
    ran: list[str] = []

    def again() -> None:
        ran.append("again")
        if ran.count("again") < 3:
            ticker.call_at(loop.time() + 0.01, again)

    def broken() -> None:
        raise RuntimeError("a bug in one link")

    now = loop.time()
    ticker.call_at(now + 0.01, broken)
    ticker.call_at(now + 0.01, again)
    ticker.call_at(now + 0.03, lambda: ran.append("other"))  # not yet due while firing
    await _until(lambda: ran.count("again") == 3 and "other" in ran)
    assert ticker.pending == 0
