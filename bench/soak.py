"""Soak: does every process's memory stay flat under a long, steady load?

Sets up what ``bench/tenants.py`` sets up (the sandbox in its own process with one account per
tenant, every tenant created in the vault and logged in, then ``mcpgram serve --transport http
--workers N``), warms every tenant up, measures the gateway's capacity with the legacy-era load of
``tenants.py`` (``--sessions`` concurrent MCP sessions, each ``initialize``, ``--calls-per-session``
tool calls alternating ``find_chats`` and ``get_messages(limit=20)``, ``DELETE``) for
``--capacity-seconds``, then runs the same load paced at ``--rate-fraction`` of that rate for
``--minutes``. Every ``--sample-seconds`` it reads each process's VmRSS and open file descriptors
from ``/proc``: the front, each worker (the front's ``multiprocessing`` children, found by process
tree; a restarted worker is a new series), the sandbox, and this process (the load client, for
information).

For each process: RSS at the end of ``--warmup-minutes`` and at the end, growth after warm-up (%),
the least-squares slope of RSS after warm-up (MiB/min), fd counts at warm-up end and at the end. The
verdict passes when the run had no errors, no process exited, and every server process (front,
workers, sandbox; not the client) grew less than ``--max-growth`` (5%) after warm-up. JSON on
stdout (``--output`` too; ``--samples`` adds the raw series), a short table on stderr. When a process
exits or the run fails, each spawned process's last output is printed (and put in the JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastmcp
import httpx2 as httpx
import telethon

import _common  # bench/_common.py
import tenants as tb  # bench/tenants.py
from _mcp_http import PROTOCOL_VERSION, LeanSession  # bench/_mcp_http.py

MIB = 1024 * 1024
SERVER_ROLES = ("front", "gateway", "worker", "sandbox")


# -- sampling --------------------------------------------------------------------------------------


def _status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Series:
    role: str
    pid: int
    t: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    exited_at: float | None = None


class Sampler:
    """Samples every process's VmRSS and fd count; names workers by the order they appear."""

    def __init__(self, front: int, sandbox: int, *, workers: bool) -> None:
        self.front, self.sandbox, self.has_workers = front, sandbox, workers
        self.series: dict[str, Series] = {}
        self.worker_names: dict[int, str] = {}
        self.events: list[str] = []
        self.load_average: list[float] = []  # the machine's 1-minute load average at each sample
        self.start = time.perf_counter()

    def _workers(self) -> list[int]:
        # The spawn context starts workers as "python -c 'from multiprocessing.spawn import ...'";
        # its resource tracker (if any) is another child, not a worker.
        return sorted(c for c in _children(self.front) if "spawn_main" in _cmdline(c))

    def targets(self) -> dict[str, tuple[str, int]]:
        role = "front" if self.has_workers else "gateway"
        out = {
            role: (role, self.front),
            "sandbox": ("sandbox", self.sandbox),
            "client": ("client", os.getpid()),
        }
        if self.has_workers:
            for pid in self._workers():
                if pid not in self.worker_names:
                    name = f"worker{len(self.worker_names) + 1}"
                    if self.series:  # not the first sample: a worker was started again
                        self.events.append(f"{self.now():.0f}s: {name} (pid {pid}) appeared")
                    self.worker_names[pid] = name
                out[self.worker_names[pid]] = ("worker", pid)
        return out

    def now(self) -> float:
        return time.perf_counter() - self.start

    def sample(self) -> None:
        t = self.now()
        self.load_average.append(os.getloadavg()[0])
        for name, (role, pid) in self.targets().items():
            series = self.series.setdefault(name, Series(role, pid))
            rss, fds = _status_kib(pid, "VmRSS:"), _fds(pid)
            if rss is None or fds is None:
                if series.exited_at is None:
                    series.exited_at = t
                    self.events.append(f"{t:.0f}s: {name} (pid {pid}) is gone")
                continue
            series.t.append(t)
            series.rss_kib.append(rss)
            series.fds.append(fds)
        for name, series in self.series.items():  # workers that left the tree
            if series.exited_at is None and not Path(f"/proc/{series.pid}").exists():
                series.exited_at = t
                self.events.append(f"{t:.0f}s: {name} (pid {series.pid}) is gone")

    async def run(self, every: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
        self.sample()


def slope_per_min(t: list[float], y: list[float]) -> float | None:
    """Least-squares slope of y over t (seconds), per minute."""
    if len(t) < 2:
        return None
    mt, my = statistics.fmean(t), statistics.fmean(y)
    den = sum((x - mt) ** 2 for x in t)
    return sum((x - mt) * (v - my) for x, v in zip(t, y, strict=True)) / den * 60 if den else None


def summarise(series: Series, warmup_s: float, max_growth: float) -> dict[str, Any]:
    after = [i for i, t in enumerate(series.t) if t >= warmup_s]
    out: dict[str, Any] = {"role": series.role, "pid": series.pid, "samples": len(series.t)}
    if series.rss_kib:
        out["rss_start_mib"] = series.rss_kib[0] / 1024
        out["rss_peak_mib"] = max(series.rss_kib) / 1024
    if series.exited_at is not None:
        out["exited_at_s"] = series.exited_at
    if len(after) < 2:
        out["verdict"] = "too few samples after warm-up"
        return out
    first, last = after[0], after[-1]
    rss0, rss1 = series.rss_kib[first] / 1024, series.rss_kib[last] / 1024
    times = [series.t[i] for i in after]
    slope = slope_per_min(times, [series.rss_kib[i] / 1024 for i in after])
    growth = (rss1 - rss0) / rss0 * 100
    out |= {
        "rss_warmup_end_mib": rss0,
        "rss_end_mib": rss1,
        "growth_pct": growth,
        "slope_mib_per_min": slope,
        # the fitted growth over the measured span, in % of the warm-up RSS: less noisy than end - start
        "fitted_growth_pct": (slope or 0) * (times[-1] - times[0]) / 60 / rss0 * 100,
        "fds_warmup_end": series.fds[first],
        "fds_end": series.fds[last],
        "fds_max": max(series.fds),
        "minutes_after_warmup": (times[-1] - times[0]) / 60,
    }
    if series.role != "client":
        out["flat"] = growth < max_growth and series.exited_at is None
    return out


# -- the paced load --------------------------------------------------------------------------------


class Pacer:
    """Hands out call slots ``1 / rate`` apart; slots nobody took in the last ``catch_up`` seconds
    are still given out (so the time sessions spend opening and closing is made up), older ones not.
    """

    def __init__(self, rate: float, catch_up: float = 1.0) -> None:
        self.interval, self.catch_up = 1 / rate, catch_up
        self.next = time.perf_counter()

    async def wait(self) -> None:
        now = time.perf_counter()
        slot = max(self.next, now - self.catch_up)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def paced_load(
    url: str, tokens: list[str], peer_id: int, args: argparse.Namespace, *, rate: float, seconds: float
) -> tuple[tb.Tally, float]:
    """The legacy-era load of tenants.py, each tool call waiting for its slot at ``rate`` calls/s."""
    tally = tb.Tally()
    plan = tb.plan_for(peer_id, args.calls_per_session)
    pacer = Pacer(rate)
    start = time.perf_counter()
    deadline = start + seconds
    http = httpx.AsyncClient(timeout=60)

    async def session(token: str) -> None:
        opened = time.perf_counter()
        try:
            async with LeanSession(http, url, token, era=PROTOCOL_VERSION) as client:
                tally.session_open_ms.append((time.perf_counter() - opened) * 1000)
                tally.sessions += 1
                for name, arguments in plan:
                    await pacer.wait()
                    if time.perf_counter() >= deadline:
                        break
                    begun = time.perf_counter()
                    try:
                        await client.call_tool(name, arguments)
                    except Exception as exc:  # counted and reported; the run goes on
                        tally.errors[f"{name}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
                        continue
                    tally.latencies_ms.append((time.perf_counter() - begun) * 1000)
                    tally.calls += 1
        except Exception as exc:
            tally.errors[f"session: {type(exc).__name__}: {str(exc)[:80]}"] += 1

    async def worker(first: int) -> None:
        index = first
        while time.perf_counter() < deadline:
            await session(tokens[index % len(tokens)])
            index += args.sessions

    try:
        await asyncio.gather(*(worker(w) for w in range(args.sessions)))
    finally:
        await http.aclose()
    return tally, time.perf_counter() - start


# -- the run ---------------------------------------------------------------------------------------


async def soak_phase(
    url: str,
    tokens: list[str],
    peer_id: int,
    args: argparse.Namespace,
    *,
    rate: float,
    procs: dict[str, asyncio.subprocess.Process],
) -> dict[str, Any]:
    """The paced load with the sampler running: the soak's figures, per process."""
    gateway, sandbox = procs["gateway"], procs["sandbox"]
    result: dict[str, Any] = {}
    sampler = Sampler(gateway.pid, sandbox.pid, workers=args.workers > 1)
    stop = asyncio.Event()
    sampling = asyncio.ensure_future(sampler.run(args.sample_seconds, stop))
    meter = tb.CpuMeter({"gateway": gateway.pid, "sandbox": sandbox.pid})
    try:
        tally, elapsed = await paced_load(url, tokens, peer_id, args, rate=rate, seconds=args.minutes * 60)
    finally:
        stop.set()
        await sampling
    soak = tally.summary(elapsed)
    soak["target_calls_per_s"] = rate
    soak["cpu"] = meter.used(elapsed, tally.calls)
    warmup_s = args.warmup_minutes * 60
    result["processes"] = {
        name: summarise(series, warmup_s, args.max_growth) for name, series in sampler.series.items()
    }
    for summary in result["processes"].values():  # comparable between runs at different rates
        if summary.get("slope_mib_per_min") is not None and soak["calls_per_s"]:
            per_call_kib = summary["slope_mib_per_min"] * 1024 / (soak["calls_per_s"] * 60)
            summary["slope_kib_per_1000_calls"] = per_call_kib * 1000
    if args.samples:
        result["samples"] = {
            name: {"t_s": s.t, "rss_kib": s.rss_kib, "fds": s.fds} for name, s in sampler.series.items()
        }
    soak["load_average"] = {"mean": statistics.fmean(sampler.load_average), "max": max(sampler.load_average)}
    result["soak"], result["events"] = soak, sampler.events
    return result


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    setup: dict[str, float] = {}
    clock = time.perf_counter()
    sandbox, info = await tb.spawn_json(
        tb.__file__, "--serve-sandbox", "--tenants", str(args.tenants), "--messages", str(args.messages)
    )
    procs = {"sandbox": sandbox}
    setup["sandbox_start_s"] = time.perf_counter() - clock
    result: dict[str, Any] = {"setup": setup}
    try:
        settings = tb.gateway_settings(work, info)
        clock = time.perf_counter()
        tokens = await tb.log_in_tenants(settings, info, args.tenants, args.login_concurrency)
        setup["login_s"] = time.perf_counter() - clock
        print(f"soak: {args.tenants} tenants logged in in {setup['login_s']:.0f} s", file=sys.stderr)
        gateway = await tb.start_gateway(tb.gateway_env(settings, args.tenants, args.workers), work)
        procs["gateway"] = gateway.proc
        url, peer_id = f"{gateway.base}/v1/mcp", info["peer_id"]
        clock = time.perf_counter()
        warm = await tb.warm_all(url, tokens, peer_id, args.sessions)
        setup["warm_all_s"] = time.perf_counter() - clock
        result["warm"] = warm.summary(setup["warm_all_s"])
        meter = tb.CpuMeter({"gateway": gateway.proc.pid, "sandbox": sandbox.pid})
        capacity_args = argparse.Namespace(**{**vars(args), "seconds": args.capacity_seconds})
        capacity = await tb.load(url, tokens, peer_id, capacity_args, meter, server="gateway")
        result["capacity"] = capacity
        rate = args.rate or capacity["calls_per_s"] * args.rate_fraction
        print(
            f"soak: capacity {capacity['calls_per_s']:.0f} calls/s; soaking at {rate:.0f} calls/s"
            f" for {args.minutes:g} min",
            file=sys.stderr,
        )
        result |= await soak_phase(url, tokens, peer_id, args, rate=rate, procs=procs)
        exited = {name: p for name, p in procs.items() if p.returncode is not None}
        flat = all(p.get("flat", True) for p in result["processes"].values())
        result["verdict"] = {
            "errors": result["soak"]["errors"],
            "all_flat": flat,
            "exited": sorted(exited),
            "pass": flat and result["soak"]["errors"] == 0 and not exited and not result["events"],
        }
        if not result["verdict"]["pass"]:
            result["last_output"] = {name: tb.last_output(p) for name, p in procs.items()}
            tb.print_last_output(procs)
    except BaseException:
        tb.print_last_output(procs)
        raise
    finally:
        for proc in reversed(procs.values()):
            await tb.stop(proc)
    return result


def report(result: dict[str, Any]) -> None:
    soak, verdict = result["soak"], result["verdict"]
    cfg = result["config"]
    print(
        f"capacity {result['capacity']['calls_per_s']:.0f} calls/s; soaked at {soak['calls_per_s']:.0f}"
        f" calls/s (target {soak['target_calls_per_s']:.0f}) for {soak['seconds'] / 60:.1f} min,"
        f" {soak['calls']} calls, {soak['sessions_opened']} sessions, {soak['errors']} errors",
        file=sys.stderr,
    )
    print(
        f"{'process':<9} {'warm-up end':>11} {'end':>8} {'growth':>7} {'slope':>12} {'fds':>9}",
        file=sys.stderr,
    )
    for name, p in result["processes"].items():
        if "growth_pct" not in p:
            print(f"{name:<9} {p.get('verdict', '')}", file=sys.stderr)
            continue
        mark = "" if p.get("flat", True) else "  GROWS"
        print(
            f"{name:<9} {p['rss_warmup_end_mib']:>7.1f} MiB {p['rss_end_mib']:>4.1f} MiB"
            f" {p['growth_pct']:>6.1f}% {p['slope_mib_per_min']:>+7.3f} MiB/min"
            f" {p['fds_warmup_end']:>4}->{p['fds_end']:<4}{mark}",
            file=sys.stderr,
        )
    for event in result.get("events", []):
        print(f"event: {event}", file=sys.stderr)
    print(
        f"verdict (< {cfg['max_growth']:g}% after {cfg['warmup_minutes']:g} min, 0 errors):"
        f" {'PASS' if verdict['pass'] else 'FAIL'}",
        file=sys.stderr,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants logged in (default 1000)")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent MCP sessions (default 50)")
    parser.add_argument("--calls-per-session", type=int, default=10, help="tool calls per session (10)")
    parser.add_argument("--messages", type=int, default=30, help="messages in each tenant's chat (30)")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes (default 2)")
    parser.add_argument("--single", action="store_true", help="one gateway process (--workers 1)")
    parser.add_argument("--login-concurrency", type=int, default=20, help="logins at a time (default 20)")
    parser.add_argument("--capacity-seconds", type=float, default=20.0, help="capacity phase (20 s)")
    parser.add_argument("--rate-fraction", type=float, default=0.8, help="of the capacity (0.8)")
    parser.add_argument("--rate", type=float, help="calls/s to soak at (instead of --rate-fraction)")
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak (30)")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="not judged (5)")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="between samples (10)")
    parser.add_argument("--max-growth", type=float, default=5.0, help="%% growth allowed after warm-up (5)")
    parser.add_argument("--samples", action="store_true", help="put the raw series in the JSON")
    parser.add_argument("--quick", action="store_true", help="50 tenants, 2 min: a smoke test")
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    args = parser.parse_args()
    if args.single:
        args.workers = 1
    if args.quick:
        args.tenants, args.minutes, args.warmup_minutes = 50, 2.0, 0.5
        args.capacity_seconds, args.sample_seconds = 5.0, 5.0
    args.client = "lean"  # tb.load reads it
    if not 1 <= args.tenants <= tb.MAX_TENANTS:
        parser.error(f"--tenants must be between 1 and {tb.MAX_TENANTS}")
    return args


def main() -> int:
    args = parse_args()
    measured = _common.measure_in_tempdir("soak", lambda work: measure(args, work))
    keys = (
        "tenants", "sessions", "calls_per_session", "workers", "capacity_seconds", "rate_fraction",
        "rate", "minutes", "warmup_minutes", "sample_seconds", "max_growth", "quick",
    )  # fmt: skip
    result: dict[str, Any] = {
        "benchmark": "soak",
        "environment": _common.environment(telethon=telethon.__version__, fastmcp=fastmcp.__version__),
        "config": {key: getattr(args, key) for key in keys},
        **measured,
    }
    _common.emit(result, args.output)
    report(result)
    return 0 if result["verdict"]["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
