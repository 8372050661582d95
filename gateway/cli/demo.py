"""`clock-gateway demo`: the whole gateway on this machine, no hardware, in seconds.

It makes a temporary directory with an SQLite database, seeds three people, starts
the real daemon (`clock-gateway run`, as a subprocess) with two emulated readers on
pseudo-terminals, plays a short morning and prints every tap with what the reader's
LCD shows. With --web the daemon and the readers keep running while the live board is
served, and lines typed in the terminal are taps (a name, `out NAME`, `new`). Nothing
outside the temporary directory is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gateway
from gateway.cli.argtypes import int_range, seconds
from gateway.cli.children import die_with_parent
from gateway.errors import ConfigError, GatewayError, UsageError

if TYPE_CHECKING:
    from gateway.cli.demo_taps import Tap
    from gateway.emulator import VirtualReader

PEOPLE = (("ana", "Ana García", "04A1B2C3"), ("luis", "Luis Núñez", "04B2C3D4E5F601"))
NEWCOMER = ("marta", "Marta Ruiz", "04C0FFEE")
READY_TIMEOUT_S = 20.0
# With --web, people tap by hand after the morning, and Ana comes back for the
# afternoon: a window this short keeps the morning's double tap (two pauses later) a
# duplicate and lets the later taps count.
WEB_DUPLICATE_WINDOW_S = 2.0


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
        "--pause", type=seconds(10), default=0.3, metavar="S", help="seconds between taps (0.3)"
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="then serve the live board on 127.0.0.1, with the daemon and the readers still "
        "running, and tap from the terminal; runs until Ctrl-C",
    )
    parser.add_argument(
        "--port", type=int_range(1, 65535), default=8080, metavar="N", help="port for --web (8080)"
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="clock-gateway-demo-"))
    demo = Demo(work, pause=max(0.0, args.pause), web_port=args.port if args.web else None)
    try:
        return asyncio.run(demo.run())
    finally:
        if args.keep:
            print(f"\nkept: {work} (config.toml, clock-gateway.db, daemon.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def invoked_as() -> str:
    """This program as a person can type it again, in any terminal.

    `clock-gateway` only when that is what PATH finds: after `make demo` only
    `.venv/bin/clock-gateway` exists, and telling people to type `clock-gateway` sends
    them to "command not found" (or to another installation).
    """
    script = Path(sys.argv[0])
    if script.name != "clock-gateway":  # `python -m gateway`: the venv's script, if any
        script = Path(sys.executable).parent / "clock-gateway"
        if not os.access(script, os.X_OK):
            return f"{shlex.quote(sys.executable)} -m gateway"
    on_path = shutil.which("clock-gateway")
    if on_path is not None and script.exists() and os.path.samefile(on_path, script):
        return "clock-gateway"
    return shlex.quote(str(script.absolute()))


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
        self.pause = pause
        self.prog = invoked_as()
        self.readers: dict[str, VirtualReader] = {}
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

        if self.web_port is not None:
            self._check_port(self.web_port)  # before the morning, not after it
        self._write_config()
        await self._seed()
        print("clock-gateway demo")
        print(f"  database: {self.db} (SQLite)")
        print("  readers:  entrance (clock-in) and exit (clock-out), emulated on PTYs\n")
        entrance = VirtualReader(
            "in", name="entrance", link_path=self.work / "entrance", reset_on_open=True
        )
        exit_ = VirtualReader("out", name="exit", link_path=self.work / "exit", reset_on_open=True)
        self.readers = {"in": entrance, "out": exit_}
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
                # Ctrl-C in the terminal signals the whole foreground group: the daemon
                # would start stopping by itself while the demo still needs it, and the
                # demo's SIGTERM could then land after its handlers are gone. The demo
                # stops it, in its own time; and it ends with the demo, however that ends.
                start_new_session=True,
                preexec_fn=die_with_parent(),
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
            await self._morning()
            if self.web_port is not None:
                await asyncio.sleep(WEB_DUPLICATE_WINDOW_S)  # her clock-out's window
                print("\n15:30 back for the afternoon")
                ana = PEOPLE[0]
                await self._tap("in", ana[2], ana[1])
                await self._web(self.web_port)
        finally:
            code = await self._stop(daemon)
            await entrance.close()
            await exit_.close()
        await self._summary()
        if code != 0:
            raise GatewayError(f"the daemon exited with {code}; its log: {self.log}")
        print("\ndaemon stopped cleanly (SIGTERM, exit 0). Try it with your own readers:")
        print(f"  {self.prog} ports    # their stable /dev/serial/by-id names")
        print("  then the README's 'Install as a service'.")
        return 0

    @staticmethod
    def _check_port(port: int) -> None:
        from gateway.web.server import check_bindable

        try:
            check_bindable("127.0.0.1", port)
        except ConfigError as exc:
            raise UsageError(f"{exc.problem}: choose another port with --port N") from None

    async def _web(self, port: int) -> None:
        """Serve the board with the daemon and the readers running, and tap what the
        terminal asks for, until SIGINT or SIGTERM (uvicorn stops on those too)."""
        from gateway.cli.demo_taps import HELP, tap_lines
        from gateway.cli.emulate import stdin_lines
        from gateway.config import load_config
        from gateway.store.stores import Stores
        from gateway.web.server import serve_async

        config = load_config(str(self.config))
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        lines = stdin_lines(loop)
        stores = Stores.open(f"sqlite:///{self.db}")

        def ready(url: str) -> None:
            print(f"\nthe live board: {url}   (Ctrl-C to stop)")
            print("The daemon and both readers are still running: type a tap here, then Enter.")
            print("\n".join(HELP))
            print("The admin pages need an account; in another terminal:")
            print(f"  {self.prog} admins add YOURNAME --config {shlex.quote(str(self.config))}")
            print(f"then log in at {url}login to enrol cards, correct taps and see reports.")
            sys.stdout.flush()

        web = asyncio.create_task(serve_async(config, "127.0.0.1", port, ready))
        taps = asyncio.create_task(tap_lines(lines.get, stores.people.people, self._tap_for))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({web, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not web.done():  # a signal before uvicorn took over its handlers
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(web), 5)
            if web.done():
                web.result()  # a failure to serve is the demo's failure
            print("\nstopped.")
        finally:
            for task in (web, taps, stopped):
                task.cancel()
            await asyncio.gather(web, taps, stopped, return_exceptions=True)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await stores.close()

    async def _tap_for(self, wanted: Tap) -> None:
        await self._tap(wanted.direction, wanted.card_key, wanted.who)

    async def _tap(self, direction: str, key: str, who: str, note: str = "") -> None:
        reader = self.readers[direction]
        where = "entrance" if direction == "in" else "exit"
        result = await reader.tap(bytes.fromhex(key), timeout=10)
        status = result.status.name if result.status is not None else "NO ANSWER"
        line = f"  {where:<8} {who:<12} {key:<14}  {status:<2}  LCD {_lcd(result.text)}"
        extra = f"  {result.latency_s * 1000:.0f} ms"
        print(line + extra + (f"  <- {note}" if note else ""), flush=True)

    async def _morning(self) -> None:
        ana, luis = PEOPLE
        names = {p[2]: p[1] for p in (*PEOPLE, NEWCOMER)}

        async def tap(direction: str, key: str, note: str = "") -> None:
            who = names[key] if note != "unknown" else "(new card)"
            await self._tap(direction, key, who, "" if note == "unknown" else note)
            await asyncio.sleep(self.pause)

        print("08:00 clock-ins")
        await tap("in", ana[2])
        await tap("in", luis[2])
        await tap("in", ana[2], "double tap: stored as a duplicate")
        print("\n08:05 a new colleague's card nobody has enrolled yet")
        await tap("in", NEWCOMER[2], "unknown")
        print(f"\n08:06 the office enrols it (the card is in '{self.prog} cards unknown'):")
        await self._cli("users", "add", NEWCOMER[0], NEWCOMER[1])
        await self._cli("cards", "assign", NEWCOMER[2], NEWCOMER[0])
        await tap("in", NEWCOMER[2], "enrolled: recorded now")
        print("\n14:45 clock-outs")
        await tap("out", ana[2])
        await tap("out", luis[2])
        await tap("out", NEWCOMER[2])

    async def _cli(self, *argv: str) -> None:
        shown = shlex.join([*argv, "--config", str(self.config)])
        print(f"  $ {self.prog} {shown}")
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
                    "duplicate_window_s = "
                    + str(60 if self.web_port is None else WEB_DUPLICATE_WINDOW_S),
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
        from gateway.store.audit import Actor
        from gateway.store.stores import Stores

        stores = Stores.open(f"sqlite:///{self.db}")
        try:
            await stores.db.init_schema()
            for uid, name, card in PEOPLE:
                await stores.lifecycle.add_person(uid, name, Actor.cli())
                await stores.lifecycle.assign_card(card, uid, Actor.cli())
            if self.web_port is not None:
                await stores.timetable.replace_timetable(_timetable_now())
        finally:
            await stores.close()
