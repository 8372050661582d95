#!/usr/bin/env bash
# Remove what `make install` put in place, and keep the data: the configuration
# (/etc/clock-gateway), the state directory (spool, card directory, SQLite database),
# edited udev rules and the service user, whose files those are. A later
# `sudo make install` picks everything up again.
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

say() { echo "uninstall: $*"; }
[ "$(id -u)" -eq 0 ] || { echo "uninstall: error: run as root: sudo make uninstall" >&2; exit 1; }

for name in clock-gateway-open-days.timer clock-gateway-open-days.service \
    clock-gateway-purge.timer clock-gateway-purge.service clock-gateway-web.service \
    clock-gateway.service; do
  unit=$DESTDIR$UNITDIR/$name
  if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && [ -e "$unit" ]; then
    systemctl disable --now "$name" 2>/dev/null || true
  fi
  rm -f "$unit"
done
link=$DESTDIR$BINDIR/clock-gateway
if [ -L "$link" ] && [ "$(readlink "$link")" = "$PREFIX/bin/clock-gateway" ]; then
  rm -f "$link"
fi
rm -rf "$DESTDIR$PREFIX" "$DESTDIR$DOCDIR"
rules=$DESTDIR$UDEVDIR/99-clock-gateway.rules
if [ -e "$rules" ] && cmp -s "$rules" "$SRC/systemd/99-clock-gateway.rules"; then
  rm -f "$rules"
elif [ -e "$rules" ]; then
  say "kept $rules (edited)"
fi
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  udevadm control --reload 2>/dev/null || true
fi
say "removed the program; kept $SYSCONFDIR and $STATEDIR (configuration, spool, database)"
