"""gateway.logs: module-level loggers, the `logger` key, redaction, public API only."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from gateway.logs import add_logger_name, configure_logging, get_logger

# Made at import time, before any configure_logging: the way modules hold theirs.
log = get_logger("testmod", reader="r1")

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_module_level_logger_follows_a_later_configure_logging() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", json=True, stream=first)
    log.info("one", n=1)
    configure_logging("warning", json=True, stream=second)
    log.info("filtered_out")
    log.warning("two")
    [one] = _lines(first)
    [two] = _lines(second)
    assert one["event"] == "one" and one["n"] == 1 and one["level"] == "info"
    assert two["event"] == "two" and two["level"] == "warning"


def test_every_line_names_its_logger_and_keeps_the_bound_context_in_order() -> None:
    out = io.StringIO()
    configure_logging("debug", json=True, stream=out)
    log.bind(port="/dev/ttyACM0").debug("opened")
    [line] = _lines(out)
    assert list(line)[:4] == ["timestamp", "level", "event", "logger"]
    assert line["logger"] == "testmod"
    assert line["reader"] == "r1" and line["port"] == "/dev/ttyACM0"
    assert str(line["timestamp"]).endswith("Z")


def test_each_name_keeps_its_own_logger_key() -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    get_logger("alpha").info("a")
    get_logger("beta", reader="x").info("b")
    assert [(e["event"], e["logger"]) for e in _lines(out)] == [("a", "alpha"), ("b", "beta")]


def test_passwords_in_urls_are_redacted_in_values_and_tracebacks() -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    url = "postgresql://clock:s3cret@db.example/clock"
    log.info("connecting", url=url)
    try:
        raise RuntimeError(f"cannot reach {url}")
    except RuntimeError:
        log.error("failed", exc_info=True)
    text = out.getvalue()
    assert "s3cret" not in text
    assert text.count("postgresql://clock:***@db.example/clock") == 2


def test_the_console_renderer_is_used_when_asked() -> None:
    out = io.StringIO()
    configure_logging("info", json=False, stream=out)
    log.info("readable", n=3)
    text = out.getvalue()
    assert "readable" in text and "n=3" in text and "[testmod]" in text
    assert not text.lstrip().startswith("{")


def test_capture_logs_sees_module_level_loggers_and_can_add_the_name() -> None:
    configure_logging("info", json=True, stream=io.StringIO())
    with capture_logs() as entries:
        log.warning("captured")
    assert entries[0]["event"] == "captured" and entries[0]["reader"] == "r1"
    with capture_logs(processors=[add_logger_name]) as named:
        log.warning("captured")
    assert named[0]["logger"] == "testmod"


def test_unconfigured_loggers_still_work() -> None:
    structlog.reset_defaults()
    with capture_logs() as entries:
        get_logger("early").info("before_configure")
    assert entries[0]["event"] == "before_configure"


def test_no_module_imports_structlog_internals() -> None:
    """structlog's private modules (`structlog._config` ...) change without notice."""
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("structlog._")]
    assert offenders == []
