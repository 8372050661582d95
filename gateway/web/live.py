"""Live updates: a change in the database reaches every open page within a second.

One `Hub` per process. Each `Topic` (the board; the unknown-card list) is computed
once per change, however many browsers watch it, and its latest JSON is pushed to
every subscriber as a server-sent event, encoded once for all of them (the board's:
to a page one version behind, only what changed, gateway/web/delta.py). A new
computation that differs from the last only in its `server_ms` is not sent again:
the heartbeat's tick carries the server's time. What counts as a change:

- PostgreSQL: a NOTIFY on `clock_gateway_events` (schema v2's triggers on
  clock_events and unknown_swipes, from any gateway) or `clock_gateway_cards`, heard
  through the store's one LISTEN helper (gateway/store/listen.py: keepalives, a
  ping, reconnection). While it is not listening, a poll.
- SQLite: a write to the file heard through inotify, confirmed by `PRAGMA
  data_version` (gateway/store/sqlite_changes.py says why this and not a message
  from the daemon); a slow safety poll of data_version; a poll every POLL_S only
  where inotify cannot be had. A commit counts only if it moved what the pages read
  (`DataVersion.inputs`: the highest event id, the unknown cards, the signature of
  people, timetable, corrections...): the register's sealer and the gateways'
  heartbeats commit every few seconds, and each of those woke the 100 boards' topics.
- Our own writes (an assignment, a correction) poke the hub directly, with
  `full=True`: the board's live presence then reads the day again, as it does after
  a NOTIFY on the cards channel (people or cards changed).
- Time: every REFRESH_S anyway, since "who must be here now" moves with the clock.

A topic whose last good computation is older than STALE_S (the database fails, or
does not answer: a long lock on clock_events) is marked stale, and every open page
says so until a computation succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from gateway.logs import get_logger
from gateway.store.listen import CARDS_CHANNEL, EVENTS_CHANNEL, Listener
from gateway.store.sqlite_changes import RECHECK_S, DataVersion, WriteWatch
from gateway.web.delta import MAX_SHARE, delta

log = get_logger("web")

POLL_S = 0.25  # SQLite change check, only where inotify cannot be had
SAFETY_POLL_S = 2.0  # SQLite with inotify: look at data_version anyway this often
REFRESH_S = 5.0  # recompute anyway
STALE_S = 10.0  # no good computation for this long: the pages say their data is old
HEARTBEAT_S = 10.0  # a `tick` event at least this often: the page's sign of life
RETRY_MS = 2000  # EventSource reconnection delay we ask browsers for
POLL_DOWN_S = 2.0  # PostgreSQL: recompute this often while the LISTEN is down
PG_CHANNELS = (EVENTS_CHANNEL, CARDS_CHANNEL)
Watcher = Callable[[], Coroutine[Any, Any, None]]
VOLATILE = "server_ms"  # a document's key that alone does not make a new version


class Topic:
    """One computed JSON document and the subscribers waiting for its next version."""

    def __init__(
        self,
        name: str,
        compute: Callable[[], Awaitable[Any]],
        invalidate: Callable[[], None] | None = None,
        *,
        deltas: bool = False,
    ) -> None:
        self.name = name
        self._compute = compute
        self.invalidate = invalidate  # called on a full poke: drop what compute keeps
        self.payload: str | None = None
        self.event: bytes = b""  # the payload as one server-sent event, for everyone
        # With `deltas`: what changed from the previous version, as one event for the
        # subscribers that have that version (gateway/web/delta.py); None: send whole.
        self.deltas = deltas
        self.delta_event: bytes | None = None
        self._document: Any = None
        self._body: Any = None  # the last document without its VOLATILE key
        self.version = 0
        self.ok = True  # False while computing fails or hangs (the database is down)
        self.fresh_at = time.monotonic()  # when a computation last succeeded
        self.subscribers = 0
        self._next: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def refresh(self) -> None:
        task = asyncio.ensure_future(self._compute())
        try:
            # Waiting for a hung query would say nothing for as long as it hangs:
            # past STALE_S since the last good data, say it is stale, then go on waiting.
            left = STALE_S - (time.monotonic() - self.fresh_at)
            done, _ = await asyncio.wait({task}, timeout=max(0.5, left))
            if not done:
                self._stale("live_refresh_slow", f"no answer for {STALE_S:g} s")
            document = await task
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as exc:  # the database is down: keep the last payload, say so
            self._stale("live_refresh_failed", str(exc))
            return
        self.fresh_at = time.monotonic()
        body = document
        if isinstance(document, dict) and VOLATILE in document:
            body = {k: v for k, v in document.items() if k != VOLATILE}
        new = self.payload is None or body != self._body
        changed = new or not self.ok
        self.ok = True
        if new:
            previous = self._document
            self._body, self._document = body, document
            self.payload = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            self.version += 1
            # The version after the data (a page's first event must start with it):
            # the page's EventSource keeps it as lastEventId, and a delta names it.
            self.event = (
                f"event: {self.name}\ndata: {self.payload}\nid: {self.version}\n\n".encode()
            )
            self.delta_event = self._delta(previous, document)
        if changed:
            self._wake()

    def _delta(self, previous: Any, document: Any) -> bytes | None:
        if not (self.deltas and isinstance(previous, dict) and isinstance(document, dict)):
            return None
        change = {"base": self.version - 1, **delta(previous, document)}
        text = json.dumps(change, ensure_ascii=False, separators=(",", ":"))
        if self.payload is None or len(text) > MAX_SHARE * len(self.payload):
            return None
        return f"event: {self.name}-delta\ndata: {text}\nid: {self.version}\n\n".encode()

    def _stale(self, event: str, error: str) -> None:
        if self.ok:
            log.warning(event, topic=self.name, error=error)
        self.ok = False
        self._wake()

    def _wake(self) -> None:
        done, self._next = self._next, asyncio.get_running_loop().create_future()
        done.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until the next version (or failure), at most `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._next)


class Hub:
    def __init__(self) -> None:
        self.topics: dict[str, Topic] = {}
        self._poked = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.changes = 0  # database changes noticed: for tests and the bench
        self.skipped = 0  # SQLite commits that changed nothing the pages read: for tests

    def topic(
        self,
        name: str,
        compute: Callable[[], Awaitable[Any]],
        invalidate: Callable[[], None] | None = None,
        *,
        deltas: bool = False,
    ) -> Topic:
        self.topics[name] = topic = Topic(name, compute, invalidate, deltas=deltas)
        return topic

    def poke(self, *, full: bool = False) -> None:
        """Something changed: recompute now. `full`: not (only) a tap, so the topics
        drop what they keep and read everything again."""
        self.changes += 1
        if full:
            for topic in self.topics.values():
                if topic.invalidate is not None:
                    topic.invalidate()
        self._poked.set()

    def start(self, watcher: Watcher | None) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="web-hub"))
        if watcher is not None:
            self._tasks.append(asyncio.create_task(watcher(), name="web-watcher"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _run(self) -> None:
        while True:
            for topic in self.topics.values():
                await topic.refresh()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_S):
                    await self._poked.wait()
            # Cleared before computing: a change during the computation is not lost,
            # it makes one more round (changes arriving together share one).
            self._poked.clear()

    async def stream(self, name: str) -> AsyncIterator[str | bytes]:
        """The server-sent events of one subscriber: the topic now, then each new
        version, a `tick` when nothing happened for HEARTBEAT_S, and `stale` while
        the database cannot be read."""
        topic = self.topics[name]
        topic.subscribers += 1
        try:
            yield f"retry: {RETRY_MS}\n\n"
            sent = -1
            was_ok = True
            while True:
                if topic.payload is not None and topic.version != sent:
                    # One version behind: what changed; further (or just connected):
                    # the whole document.
                    change = topic.delta_event if sent == topic.version - 1 else None
                    sent = topic.version
                    yield change or topic.event
                if topic.ok != was_ok:
                    was_ok = topic.ok
                    yield f"event: {'fresh' if topic.ok else 'stale'}\ndata: {{}}\n\n"
                before = (topic.version, topic.ok)
                await topic.wait(HEARTBEAT_S)
                if (topic.version, topic.ok) == before:
                    ok = "true" if topic.ok else "false"
                    now_ms = int(time.time() * 1000)
                    yield f'event: tick\ndata: {{"server_ms":{now_ms},"ok":{ok}}}\n\n'
        finally:
            topic.subscribers -= 1


def sqlite_watcher(path: Path, hub: Hub) -> Watcher:
    """Poke the hub when another connection commits to the file: a write heard through
    inotify, confirmed by data_version (gateway/store/sqlite_changes.py); a look every
    SAFETY_POLL_S anyway; every POLL_S where inotify cannot be had."""

    async def watch() -> None:
        version = DataVersion(path)
        writes = WriteWatch(path)
        watching = writes.start()
        last = version.read()
        inputs = version.inputs()
        try:
            while True:
                if watching:
                    wrote = await writes.wait(SAFETY_POLL_S)
                else:
                    await asyncio.sleep(POLL_S)
                    wrote = False
                now = version.read()
                # The write is heard before its commit is published: look again
                # shortly, a few times, until data_version moves.
                for delay in RECHECK_S if wrote else ():
                    if now is None or now != last:
                        break
                    await asyncio.sleep(delay)
                    now = version.read()
                if last is not None and now is not None and now != last:
                    # Something was committed; but most commits while idle are not
                    # the board's (the sealer, heartbeats): a look at what the pages
                    # read decides, before any recomputation.
                    seen = version.inputs()
                    if seen is None or inputs is None or seen.others != inputs.others:
                        hub.poke(full=seen is not None and inputs is not None)
                    elif seen.taps != inputs.taps:
                        hub.poke()
                    else:
                        hub.skipped += 1
                    inputs = seen
                if now is not None:
                    last = now
        finally:
            writes.close()
            version.close()

    return watch


def listening_watcher(
    make_listener: Callable[[Callable[[str], None]], Listener | None], hub: Hub
) -> Watcher:
    """LISTEN through the store's listener (keepalives, ping, reconnect); while it is
    not listening (or there is none), poke the hub every POLL_DOWN_S so the board
    still moves. A NOTIFY on the cards channel (people or cards changed), and each
    (re)start of listening (what happened meanwhile was not heard), poke it in full."""

    async def watch() -> None:
        cards_heard = 0
        listener: Listener | None = None

        def changed(reason: str) -> None:
            nonlocal cards_heard
            heard = listener.channel_notifications[CARDS_CHANNEL] if listener else 0
            hub.poke(full=reason == "listening" or heard != cards_heard)
            cards_heard = heard

        listener = make_listener(changed)
        task = None
        if listener is not None:
            task = asyncio.create_task(listener.run(), name="web-listen")
        try:
            while True:
                await asyncio.sleep(POLL_DOWN_S)
                if listener is None or not listener.listening:
                    hub.poke()
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return watch
