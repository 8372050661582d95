"""`.ci/install-tools`, what `make test` and `.ci/run` run first: it installs the Debian
packages the tests lack, saying which, through sudo when not root.

Installing and removing packages on the machine that runs the tests is not something
a test may do, so dpkg-query, apt-get, sudo and id are small scripts here that record
how they were called; everything else is the real script under the real bash.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".ci/install-tools"

FAKES = {
    # Installed unless named in $FAKE_MISSING.
    "dpkg-query": 'for p in $FAKE_MISSING; do [ "$p" = "${!#}" ] && exit 1; done\n'
    'printf "install ok installed"\n',
    "apt-get": 'echo "apt-get DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >>"$FAKE_LOG"\n'
    "exit ${FAKE_APT_RC:-0}\n",
    "sudo": 'echo "sudo" >>"$FAKE_LOG"\nexec "$@"\n',
    "id": 'if [ "$1" = -u ]; then echo "$FAKE_UID"; else exec /usr/bin/id "$@"; fi\n',
    # npm is found by its command (a Node.js from elsewhere brings its own); axe-core is
    # already in tests/web/node_modules where `make test` ran before, so it is not called.
    "npm": 'echo "npm $*" >>"$FAKE_LOG"\n',
}


def run(
    tmp_path: Path, *, missing: str = "", uid: int = 0, sudo: bool = True, apt_rc: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        if name == "sudo" and not sudo:
            continue
        (fake / name).write_text("#!/bin/bash\n" + body)
        (fake / name).chmod(0o755)
    # Only what the script needs from the system, so that a real sudo stays out.
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for name in ("grep", "env", "bash", "sed", "dirname"):
        real = shutil.which(name)
        assert real, name
        if not (tools / name).exists():
            (tools / name).symlink_to(real)
    log = tmp_path / "log"
    log.write_text("")
    env = {
        "PATH": f"{fake}:{tools}",
        "FAKE_MISSING": missing,
        "FAKE_UID": str(uid),
        "FAKE_LOG": str(log),
        "FAKE_APT_RC": str(apt_rc),
        "CI": "true",
    }
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT)],
        stdin=subprocess.DEVNULL,  # as in CI: nobody to answer a question
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return done, log.read_text().splitlines()


def test_nothing_missing_installs_nothing_and_says_nothing(tmp_path: Path) -> None:
    done, calls = run(tmp_path)
    assert done.returncode == 0 and done.stdout == done.stderr == ""
    assert calls == []


def test_as_root_in_ci_it_installs_what_is_missing_and_says_what(tmp_path: Path) -> None:
    done, calls = run(tmp_path, missing="chromium simavr")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "make test: installing Debian packages: simavr chromium\n"
    assert calls == [
        "apt-get DEBIAN_FRONTEND=noninteractive update -qq",
        "apt-get DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends "
        "simavr chromium",
    ]


def test_not_as_root_it_goes_through_sudo(tmp_path: Path) -> None:
    done, calls = run(tmp_path, missing="postgresql", uid=1000)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "make test: installing Debian packages: postgresql (through sudo)\n"
    assert calls[0] == "sudo" and calls[2] == "sudo"
    assert calls[3].endswith("install -y -qq --no-install-recommends postgresql")


def test_not_as_root_without_sudo_it_says_what_to_run_in_one_line(tmp_path: Path) -> None:
    done, calls = run(tmp_path, missing="gcc-avr avr-libc", uid=1000, sudo=False)
    assert done.returncode == 1 and calls == []
    assert done.stderr.splitlines() == [
        "make test: missing Debian packages: gcc-avr avr-libc; there is no sudo: as root, "
        "run apt-get install gcc-avr avr-libc"
    ]


def test_a_failed_apt_get_fails_with_one_line_of_its_own(tmp_path: Path) -> None:
    done, _ = run(tmp_path, missing="chromium", apt_rc=100)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "make test: could not install chromium (see apt-get's message above)"
    )


def test_the_package_list_is_in_one_place() -> None:
    assert "DEBIAN_PACKAGES=(" in SCRIPT.read_text()
    for other in (REPO / ".ci/run", REPO / "Makefile"):
        text = other.read_text()
        assert "install-tools" in text and "chromium" not in text, other
    assert not (REPO / ".ci/check-tools").exists()
