"""A swipe becomes a clock event and the reply the reader shows.

The service knows no port and no SQL: it gets an `IncomingSwipe` from a link and talks to
storage only through `gateway.domain.EventSink`. Its promises: OK only after the sink
said the event is durable; an unknown card is KO and the sink puts it on the enrolment
list; the same card on the same reader within the duplicate window is stored as a
duplicate and answered "already recorded"; anything that goes wrong is KO with an
error text and a log line, never an exception out of `handle`.

With a `DayTally`, each recorded swipe also updates the person's working time so far
today, in memory, and a clock-out says it on the LCD's second line (`Hoy 7:32`) when
`show_day_total` is on: no database round trip is added to the swipe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gateway.clocking.messages import Messages, unavailable_key
from gateway.clocking.tally import DayTally, day_total_text
from gateway.domain import (
    DEFAULT_GATEWAY_ID,
    ClockEvent,
    Direction,
    Durability,
    EventSink,
    IncomingSwipe,
    Outcome,
    StoreUnavailableError,
    event_key_for,
    hardware_id_text,
)
from gateway.logs import get_logger
from gateway.protocol import Status

log = get_logger("clocking")


class ReplyOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN_CARD = "unknown_card"
    STORE_UNAVAILABLE = "store_unavailable"
    ERROR = "error"


@dataclass(frozen=True)
class Reply:
    status: Status
    text: str
    outcome: ReplyOutcome
    person_uid: str | None = None
    durability: Durability | None = None
    from_cache: bool = False


class ClockingService:
    def __init__(
        self,
        sink: EventSink,
        messages: Messages,
        duplicate_window_s: float,
        *,
        show_offline: bool = True,
        gateway_id: str = DEFAULT_GATEWAY_ID,
        tally: DayTally | None = None,
        show_day_total: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.tally = tally
        self.show_day_total = show_day_total
        self.gateway_id = gateway_id  # stamped on every swipe: which gateway recorded it
        self.messages = messages
        self.duplicate_window_s = duplicate_window_s
        self.show_offline = show_offline
        self._now = now
        # (reader, card key) -> monotonic time of the last counted swipe. In memory on
        # purpose: after a restart the worst case is one extra stored clock event.
        self._last_counted: dict[tuple[str, str], float] = {}

    async def handle(self, swipe: IncomingSwipe) -> Reply:
        """The reply for a new swipe; never raises (except cancellation)."""
        try:
            return await self._handle(swipe)
        except StoreUnavailableError as exc:
            log.error(
                "swipe_not_stored",
                reader=swipe.reader,
                card=swipe.card_key,
                reason=exc.reason,
                error=str(exc) or type(exc).__name__,
            )
            text = self.messages.render(unavailable_key(exc.reason))
            return Reply(Status.KO, text, ReplyOutcome.STORE_UNAVAILABLE)
        except Exception as exc:  # any failure is a KO on the LCD, never a crash
            log.error(
                "swipe_failed",
                reader=swipe.reader,
                card=swipe.card_key,
                error=f"{type(exc).__name__}: {exc}",
                exc_info=True,
            )
            key = "in_error" if swipe.direction is Direction.IN else "out_error"
            return Reply(Status.KO, self.messages.render(key), ReplyOutcome.ERROR)

    async def _handle(self, swipe: IncomingSwipe) -> Reply:
        card_key = swipe.card_key
        window_key = (swipe.reader, card_key)
        now = self._now()
        last = self._last_counted.get(window_key)
        # Decided before the store knows the holder: the window only holds cards that
        # had an active holder when they were counted, and an unknown card stores no
        # event, so the outcome of an unknown card's swipe is never used.
        duplicate = last is not None and now - last < self.duplicate_window_s
        stored = await self.sink.record_swipe(
            ClockEvent(
                event_key=event_key_for(swipe.hardware_id, swipe.session, swipe.seq, card_key),
                card_key=card_key,
                direction=swipe.direction,
                reader=swipe.reader,
                reader_hw_id=hardware_id_text(swipe.hardware_id),
                received_at=swipe.received_at,
                outcome=Outcome.DUPLICATE if duplicate else Outcome.RECORDED,
                gateway_id=self.gateway_id,
            )
        )
        person, durability = stored.person, stored.durability
        if person is None or not person.active or durability is None:
            return Reply(
                Status.KO,
                self.messages.render("unknown_card", card=card_key),
                ReplyOutcome.UNKNOWN_CARD,
                from_cache=stored.from_cache,
            )
        if duplicate:
            text = self.messages.render("duplicate", name=person.name, card=card_key)
            outcome = ReplyOutcome.DUPLICATE
        else:
            # The window starts at the counted swipe: repeated taps do not extend it.
            self._last_counted[window_key] = now
            self._forget_old(now)
            worked = (
                None
                if self.tally is None
                else self.tally.record(person.uid, swipe.direction, swipe.received_at)
            )
            if durability is Durability.SPOOL and self.show_offline:
                key = "offline_ok"
            else:
                key = "in_ok" if swipe.direction is Direction.IN else "out_ok"
            if key == "out_ok" and worked is not None and self.show_day_total:
                text = self.messages.render_day_total(person.name, day_total_text(worked))
            else:
                text = self.messages.render(key, name=person.name, card=card_key)
            outcome = ReplyOutcome.RECORDED
        return Reply(
            Status.OK,
            text,
            outcome,
            person_uid=person.uid,
            durability=durability,
            from_cache=stored.from_cache,
        )

    def _forget_old(self, now: float) -> None:
        if len(self._last_counted) > 4096:
            self._last_counted = {
                k: t for k, t in self._last_counted.items() if now - t < self.duplicate_window_s
            }
