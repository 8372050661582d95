"""`python -m bench.markdown RESULTS.json`: a results file as Markdown, for PERFORMANCE.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.rows import format_number


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"- date: {m['date']}, commit `{m['commit']}`"
        + (" (with uncommitted changes)" if m.get("tree_dirty") else ""),
        f"- machine: {m['nproc']} x {m['cpu_model']}, {m['memory_mb']} MB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}; load average {m['load_avg_1m']} at the start",
        f"- whole run: {m.get('total_seconds')} s"
        + ("; `--quick`" if results.get("quick") else "")
        + "; per benchmark: "
        + ", ".join(
            f"{r['name']} {r.get('seconds', '-')} s ({r['status']})" for r in results["runs"]
        ),
        "",
        "| name | value | unit | floor | ratio | target | met? |",
        "|---|--:|---|--:|--:|---|---|",
    ]
    for r in results["rows"]:
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        value = "n/a" if r.get("value") is None else format_number(r["value"])
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    str(r["name"]),
                    value,
                    str(r.get("unit") or ""),
                    format_number(r.get("floor")),
                    ratio,
                    str(r.get("target") or ""),
                    format_number(r.get("met")),
                )
            )
            + " |"
        )
    notes = [r for r in results["rows"] if r.get("note")]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {_cell(str(r['name']))}: {_cell(str(r['note']))}" for r in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.markdown")
    parser.add_argument("results", type=Path, help="a JSON file from bench/results/")
    args = parser.parse_args()
    print(render(json.loads(args.results.read_text())), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
