"""The real parts that the benchmarks and the tests both drive.

A throwaway PostgreSQL cluster (`pgcluster`), the original system's database schema
and a generator of its rows (`original_db`), the seeded serial fuzzer (`serial_fuzz`),
the daemon as a subprocess with its config and PTYs (`harness`), and the fault rig
that taps through it and counts what was kept (`rig`). They live here, not under
tests/, so that bench/ imports nothing from tests/; the tests import them from here.
"""
