"""`clock-gateway demo`: the whole gateway on this machine, no hardware, in seconds.

It makes a temporary directory with an SQLite database, seeds three people, starts
the real daemon (`clock-gateway run`, as a subprocess) with two emulated readers on
pseudo-terminals, plays a short morning and prints every tap with what the reader's
LCD shows. Nothing outside the temporary directory is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import gateway
from gateway.errors import GatewayError

PEOPLE = (("ana", "Ana García", "04A1B2C3"), ("luis", "Luis Núñez", "04B2C3D4E5F601"))
NEWCOMER = ("marta", "Marta Ruiz", "04C0FFEE")
READY_TIMEOUT_S = 20.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the gateway with two emulated readers and a scripted morning",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, logs)"
    )
    parser.add_argument(
        "--pause", type=float, default=0.3, metavar="S", help="seconds between taps (0.3)"
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="afterwards, serve the live board on 127.0.0.1 and print its URL; runs until Ctrl-C",
    )
    parser.add_argument("--port", type=int, default=8080, metavar="N", help="port for --web (8080)")
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="clock-gateway-demo-"))
    demo = Demo(work, pause=max(0.0, args.pause), web_port=args.port if args.web else None)
    try:
        return asyncio.run(demo.run())
    except KeyboardInterrupt:
        if demo.serving:  # Ctrl-C is how `demo --web` ends: not a failure
            print("\nstopped.")
            return 0
        raise
    finally:
        if args.keep:
            print(f"\nkept: {work} (config.toml, clock-gateway.db, daemon.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _timetable_now() -> list[Any]:
    """A timetable that has the demo's people expected now, so the board shows them."""
    from datetime import UTC, datetime, timedelta

    from gateway.store.models import TimetableEntry

    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=4)
    rooms = ("Aula 12", "Laboratorio")
    return [
        TimetableEntry(uid, start.isoweekday(), start.time(), end.time(), room)
        for (uid, _name, _card), room in zip(PEOPLE, rooms, strict=True)
    ]


def _lcd(text: str) -> str:
    top, _, bottom = text.partition("\n")
    return f"[{top:<16}|{bottom:<16}]"


