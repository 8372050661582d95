"""The import rules of docs/ARCHITECTURE.md: lower layers never import upper ones.

A deny list rather than an allow list, so that a new module is free until it breaks
one of the rules that keep the layers apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"

# package -> packages it must never import (top level under gateway)
FORBIDDEN: dict[str, set[str]] = {
    "protocol": {"link", "clocking", "recording", "durable", "store", "reports", "daemon", "cli"},
    "domain": {"link", "clocking", "recording", "durable", "store", "reports", "daemon", "cli"},
    "errors": {"config", "domain", "link", "clocking", "recording", "store", "daemon", "cli"},
    "config": {"link", "clocking", "recording", "durable", "store", "reports", "daemon", "cli"},
    "durable": {"link", "clocking", "recording", "store", "reports", "daemon", "cli"},
    "store": {"link", "clocking", "recording", "durable", "reports", "daemon", "cli"},
    "link": {"clocking", "recording", "durable", "store", "reports", "daemon", "cli"},
    "clocking": {"link", "recording", "durable", "store", "reports", "daemon", "cli"},
    "recording": {"link", "clocking", "store", "reports", "daemon", "cli"},
    "reports": {"link", "clocking", "recording", "durable", "daemon", "cli"},
    "emulator": {"link", "clocking", "recording", "durable", "store", "reports", "daemon", "cli"},
}
# Only the entry points put things together; nothing imports them.
ENTRY_POINTS = {"daemon", "cli"}


def _package(path: Path) -> str:
    parts = path.relative_to(GATEWAY).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "gateway" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_lower_layers_never_import_upper_ones() -> None:
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        package = _package(path)
        for target in _imports(path) - {package}:
            if target in FORBIDDEN.get(package, set()):
                offenders.append(f"{path.relative_to(GATEWAY.parent)} imports gateway.{target}")
            if target in ENTRY_POINTS and package not in ENTRY_POINTS | {"__main__"}:
                offenders.append(f"{path.relative_to(GATEWAY.parent)} imports gateway.{target}")
    assert offenders == [], "see docs/ARCHITECTURE.md, 'Which package may import which'"
