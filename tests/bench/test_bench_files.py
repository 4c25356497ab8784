"""bench/files.py keeps working: a tiny run uploads through the gateway and raw, byte for byte.

Run as a subprocess in its own process group, as the other benchmark tests do; its numbers are only
checked for plausibility (a shared test machine says nothing about performance).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


def test_files_benchmark_uploads_identical_bytes_both_ways() -> None:
    """Both paths store the very bytes the HTTPS server served, the fetcher leaves no temporary file,
    and every documented key is there with sane values."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "files.py"), "--sizes", "0.5", "1.5", "--runs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out)
    assert result["benchmark"] == "files" and result["config"] == {"sizes_mb": [0.5, 1.5], "runs": 1}
    assert list(result["uploads"]) == ["0.5MB", "1.5MB"]
    for name, entry in result["uploads"].items():
        assert entry["identical"] is True, name
        assert entry["bytes"] == int(float(name[:-2]) * 1024 * 1024)
        for path in ("gateway", "raw", "fetch_only"):
            seconds = entry[path]["seconds"]
            assert 0 < seconds["min"] <= seconds["p50"] <= seconds["max"] < 60, (name, path)
            assert entry[path]["mib_per_s"] > 0
        assert entry["ratio_gateway_to_raw"] > 0
    assert result["fetched_files_left"] == []
    assert result["targets"]["identical"] is True and isinstance(result["targets"]["met"], bool)
    assert result["summary"]["ratio_min"] == min(result["summary"]["ratio_gateway_to_raw"].values())
    assert "gw/raw" in err  # the table
