"""The service's environment file, read by admin commands as systemd reads it.

`sudo clock-gateway db init` must reach the database the service uses, and that URL
lives in /etc/clock-gateway/env (the unit's EnvironmentFile=), not in the config.
The file holds secrets: nothing here prints or logs a value, and a malformed line is
reported by its number only.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from gateway.config import ENV_DATABASE_URL
from gateway.errors import ConfigError

# Admin commands (db init, users, cards, backup) need more rights than the daemon's
# least-privilege role: an optional second URL in the same file, for the CLI only.
ENV_ADMIN_DATABASE_URL = "CLOCK_GATEWAY_ADMIN_DATABASE_URL"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_file(text: str, source: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= takes them.

    Blank lines and lines starting with # or ; are skipped; a value may be wrapped in
    single or double quotes.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise ConfigError(source, f"line {number}", "expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_env_file(path: Path, *, admin: bool, environ: dict[str, str] | None = None) -> bool:
    """Add the file's variables to the environment; True if it was read.

    Variables already set win (an explicit `VAR=... clock-gateway ...` is obeyed).
    With `admin`, $CLOCK_GATEWAY_ADMIN_DATABASE_URL, when set, becomes the database
    URL of this process, unless the caller set $CLOCK_GATEWAY_DATABASE_URL itself.
    """
    env = os.environ if environ is None else environ
    explicit_url = ENV_DATABASE_URL in env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        values: Mapping[str, str] = {}
        found = False
    except PermissionError:
        print(
            f"clock-gateway: note: cannot read {path} (run with sudo to use its database URL)",
            file=sys.stderr,
        )
        values, found = {}, False
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from None
    else:
        values, found = parse_env_file(text, str(path)), True
    for key, value in values.items():
        env.setdefault(key, value)
    if admin and not explicit_url and env.get(ENV_ADMIN_DATABASE_URL):
        env[ENV_DATABASE_URL] = env[ENV_ADMIN_DATABASE_URL]
    return found
