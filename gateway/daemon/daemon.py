"""The supervising daemon: one link per reader, the clocking service, the recorder.

Lifecycle: check the database, start the recorder, start the links, tell systemd
READY=1; then ping the watchdog, publish the status, reload on SIGHUP; on SIGTERM or
SIGINT finish the swipes being answered, close the ports, stop the recorder, exit 0.
A reader's link failing never touches the others: each link is its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import time
from datetime import UTC, datetime
from typing import Any

from gateway.clocking import ClockingService, Messages
from gateway.config import Config, ReaderConfig, load_config, redact_url
from gateway.daemon.clockwatch import ClockStep, watch_clock
from gateway.daemon.day_tally import warmed_tally
from gateway.daemon.fleet import FleetMember
from gateway.daemon.notify import Notifier
from gateway.daemon.sealer import Sealer
from gateway.daemon.supervise import Supervisor
from gateway.domain import Direction, IncomingSwipe, StoreUnavailableError, hardware_id_text
from gateway.errors import (
    ConfigError,
    DatabaseUnavailableError,
    GatewayError,
    SchemaMismatchError,
)
from gateway.link import Answer, Link, LinkState, PathWatcher, Ticker
from gateway.logs import get_logger
from gateway.recording.recorder import Recorder
from gateway.status import (
    LIVENESS_EVERY_S,
    ReaderStatus,
    StatusSnapshot,
    same_content,
    snapshot_of,
    write_status,
)
from gateway.store.database import Database
from gateway.store.stores import Stores

STATUS_EVERY_S = 1.0
STALL_WARN_S = 0.25
# Spooled events are already fsync'd; beyond this the recorder's stop is abandoned.
RECORDER_STOP_S = 5.0

log = get_logger("daemon")


# Which gateway noticed a clock step; one per database until fleet ids arrive.


class Daemon:
    def __init__(self, config: Config, *, config_path: str | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.notifier = Notifier()
        self.links: dict[str, Link] = {}
        self.started_at = datetime.now(UTC)
        self.stores: Stores | None = None
        self.recorder: Recorder | None = None
        self.service: ClockingService | None = None
        self.fleet: FleetMember | None = None  # heartbeat, card changes, metrics
        self.sealer: Sealer | None = None  # the register's seals and heads
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self.supervisor = Supervisor()
        # One inotify watch for all links: a replugged reader is back at once.
        self.watcher = PathWatcher()
        # One heartbeat timer for all links (gateway/link/ticker.py), made on the loop.
        self.ticker: Ticker | None = None
        self._state_since: dict[str, tuple[str, datetime]] = {}
        self._reader_cache: dict[str, tuple[tuple[Any, ...], ReaderStatus]] = {}
        self._last_outcome: dict[str, str] = {}
        self._last_status_line = ""
        self._status_error: str | None = None

    # -- run -------------------------------------------------------------------------
    async def run(self) -> int:
        config = self.config
        messages = _messages(config)  # a bad template is a configuration error: exit 3
        loop = asyncio.get_running_loop()
        # Installed first: a SIGTERM during startup is a clean stop, not a kill.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._spawn_reload)
        log.info("daemon_starting", **config_summary(config), fd_limit=_raise_fd_limit())
        self.stores = Stores.open(config.database)
        try:
            offline = await self._check_database(self.stores.db)
        except SchemaMismatchError:
            await self.stores.close()
            raise
        self.recorder = Recorder(self.stores.swipes, config.state_dir, config)
        try:
            await self.recorder.start()
        except (StoreUnavailableError, OSError) as exc:
            await self.stores.close()
            raise GatewayError(
                f"cannot use the state directory {config.state_dir}: {exc}"
            ) from None
        if offline and self.recorder.stats().directory_cards == 0:
            # Never connected and nothing known: offline mode could only say KO.
            await self.recorder.stop()
            await self.stores.close()
            raise offline
        self.service = ClockingService(
            self.recorder,
            messages,
            config.duplicate_window_s,
            show_offline=config.spool.show_offline,
            gateway_id=config.gateway_id,
            tally=await warmed_tally(self.stores, config, offline=offline is not None),
            show_day_total=config.show_day_total,
        )
        self.fleet = FleetMember(
            config,
            self.stores,
            self.recorder,
            self._reader_status,
            lambda name: name in self.links and self.links[name].supervised,
            self.started_at,
        )
        await self.fleet.start()
        for reader in config.readers:
            self._start_link(reader)
        if not config.readers:
            log.warning("no_readers", hint="add [[readers]] to the configuration")
        self.supervisor.keep("status", self._status_loop, critical=True)
        self.supervisor.keep("clock", lambda: watch_clock(self._record_clock_step), critical=False)
        if config.register.seal:
            self.sealer = Sealer(
                self.stores.seals,
                config.state_dir,
                config.gateway_id,
                url=config.database.url,
                pooler=config.database.pooler,
            )
            self.supervisor.keep("sealer", self.sealer.run, critical=False)
        watchdog_s = self.notifier.watchdog_s
        if watchdog_s:
            self.supervisor.keep("watchdog", lambda: self._watchdog_loop(watchdog_s), critical=True)
        self.notifier.send(READY="1", STATUS=self._status_line())
        log.info(
            "daemon_ready",
            readers=[r.name for r in config.readers],
            database="offline" if offline else "ok",
        )
        await self._stop.wait()
        await self._shutdown()
        return 0

    async def _record_clock_step(self, step: ClockStep) -> None:
        """Into clock_steps (schema v2) for the reports; the log line is already out."""
        if self.stores is None:
            return
        try:
            async with asyncio.timeout(10):
                # Under this daemon's own id: reports by gateway flag only the
                # days this PC's clock touched.
                await self.stores.clock_steps.record(
                    self.config.gateway_id, step.detected_at, step.step_s
                )
        except Exception as exc:  # a database away or a version-1 schema: logged, not fatal
            log.warning("clock_step_not_recorded", step_s=step.step_s, error=str(exc))

    async def _check_database(self, db: Database) -> DatabaseUnavailableError | None:
        """None if the database answers; else the error, and the daemon tries offline."""
        try:
            async with asyncio.timeout(10):
                version = await db.check()
        except SchemaMismatchError as exc:
            # It answers, with the wrong schema: swipes must neither go to it nor pile up
            # in a spool that could never drain. Refuse to start, naming the fix.
            log.error("database_schema_mismatch", error=str(exc))
            raise
        except (DatabaseUnavailableError, TimeoutError) as exc:
            error = (
                exc
                if isinstance(exc, DatabaseUnavailableError)
                else DatabaseUnavailableError(f"database {db.url} did not answer in 10 s")
            )
            log.warning("database_unavailable_at_start", error=str(error))
            return error
        log.info("database_ok", url=db.url, schema_version=version)
        return None

    async def _shutdown(self) -> None:
        log.info("daemon_stopping", in_flight=sum(ln.in_flight for ln in self.links.values()))
        self.notifier.send(STOPPING="1", STATUS="stopping")
        # Links first, all at once: each finishes its in-flight swipes, then closes.
        await asyncio.gather(*(link.stop() for link in self.links.values()))
        if self.fleet is not None:
            await self.fleet.stop()
        await self.supervisor.stop()  # failures were logged when they happened
        self.watcher.close()
        if self.recorder is not None:
            try:
                # Bounded: systemd's stop timeout must never be what ends the daemon.
                async with asyncio.timeout(RECORDER_STOP_S):
                    await self.recorder.stop()
            except TimeoutError:
                log.error(
                    "recorder_stop_timeout",
                    timeout_s=RECORDER_STOP_S,
                    hint="spooled events are safe and replayed at the next start",
                )
            except Exception as exc:  # logged plainly, and the rest of the stop goes on
                log.error("recorder_stop_failed", error=repr(exc), exc_info=True)
        if self.sealer is not None:
            await self.sealer.final()  # what this daemon stored leaves sealed
        if self.stores is not None:
            await self.stores.close()
        with contextlib.suppress(OSError):
            await asyncio.to_thread(
                write_status, self.config.state_dir, self._snapshot(stopped=True)
            )
        self.notifier.close()
        log.info("daemon_stopped")

    def stop(self) -> None:
        self._stop.set()

    # -- links -----------------------------------------------------------------------
    def _start_link(self, reader: ReaderConfig) -> None:
        messages = self.service.messages if self.service else _messages(self.config)
        idle_text, refuse_text = _link_texts(messages, reader)
        if self.ticker is None:
            self.ticker = Ticker(asyncio.get_running_loop())
        link = Link(
            reader,
            self._handle,
            heartbeat_ms=self.config.heartbeat_ms,
            idle_text=idle_text,
            refuse_text=refuse_text,
            refuse_mismatch=self.config.on_role_mismatch == "refuse",
            watcher=self.watcher,
            ticker=self.ticker,
        )
        self.links[reader.name] = link
        link.start()

    async def _handle(self, swipe: IncomingSwipe) -> Answer:
        assert self.service is not None
        started = time.perf_counter()
        reply = await self.service.handle(swipe)
        self._last_outcome[swipe.reader] = reply.outcome.value
        if self.fleet is not None:
            self.fleet.swipe(swipe.reader, reply.outcome.value, time.perf_counter() - started)
        return Answer(
            reply.status,
            reply.text,
            {
                "person_uid": reply.person_uid,
                "outcome": reply.outcome.value,
                "durability": reply.durability.value if reply.durability else None,
                "from_cache": reply.from_cache,
            },
        )

    # -- reload ----------------------------------------------------------------------
    def _spawn_reload(self) -> None:
        self.supervisor.once("reload", self.reload())

    async def reload(self) -> None:
        """Apply a new configuration file; keep the old one if the new one is invalid."""
        if self.service is None:
            log.warning("reload_ignored", reason="still starting; send SIGHUP again later")
            return
        async with self._reload_lock:  # one reload at a time, however many SIGHUPs
            self.notifier.send(RELOADING="1")
            try:
                await self._reload()
            finally:
                self.notifier.send(READY="1", STATUS=self._status_line())

    async def _reload(self) -> None:
        old = self.config
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
            messages = _messages(new)
        except GatewayError as exc:
            log.error("reload_refused", error=str(exc), kept=old.source)
            return
        for what, before, after in (
            ("database.url", redact_url(old.database.url), redact_url(new.database.url)),
            ("database.pooler", old.database.pooler, new.database.pooler),
            (
                "database.listen_url",
                redact_url(str(old.database.listen_url)),
                redact_url(str(new.database.listen_url)),
            ),
            ("gateway.state_dir", str(old.state_dir), str(new.state_dir)),
            ("gateway.heartbeat_ms", str(old.heartbeat_ms), str(new.heartbeat_ms)),
            ("gateway.id", old.gateway_id, new.gateway_id),
            ("metrics.listen", str(old.metrics.listen), str(new.metrics.listen)),
            (
                "fleet",
                redact_url(str(old.fleet)),  # notify_url may hold a password
                redact_url(str(new.fleet)),
            ),
        ):
            if before != after:
                log.warning("reload_needs_restart", key=what, running=before, configured=after)
        old_readers = {r.name: r for r in old.readers}
        new_readers = {r.name: r for r in new.readers}
        changed = [n for n in old_readers if n in new_readers and old_readers[n] != new_readers[n]]
        # The idle screen and the refusal reach a reader only in HELLO_ACK: a reader would
        # keep the old language until its next HELLO. Restart the links whose texts changed;
        # the reader announces itself again at once and shows the new texts.
        changed += [
            name
            for name, link in self.links.items()
            if name in new_readers
            and name not in changed
            and (link.machine.idle_text, link.machine.refuse_text)
            != _link_texts(messages, new_readers[name])
        ]
        removed = [n for n in old_readers if n not in new_readers]
        added = [n for n in new_readers if n not in old_readers]
        stops = [self.links.pop(n) for n in (*removed, *changed) if n in self.links]
        await asyncio.gather(*(link.stop() for link in stops))
        self.config = new_config = _keep_restart_only(old, new)
        assert self.service is not None
        self.service.messages = messages
        self.service.duplicate_window_s = new_config.duplicate_window_s
        self.service.show_offline = new_config.spool.show_offline
        self.service.show_day_total = new_config.show_day_total
        for name in (*changed, *added):
            self._start_link(new_readers[name])
        log.info(
            "config_reloaded",
            source=new.source,
            added=added,
            removed=removed,
            changed=changed,
            readers=sorted(new_readers),
        )

    # -- status, watchdog ------------------------------------------------------------
    def _reader_status(self) -> tuple[ReaderStatus, ...]:
        now = datetime.now(UTC)
        out = []
        cache = self._reader_cache
        for name, link in self.links.items():
            state = link.state.value
            prev = self._state_since.get(name)
            if prev is None or prev[0] != state:
                self._state_since[name] = (state, now)
            machine = link.machine
            # Read every second for the status file, and 256 readers' entries barely
            # change: an unchanged reader keeps its ReaderStatus (built once, and then
            # compared by identity when the snapshot is checked for changes).
            key = (
                link,
                state,
                machine.hardware_id,
                machine.fw_version,
                link.last_swipe_at,
                self._last_outcome.get(name),
            )
            cached = cache.get(name)
            if cached is not None and cached[0] == key:
                out.append(cached[1])
                continue
            status = ReaderStatus(
                name=name,
                port=link.config.port,
                role=link.config.role,
                link_state=state,
                since=self._state_since[name][1],
                hardware_id=hardware_id_text(machine.hardware_id) if machine.hardware_id else None,
                firmware=".".join(map(str, machine.fw_version)) if machine.fw_version else None,
                last_swipe_at=link.last_swipe_at,
                last_swipe=self._last_outcome.get(name),
            )
            cache[name] = (key, status)
            out.append(status)
        if len(cache) > len(self.links):  # readers removed by a reload
            for gone in set(cache) - set(self.links):
                del cache[gone]
        return tuple(out)

    def _snapshot(self, *, stopped: bool = False) -> Any:
        stats = self.recorder.stats() if self.recorder is not None else None
        register = self.sealer.status() if self.sealer is not None else None
        return snapshot_of(
            self.started_at, self._reader_status(), stats, stopped=stopped, register=register
        )

    def _status_line(self, readers: tuple[ReaderStatus, ...] | None = None) -> str:
        """systemd's STATUS; from `readers` when the caller has just read them."""
        if readers is None:
            parts = [f"{name} {link.state.value}" for name, link in self.links.items()]
        else:
            parts = [f"{r.name} {r.link_state}" for r in readers]
        if not self.supervisor.healthy:
            parts.insert(0, f"UNHEALTHY ({self.supervisor.given_up} keeps failing)")
        if self.recorder is not None:
            stats = self.recorder.stats()
            parts.append("db ok" if stats.database_ok else "db OFFLINE")
            if stats.spool_depth:
                parts.append(f"spool {stats.spool_depth}")
        return ", ".join(parts) or "no readers"

    async def _status_loop(self) -> None:
        written: StatusSnapshot | None = None
        written_at = 0.0
        while True:
            snapshot = self._snapshot()
            try:
                # Unchanged: only a liveness refresh now and then (see gateway.status).
                if (
                    written is None
                    or time.monotonic() - written_at >= LIVENESS_EVERY_S
                    or not same_content(snapshot, written)
                ):
                    await asyncio.to_thread(write_status, self.config.state_dir, snapshot)
                    written, written_at = snapshot, time.monotonic()
            except OSError as exc:
                written = None  # retry at the next tick
                if str(exc) != self._status_error:  # once per problem, not every second
                    self._status_error = str(exc)
                    log.warning("status_write_failed", error=str(exc))
            else:
                if self._status_error is not None:
                    self._status_error = None
                    log.info("status_write_ok")
            line = self._status_line(snapshot.readers)
            if line != self._last_status_line:
                self._last_status_line = line
                self.notifier.send(STATUS=line)
                silent = [n for n, ln in self.links.items() if ln.state is LinkState.SILENT]
                if silent:
                    log.warning("readers_silent", readers=silent)
            slept = time.monotonic()
            await asyncio.sleep(STATUS_EVERY_S)
            late = time.monotonic() - slept - STATUS_EVERY_S
            if late > STALL_WARN_S:
                # Every reader waited this long too: worth an operator's attention.
                log.warning("event_loop_stall", late_ms=round(late * 1000, 1))

    async def _watchdog_loop(self, interval_s: float) -> None:
        # Pinged from the event loop itself: a stalled loop stops the pings and systemd
        # restarts the service, which is exactly what the watchdog is for. So does a
        # critical loop that the supervisor could not keep alive.
        told = False
        while True:
            if self.supervisor.healthy:
                self.notifier.send(WATCHDOG="1")
            elif not told:
                told = True
                log.critical(
                    "watchdog_pings_stopped",
                    task=self.supervisor.given_up,
                    hint="systemd restarts the service when WatchdogSec passes",
                )
                self.notifier.send(STATUS=f"unhealthy: {self.supervisor.given_up} keeps failing")
            await asyncio.sleep(interval_s)


