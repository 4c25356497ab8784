"""stdio cold start of ``mcpgram serve``: process spawn to the first ``tools/list`` answer, and its RSS.

A real MCP client (fastmcp's ``Client`` over ``StdioTransport``) launches ``python -m mcpgram
serve`` with ``MCPGRAM_*`` pointing at a sandbox running in another process
(``python -m mcpgram.sandbox --port 0``). Each run is timed from just before the spawn to the
``tools/list`` answer, then the server's ``VmRSS`` is read from ``/proc/<pid>/status``. The data
dir is shared by all runs, as a user's is; the first warm-up creates its keys.

The floor: the same client, timed the same way, launches the least a FastMCP stdio server does
(import FastMCP, register one tool, serve); ``floor_server`` is measured interleaved with mcpgram,
and ``ratios.own_seconds`` / ``own_rss_mib`` (mcpgram minus floor) are mcpgram's own share.
mcpgram imports Telethon only with the first tool call, so the floor does not import it either.
Import-only baselines, also interleaved (spawn to the end of the code, teardown skipped as the
server's clock skips it; RSS at that point):

- ``python_bare``: ``python -c pass``, the interpreter's own start-up;
- ``telethon_fastmcp``: ``python -c "import telethon, fastmcp"`` (``import fastmcp`` is lazy: it
  does not load the MCP server machinery);
- ``framework_floor``: ``from fastmcp import FastMCP``: the MCP server machinery itself.

``stages`` attributes the start-up: one process imports what ``serve`` needs in stages (FastMCP,
the CLI, settings, the rest of mcpgram), builds the gateway, then imports Telethon (what the first
tool call adds), timing each stage and reading its RSS growth. ``--importtime FILE`` also saves a
raw ``-X importtime`` of ``serve``. JSON goes to stdout, a short table to stderr. This script
must not touch the user's own data dir or ``.env``: everything lives in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fastmcp
import telethon
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

import _common  # bench/_common.py
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID

TARGET_SECONDS, TARGET_RSS_MIB = 0.9, 80.0
SERVE_ARGS = ["-m", "mcpgram", "serve"]
#: The least a FastMCP stdio server does: import FastMCP, register one tool, serve. (mcpgram imports
#: Telethon with the first tool call, after tools/list, so the floor does not import it either.)
FLOOR_SERVER_CODE = """
from fastmcp import FastMCP
mcp = FastMCP("floor")
@mcp.tool
def find_chats(query: str = "", limit: int = 20) -> str:
    \"\"\"Find chats.\"\"\"
    return ""
mcp.run(show_banner=False)
"""
FLOOR_SERVER_ARGS = ["-c", FLOOR_SERVER_CODE]
BASELINES = {
    "python_bare": "pass",
    "telethon_fastmcp": "import telethon, fastmcp",
    "framework_floor": "from fastmcp import FastMCP",
}
MIB = 1024 * 1024


# -- the sandbox in its own process ----------------------------------------------------------------


async def start_sandbox(work: Path) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """``python -m mcpgram.sandbox --port 0`` in a subprocess; returns it and its connect details."""
    key_file = work / "sandbox-key.pem"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpgram.sandbox", "--port", "0", "--key-file", str(key_file),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    found: dict[str, str] = {"key_file": str(key_file)}
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line:
            raise RuntimeError("the sandbox exited before it was ready")
        name, _, value = line.partition(": ")
        found[name.strip()] = value.strip()
        if name == "ready":
            return proc, found


def server_env(sandbox: dict[str, str], data_dir: Path) -> dict[str, str]:
    """The process environment with only our ``MCPGRAM_*`` settings (none inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGRAM_")}
    env.update(
        MCPGRAM_DATA_DIR=str(data_dir),
        MCPGRAM_API_ID=str(SANDBOX_API_ID),
        MCPGRAM_API_HASH=SANDBOX_API_HASH,
        MCPGRAM_DC=f"{sandbox['dc id']}@{sandbox['address']}",
        MCPGRAM_RSA_KEY_FILE=sandbox["key_file"],
    )
    return env


# -- one cold start --------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes (from /proc)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


def child_pid(args: list[str]) -> int:
    """The pid of our child ``python ARGS`` (fastmcp's transport does not expose it)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if ppid == me and [a.decode() for a in argv[1 : 1 + len(args)]] == args:
            return int(entry.name)
    raise RuntimeError("server child not found")


async def cold_start(
    env: dict[str, str], cwd: Path, errlog: Path, args: list[str] = SERVE_ARGS
) -> dict[str, float]:
    """Spawn ``python ARGS`` (``mcpgram serve``), initialize, list tools: seconds, and the server's RSS."""
    transport = StdioTransport(
        command=sys.executable, args=args, env=env, cwd=str(cwd), keep_alive=False, log_file=errlog
    )
    start = time.perf_counter()
    async with Client(transport) as client:
        initialized = time.perf_counter()
        tools = await client.list_tools()
        listed = time.perf_counter()
        memory = proc_status(child_pid(args))
    if "find_chats" not in {tool.name for tool in tools}:
        raise RuntimeError("tools/list answered without find_chats")
    return {
        "seconds": listed - start,
        "initialize_s": initialized - start,
        "tools_list_ms": (listed - initialized) * 1000,
        "rss_mib": memory["VmRSS"] / MIB,
        "hwm_mib": memory["VmHWM"] / MIB,
        "tools": len(tools),
    }


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=10, method="inclusive") if len(samples) > 1 else samples * 9
    return {
        "n": len(samples),
        "p50": statistics.median(samples),
        "p90": cuts[8],
        "min": min(samples),
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }


