"""bench/audit.py keeps working: quick mode reports its documented keys with plausible values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


def test_the_audit_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "audit.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["benchmark"] == "audit" and result["quick"] is True
    for policy in ("never", "interval", "always"):
        row = result["append"][policy]
        assert row["entries"] > 0 and 0 < row["cpu_us_per_append"] < 100_000
    call = result["tool_call"]
    assert call["cpu_ms_per_call"]["on"] > 0 and call["cpu_ms_per_call"]["off"] > 0
    assert call["in_call_us"] > 0 and call["ratio_on_to_off"] > 0
    assert isinstance(result["targets"]["in_call_met"], bool)
    assert "send_message CPU ms/call" in done.stderr