class Demo:
    def __init__(self, work: Path, *, pause: float, web_port: int | None = None) -> None:
        self.work = work
        self.web_port = web_port
        self.serving = False
        self.pause = pause
        self.config = work / "config.toml"
        self.db = work / "clock-gateway.db"
        self.log = work / "daemon.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(Path(gateway.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
            ),
        }
        self.env.pop("CLOCK_GATEWAY_DATABASE_URL", None)  # the demo's own database only

    async def run(self) -> int:
        from gateway.emulator import VirtualReader

        self._write_config()
        await self._seed()
        print("clock-gateway demo")
        print(f"  database: {self.db} (SQLite)")
        print("  readers:  entrance (clock-in) and exit (clock-out), emulated on PTYs\n")
        entrance = VirtualReader(
            "in", name="entrance", link_path=self.work / "entrance", reset_on_open=True
        )
        exit_ = VirtualReader("out", name="exit", link_path=self.work / "exit", reset_on_open=True)
        await entrance.start()
        await exit_.start()
        with self.log.open("wb") as log_file:
            daemon = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway",
                "run",
                "--config",
                str(self.config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=self.env,
            )
        try:
            try:
                async with asyncio.timeout(READY_TIMEOUT_S):
                    await asyncio.gather(entrance.wait_online(), exit_.wait_online())
            except TimeoutError:
                raise GatewayError(
                    f"the daemon did not bring the readers online in {READY_TIMEOUT_S:g} s; "
                    f"its log: {self.log}"
                ) from None
            print("  daemon started; both readers online:")
            print(f"    entrance LCD {_lcd(chr(10).join(entrance.lcd))}")
            print(f"    exit     LCD {_lcd(chr(10).join(exit_.lcd))}\n")
            await self._morning(entrance, exit_)
            if self.web_port is not None:
                print("\n15:30 back for the afternoon")
                result = await entrance.tap(bytes.fromhex(PEOPLE[0][2]), timeout=10)
                print(f"  entrance {PEOPLE[0][1]:<12} {PEOPLE[0][2]:<14}  LCD {_lcd(result.text)}")
        finally:
            code = await self._stop(daemon)
            await entrance.close()
            await exit_.close()
        await self._summary()
        if code != 0:
            raise GatewayError(f"the daemon exited with {code}; its log: {self.log}")
        print("\ndaemon stopped cleanly (SIGTERM, exit 0). Try it with your own readers:")
        print("  clock-gateway ports    clock-gateway run --config /etc/clock-gateway/config.toml")
        if self.web_port is not None:
            await self._web(self.web_port)
        return 0

    async def _web(self, port: int) -> None:
        from gateway.config import load_config
        from gateway.web.server import check_bindable, serve_async

        check_bindable("127.0.0.1", port)
        config = load_config(str(self.config))

        def ready(url: str) -> None:
            self.serving = True
            print(f"\nthe live board: {url}   (Ctrl-C to stop)")
            print("  the admin pages need an account; in another terminal:")
            print(f"  clock-gateway admins add YOURNAME --config {self.config}")
            print(f"  then open {url}people and tap-enrol, correct, report.")

        await serve_async(config, "127.0.0.1", port, ready)

    async def _morning(self, entrance: Any, exit_: Any) -> None:
        ana, luis = PEOPLE
        cards = {p[2]: p[1] for p in (*PEOPLE, NEWCOMER)}

        async def tap(reader: Any, where: str, key: str, note: str = "") -> None:
            result = await reader.tap(bytes.fromhex(key), timeout=10)
            who = cards.get(key, "?") if note != "unknown" else "(new card)"
            status = result.status.name if result.status is not None else "NO ANSWER"
            line = f"  {where:<8} {who:<12} {key:<14}  {status:<2}  LCD {_lcd(result.text)}"
            extra = f"  {result.latency_s * 1000:.0f} ms"
            print(line + extra + (f"  <- {note}" if note and note != "unknown" else ""))
            await asyncio.sleep(self.pause)

        print("08:00 clock-ins")
        await tap(entrance, "entrance", ana[2])
        await tap(entrance, "entrance", luis[2])
        await tap(entrance, "entrance", ana[2], "double tap: stored as a duplicate")
        print("\n08:05 a new colleague's card nobody has enrolled yet")
        await tap(entrance, "entrance", NEWCOMER[2], "unknown")
        print("\n08:06 the office enrols it (the card is in 'clock-gateway cards unknown'):")
        await self._cli("users", "add", NEWCOMER[0], NEWCOMER[1])
        await self._cli("cards", "assign", NEWCOMER[2], NEWCOMER[0])
        await tap(entrance, "entrance", NEWCOMER[2], "enrolled: recorded now")
        print("\n14:45 clock-outs")
        await tap(exit_, "exit", ana[2])
        await tap(exit_, "exit", luis[2])
        await tap(exit_, "exit", NEWCOMER[2])

    async def _cli(self, *argv: str) -> None:
        shown = " ".join(f'"{a}"' if " " in a else a for a in argv)
        print(f"  $ clock-gateway {shown}")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            *argv,
            "--config",
            str(self.config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
        )
        out, _ = await proc.communicate()
        for line in out.decode(errors="replace").splitlines():
            print(f"    {line}")
        if proc.returncode != 0:
            raise GatewayError(f"clock-gateway {shown} failed with {proc.returncode}")

    async def _stop(self, daemon: asyncio.subprocess.Process) -> int:
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    return await daemon.wait()
            except TimeoutError:
                daemon.kill()
                await daemon.wait()
                return -9
        return daemon.returncode

    async def _summary(self) -> None:
        from gateway.store.stores import Stores

        stores = Stores.open(f"sqlite:///{self.db}")
        try:
            events = await stores.events.events_since(0)
        finally:
            await stores.close()
        print("\nwhat the database now holds (clock_events):")
        for e in events:
            stamp = e.received_at.astimezone().strftime("%H:%M:%S")
            print(
                f"  {stamp}  {e.person_uid:<6} {e.direction.value:<3}  "
                f"{e.reader:<8}  {e.outcome.value}"
            )
        latencies = self._latencies()
        if latencies:
            median = sorted(latencies)[len(latencies) // 2]
            print(
                f"\ndaemon: {len(latencies)} swipes answered, median {median:.1f} ms, "
                f"max {max(latencies):.1f} ms from SWIPE in to RESULT out"
            )

    def _latencies(self) -> list[float]:
        found = []
        with contextlib.suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict) and event.get("event") == "swipe":
                        found.append(float(event.get("latency_ms", 0)))
        return found

    def _write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    "[gateway]",
                    f"state_dir = {json.dumps(str(self.work / 'state'))}",
                    # With --web, ana comes back within the minute: a shorter window keeps
                    # the double tap (two pauses later) a duplicate and her return a clock-in.
                    f"duplicate_window_s = {60 if self.web_port is None else 3}",
                    "",
                    "[database]",
                    f"url = {json.dumps(f'sqlite:///{self.db}')}",
                    "",
                    "[[readers]]",
                    'name = "entrance"',
                    f"port = {json.dumps(str(self.work / 'entrance'))}",
                    'role = "in"',
                    "",
                    "[[readers]]",
                    'name = "exit"',
                    f"port = {json.dumps(str(self.work / 'exit'))}",
                    'role = "out"',
                    "",
                    "[web]",
                    # The demo's people are invented: its board shows their names (a
                    # real installation shows initials unless it says otherwise).
                    'board = "names"',
                    "",
                ]
            )
        )

    async def _seed(self) -> None:
        from gateway.store.stores import Stores

        stores = Stores.open(f"sqlite:///{self.db}")
        try:
            await stores.db.init_schema()
            for uid, name, card in PEOPLE:
                await stores.people.add_person(uid, name)
                await stores.people.assign_card(card, uid)
            if self.web_port is not None:
                await stores.timetable.replace_timetable(_timetable_now())
        finally:
            await stores.close()