def _raise_fd_limit() -> int:
    """Lift the soft descriptor limit to the hard one (at most 65536); the new limit.

    The soft limit is 1024 by default, a legacy of select(); nothing in the daemon uses
    select() (the serial adapter reads ports directly), and each reader, database
    connection and spool file takes a descriptor.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return int(soft)


def _link_texts(messages: Messages, reader: ReaderConfig) -> tuple[str, str]:
    """The idle screen and the refusal a reader is sent in HELLO_ACK."""
    idle = "idle_in" if reader.role is Direction.IN else "idle_out"
    return messages.render(idle), messages.render("role_refused")


def _messages(config: Config) -> Messages:
    try:
        return Messages(config.locale, config.templates)
    except ConfigError as exc:
        raise ConfigError(config.source, exc.key and f"messages.{exc.key}", exc.problem) from None


def _keep_restart_only(old: Config, new: Config) -> Config:
    """The new configuration, except what only a restart can change."""
    from dataclasses import replace

    return replace(
        new,
        database=old.database,
        state_dir=old.state_dir,
        heartbeat_ms=old.heartbeat_ms,
        gateway_id=old.gateway_id,  # stamped on every swipe and on the spool's records
        metrics=old.metrics,
        fleet=old.fleet,
    )


def config_summary(config: Config) -> dict[str, Any]:
    """What the daemon runs with, for the startup log: never a password."""
    return {
        "config": config.source,
        "gateway_id": config.gateway_id,
        "database": redact_url(config.database.url),
        "state_dir": str(config.state_dir),
        "readers": [f"{r.name}:{r.role}:{r.port}@{r.baud}" for r in config.readers],
        "locale": config.locale,
        "timezone": config.timezone,
        "duplicate_window_s": config.duplicate_window_s,
        "heartbeat_ms": config.heartbeat_ms,
        "on_role_mismatch": config.on_role_mismatch,
        "metrics": None
        if config.metrics.listen is None
        else "{}:{}".format(*config.metrics.listen),
    }
