"""Benchmarks of clock-gateway, each measured against a floor taken in the same run.

`python -m bench` (what `make bench` runs) prints one table; see docs/PERFORMANCE.md.
"""
