"""CPU cost of the per-tenant call limit and write pacing, per call, against no limiter in the same run.

Three measurements, all in one process, no network and no Telegram:

- ``store``: one ``MemoryRateStore.take`` of one bucket (what ``CallLimiter.check`` does), keys
  rotating over ``--tenants`` tenants;
- ``pacer``: one ``WritePacer.run`` decision for a write naming no chat (the gate, the overall
  bucket, then the call), limits set so it never waits;
- ``middleware``: a tools/call context through ``CallLimitMiddleware`` as FastMCP runs a middleware
  (``Middleware.__call__`` builds the hook chain, then our hook) around a call that does nothing,
  minus that call alone: what the limiter adds to every tools/call, resources/read and prompts/get;
  and minus a middleware with no hooks: our hook's own share;
- ``mcp``: a ``tools/call`` of a trivial tool through FastMCP's in-memory client, on a server with
  ``CallLimitMiddleware`` and on the same server without it, in alternating rounds (the median of
  the paired per-round differences, and the ratio of the medians): the ratio says
  how much of a whole call the limiter is (a call costs ~1.5 ms of CPU, so a few microseconds are
  below the noise between rounds; the in-process numbers above are the precise ones).

CPU time is ``time.process_time()`` (this process only). Medians over ``--rounds``. JSON on stdout,
a table on stderr. The machine is shared: compare the ratio within one run, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import fastmcp
from fastmcp import Client, FastMCP
from fastmcp.server.middleware import Middleware, MiddlewareContext
from mcp.types import CallToolRequestParams

import _common  # bench/_common.py
from mcpgram.configs import RateLimits
from mcpgram.limits.pacing import CallLimiter, WritePacer
from mcpgram.limits.store import Bucket, Limit, MemoryRateStore
from mcpgram.policy.guard import Action
from mcpgram.policy.model import PROFILES
from mcpgram.tools.limits import CallLimitMiddleware

#: Limits nobody reaches: the cost measured is the bookkeeping, never a wait.
NEVER = RateLimits(call_rate=1e9, call_burst=10**9, pace_write_seconds=1e-9, pace_write_burst=10**9)


def per_call_us(fn: Any, calls: int) -> float:
    started = time.process_time()
    fn(calls)
    return (time.process_time() - started) / calls * 1e6


def measure_store(tenants: list[str], calls: int) -> float:
    store = MemoryRateStore()
    limit = Limit(rate=1e9, burst=1e9)
    buckets = [(Bucket("call|" + tenant, limit),) for tenant in tenants]
    clock = time.monotonic
    count = len(buckets)

    def run(n: int) -> None:
        for i in range(n):
            store.take(buckets[i % count], clock())

    return per_call_us(run, calls)


async def measure_pacer(tenants: list[str], calls: int) -> float:
    pacer = WritePacer(MemoryRateStore(), NEVER)
    action, policy = Action(("react",)), PROFILES["all"]

    async def done() -> None:
        return None

    started = time.process_time()
    for i in range(calls):
        await pacer.run(None, tenants[i % len(tenants)], policy, action, done)  # type: ignore[arg-type]
    return (time.process_time() - started) / calls * 1e6


async def measure_middleware(tenants: list[str], calls: int) -> dict[str, float]:
    """A tools/call through FastMCP's dispatch of one middleware (``Middleware.__call__``: the hook
    chain it builds per call, then our hook) around a call that does nothing; the same through a
    middleware with no hooks (FastMCP's share); and the call alone."""
    turn = iter(range(10**12))
    count = len(tenants)
    limiter = CallLimitMiddleware(lambda: tenants[next(turn) % count], CallLimiter(MemoryRateStore(), NEVER))
    context = MiddlewareContext(message=CallToolRequestParams(name="ping", arguments={}), method="tools/call")

    async def call_next(context: Any) -> None:
        return None

    found = {}
    for name, middleware in (("bare", None), ("no_op", Middleware()), ("limiter", limiter)):
        started = time.process_time()
        if middleware is None:
            for _ in range(calls):
                await call_next(context)
        else:
            for _ in range(calls):
                await middleware(context, call_next)
        found[name] = (time.process_time() - started) / calls * 1e6
    return found


def server(tenants: list[str], *, limited: bool) -> FastMCP[Any]:
    mcp: FastMCP[Any] = FastMCP("bench")

    def ping() -> str:
        """Answer pong."""
        return "pong"

    mcp.tool(ping)
    if limited:
        turn = iter(range(10**12))
        count = len(tenants)
        limiter = CallLimiter(MemoryRateStore(), NEVER)
        mcp.add_middleware(CallLimitMiddleware(lambda: tenants[next(turn) % count], limiter))
    return mcp


async def measure_mcp(tenants: list[str], calls: int, rounds: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"without": [], "with": []}
    async with (
        Client(server(tenants, limited=False)) as plain,
        Client(server(tenants, limited=True)) as limited,
    ):
        clients = {"without": plain, "with": limited}
        for warming in clients.values():  # warm-up: first-call costs out of the rounds
            for _ in range(50):
                await warming.call_tool("ping", {})
        for index in range(rounds):
            order = ["without", "with"] if index % 2 == 0 else ["with", "without"]
            for name in order:
                client = clients[name]
                started = time.process_time()
                for _ in range(calls):
                    await client.call_tool("ping", {})
                found[name].append((time.process_time() - started) / calls * 1e6)
    return found


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    tenants = [f"tnt_{i:06d}" for i in range(args.tenants)]
    store = [measure_store(tenants, args.calls * 10) for _ in range(args.rounds)]
    pacer = [await measure_pacer(tenants, args.calls * 10) for _ in range(args.rounds)]
    middleware = [await measure_middleware(tenants, args.calls * 10) for _ in range(args.rounds)]
    added = statistics.median(row["limiter"] - row["bare"] for row in middleware)
    own = statistics.median(row["limiter"] - row["no_op"] for row in middleware)
    mcp = await measure_mcp(tenants, args.calls, args.rounds)
    without, with_ = statistics.median(mcp["without"]), statistics.median(mcp["with"])
    paired = statistics.median(b - a for a, b in zip(mcp["without"], mcp["with"], strict=True))
    return {
        "store_take_us": round(statistics.median(store), 2),
        "pacer_decision_us": round(statistics.median(pacer), 2),
        "middleware_added_us": round(added, 2),
        "middleware_own_us": round(own, 2),
        "mcp_call_us": {"without_limiter": round(without, 1), "with_limiter": round(with_, 1)},
        "limiter_added_us": round(paired, 1),
        "ratio_with_to_without": round(with_ / without, 3),
        "rounds_us": {name: [round(value, 1) for value in values] for name, values in mcp.items()},
    }


def report(result: dict[str, Any]) -> None:
    m = result["measured"]
    rows = [
        ("MemoryRateStore.take (one bucket)", f"{m['store_take_us']:.2f} us"),
        ("WritePacer decision (no chat)", f"{m['pacer_decision_us']:.2f} us"),
        ("limiter middleware adds (dispatch+hook)", f"{m['middleware_added_us']:.2f} us"),
        ("  of which our hook", f"{m['middleware_own_us']:.2f} us"),
        ("tools/call without limiter", f"{m['mcp_call_us']['without_limiter']:.1f} us"),
        ("tools/call with limiter", f"{m['mcp_call_us']['with_limiter']:.1f} us"),
        (
            "paired round diff (in the noise)",
            f"{m['limiter_added_us']:.1f} us (ratio {m['ratio_with_to_without']:.3f})",
        ),
    ]
    for name, value in rows:
        print(f"{name:<40} {value}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants the keys rotate over")
    parser.add_argument("--calls", type=int, default=1000, help="MCP calls per round (x10 in-process)")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds; medians reported")
    parser.add_argument("--quick", action="store_true", help="200 calls, 3 rounds: a smoke test")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 200, 3
    measured = asyncio.run(measure(args))
    result = {
        "benchmark": "limits",
        "quick": args.quick,
        "parameters": {"tenants": args.tenants, "calls": args.calls, "rounds": args.rounds},
        "measured": measured,
        "environment": _common.environment(fastmcp=fastmcp.__version__),
    }
    _common.emit(result, args.output)
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
