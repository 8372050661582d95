"""Dependencies point down: every gateway module imports only what docs/ARCHITECTURE.md allows.

The imports are read from the source with `ast` (function-level imports included:
a lazy import is still a dependency), so a new arrow that points up fails here with
the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
BENCH = GATEWAY.parent / "bench"
MAP = GATEWAY.parent / "docs" / "ARCHITECTURE.md"
MAX_MODULE_LINES = 700

FOUNDATION = {"errors", "logs", "redact", "domain", "config", "csvout", "csvin", "trace"}
BELOW_FACES = FOUNDATION | {
    "protocol",
    "link",
    "clocking",
    "store",
    "durable",
    "recording",
    "reports",
    "status",
    "metrics",
    "documents",
    "emulator",
}

# The part of the gateway a module belongs to -> the parts it may import (itself always).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "redact": set(),
    "logs": {"redact"},
    "domain": {"errors"},
    "config": {"errors", "domain", "redact"},
    "csvout": {"errors"},
    "csvin": {"errors"},
    "trace": set(),
    "protocol": set(),
    "link": {"protocol"} | FOUNDATION,
    "clocking": {"protocol"} | FOUNDATION,
    "store": FOUNDATION,
    "durable": FOUNDATION,
    "recording": {"durable"} | FOUNDATION,
    "reports": {"store"} | FOUNDATION,
    "importing": {"store", "reports"} | FOUNDATION,
    "status": {"durable", "recording"} | FOUNDATION,
    "metrics": {"durable", "status"} | FOUNDATION,
    "documents": FOUNDATION,
    "emulator": {"protocol"} | FOUNDATION,
    "daemon": BELOW_FACES,
    "web": {"store", "reports", "importing", "status", "documents"} | FOUNDATION,
    "cli": BELOW_FACES | {"daemon", "web", "importing"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _part(module: str) -> str:
    """gateway.store.swipes -> store; gateway.logs -> logs; gateway -> __init__."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(GATEWAY.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _all_imports(path: Path, *, members: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, the gateway's and others'.

    With `members`, `from a import b` also gives `a.b` (b may be a module: `from
    gateway import csvin`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            if members:
                found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """The imports of the gateway's own modules."""
    return [
        (line, name)
        for line, name in _all_imports(path)
        if name == "gateway" or name.startswith("gateway.")
    ]


def test_every_part_of_the_gateway_has_a_rule() -> None:
    parts = {_part(_module_name(p)) for p in GATEWAY.rglob("*.py")}
    assert parts <= set(ALLOWED), f"no rule for {sorted(parts - set(ALLOWED))}"


def test_dependencies_point_down() -> None:
    wrong: list[str] = []
    for path in sorted(GATEWAY.rglob("*.py")):
        source = _part(_module_name(path))
        for line, name in _imports(path):
            target = _part(name)
            if target in (source, "__init__"):
                continue  # within a part; `gateway` itself holds only the version
            if target not in ALLOWED[source]:
                wrong.append(f"{path.relative_to(GATEWAY.parent)}:{line}: {source} imports {name}")
    assert not wrong, "imports that break docs/ARCHITECTURE.md:\n" + "\n".join(wrong)


def test_the_web_never_touches_a_serial_port() -> None:
    for path in (GATEWAY / "web").rglob("*.py") if (GATEWAY / "web").is_dir() else []:
        for line, name in _imports(path):
            assert not name.startswith(("gateway.link", "gateway.daemon")), f"{path}:{line}"
        text = path.read_text(encoding="utf-8")
        assert "import serial" not in text, path


# Reading files in is gateway.importing's job: the SQL side and the derived figures
# never parse a CSV or a spreadsheet (writing a CSV goes through gateway.csvout).
FILE_READERS = ("csv", "gateway.csvin", "openpyxl", "xlrd", "gateway.importing")


def test_store_and_reports_read_no_files_in() -> None:
    wrong: list[str] = []
    for part in ("store", "reports"):
        for path in sorted((GATEWAY / part).rglob("*.py")):
            for line, name in _all_imports(path, members=True):
                if any(name == r or name.startswith(f"{r}.") for r in FILE_READERS):
                    wrong.append(f"{path.relative_to(GATEWAY.parent)}:{line}: imports {name}")
    assert not wrong, "file readers outside gateway.importing:\n" + "\n".join(wrong)


def test_bench_imports_nothing_from_tests() -> None:
    """The benchmarks and the tests share their real parts through bench/kit/: a
    benchmark must run from a checkout without the test suite on the path."""
    wrong: list[str] = []
    for path in sorted(BENCH.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue  # bench/ has no relative imports that could reach tests/
            for name in names:
                if name == "tests" or name.startswith("tests."):
                    wrong.append(f"{path.relative_to(BENCH.parent)}:{node.lineno}: {name}")
    assert BENCH.is_dir() and not wrong, "bench/ imports tests/:\n" + "\n".join(wrong)


def _map_rules() -> dict[str, set[str]]:
    """The 'Who may import whom' table of docs/ARCHITECTURE.md as rules."""
    text = MAP.read_text(encoding="utf-8")
    section = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    rules: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue  # prose, the header or its rule
        allowed: set[str] = set(re.findall(r"`([\w_]+)`", cells[1]))
        if "foundation" in cells[1]:
            allowed |= FOUNDATION
        if "below the faces" in cells[1]:
            allowed |= BELOW_FACES
        for name in re.findall(r"`([\w_]+)`", cells[0]):
            rules[name] = allowed
    return rules


def test_the_map_shows_these_rules() -> None:
    """docs/ARCHITECTURE.md's table and ALLOWED say the same (except the package
    `__init__`, which holds only the version)."""
    expected = {k: v - {k} for k, v in ALLOWED.items() if k != "__init__"}
    assert _map_rules() == expected


def test_the_web_imports_no_sql_driver() -> None:
    """The web reaches the database only through the stores."""
    wrong = [
        f"{path.relative_to(GATEWAY.parent)}:{line}: {name}"
        for path in sorted((GATEWAY / "web").rglob("*.py"))
        for line, name in _all_imports(path)
        if name.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3", "aiosqlite")
    ]
    assert not wrong, "the web around the stores:\n" + "\n".join(wrong)


def _map_floors() -> dict[str, int]:
    """The floors drawn at the top of docs/ARCHITECTURE.md: part -> floor number."""
    drawing = MAP.read_text(encoding="utf-8").split("```", 2)[1]
    floors: dict[str, int] = {}
    for line in drawing.splitlines():
        match = re.match(r"\s*(\d+)\s+\S+\s+(.*)", line)
        if match:
            for name in re.findall(r"([a-z_]+)(?:/|\.py)", match.group(2).split("(")[0]):
                floors[name] = int(match.group(1))
    return floors


def test_the_drawing_has_every_arrow_pointing_down() -> None:
    """Each part is on the drawing, and every import the rules allow goes to a lower
    floor (the foundation's modules may use each other)."""
    floors = _map_floors()
    parts = set(ALLOWED) - {"__init__", "__main__"}
    assert parts <= set(floors), f"not drawn: {sorted(parts - set(floors))}"
    upward = [
        f"{source} (floor {floors[source]}) -> {target} (floor {floors[target]})"
        for source in parts
        for target in ALLOWED[source] - {source}
        if floors[target] >= floors[source] and not (floors[source] == floors[target] == 0)
    ]
    assert not upward, "arrows that do not point down in the drawing:\n" + "\n".join(upward)


def test_no_module_is_over_the_limit() -> None:
    """Short modules with one job: a module past the limit is two jobs."""
    long = [
        f"{path.relative_to(GATEWAY.parent)}: {n} lines"
        for path in sorted(GATEWAY.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)