# -- baselines and stages -------------------------------------------------------------------------

# Report the RSS, then skip interpreter teardown (it takes 0.1-0.3 s after these imports): the
# server's clock stops at the tools/list answer, while it is still running, so the baselines' must too.
_RSS_TAIL = """
import os, sys
sys.stdout.write(open("/proc/self/status").read())
sys.stdout.flush()
os._exit(0)
"""


def timed_python(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, str]:
    """Seconds from spawn to exit of ``python -c code``, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return time.perf_counter() - start, done.stdout


def vm_rss_mib(status: str) -> float:
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024 / MIB


def baseline_run(code: str) -> tuple[float, float]:
    """One baseline: spawn-to-exit seconds and the RSS (MiB) just before it exits."""
    seconds, status = timed_python(code + _RSS_TAIL)
    return seconds, vm_rss_mib(status)


def summarise_baselines(samples: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    return {
        name: {
            "code": BASELINES[name],
            "seconds": summary([seconds for seconds, _ in runs]),
            "rss_mib": summary([rss for _, rss in runs]),
        }
        for name, runs in samples.items()
    }


#: In one process, in the order ``mcpgram serve`` needs them: each stage's time and RSS.
STAGES = """
import json, time
t0 = time.perf_counter()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
out = [("interpreter", 0.0, rss())]
def mark(name):
    out.append((name, time.perf_counter() - t0, rss()))
from fastmcp import FastMCP; mark("from fastmcp import FastMCP")
import mcpgram.cli; mark("import mcpgram.cli (cyclopts)")
import mcpgram.settings; mark("import mcpgram.settings (pydantic-settings)")
import mcpgram.app; mark("import mcpgram.app (the rest of mcpgram)")
from mcpgram.app import build_gateway
from mcpgram.settings import Settings
settings = Settings.load(); mark("Settings.load()")
gateway = build_gateway(settings, transport="stdio"); mark("build_gateway() (vault, tools)")
import telethon; mark("import telethon (later: with the first tool call)")
gateway.store.close()
print(json.dumps(out))
"""


def stages(runs: int, env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    """Median time (ms) and RSS growth (MiB) of each start-up stage, over ``runs`` processes."""
    samples = [json.loads(timed_python(STAGES, env, cwd)[1]) for _ in range(runs)]
    out = []
    for index in range(1, len(samples[0])):
        out.append(
            {
                "stage": samples[0][index][0],
                "ms": statistics.median((s[index][1] - s[index - 1][1]) * 1000 for s in samples),
                "rss_mib": statistics.median(s[index][2] - s[index - 1][2] for s in samples),
            }
        )
    return out


# -- the run ---------------------------------------------------------------------------------------


def write_importtime(path: Path, env: dict[str, str], cwd: Path) -> None:
    """Raw ``-X importtime`` of one ``mcpgram serve`` start-up (stdin closed, so it exits at once)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-X", "importtime", *SERVE_ARGS],
        env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(done.stderr)


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sandbox, info = await start_sandbox(work)
    try:
        env = server_env(info, work / "data")
        errlog = work / "serve-stderr.log"
        # Warm-ups fill the page cache; the baselines import a subset of what the server does.
        for _ in range(args.warmup):
            await cold_start(env, work, errlog)
        # Interleaved, so a change in the machine's load during the run hits all of them alike.
        runs: list[dict[str, float]] = []
        floor_runs: list[dict[str, float]] = []
        base: dict[str, list[tuple[float, float]]] = {name: [] for name in BASELINES}
        for _ in range(args.runs):
            runs.append(await cold_start(env, work, errlog))
            floor_runs.append(await cold_start(env, work, errlog, FLOOR_SERVER_ARGS))
            for name, code in BASELINES.items():
                base[name].append(baseline_run(code))
        profile = stages(args.stage_runs, env, work)
        if args.importtime:
            write_importtime(args.importtime, env, work)
    finally:
        sandbox.terminate()
        await sandbox.wait()
    return {"runs": runs, "floor_runs": floor_runs, "baselines": summarise_baselines(base), "stages": profile}


