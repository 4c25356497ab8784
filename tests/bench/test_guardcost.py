"""bench/guardcost.py reads callgrind's dumps: instructions, and the simulated cache's misses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import guardcost  # bench/ is not a package


def _dump(path: Path, text: str) -> None:
    path.write_text(f"version: 1\ncreator: callgrind\n{text}\nfn=(1) main\n0 1 2 3 4\n")


def test_the_newest_dump_is_read_by_event(tmp_path: Path) -> None:
    out = tmp_path / "cg-on.out"
    _dump(tmp_path / "cg-on.out.1", "events: Ir\nsummary: 500")
    _dump(tmp_path / "cg-on.out.2", "events: Ir Dr Dw I1mr D1mr D1mw\nsummary: 9000 300 200 40 30 20")
    _dump(tmp_path / "cg-on.out.10", "events: Ir Dr Dw I1mr D1mr D1mw\ntotals: 7000 1 2 3 4 5")
    totals = guardcost._newest_totals(out)  # .10 is newer than .2: by number, not by name
    assert totals == {"Ir": 7000, "Dr": 1, "Dw": 2, "I1mr": 3, "D1mr": 4, "D1mw": 5}
    assert guardcost._l1_misses(totals) == 3 + 4 + 5


def test_a_dump_without_totals_is_an_error(tmp_path: Path) -> None:
    _dump(tmp_path / "cg-on.out.1", "events: Ir")
    with pytest.raises(RuntimeError, match="no totals"):
        guardcost._newest_totals(tmp_path / "cg-on.out")


def test_without_the_cache_simulation_only_instructions_count(tmp_path: Path) -> None:
    _dump(tmp_path / "cg-off.out.1", "events: Ir\nsummary: 1234")
    totals = guardcost._newest_totals(tmp_path / "cg-off.out")
    assert totals == {"Ir": 1234} and guardcost._l1_misses(totals) == 0
