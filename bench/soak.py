"""A soak of the reliability guarantees: `python -m bench.soak --minutes 10`.

Longer than the fault tests in `make test` (tests/reliability/test_faults.py) and with
the faults mixed: two emulated readers tap continuously while, every few seconds, one
fault is picked at random (seeded): PostgreSQL stopped for a while, the daemon
SIGKILLed and restarted, a reader's cable pulled and put back, or `clock_events`
locked by another connection. At the end every acknowledged tap must be in
PostgreSQL exactly once, in each reader's order (the same checks as the tests, from
bench/kit/rig.py). PostgreSQL runs with fsync on, as in production.
Prints one JSON line of figures; exits 1 if an invariant is broken. `--fuzz-minutes N`
first runs the seeded serial fuzz of the test suite (bench/kit/serial_fuzz.py) for
N minutes: hostile and mutated frames into the gateway's link machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg

from bench.kit.pgcluster import PgCluster, start_cluster
from bench.kit.rig import Rig
from bench.kit.serial_fuzz import fuzz
from gateway.logs import configure_logging


async def fault(kind: str, rig: Rig, cluster: PgCluster, url: str, rng: random.Random) -> None:
    if kind == "postgres_down":
        await asyncio.to_thread(cluster.stop)
        await asyncio.sleep(rng.uniform(1, 8))
        await asyncio.to_thread(cluster.start)
    elif kind == "sigkill":
        await rig.kill_daemon()
        await rig.start_daemon(wait_online=False)
    elif kind == "unplug":
        reader = rig.readers[rng.choice(sorted(rig.readers))]
        await reader.unplug()
        await asyncio.sleep(rng.uniform(0.05, 3))
        await reader.replug()
    elif kind == "lock":
        conn = await psycopg.AsyncConnection.connect(url)
        await conn.execute("LOCK TABLE clock_events IN ACCESS EXCLUSIVE MODE")
        await asyncio.sleep(rng.uniform(1, 8))
        await conn.rollback()
        await conn.close()


async def soak(minutes: float, seed: int) -> int:
    rng = random.Random(seed)
    cluster = await asyncio.to_thread(start_cluster, durable=True)
    faults: Counter[str] = Counter()
    try:
        url = cluster.create_database("soak")
        with tempfile.TemporaryDirectory(prefix="clock-gateway-soak-") as tmp:
            rig = Rig(Path(tmp), url, wait_s=1.0)
            await rig.seed()
            await rig.start_readers()
            try:
                await rig.start_daemon()
                stop = asyncio.Event()

                async def chaos() -> None:
                    end = time.monotonic() + minutes * 60
                    while time.monotonic() < end:
                        await asyncio.sleep(rng.uniform(1, 5))
                        kind = rng.choice(["postgres_down", "sigkill", "unplug", "lock"])
                        faults[kind] += 1
                        await fault(kind, rig, cluster, url, rng)
                    stop.set()

                started = time.monotonic()
                await asyncio.gather(
                    rig.burst("entrance", until=stop), rig.burst("exit", until=stop), chaos()
                )
                drain_s = await rig.wait_drained(120)
                figures = rig.verify()
                figures.extra |= {
                    "minutes": round((time.monotonic() - started) / 60, 1),
                    "seed": seed,
                    "faults": dict(faults),
                    "drain_after_s": round(drain_s, 2),
                }
                print(figures.line())
                await rig.stop_daemon()
            except AssertionError as exc:
                print(json.dumps({"error": str(exc), "faults": dict(faults), "seed": seed}))
                return 1
            finally:
                await rig.close()
    finally:
        await asyncio.to_thread(cluster.destroy)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed")
    parser.add_argument(
        "--fuzz-minutes",
        type=float,
        default=0.0,
        help="first run the seeded serial fuzz (bench/kit/serial_fuzz.py) this long; "
        "with --minutes 0, only the fuzz",
    )
    args = parser.parse_args(argv)
    configure_logging("warning", json=True, stream=sys.stderr)
    if args.fuzz_minutes > 0:
        figures = fuzz(args.seed, args.fuzz_minutes * 60)
        print(json.dumps({"fuzz": {**figures.__dict__, "ok": figures.ok}}), flush=True)
        if not figures.ok:
            return 1
    if args.minutes <= 0:
        return 0
    return asyncio.run(soak(args.minutes, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
