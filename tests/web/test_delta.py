"""A board delta rebuilds the new document exactly, whatever changed between the two."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.web.delta import apply, delta, splices

ROW = st.fixed_dictionaries({"name": st.sampled_from(["A. G.", "L. P.", "E. C."]), "at": st.none()})


@given(st.lists(ROW, max_size=12), st.data())
def test_splices_make_the_old_list_the_new_one(old: list[Any], data: st.DataObject) -> None:
    # The new list: some old rows kept (the same objects, in order), some new ones
    # (equal to old ones or not) inserted anywhere.
    kept = [r for r in old if data.draw(st.booleans())]
    new = list(kept)
    for row in data.draw(st.lists(ROW, max_size=6)):
        new.insert(data.draw(st.integers(0, len(new))), row)
    if data.draw(st.booleans()):
        new = [dict(r) for r in new]  # a plan rebuild: equal rows, new objects
    rows = list(old)
    for index, deleted, inserted in splices(old, new):
        rows[index : index + deleted] = inserted
    assert rows == new


def test_a_tap_is_a_small_delta() -> None:
    rows = [{"name": f"P{i:04d}", "at": None} for i in range(2000)]
    old = {"server_ms": 1, "absent": rows, "present": [], "counts": {"absent": 2000}}
    moved = rows[700]
    new = {
        "server_ms": 2,
        "absent": rows[:700] + rows[701:],
        "present": [{**moved, "at": "09:00"}],
        "counts": {"absent": 1999},
    }
    change = delta(old, new)
    assert change["splice"] == {
        "absent": [[700, 1, []]],
        "present": [[0, 0, [{"name": "P0700", "at": "09:00"}]]],
    }
    assert change["set"] == {"server_ms": 2, "counts": {"absent": 1999}}
    assert apply(old, change) == new
