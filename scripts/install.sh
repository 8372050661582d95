#!/usr/bin/env bash
# Install clock-gateway as a service on Debian 12 (or any systemd distribution), the
# PEP 668 way: the program lives in its own venv, never in the system Python.
#
#   sudo make install            # what a person runs; `make install` passes the variables below
#
# Layout (each path can be moved with the variable in brackets; DESTDIR installs into a
# scratch root, for tests and packaging):
#   /opt/clock-gateway/                    the venv [PREFIX]
#   /usr/local/bin/clock-gateway           a symlink into it [BINDIR]
#   /etc/systemd/system/clock-gateway{,-web,-purge,-open-days}.service, clock-gateway-{purge,open-days}.timer [UNITDIR]
#   /etc/udev/rules.d/99-clock-gateway.rules  [UDEVDIR]   (kept if present: you edit it)
#   /etc/clock-gateway/config.toml         root:clock-gateway 0640 [SYSCONFDIR] (kept if present)
#   /etc/clock-gateway/env                 root:root 0600, secrets (kept if present)
#   /var/lib/clock-gateway/                clock-gateway 0750: database, spool [STATEDIR]
#   /var/lib/clock-gateway/web-session.key clock-gateway 0600: signs the web's sessions
#   /usr/local/share/doc/clock-gateway/    README, docs, LICENSE [DOCDIR]
#
# Run again to upgrade in place: the venv is refreshed, config, env, udev rules and the
# state directory (spool, card directory, SQLite database) are left as they are, and a
# running service is restarted (it stops cleanly: swipes in flight are answered first).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/clock-gateway}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
UDEVDIR=${UDEVDIR:-/etc/udev/rules.d}
SYSCONFDIR=${SYSCONFDIR:-/etc/clock-gateway}
STATEDIR=${STATEDIR:-/var/lib/clock-gateway}
DOCDIR=${DOCDIR:-/usr/local/share/doc/clock-gateway}
SERVICE_USER=${SERVICE_USER:-clock-gateway}
# Debian's own Python, not whatever python3 comes first on root's PATH: a pyenv or
# conda Python under /root is out of the service user's reach (Permission denied).
PYTHON=${PYTHON:-/usr/bin/python3}

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: sudo make install"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: sudo apt-get install python3 python3-venv"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "Python 3.11 or newer is needed (Debian 12 has 3.11)"
# Debian splits venv support out of python3; without it `python3 -m venv` fails late.
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
  die "python3-venv is missing: sudo apt-get install python3-venv"

# -- the service user: real installs only (a scratch root has no user database of its own)
if [ -z "$DESTDIR" ]; then
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$STATEDIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "clock-gateway service" "$SERVICE_USER"
    say "created system user $SERVICE_USER"
  fi
  # Serial ports are root:dialout 0660 on Debian (and the udev rules keep it so).
  getent group dialout >/dev/null && usermod -a -G dialout "$SERVICE_USER"
fi
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
  OWNER=$SERVICE_USER
  GROUP=$(id -gn "$SERVICE_USER")
else
  die "user $SERVICE_USER does not exist (set SERVICE_USER= for a scratch-root install)"
fi

# -- the program: its own venv, upgraded in place
venv=$DESTDIR$PREFIX
# A venv is bound to the Python that made it: one made by another (an older install
# with pyenv's, a Python since removed) is made again; the program is reinstalled anyway.
made_by() { sed -n 's/^executable *= *//p' "$1/pyvenv.cfg" 2>/dev/null || true; }
python_real=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
made=$(made_by "$venv")
if [ -e "$venv" ] && { [ ! -x "$venv/bin/python" ] || [ -z "$made" ] ||
     [ "$(realpath -m "$made")" != "$python_real" ]; }; then
  say "rebuilding the venv $venv: it was made by ${made:-another Python}, not $python_real"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  say "creating the venv $venv with $PYTHON"
  "$PYTHON" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# Built from a copy: pip builds in the source tree, and root-owned build/ and egg-info
# directories would be left in the clone of whoever ran `sudo make install`.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.egg-info' \
  --exclude=./firmware -cf - . | tar -C "$build" -xf -
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$build"
install -d -m 0755 "$DESTDIR$BINDIR"
ln -sfn "$PREFIX/bin/clock-gateway" "$DESTDIR$BINDIR/clock-gateway"
say "installed $("$venv/bin/clock-gateway" --version) in $PREFIX, linked from $BINDIR"

