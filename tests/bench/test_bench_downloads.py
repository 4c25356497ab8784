"""bench/downloads.py keeps working: a tiny run downloads the same bytes through a signed link and raw.

Run as a subprocess in its own process group, as the other benchmark tests do (it starts the sandbox
and a gateway process of its own); its numbers are only checked for shape and plausibility.
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
SIZE = 300_000

pytestmark = pytest.mark.slow


def test_downloads_benchmark_fetches_the_file_both_ways() -> None:
    """Both ways hash to the file (the script raises otherwise), and every key has a sane value."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "downloads.py"), "--size", str(SIZE), "--runs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out)
    assert result["benchmark"] == "downloads" and result["quick"] is False
    assert result["size_bytes"] == SIZE and result["runs"] == 1
    for way in ("raw", "gateway"):
        entry = result[way]
        assert len(entry["seconds"]) == 1 and 0 < entry["seconds"][0] < 60, way
        assert entry["mib_per_s_best"] == entry["mib_per_s_median"] > 0, way
        assert entry["cpu_s_per_gib"] > 0, way
    rss = result["gateway_rss_mib"]
    assert 0 < rss["before"] <= rss["peak"] and 0 < rss["after"] <= rss["peak"]
    assert result["ratio_gateway_to_raw"] > 0 and result["ratio_gateway_to_raw_best"] > 0
    assert set(result["targets"]) == {"ratio_ge_0_8", "rss_growth_lt_30_mib"}
    assert "ratio gateway/raw" in err  # the table
