"""The audit journal's cost: CPU per append, and per write tool call with the journal on and off.

Measured in one run, in this process (CPU time from ``time.process_time``; the machine is shared, so
compare the ratios, not the absolute numbers):

- ``append``: ``--appends`` entries written by ``AuditJournal.append`` in a temp dir, per
  ``audit_fsync`` policy (``never``, ``interval``; ``always`` with fewer entries: each waits for a
  disk flush), rotating at the default 16 MiB: CPU µs per entry, and per entry with a 200-character
  text digested first (what ``send_message`` adds: :meth:`AuditJournal.digest` + ``append``);
- ``tool_call``: ``send_message`` (200 characters to a private chat) through a real MCP client
  (FastMCP in-memory transport) -> mcpgram -> Telethon -> the sandbox (all in this process), with
  two gateways on one sandbox, one with ``audit_journal`` on and one off, in ``--rounds``
  alternating rounds of ``--calls`` calls: CPU ms per call for each (the median over rounds), the
  difference in µs and the ratio on/off. The journal's own share of the calls made with it on is
  measured inside them too (``in_call_us``: CPU time spent in the journal's digest and append,
  timed with ``time.thread_time`` around them), which does not depend on round-to-round noise.

The issue's target: the journal adds at most 0.1 ms of CPU per call (``targets``). JSON on stdout,
a table on stderr. Must not touch the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastmcp
from fastmcp import Client

import _common  # bench/_common.py
from mcpgram.app import Gateway, build_gateway
from mcpgram.audit.entry import JournalKeys
from mcpgram.audit.journal import AuditJournal
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.settings import Settings
from mcpgram.testing import login_tenant, sandbox_telegram_config

TEXT = ("The quick brown fox jumps over the lazy dog. " * 5)[:200]
TARGET_US = 100.0
ALEX = "100000002"


def measure_appends(work: Path, policy: str, count: int) -> dict[str, float]:
    book = AuditJournal(work / f"append-{policy}", JournalKeys.derive(b"b" * 32), fsync=policy)  # type: ignore[arg-type]
    fields: dict[str, Any] = {"tenant": "tnt_0123456789abcdef", "kind": "write", "tool": "send_message"}
    book.append(**fields, chat=1, outcome="ok", content=None)  # open the files outside the timing
    started = time.process_time()
    for i in range(count):
        book.append(**fields, chat=i, outcome="ok", content=None)
    bare = time.process_time() - started
    started = time.process_time()
    for i in range(count):
        book.append(**fields, chat=i, outcome="ok", content=book.digest([TEXT]))
    with_digest = time.process_time() - started
    book.close()
    return {
        "entries": count,
        "cpu_us_per_append": round(bare / count * 1e6, 2),
        "cpu_us_per_append_with_digest": round(with_digest / count * 1e6, 2),
    }


def timed(spent: list[float], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, adding the CPU time of each call to ``spent``, less what reading the clock costs."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            ended = time.thread_time_ns()
            spent.append((2 * ended - started - time.thread_time_ns()) / 1e9)

    return wrapper


async def gateway_for(work: Path, name: str, sandbox: SandboxServer, demo: Any, *, journal: bool) -> Gateway:
    # No call limit or write pacing: they would make the calls wait, and they are measured apart
    # (bench/limits.py); this measures the journal's own cost.
    settings = Settings.load(
        env_file=None, data_dir=work / name, audit_journal=journal, call_rate=0, pacing=False
    )
    telegram = sandbox_telegram_config(sandbox)
    gateway = build_gateway(settings, transport="stdio", telegram=telegram)
    assert gateway.owner is not None
    await login_tenant(telegram, gateway.vault, gateway.owner, phone=demo.phone, code=demo.login_code)
    return gateway


async def measure_calls(work: Path, calls: int, rounds: int) -> dict[str, Any]:
    demo = build_demo_world(now=int(time.time()))
    async with SandboxServer(demo.world) as sandbox:
        on = await gateway_for(work, "on", sandbox, demo, journal=True)
        off = await gateway_for(work, "off", sandbox, demo, journal=False)
        assert on.journal is not None and off.journal is None
        spent: list[float] = []
        synced: list[float] = []
        # fsync (interval: at most once a second) is timed apart: its cost per call depends on the
        # call rate, not on the entry, and it is the kernel's writing back, not the journal's code.
        on.journal._sync = timed(synced, on.journal._sync)  # type: ignore[method-assign]
        on.journal.append = timed(spent, on.journal.append)  # type: ignore[method-assign]
        on.journal.digest = timed(spent, on.journal.digest)  # type: ignore[method-assign]
        per_call: dict[str, list[float]] = {"on": [], "off": []}
        async with on, off, Client(on.mcp) as client_on, Client(off.mcp) as client_off:
            clients = {"on": client_on, "off": client_off}
            for client in clients.values():  # warm up: connections, imports, caches
                for _ in range(20):
                    await client.call_tool("send_message", {"chat": ALEX, "text": TEXT})
            spent.clear()
            synced.clear()
            for round_number in range(rounds):
                order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
                for mode in order:
                    started = time.process_time()
                    for _ in range(calls):
                        await clients[mode].call_tool("send_message", {"chat": ALEX, "text": TEXT})
                    per_call[mode].append((time.process_time() - started) / calls * 1000)
            # Pairs: one call with the journal, one without, back to back, so a change in the
            # machine's load hits both sides of each difference alike.
            differences = []
            for _ in range(calls * rounds // 2):
                cpu = {}
                for mode in ("on", "off"):
                    started = time.process_time()
                    await clients[mode].call_tool("send_message", {"chat": ALEX, "text": TEXT})
                    cpu[mode] = time.process_time() - started
                differences.append((cpu["on"] - cpu["off"]) * 1e6)
            journaled = calls * rounds + len(differences)
            sync_total = sum(synced)
            in_call = (sum(spent) - sync_total) / journaled * 1e6
    on_ms, off_ms = statistics.median(per_call["on"]), statistics.median(per_call["off"])
    return {
        "calls_per_round": calls,
        "rounds": rounds,
        "cpu_ms_per_call": {"on": round(on_ms, 4), "off": round(off_ms, 4)},
        "rounds_ms_per_call": {mode: [round(v, 4) for v in values] for mode, values in per_call.items()},
        "difference_us": round((on_ms - off_ms) * 1000, 1),
        "ratio_on_to_off": round(on_ms / off_ms, 4),
        "in_call_us": round(in_call, 2),
        "paired_difference_us": {
            "median": round(statistics.median(differences), 1),
            "mean": round(statistics.mean(differences), 1),
            "pairs": len(differences),
        },
        "fsync_us_per_call": round(sync_total / journaled * 1e6, 2),
        "fsyncs": len(synced),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=20_000, help="entries per fsync policy")
    parser.add_argument("--calls", type=int, default=200, help="send_message calls per round")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds, journal on and off")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true", help="a short run (the smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.appends, args.calls, args.rounds = 500, 10, 2

    async def measure(work: Path) -> dict[str, Any]:
        appends = {
            "never": measure_appends(work, "never", args.appends),
            "interval": measure_appends(work, "interval", args.appends),
            "always": measure_appends(work, "always", max(50, args.appends // 40)),
        }
        return {"append": appends, "tool_call": await measure_calls(work, args.calls, args.rounds)}

    def build_result(measured: dict[str, Any]) -> dict[str, Any]:
        in_call = measured["tool_call"]["in_call_us"]
        default = measured["append"]["interval"]["cpu_us_per_append_with_digest"]
        return {
            "benchmark": "audit",
            "quick": args.quick,
            **measured,
            "targets": {
                "target_us": TARGET_US,
                "in_call_met": in_call <= TARGET_US,
                "append_met": default <= TARGET_US,
            },
            "environment": _common.environment(fastmcp=fastmcp.__version__),
        }

    def report(result: dict[str, Any]) -> None:
        print("fsync     entries  µs/append  µs/append+digest", file=sys.stderr)
        for policy, row in result["append"].items():
            bare, digested = row["cpu_us_per_append"], row["cpu_us_per_append_with_digest"]
            print(f"{policy:<9} {row['entries']:>7}  {bare:>9}  {digested:>16}", file=sys.stderr)
        call = result["tool_call"]
        ms, paired = call["cpu_ms_per_call"], call["paired_difference_us"]["median"]
        print(
            f"send_message CPU ms/call: on {ms['on']}, off {ms['off']} (ratio {call['ratio_on_to_off']},"
            f" difference {call['difference_us']} µs; paired median {paired} µs);"
            f" inside the calls: journal {call['in_call_us']} µs/call"
            f" (target ≤ {TARGET_US:g}), fsync {call['fsync_us_per_call']} µs/call",
            file=sys.stderr,
        )

    return _common.run("audit", measure, build_result, report, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