def environment() -> dict[str, Any]:
    return _common.environment(telethon=telethon.__version__, fastmcp=fastmcp.__version__)


def report(result: dict[str, Any]) -> None:
    server, floor, base, ratios = (
        result["server"],
        result["floor_server"],
        result["baselines"],
        result["ratios"],
    )
    seconds = server["seconds"]
    floor_text = f"{floor['seconds']['p50']:.3f} s ({floor['rss_mib']['p50']:.1f} MiB)"
    rows = [
        ("cold start to tools/list p50 / p90", f"{seconds['p50']:.3f} / {seconds['p90']:.3f} s"),
        ("  spawn + initialize p50", f"{server['initialize_s']['p50']:.3f} s"),
        ("server RSS after tools/list p50", f"{server['rss_mib']['p50']:.1f} MiB"),
        ("floor server (FastMCP stdio, one tool) p50", floor_text),
    ]
    for name in BASELINES:
        b = base[name]
        rows.append((f"{name} p50 (RSS)", f"{b['seconds']['p50']:.3f} s ({b['rss_mib']['p50']:.1f} MiB)"))
    to_floor = f"{ratios['time_to_floor_server']:.2f}x time, {ratios['rss_to_floor_server']:.2f}x RSS"
    rows.append(("ratio to the floor server", to_floor))
    own = f"{ratios['own_seconds']:+.3f} s, {ratios['own_rss_mib']:+.1f} MiB"
    rows.append(("mcpgram's own share (server - floor)", own))
    for stage in result["stages"]:
        rows.append((f"  stage {stage['stage']}", f"{stage['ms']:.0f} ms, {stage['rss_mib']:+.1f} MiB"))
    targets = result["targets"]
    rows.append(("load average (1 min)", str(result["environment"]["load_average"][0])))
    rows.append((f"target < {TARGET_SECONDS} s (p50)", "met" if targets["seconds_met"] else "MISSED"))
    rows.append((f"target < {TARGET_RSS_MIB:.0f} MiB RSS (p50)", "met" if targets["rss_met"] else "MISSED"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=sys.stderr)


def build_result(args: argparse.Namespace, measured: dict[str, Any]) -> dict[str, Any]:
    keys = ("seconds", "initialize_s", "tools_list_ms", "rss_mib", "hwm_mib")
    server = {key: summary([run[key] for run in measured["runs"]]) for key in keys}
    floor = {key: summary([run[key] for run in measured["floor_runs"]]) for key in keys}
    base = measured["baselines"]
    p50, rss = server["seconds"]["p50"], server["rss_mib"]["p50"]
    floor_p50, floor_rss = floor["seconds"]["p50"], floor["rss_mib"]["p50"]
    return {
        "benchmark": "cold_start",
        "quick": args.quick,
        "environment": environment(),
        "server": server,
        "server_runs": measured["runs"],
        "floor_server": floor,
        "baselines": base,
        "ratios": {
            "time_to_bare_python": p50 / base["python_bare"]["seconds"]["p50"],
            "time_to_telethon_fastmcp": p50 / base["telethon_fastmcp"]["seconds"]["p50"],
            "time_to_floor_server": p50 / floor_p50,
            "rss_to_floor_server": rss / floor_rss,
            "own_seconds": p50 - floor_p50,
            "own_rss_mib": rss - floor_rss,
        },
        "stages": measured["stages"],
        "targets": {
            "seconds": TARGET_SECONDS,
            "rss_mib": TARGET_RSS_MIB,
            "seconds_met": p50 < TARGET_SECONDS,
            "rss_met": rss < TARGET_RSS_MIB,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured cold starts (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="cold starts before measuring (default 2)")
    parser.add_argument(
        "--stage-runs", type=int, default=5, help="processes for the stage profile (default 5)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 runs, 1 warm-up, 1 stage run: a smoke test, not a measurement"
    )
    parser.add_argument("--importtime", type=Path, help="write raw -X importtime output of serve here")
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.warmup, args.stage_runs = 2, 1, 1
    return _common.run(
        "cold",
        lambda work: measure(args, work),
        lambda measured: build_result(args, measured),
        report,
        args.output,
    )


if __name__ == "__main__":
    raise SystemExit(main())
