"""The firmware's portable protocol code against the shared vectors, on the host."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.firmware.simharness import FIRMWARE, ROOT

pytestmark = pytest.mark.firmware


def test_host_vectors_and_reader_logic() -> None:
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed (Debian package g++)")
    assert (ROOT / "tests" / "vectors" / "protocol.json").is_file(), "shared vectors missing"
    r = subprocess.run(
        ["make", "-C", str(FIRMWARE), "host-test"], capture_output=True, text=True, timeout=600
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # The shared file, not only our own vectors, was checked: it has 100+.
    m = re.search(r"host vectors: (\d+) checked, 0 failed", out)
    assert m and int(m.group(1)) > 100, out
    assert "vectors: ../tests/vectors/protocol.json + host/own_vectors.json" in out, out
    assert re.search(r"host reader: \d+ checks, 0 failed", out), out
