"""`make install` into a scratch root, as root: layout, modes, the unit, upgrade, uninstall.

The install is the one a person runs (`sudo make install`), with DESTDIR pointing at a
scratch directory and SERVICE_USER at Debian's `daemon` user (a scratch root has no
user database, and the test must not create users on the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER = "daemon"
UNIT = "etc/systemd/system/clock-gateway.service"
WEB_UNIT = "etc/systemd/system/clock-gateway-web.service"
PURGE_UNIT = "etc/systemd/system/clock-gateway-purge.service"
PURGE_TIMER = "etc/systemd/system/clock-gateway-purge.timer"
OPEN_DAYS_UNIT = "etc/systemd/system/clock-gateway-open-days.service"
OPEN_DAYS_TIMER = "etc/systemd/system/clock-gateway-open-days.timer"

pytestmark = [
    pytest.mark.install,
    pytest.mark.timeout(900),
    pytest.mark.skipif(os.geteuid() != 0, reason="installs files owned by other users: root"),
]


def make(target: str, root: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(root), "SERVICE_USER": USER, **extra}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), target],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    # Not under pytest's own temporary directory (0700, root's): the service user must
    # be able to reach the installed program, as on a real system.
    scratch = Path(tempfile.mkdtemp(prefix="clock-gateway-root-"))
    scratch.chmod(0o755)
    try:
        done = make("install", scratch)
        assert done.returncode == 0, done.stdout + done.stderr
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def mode(path: Path) -> str:
    st = path.lstat()
    return f"{stat.S_IMODE(st.st_mode):04o} {owner(st.st_uid)}:{group(st.st_gid)}"


def owner(uid: int) -> str:
    import pwd

    return pwd.getpwuid(uid).pw_name


def group(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def unit_value(root: Path, key: str) -> str:
    text = (root / UNIT).read_text()
    found = re.search(rf"^{key}=(.*)$", text, re.MULTILINE)
    assert found, f"{key}= not in the installed unit"
    return found.group(1)


def test_layout_and_modes(root: Path) -> None:
    assert mode(root / "opt/clock-gateway/bin/clock-gateway").startswith("0755 root:")
    link = root / "usr/local/bin/clock-gateway"
    assert link.is_symlink() and os.readlink(link) == "/opt/clock-gateway/bin/clock-gateway"
    assert mode(root / UNIT) == "0644 root:root"
    assert mode(root / "etc/udev/rules.d/99-clock-gateway.rules") == "0644 root:root"
    assert mode(root / "etc/clock-gateway") == "0755 root:root"
    assert mode(root / "etc/clock-gateway/config.toml") == f"0640 root:{USER}"
    assert mode(root / "etc/clock-gateway/env") == "0600 root:root"
    assert mode(root / "var/lib/clock-gateway") == f"0750 {USER}:{USER}"
    key = root / "var/lib/clock-gateway/web-session.key"
    assert mode(key) == f"0600 {USER}:{USER}" and len(key.read_text().strip()) >= 32
    assert (root / "etc/clock-gateway/config.toml").read_bytes() == (
        REPO / "config.example.toml"
    ).read_bytes()
    # Documentation= names a file the install created.
    doc = unit_value(root, "Documentation").removeprefix("file://")
    assert (root / doc.lstrip("/")).is_file()
    assert (root / "usr/local/share/doc/clock-gateway/LICENSE").is_file()
    assert unit_value(root, "User") == USER


def test_the_program_in_execstart_runs(root: Path) -> None:
    binary, *args = unit_value(root, "ExecStart").split()
    assert args[:1] == ["run"] and "/etc/clock-gateway/config.toml" in args
    done = subprocess.run(
        [str(root / binary.lstrip("/")), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"clock-gateway \d+\.\d+\.\d+\n", done.stdout)


def _with_systemd_units(root: Path) -> None:
    """systemd-analyze --root looks for everything in the root: the distribution's own
    units (multi-user.target ...) and ExecReload's /bin/kill. Copied, not linked, so
    that nothing resolves outside the scratch root."""
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    kill = root / "usr/bin/kill"
    kill.parent.mkdir(parents=True, exist_ok=True)
    if not kill.exists():
        shutil.copy2("/usr/bin/kill", kill)
    for name in ("bin", "lib"):
        if not (root / name).exists():
            (root / name).symlink_to(f"usr/{name}")


@pytest.mark.parametrize(
    "unit", [UNIT, WEB_UNIT, PURGE_UNIT, PURGE_TIMER, OPEN_DAYS_UNIT, OPEN_DAYS_TIMER]
)
def test_the_installed_units_verify(root: Path, unit: str) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: apt-get install systemd"
    _with_systemd_units(root)
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", str(root / unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


@pytest.mark.parametrize("unit", [UNIT, WEB_UNIT, PURGE_UNIT, OPEN_DAYS_UNIT])
def test_the_units_are_hardened_to_exposure_1_5_or_less(root: Path, unit: str) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: apt-get install systemd"
    _with_systemd_units(root)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", str(root / unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    name = re.escape(Path(unit).name)
    found = re.search(rf"Overall exposure level for {name}: ([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 1.5, done.stdout


def as_service_user(*command: str) -> list[str]:
    return ["runuser", "-u", USER, "--", *command]


def test_the_venv_is_debians_python_and_the_service_user_runs_it(root: Path) -> None:
    cfg = (root / "opt/clock-gateway/pyvenv.cfg").read_text()
    made_by = re.search(r"^executable = (.*)$", cfg, re.MULTILINE)
    assert made_by and os.path.realpath(made_by.group(1)) == os.path.realpath("/usr/bin/python3")
    done = subprocess.run(
        as_service_user(str(root / "opt/clock-gateway/bin/clock-gateway"), "--version"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"clock-gateway \d+\.\d+\.\d+\n", done.stdout)


def test_a_python_out_of_the_service_users_reach_is_refused_then_replaced(
    root: Path, tmp_path: Path
) -> None:
    """A Python under a directory only root may enter (pyenv's in /root): the install
    says so; the next install with Debian's Python rebuilds the venv it left."""
    private = tmp_path / "private"  # pytest's temporary directories are root's, 0700
    private.mkdir()
    shutil.copy2(os.path.realpath("/usr/bin/python3"), private / "python3")
    os.chmod(tmp_path, 0o700)
    refused = make("install", root, PYTHON=str(private / "python3"))
    assert refused.returncode != 0
    last = next(line for line in refused.stderr.splitlines() if "install: error" in line)
    assert last.startswith(
        f"install: error: the service user {USER} cannot run /opt/clock-gateway/bin/clock-gateway:"
    ), refused.stderr
    assert "Permission denied" in last and "Traceback" not in refused.stderr

    done = make("install", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"rebuilding the venv {root}/opt/clock-gateway: it was made by {private}" in done.stdout
    assert f"checked: {USER} runs clock-gateway " in done.stdout
    test_the_venv_is_debians_python_and_the_service_user_runs_it(root)


def test_the_web_as_the_service_user_replaces_a_key_it_cannot_read(root: Path) -> None:
    binary = str(root / "opt/clock-gateway/bin/clock-gateway")
    state = root / "var/lib/clock-gateway"
    key = state / "web-session.key"
    config = _web_config(root, state)
    done = subprocess.run(
        [binary, "db", "init", "--config", str(config)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done
    key.write_text("left by root: " + "x" * 40 + "\n")
    os.chown(key, 0, 0)
    key.chmod(0o600)
    out = _serve_once(as_service_user(binary, "web", "--config", str(config)))
    assert "web_session_key_replaced" in out
    assert mode(key) == f"0600 {USER}:{USER}" and "left by root" not in key.read_text()


def _web_config(root: Path, state: Path) -> Path:
    config = root / "web-test.toml"
    config.write_text(
        f'[gateway]\nstate_dir = "{state}"\n\n'
        f'[database]\nurl = "sqlite:///{state}/clock-gateway.db"\n\n'
        f"[web]\nport = {_free_port()}\n"
    )
    config.chmod(0o644)
    return config


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_once(command: list[str]) -> str:
    """Start `web`, wait for it to serve, stop it (SIGTERM); its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_GATEWAY_")}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # bounded by the test's timeout; it prints within seconds
            lines.append(line)
            if line.startswith("serving "):
                break
        assert lines and lines[-1].startswith("serving "), "".join(lines)
        proc.terminate()
        # uvicorn stops, then re-raises the SIGTERM it caught: a clean stop to systemd.
        assert proc.wait(30) in (0, -signal.SIGTERM), "".join(lines)
        return "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.timeout(120)
def test_a_web_run_as_root_leaves_the_session_key_to_the_service_user(root: Path) -> None:
    binary = str(root / "opt/clock-gateway/bin/clock-gateway")
    state = root / "var/lib/clock-gateway"
    key = state / "web-session.key"
    key.unlink()  # as before the first start: a root run creates it
    config = _web_config(root, state)
    done = subprocess.run(
        [binary, "db", "init", "--config", str(config)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done
    _serve_once([binary, "web", "--config", str(config)])
    assert mode(key) == f"0600 {USER}:{USER}"


def test_the_upgrade_hands_a_root_owned_session_key_back(root: Path) -> None:
    key = root / "var/lib/clock-gateway/web-session.key"
    before = key.read_bytes()
    os.chown(key, 0, 0)  # what a `web` run as root did before
    done = make("install", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert mode(key) == f"0600 {USER}:{USER}" and key.read_bytes() == before


def test_an_upgrade_in_place_keeps_config_secrets_rules_and_spool(root: Path) -> None:
    config = root / "etc/clock-gateway/config.toml"
    env = root / "etc/clock-gateway/env"
    rules = root / "etc/udev/rules.d/99-clock-gateway.rules"
    spool = root / "var/lib/clock-gateway/spool"
    spool.mkdir(exist_ok=True)
    record = spool / "seg-00000001.log"
    record.write_bytes(b"an acknowledged swipe, not yet in the database\n")
    config.write_text('[gateway]\ntimezone = "Europe/Madrid"\n')
    env.write_text("CLOCK_GATEWAY_DATABASE_URL=postgresql://clock_daemon:pw@db/clock\n")
    rules.write_text("# edited\n")
    before = {p: p.read_bytes() for p in (config, env, rules, record)}

    done = make("install", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept" in done.stdout
    assert {p: p.read_bytes() for p in before} == before
    assert mode(env) == "0600 root:root" and mode(config) == f"0640 root:{USER}"
    binary = root / "opt/clock-gateway/bin/clock-gateway"
    assert subprocess.run([str(binary), "--version"], timeout=60, check=False).returncode == 0


def test_uninstall_removes_the_program_and_keeps_the_data(root: Path) -> None:
    done = make("uninstall", root)
    assert done.returncode == 0, done.stdout + done.stderr
    for gone in ("opt/clock-gateway", "usr/local/bin/clock-gateway", UNIT):
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    assert not (root / "usr/local/share/doc/clock-gateway").exists()
    for kept in (
        "etc/clock-gateway/config.toml",
        "etc/clock-gateway/env",
        "etc/udev/rules.d/99-clock-gateway.rules",  # edited above, so it is the admin's
        "var/lib/clock-gateway/spool/seg-00000001.log",
    ):
        assert (root / kept).exists(), kept


def test_a_missing_python3_venv_is_named_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        'exec python3 "$@"\n'
    )
    fake.chmod(0o755)
    for target in ("install", "check-venv"):
        done = make(target, tmp_path / "never", PYTHON=str(fake))
        assert done.returncode != 0
        assert "python3-venv is missing: sudo apt-get install python3-venv" in done.stderr
        assert "Traceback" not in done.stderr and "ensurepip" not in done.stderr
        assert not (tmp_path / "never").exists()
