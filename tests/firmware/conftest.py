"""Fixtures for the firmware tests: build once, one simulated board per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.firmware.simharness import Sim, build, missing_tools


@pytest.fixture(scope="session")
def firmware() -> None:
    """The firmware ELF and the simulator, built (skips only without the toolchain)."""
    why = missing_tools()
    if why:
        pytest.skip(f"AVR toolchain/simavr missing: {why}")
    build()


@pytest.fixture
def sim(firmware: None, tmp_path: Path) -> Iterator[Sim]:
    """A fresh board: blank EEPROM (first boot), role jumper open (in)."""
    with Sim(tmp_path) as s:
        yield s