# -- systemd unit (ours: always replaced) and udev rules (yours once installed)
install -d -m 0755 "$DESTDIR$UNITDIR" "$DESTDIR$UDEVDIR"
for unit in clock-gateway.service clock-gateway-web.service \
    clock-gateway-purge.service clock-gateway-purge.timer \
    clock-gateway-open-days.service clock-gateway-open-days.timer; do
  sed -e "s|/opt/clock-gateway|$PREFIX|g" \
      -e "s|/etc/clock-gateway|$SYSCONFDIR|g" \
      -e "s|/usr/local/share/doc/clock-gateway|$DOCDIR|g" \
      -e "s|^User=clock-gateway|User=$OWNER|" -e "s|^Group=clock-gateway|Group=$GROUP|" \
      "$SRC/systemd/$unit" > "$DESTDIR$UNITDIR/$unit.new"
  chmod 0644 "$DESTDIR$UNITDIR/$unit.new"
  mv "$DESTDIR$UNITDIR/$unit.new" "$DESTDIR$UNITDIR/$unit"
done
keep_or_install() {  # SRC DEST MODE OWNER:GROUP
  if [ -e "$2" ]; then
    say "kept $2 (yours)"
  else
    install -m "$3" -o "${4%:*}" -g "${4#*:}" "$1" "$2"
    say "installed $2"
  fi
}
keep_or_install "$SRC/systemd/99-clock-gateway.rules" "$DESTDIR$UDEVDIR/99-clock-gateway.rules" 0644 root:root

# -- configuration: the daemon reads the config; only root reads the secrets
install -d -m 0755 "$DESTDIR$SYSCONFDIR"
keep_or_install "$SRC/config.example.toml" "$DESTDIR$SYSCONFDIR/config.toml" 0640 "root:$GROUP"
keep_or_install "$SRC/systemd/env.example" "$DESTDIR$SYSCONFDIR/env" 0600 root:root

# -- state: the spool, the card directory and the SQLite database live here
install -d -m 0750 -o "$OWNER" -g "$GROUP" "$DESTDIR$STATEDIR"
# The web's session key, made here as the service user's: a first `web` run as root
# would make it root's, and the web service (exit 3, RestartPreventExitStatus=3) down.
# One left root's by an older version is handed back.
key=$DESTDIR$STATEDIR/web-session.key
if [ ! -s "$key" ]; then
  (umask 077 && "$venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$key.new")
  mv "$key.new" "$key"
  say "created $key"
fi
chown "$OWNER:$GROUP" "$key"
chmod 0600 "$key"

# -- documentation, where the unit's Documentation= points
install -d -m 0755 "$DESTDIR$DOCDIR" "$DESTDIR$DOCDIR/docs"
install -m 0644 "$SRC/README.md" "$SRC/LICENSE" "$SRC/config.example.toml" "$DESTDIR$DOCDIR/"
install -m 0644 "$SRC"/docs/*.md "$DESTDIR$DOCDIR/docs/"

# -- the service user must be able to run what was installed (every directory on the
# way to the venv's Python readable by it)
if ! out=$(cd / && runuser -u "$OWNER" -- "$venv/bin/clock-gateway" --version 2>&1); then
  die "the service user $OWNER cannot run $PREFIX/bin/clock-gateway: $(echo "$out" | tail -n 1)" \
      "(its Python, $python_real, must be where $OWNER may read it: Debian's /usr/bin/python3)"
fi
say "checked: $OWNER runs $out"

# -- tell the running system (real installs only)
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # New rules apply to readers already plugged in too (names, group, ModemManager off).
  udevadm control --reload 2>/dev/null && udevadm trigger --subsystem-match=tty 2>/dev/null || true
  if systemctl is-active --quiet clock-gateway-web; then
    systemctl restart clock-gateway-web
  fi
  if systemctl is-active --quiet clock-gateway; then
    systemctl restart clock-gateway
    say "restarted the running service on the new version (the spool is kept)"
  else
    say "next: edit $SYSCONFDIR/config.toml (readers) and $SYSCONFDIR/env (database URL),"
    say "      sudo clock-gateway db init, then sudo systemctl enable --now clock-gateway"
    say "      and the register's retention: sudo systemctl enable --now clock-gateway-purge.timer"
    say "      and, with [mail] set, forgotten clock-outs: sudo systemctl enable --now clock-gateway-open-days.timer"
  fi
fi
