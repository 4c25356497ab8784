"""``tenants.py --compare-fronts``: the multi-worker front's CPU per call, before, now, and as an ASGI relay.

Four gateways over copies of the one data dir ``tenants.py`` prepared (same tenants, same sandbox,
``--workers`` workers each), all running at once:

- ``before``: the gateway of commit :data:`BEFORE_COMMIT` (the front as it was before issue 10),
  ``python -m mcpgram serve`` from ``git archive <commit> src`` put first on ``PYTHONPATH``;
- ``current``: this checkout's ``mcpgram serve`` (``web/front.py``);
- ``relay``: this checkout's workers behind ``bench/_asgi_front.py`` (uvicorn + an ASGI relay
  reaching the workers with httpx);
- ``relay_lean``: the same ASGI relay with the worker leg written by hand (httptools over asyncio
  Unix connections, no httpx), to tell uvicorn's cost from httpx's.

Each tenant first makes its calls once through each gateway (so its Telegram client is connected
in all of them); then the legacy-era load of ``tenants.py`` (the same client, sessions and calls)
runs against each in turn, ``--front-rounds`` times (before, current, relay, relay_lean, before,
...), so drift on the shared machine hits all alike. Per front: the CPU of the front process alone (its
pid, not its workers) per call, the whole gateway's, calls/s, latency, errors; then the
differences the issue asks for (``relay_minus_current_ms``, ``current_minus_before_ms``; and
``relay_lean_minus_current_ms``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import tenants as bench  # bench/tenants.py (its helpers; the script itself runs as __main__)

#: The last commit before issue 10 touched the front.
BEFORE_COMMIT = "503d82a"
FRONTS = ("before", "current", "relay", "relay_lean")
RELAYS = ("relay", "relay_lean")
#: The issue's bound: the relay replaces today's front only if its CPU per call is within this.
RELAY_BUDGET_MS = 0.3
BENCH = Path(__file__).resolve().parent
SERVE = ("-m", "mcpgram", "serve", "--transport", "http", "--port", "0")


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of this one process (not its children: a front's workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class FrontMeter:
    """Like ``tenants.CpuMeter``: the front alone, the whole gateway, the sandbox, this client."""

    def __init__(self, front_pid: int, sandbox_pid: int) -> None:
        self.readers = {
            "front": lambda: own_cpu_seconds(front_pid),
            "gateway": lambda: bench.cpu_seconds(front_pid),
            "sandbox": lambda: bench.cpu_seconds(sandbox_pid),
            "client": time.process_time,
        }
        self.start = {name: read() for name, read in self.readers.items()}

    def used(self, elapsed: float, calls: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, read in self.readers.items():
            spent = read() - self.start[name]
            out[name] = {"cpu_s": spent, "ms_per_call": spent / max(calls, 1) * 1000, "busy": spent / elapsed}
        return out


def extract_before(work: Path, commit: str = BEFORE_COMMIT) -> Path:
    """``src/`` of ``commit``, extracted under ``work``; the path to put on PYTHONPATH."""
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is needed to extract the code of " + commit)
    target = work / f"src-{commit}"
    archive = subprocess.run(  # noqa: S603 - git archive of a fixed commit of this repository
        [git, "-C", str(BENCH.parent), "archive", commit, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    src = target / "src"
    # PYTHONPATH comes before the editable install's path entry: make sure the old code is what loads.
    loaded = subprocess.run(
        [sys.executable, "-c", "import mcpgram.web.front as m; print(m.__file__)"],
        env={**os.environ, "PYTHONPATH": str(src)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(loaded).is_relative_to(src):
        raise RuntimeError(f"PYTHONPATH={src} still loads {loaded}")
    return src


async def start_front(argv: list[str], env: dict[str, str], cwd: Path) -> bench.Gateway:
    """Start a gateway (``python *argv``) and wait for its ``serving MCP at`` line on stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, env=env, cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    tail: deque[str] = deque(maxlen=200)
    while True:
        raw = await asyncio.wait_for(proc.stderr.readline(), 120)
        if not raw:
            raise RuntimeError(f"{argv[0]} exited: " + " | ".join(tail))
        tail.append(raw.decode(errors="replace").rstrip())
        found = re.search(r"serving MCP at (http://[^/\s]+)/v1/mcp", tail[-1])
        if found:
            break

    async def drain(stream: asyncio.StreamReader) -> None:  # keep the pipe from filling up
        async for line in stream:
            tail.append(line.decode(errors="replace").rstrip())

    asyncio.get_running_loop().create_task(drain(proc.stderr))
    return bench.Gateway(proc, found.group(1), env["MCPGRAM_OPERATOR_TOKEN"], tail)


