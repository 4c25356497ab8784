"""The benchmarks keep working: each runs in quick mode and reports the keys and sane values it documents.

Both run at once, as subprocesses, to keep the wall time down; their numbers are not checked against
targets here (a shared test machine says nothing about performance), only for plausibility.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
TENANTS = 6

pytestmark = pytest.mark.slow


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    # Its own process group: a benchmark starts a sandbox and a gateway of its own, and they must go
    # with it when the test stops it (a timed-out run once left a sandbox running for 18 minutes).
    return subprocess.Popen(
        [sys.executable, str(BENCH / script), "--quick", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop(*procs: subprocess.Popen[str]) -> None:
    """Kill each benchmark's whole process group (its children too) and close its pipes."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _result(proc: subprocess.Popen[str], timeout: float = 55) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    result: dict[str, Any] = json.loads(out)
    return result


def _run(script: str, *args: str) -> dict[str, Any]:
    """Run one benchmark in quick mode to its end: its JSON result (its processes stopped anyway)."""
    proc = _start(script, *args)
    try:
        return _result(proc)
    finally:
        _stop(proc)


def _check_cold_start(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "cold_start" and result["quick"] is True
    server, base = result["server"], result["baselines"]
    assert 0 < server["seconds"]["p50"] < 30 and server["seconds"]["p50"] <= server["seconds"]["p90"]
    assert all(run["tools"] >= 2 for run in result["server_runs"])
    # The server imports everything the floor does and more; bare Python imports nothing.
    assert base["python_bare"]["rss_mib"]["p50"] < base["framework_floor"]["rss_mib"]["p50"]
    assert base["framework_floor"]["rss_mib"]["p50"] < server["rss_mib"]["p50"] < 1024
    assert base["python_bare"]["seconds"]["p50"] < base["framework_floor"]["seconds"]["p50"]
    ratios = {"time_to_floor_server", "rss_to_floor_server", "own_seconds", "own_rss_mib"}
    assert ratios <= set(result["ratios"])
    assert 0 < result["floor_server"]["seconds"]["p50"] < 30
    stages = [s["stage"] for s in result["stages"]]
    assert stages[:2] == ["from fastmcp import FastMCP", "import mcpgram.cli (cyclopts)"]
    assert stages[-1].startswith("import telethon")
    assert all(stage["ms"] >= 0 for stage in result["stages"])
    assert isinstance(result["targets"]["seconds_met"], bool) and isinstance(
        result["targets"]["rss_met"], bool
    )


def _check_tenants(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "tenants" and result["config"]["tenants"] == TENANTS
    memory = result["memory"]
    assert memory["pool_idle"]["active"] == TENANTS and memory["pool_idle"]["evictions"] == 0
    assert 20 < memory["rss_ready_mib"] <= memory["rss_one_tenant_mib"] < 1024
    assert isinstance(memory["per_idle_tenant_bytes"], float)
    warm = result["warm"]
    assert warm["errors"] == 0 and warm["calls"] == 2 * (TENANTS - 1)
    for phase in ("load", "floor", "raw_telethon"):
        assert result[phase]["calls"] > 0 and result[phase]["calls_per_s"] > 0, phase
    assert result["load"]["errors"] == 0 and result["floor"]["errors"] == 0
    modern = result["load_modern"]
    assert modern["era"] == "2026-07-28" and modern["errors"] == 0 and modern["calls"] > 0
    assert result["ratios"]["modern_cpu_to_legacy_cpu"] > 0
    assert result["load"]["cpu"]["gateway"]["ms_per_call"] > 0
    assert {"gateway_to_raw", "gateway_to_floor", "gateway_cpu_to_floor_cpu"} <= set(result["ratios"])
    assert isinstance(result["targets"]["calls_met"], bool) and isinstance(
        result["targets"]["memory_met"], bool
    )
    guard = result["guardrails"]  # --compare-guardrails: the three gateways served reads and writes
    assert guard["rounds"] == 1 and guard["budget_ms"] == 0.1
    for phase in ("read", "write"):
        for side in ("on", "off", "bare"):
            row = guard[phase][side]
            assert row["calls"] > 0 and row["errors"] == 0, (phase, side)
            assert row["gateway_cpu_ms_per_call"] > 0, (phase, side)
        for first, second in (("on", "bare"), ("on", "off"), ("off", "bare")):
            diff = guard[phase][f"{first}_minus_{second}"]
            assert diff["overall_ms"] == pytest.approx(
                guard[phase][first]["gateway_cpu_ms_per_call"]
                - guard[phase][second]["gateway_cpu_ms_per_call"]
            )
            low, high = diff["interval_90_ms"]
            assert low <= diff["mean_ms"] <= high and diff["budget"] in {"within", "over", "unresolved"}
    assert "send_message" in {name for run in guard["phases"]["on"]["write"] for name in run["tools"]}
    # One full collection per measured phase (2) in each of a gateway's 2 workers (tenants.py's
    # default), each run when the bench asked (not on the timer).
    assert guard["full_collections"] == {"on": 4, "off": 4, "bare": 4}
    assert guard["fresh_gateways_each_round"] is True


@pytest.mark.timeout(240)  # three guardrail gateways besides the usual phases, on a shared machine
def test_both_benchmarks_run_in_quick_mode_and_report_sane_numbers() -> None:
    """Both benchmarks finish in quick mode with their documented JSON keys and plausible values."""
    cold = _start("cold_start.py")
    tenants = _start(
        "tenants.py", "--tenants", str(TENANTS), "--sessions", "3", "--seconds", "1", "--settle", "0.2",
        "--compare-guardrails", "--guard-rounds", "1",
    )  # fmt: skip
    try:
        _check_cold_start(_result(cold))
        _check_tenants(_result(tenants, timeout=200))
    finally:
        _stop(cold, tenants)


def _check_tools(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "tools" and result["quick"] is True
    listed, page = result["tools_list"], result["page"]
    assert listed["tools"] == len(listed["per_tool_bytes"]) >= 2
    assert listed["result_bytes"] <= listed["jsonrpc_bytes"] <= listed["http_body_bytes"]
    assert sum(listed["per_tool_bytes"].values()) < listed["result_bytes"]
    assert page["messages"] == result["config"]["page"] == 50 and not page["has_structured_content"]
    assert page["result_text_bytes"] < page["jsonrpc_bytes"] <= page["http_body_bytes"]
    assert 0 < page["per_message_http_body"] < page["per_message_with_headers"]
    measured = {name: case for name, case in result["cases"].items() if "latency" in case}
    assert "get_messages (limit 50)" in measured and "find_chats (recent)" in measured, result["cases"]
    for name, case in measured.items():
        assert case["calls"]["tool"] >= 1 and case["calls"]["raw"] >= 1, name
        for phase in ("latency", "latency_rtt"):
            for mode in ("raw", "memory", "http"):
                assert 0 < case[phase][mode]["p50_ms"] <= case[phase][mode]["p90_ms"], (name, phase, mode)
        # The injected round trip is in every Telegram call, so it shows in the raw p50.
        assert case["latency_rtt"]["raw"]["p50_ms"] >= result["config"]["injected_rtt_ms"] * 0.9, name
    assert isinstance(result["targets"]["tools_list_met"], bool) and isinstance(
        result["targets"]["page_met"], bool
    )


def test_tools_benchmark_runs_in_quick_mode_and_reports_sane_numbers() -> None:
    """bench/tools.py finishes in quick mode with its documented keys, consistent byte counts and
    latencies that include the injected round trip."""
    _check_tools(_run("tools.py"))


def test_profiles_benchmark_reports_tools_list_bytes_per_profile() -> None:
    """bench/profiles.py lists each profile's tools over HTTP; fewer tools, fewer bytes, all = 100%."""
    result = _run("profiles.py")
    rows = result["profiles"]
    assert result["benchmark"] == "profiles" and list(rows) == ["reader", "inbox", "all"]
    assert len(rows["reader"]["tools"]) < len(rows["inbox"]["tools"]) < len(rows["all"]["tools"])
    assert 0 < rows["reader"]["result_bytes"] < rows["inbox"]["result_bytes"] < rows["all"]["result_bytes"]
    assert rows["all"]["share_of_all"] == 1.0


def test_limits_benchmark_reports_its_costs_per_call() -> None:
    """bench/limits.py reports the bucket, pacing and middleware costs per call, each positive and
    below a millisecond, and a whole call's CPU with and without the limiter."""
    result = _run("limits.py", "--tenants", "50")
    measured = result["measured"]
    assert result["benchmark"] == "limits" and result["quick"] is True
    for key in ("store_take_us", "pacer_decision_us", "middleware_added_us"):
        assert 0 < measured[key] < 1000, key
    calls = measured["mcp_call_us"]
    assert (
        calls["without_limiter"] > 0 and calls["with_limiter"] > 0 and measured["ratio_with_to_without"] > 0
    )


@pytest.mark.timeout(240)
def test_guardcost_times_the_guardrail_layers_in_a_real_gateway() -> None:
    """bench/guardcost.py: the probed gateways serve reads and writes with no errors, the layers the
    ``on`` gateway runs are timed (the journal only for writes), ``off`` runs only the limits, and
    ``bare`` runs none of them."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "guardcost.py"), "--tenants", "3", "--sessions", "2", "--seconds", "1",
         "--rounds", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        result = _result(proc, timeout=180)
    finally:
        _stop(proc)
    timed = result["timed"]
    for phase in ("read", "write"):
        for side in ("on", "off", "bare"):
            row = timed[phase][side]
            assert row["calls"] > 0 and row["errors"] == 0 and row["gateway_cpu_ms_per_call"] > 0, (
                phase,
                side,
            )
        on, bare = timed[phase]["on"]["layers_us_per_call"], timed[phase]["bare"]["layers_us_per_call"]
        assert on["policy.lookup"] > 0 and on["limits.call"] > 0, on
        assert bare["audit.append"] == bare["limits.call"] == 0, bare  # no journal, no call limit
        assert bare["policy.lookup"] < on["policy.lookup"], (bare, on)  # no store read: a stub
        off = timed[phase]["off"]["layers_us_per_call"]  # the budget's part off, the limits on
        assert off["audit.append"] == 0 and off["limits.call"] > 0, off
        assert off["policy.lookup"] < on["policy.lookup"], (off, on)
    assert timed["write"]["on"]["layers_us_per_call"]["audit.append"] > 0
    assert timed["read"]["on"]["layers_us_per_call"]["audit.append"] == 0
    assert result["callgrind"] is None and set(result["result"]) == {"read", "write"}


def test_coldcost_reports_each_journal_step_hot_and_cold() -> None:
    """bench/coldcost.py times each step of an append in a loop and after evicting the caches,
    against a baseline eviction in the same run; the steps' costs are positive and bounded."""
    result = _run("coldcost.py")
    measured = result["measured"]
    assert result["benchmark"] == "coldcost" and result["quick"] is True
    steps = {"time_field", "content_digest", "mac_cpython_sha256", "mac_openssl_sha256", "encode_line"}
    assert steps | {"os_write", "append", "noop"} == set(measured)
    for name in steps | {"os_write", "append"}:
        row = measured[name]
        assert 0 < row["hot_us"] < 1000 and 0 <= row["cold_us"] < 10_000, (name, row)
    # A whole append does more than one of its MACs, hot and cold alike.
    assert measured["append"]["hot_us"] > measured["mac_cpython_sha256"]["hot_us"]
    assert measured["noop"]["cold_baseline_us"] >= 0
