"""What a new operator meets in the first hour, each as a real command: `config check`
on the example's placeholder ports, `emulate --link` into a missing folder, what
`--hardware-id` defaults to, and `restore` while the daemon runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.kit.harness import REPO_ROOT, DaemonProcess, run_cli, seed, write_config
from gateway.emulator import VirtualReader

pytestmark = pytest.mark.e2e


def test_config_check_warns_about_ports_that_do_not_exist(tmp_path: Path) -> None:
    done = run_cli("config", "check", "--config", str(REPO_ROOT / "config.example.toml"))
    assert done.returncode == 0, done.stderr  # a warning, not a failure
    assert done.stdout.endswith(": OK (2 reader(s), 2 warning(s))\n")
    warnings = done.stderr.splitlines()
    assert len(warnings) == 2 and "Traceback" not in done.stderr
    assert warnings[0].endswith(
        "config.example.toml: warning: readers[0].port (entrance): /dev/serial/by-id/"
        "usb-Arduino__www.arduino.cc__0043_7563331343335170E0A1-if00 does not exist "
        "(not plugged in? 'clock-gateway ports' lists the readers' /dev/serial/by-id names)"
    )
    assert "readers[1].port (exit)" in warnings[1]


def test_config_check_is_quiet_about_ports_that_are_there(tmp_path: Path) -> None:
    port = tmp_path / "ttyACM-here"
    port.touch()
    config = write_config(
        tmp_path / "c.toml",
        database_url=f"sqlite:///{tmp_path / 'db'}",
        state_dir=tmp_path / "state",
        readers=[("entrance", str(port), "in")],
    )
    done = run_cli("config", "check", "--config", str(config))
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"{config}: OK (1 reader(s))\n"


def test_emulate_link_into_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    link = tmp_path / "no-such-folder" / "entrance"
    done = run_cli("emulate", "--role", "in", "--link", str(link), "04A1B2C3", timeout=30)
    assert done.returncode == 2
    assert done.stderr == (
        f"clock-gateway: error: --link {link}: the folder {link.parent} does not exist\n"
    )
    assert "/dev/pts" not in done.stderr and done.stdout == ""


def test_the_hardware_id_defaults_to_a_hash_of_the_name_as_its_help_says() -> None:
    help_text = " ".join(run_cli("emulate", "--help").stdout.split())
    assert "default: a hash of the name" in help_text and "random" not in help_text
    a1, a2 = VirtualReader("in", name="a"), VirtualReader("in", name="a")
    assert a1.hardware_id == a2.hardware_id != VirtualReader("in", name="b").hardware_id


def test_restore_while_the_daemon_runs_is_a_conflict(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    seed(url, [("ana", "Ana", "04A1B2C3")])
    config = write_config(tmp_path / "c.toml", database_url=url, state_dir=tmp_path / "state")
    backup = tmp_path / "backup"
    saved = run_cli("backup", str(backup), "--config", str(config))
    assert saved.returncode == 0, saved.stderr
    with DaemonProcess(config) as daemon:
        daemon.wait_ready()
        done = run_cli("restore", str(backup), "--config", str(config))
        assert daemon.stop() == 0
    assert done.returncode == 5, done.stderr  # the README's table: 5 = conflict
    assert done.stderr.splitlines() == [
        f"clock-gateway: error: clock-gateway is running on {tmp_path / 'state'}: stop it "
        "first (sudo systemctl stop clock-gateway)"
    ]
    assert json.loads((backup / "manifest.json").read_text())  # untouched, still whole
