"""The Recorder's group-commit writer: batches, lanes, and no item left behind."""

from __future__ import annotations

import asyncio

from gateway.recording.group_writer import GroupWriter


class Batches:
    """A batch function that records its batches and waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()

    async def write(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        return [i * 10 for i in items]


async def test_two_lanes_start_a_second_batch_and_queue_the_rest() -> None:
    batches = Batches()
    writer = GroupWriter[int, int](batches.write, lanes=2)
    first = writer.submit(1)
    await asyncio.sleep(0)  # the first lane takes item 1
    second = writer.submit(2)  # the other lane is free: it starts at once
    await asyncio.sleep(0)
    rest = [writer.submit(i) for i in (3, 4, 5)]  # both busy: these wait together
    await asyncio.sleep(0)
    assert batches.batches == [[1], [2]]
    batches.release.set()
    assert await asyncio.gather(first, second, *rest) == [10, 20, 30, 40, 50]
    assert batches.batches[2:] == [[3, 4, 5]]
    assert batches.most_in_flight == 2
    await writer.wait_idle()


async def test_one_lane_groups_everything_behind_the_running_batch() -> None:
    batches = Batches()
    writer = GroupWriter[int, int](batches.write)
    futures = [writer.submit(1)]
    await asyncio.sleep(0)
    futures += [writer.submit(i) for i in (2, 3)]
    batches.release.set()
    assert await asyncio.gather(*futures) == [10, 20, 30]
    assert batches.batches == [[1], [2, 3]] and batches.most_in_flight == 1
    # A lane that just finished is free at once: a new item is not left in the queue.
    assert await asyncio.wait_for(writer.submit(4), 5) == 40
    await writer.wait_idle()
