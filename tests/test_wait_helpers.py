"""tests/support/wait.py: the time-bounded waits the suite uses."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.wait import Deadline, wait_until, wait_until_async


def test_wait_until_returns_the_first_truthy_value() -> None:
    started = time.monotonic()
    values = iter([0, None, "", 7])
    assert wait_until(lambda: next(values), 5, "a value", interval_s=0.001) == 7
    assert time.monotonic() - started < 5


def test_wait_until_fails_with_what_it_waited_for_and_the_detail() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: False, 0.2, "the daemon's status file", detail=lambda: "state=stopped")
    assert time.monotonic() - started >= 0.2
    assert str(failed.value) == (
        "timed out after 0.2 s waiting for the daemon's status file: state=stopped"
    )


def test_the_async_twin_takes_plain_and_async_predicates() -> None:
    async def go() -> None:
        box = {"n": 0}

        def bump() -> bool:
            box["n"] += 1
            return box["n"] >= 3

        assert await wait_until_async(bump, 5, "three polls", interval_s=0.001) is True

        async def never() -> bool:
            return False

        with pytest.raises(AssertionError, match=r"waiting for nothing at all"):
            await wait_until_async(never, 0.1, "nothing at all")

    asyncio.run(go())


def test_deadline_checks_and_counts_down() -> None:
    deadline = Deadline(0.1, "the entrance reader to reconnect")
    deadline.check()  # not yet
    assert 0 < deadline.left <= 0.1
    time.sleep(0.12)
    assert deadline.passed and deadline.left == 0
    with pytest.raises(AssertionError, match=r"after 0\.1 s waiting for the entrance reader"):
        deadline.check()


def test_the_async_test_runner_names_its_own_time_limit() -> None:
    from tests.conftest import _within

    async def slow() -> None:
        await asyncio.sleep(5)

    with pytest.raises(AssertionError, match=r"did not finish within 0\.1 s"):
        asyncio.run(_within(slow(), 0.1))

    async def times_out_by_itself() -> None:
        raise TimeoutError("the test's own")

    with pytest.raises(TimeoutError, match="the test's own"):
        asyncio.run(_within(times_out_by_itself(), 5))
