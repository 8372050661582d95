"""`[register]`: whose law the register follows, how long it is kept, whether this
daemon seals, and the working-time rules (config/worktime.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config.fields import Section, one_of
from gateway.config.worktime import WorkTimeRules, parse_worktime

# The legal minimum retention per jurisdiction: Spain, Estatuto de los Trabajadores art.
# 34.9 (4 years); Portugal, Codigo do Trabalho art. 202 (5 years). The database itself
# refuses to delete a register row younger than the smallest (store/tables.py).
RETENTION_BY_JURISDICTION: dict[str, int] = {"ES": 4, "PT": 5}


@dataclass(frozen=True)
class RegisterConfig:
    """`[register]`: whose law the register follows, and how long it is kept."""

    jurisdiction: str = "ES"
    retention_years: int = RETENTION_BY_JURISDICTION["ES"]
    # Whether this daemon seals (on a fleet, a gateway whose database role may not
    # read the register leaves it to the others: docs/REGISTER.md).
    seal: bool = True
    # How working time is counted and which limits are flagged (config/worktime.py).
    worktime: WorkTimeRules = field(default_factory=WorkTimeRules)


def parse_register(root: Section) -> RegisterConfig:
    sec = root.table("register")
    place = sec.get("jurisdiction", str, "ES", check=one_of(tuple(RETENTION_BY_JURISDICTION)))
    minimum = RETENTION_BY_JURISDICTION.get(place, max(RETENTION_BY_JURISDICTION.values()))
    years = sec.get(
        "retention_years",
        int,
        None,
        check=lambda v: (
            None
            if minimum <= v <= 100
            else f"must be from {minimum} (the legal minimum in {place}) to 100, got {v}"
        ),
    )
    # Before [register] existed the setting was web.retention_years: still obeyed, once.
    web = root.data.get("web")
    old = web.get("retention_years") if isinstance(web, dict) else None
    if isinstance(old, int) and not isinstance(old, bool):
        if years is None and "retention_years" not in sec.data:
            years = max(old, minimum)
        elif years is not None and years != old:
            sec.fail("retention_years", "set it here only (web.retention_years is its old name)")
    seal = sec.get("seal", bool, True)
    worktime = parse_worktime(sec)
    sec.finish()
    return RegisterConfig(
        jurisdiction=place, retention_years=years or minimum, seal=seal, worktime=worktime
    )