async def compare_fronts(  # noqa: PLR0917 - what tenants.measure holds, passed on as is
    args: argparse.Namespace,
    work: Path,
    settings: Any,
    tokens: list[str],
    peer_id: int,
    sandbox_pid: int,
) -> dict[str, Any]:
    """Start the gateways, warm every tenant in each, run the alternating load phases."""
    before_src = extract_before(work)
    base_env = bench.gateway_env(settings, args.tenants, args.workers)
    launch: dict[str, tuple[list[str], dict[str, str]]] = {
        "before": ([*SERVE], {"PYTHONPATH": str(before_src)}),
        "current": ([*SERVE], {}),
        "relay": ([str(BENCH / "_asgi_front.py")], {}),
        "relay_lean": ([str(BENCH / "_asgi_front.py"), "--lean"], {}),
    }
    gateways: dict[str, bench.Gateway] = {}
    setup: dict[str, float] = {}
    try:
        for name in FRONTS:
            home = work / f"front-{name}"
            home.mkdir()
            shutil.copytree(settings.data_dir, home / "data")  # a vault of its own, same tenants
            argv, extra = launch[name]
            env = {**base_env, **extra, "MCPGRAM_DATA_DIR": str(home / "data")}
            clock = time.perf_counter()
            gateways[name] = await start_front(argv, env, home)
            url = f"{gateways[name].base}/v1/mcp"
            warm = await bench.warm_all(url, tokens, peer_id, args.sessions)
            setup[f"{name}_start_and_warm_s"] = time.perf_counter() - clock
            if warm.errors:
                raise RuntimeError(f"{name}: warming up failed: {dict(warm.errors.most_common(3))}")
        await asyncio.sleep(args.settle)
        phases: dict[str, list[dict[str, Any]]] = {name: [] for name in FRONTS}
        for _ in range(args.front_rounds):
            for name in FRONTS:
                gateway = gateways[name]
                meter = FrontMeter(gateway.proc.pid, sandbox_pid)
                url = f"{gateway.base}/v1/mcp"
                phases[name].append(await bench.load(url, tokens, peer_id, args, meter, server="front"))
    finally:
        for gateway in gateways.values():
            await bench.stop(gateway.proc)
    return summarize(phases, setup, before_src)


def _front(runs: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(run["calls"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)

    def ms(process: str) -> float:
        return sum(run["cpu"][process]["cpu_s"] for run in runs) / max(calls, 1) * 1000

    def mean(key: str) -> float:
        return sum(run["latency"][key] for run in runs) / len(runs)

    return {
        "front_cpu_ms_per_call": ms("front"),
        "gateway_cpu_ms_per_call": ms("gateway"),
        "workers_cpu_ms_per_call": ms("gateway") - ms("front"),
        "sandbox_cpu_ms_per_call": ms("sandbox"),
        "client_cpu_ms_per_call": ms("client"),
        "calls": calls,
        "seconds": seconds,
        "calls_per_s": calls / seconds,
        "p50_ms": mean("p50_ms"),
        "p99_ms": mean("p99_ms"),
        "errors": sum(run["errors"] for run in runs),
        "front_cpu_ms_per_call_by_round": [run["cpu"]["front"]["ms_per_call"] for run in runs],
        "calls_per_s_by_round": [run["calls_per_s"] for run in runs],
    }


def summarize(
    phases: dict[str, list[dict[str, Any]]], setup: dict[str, float], before_src: Path
) -> dict[str, Any]:
    fronts = {name: _front(runs) for name, runs in phases.items()}
    cpu = {name: front["front_cpu_ms_per_call"] for name, front in fronts.items()}
    by_round = {name: front["front_cpu_ms_per_call_by_round"] for name, front in fronts.items()}
    out: dict[str, Any] = {
        "before_commit": BEFORE_COMMIT,
        "before_src": str(before_src),
        "rounds": len(phases["current"]),
        "setup": setup,
        **fronts,
        "current_minus_before_ms": cpu["current"] - cpu["before"],
        "current_to_before": cpu["current"] / cpu["before"],
        "current_minus_before_ms_by_round": [
            c - b for c, b in zip(by_round["current"], by_round["before"], strict=True)
        ],
        "relay_budget_ms": RELAY_BUDGET_MS,
    }
    for relay in RELAYS:
        out[f"{relay}_minus_current_ms"] = cpu[relay] - cpu["current"]
        out[f"{relay}_to_current"] = cpu[relay] / cpu["current"]
        out[f"{relay}_minus_current_ms_by_round"] = [
            r - c for r, c in zip(by_round[relay], by_round["current"], strict=True)
        ]
        out[f"{relay}_within_budget"] = cpu[relay] - cpu["current"] <= RELAY_BUDGET_MS
    return out | {"phases": phases}


def report_rows(fronts: dict[str, Any]) -> list[tuple[str, str]]:
    """Lines for ``tenants.py``'s stderr table."""
    rows = [
        (
            f"fronts ({fronts['rounds']} rounds): front CPU ms/call",
            " / ".join(f"{name} {fronts[name]['front_cpu_ms_per_call']:.3f}" for name in FRONTS),
        ),
        (
            "  calls/s, p99 ms, errors",
            " / ".join(
                f"{name} {front['calls_per_s']:.0f}, {front['p99_ms']:.0f}, {front['errors']}"
                for name, front in ((name, fronts[name]) for name in FRONTS)
            ),
        ),
        (
            "  current - before",
            f"{fronts['current_minus_before_ms']:+.3f} ms",
        ),
    ]
    for relay in RELAYS:
        within = "within" if fronts[f"{relay}_within_budget"] else "over"
        rows.append(
            (
                f"  {relay} - current",
                f"{fronts[f'{relay}_minus_current_ms']:+.3f} ms ({within} {RELAY_BUDGET_MS})",
            )
        )
    return rows
