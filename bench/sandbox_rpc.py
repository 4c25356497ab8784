"""RPC latency and throughput of the sandbox server, measured with real Telethon clients.

The server runs in a subprocess (this script with ``--serve``) holding the demo world plus bench
accounts, so its numbers are not mixed with the clients' CPU time. Measured in one run:

- ``server_handler``: ``messages.getHistory(limit=20)`` and ``help.getNearestDc`` called in-process on
  the handler plus TL serialisation only (no network, no MTProto), the server's share of a call;
- ``sequential``: one client, N calls of each after a warm-up: p50 / p90 / p99 in ms, and the
  ratio getHistory / getNearestDc (the cheapest RPC, i.e. transport + MTProto + Telethon baseline);
- ``concurrent``: C clients, each its own logged-in account, calling getHistory(limit=20) in a
  loop for a few seconds: total RPC/s, plus the server process's CPU time per RPC.

JSON goes to stdout and a short table to stderr. ``--profile FILE`` makes the server dump cProfile
statistics of the whole run to FILE (read them with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import telethon
from telethon import TelegramClient, functions, types
from telethon.sessions import MemorySession

import _common  # bench/_common.py
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.sandbox.mtproto import serialize_result
from mcpgram.sandbox.router import Ctx
from mcpgram.sandbox.server import AuthRecord
from mcpgram.sandbox.world import Participant

API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"
BENCH_CODE = "33333"  # test-DC phones 999663xxxx get code 33333
TARGET_P50_MS, TARGET_RPS = 3.0, 800.0


def bench_phone(index: int) -> str:
    return f"99966300{index:02d}"


def history_request(peer: Any) -> Any:
    return functions.messages.GetHistoryRequest(
        peer=peer, offset_id=0, offset_date=None, add_offset=0, limit=20, max_id=0, min_id=0, hash=0
    )


# -- the server process ----------------------------------------------------------------------------


def serve(accounts: int, profile: str | None) -> None:
    """Build the demo world with ``accounts`` extra subscribers of Demo News, serve until SIGTERM."""

    demo = build_demo_world()
    news = demo.world.channels[demo.chats["news"].id]
    for index in range(accounts):
        user = demo.world.add_user(first_name=f"Bench {index:02d}", phone=bench_phone(index))
        news.participants[user.id] = Participant(user.id, demo.world.now())
    # CPU time, not wall time: on a busy machine wall time charges preemption to whatever ran last.
    profiler = cProfile.Profile(time.process_time) if profile else None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        async with SandboxServer(demo.world) as server:
            info = {
                "host": server.host,
                "port": server.port,
                "dc_id": server.dc_id,
                "pem": server.public_key_pem,
                "phone": demo.phone,
                "code": demo.login_code,
                "channel": news.username,
            }
            print(json.dumps(info), flush=True)
            if profiler is not None:
                profiler.enable()
            await stop.wait()
            if profiler is not None:
                profiler.disable()

    asyncio.run(run())
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)


# -- in-process handler cost -----------------------------------------------------------------------


def handler_cost(calls: int) -> dict[str, float]:
    """Microseconds per call of the getHistory / getNearestDc handler plus serialisation, in-process."""

    demo = build_demo_world()
    server = SandboxServer(demo.world)
    auth = AuthRecord(key=b"", key_id=0, salts=[0], created=0, user_id=demo.user_id)
    ctx = Ctx(server=server, auth=auth, session_id=0, msg_id=0)
    news = demo.chats["news"].id
    peer = types.InputPeerChannel(news, demo.world.access_hash(demo.user_id, "channel", news))
    result: dict[str, float] = {}
    for name, request in (
        ("get_history_us", history_request(peer)),
        ("get_nearest_dc_us", functions.help.GetNearestDcRequest()),
    ):
        route = server.routes[request.CONSTRUCTOR_ID]
        assert not route.is_async
        for _ in range(50):
            serialize_result(route.handler(ctx, request))
        start = time.perf_counter()
        for _ in range(calls):
            serialize_result(route.handler(ctx, request))
        result[name] = (time.perf_counter() - start) / calls * 1e6
    return result


# -- the clients -----------------------------------------------------------------------------------


async def signed_in(info: dict[str, Any], phone: str, code: str) -> TelegramClient:
    client = TelegramClient(MemorySession(), API_ID, API_HASH, receive_updates=False, flood_sleep_threshold=0)
    client.session.set_dc(info["dc_id"], info["host"], info["port"])
    await client.connect()
    sent = await client.send_code_request(phone)
    await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
    return client


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "n": len(samples),
        "p50_ms": cuts[49],
        "p90_ms": cuts[89],
        "p99_ms": cuts[98],
        "mean_ms": statistics.fmean(samples),
        "min_ms": min(samples),
    }


async def sequential(client: TelegramClient, request: Any, calls: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await client(request)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await client(request)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def concurrent(
    clients: list[tuple[TelegramClient, Any]], seconds: float, server_pid: int
) -> dict[str, Any]:
    counts = [0] * len(clients)

    async def worker(index: int, client: TelegramClient, request: Any, deadline: float) -> None:
        while time.perf_counter() < deadline:
            await client(request)
            counts[index] += 1

    await asyncio.gather(*(client(request) for client, request in clients))  # warm every connection
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(worker(i, c, r, deadline) for i, (c, r) in enumerate(clients)))
    elapsed = time.perf_counter() - start
    server_used = cpu_seconds(server_pid)
    total = sum(counts)
    out: dict[str, Any] = {
        "clients": len(clients),
        "seconds": elapsed,
        "rpcs": total,
        "rpc_per_s": total / elapsed,
        "client_cpu_s": time.process_time() - client_cpu,
    }
    if server_cpu is not None and server_used is not None:
        out["server_cpu_s"] = server_used - server_cpu
        out["server_cpu_ms_per_rpc"] = (server_used - server_cpu) / total * 1000
        out["server_cpu_share"] = (server_used - server_cpu) / elapsed
    return out


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--serve", "--clients", str(args.clients)]
    if args.profile:
        command += ["--profile", args.profile]
    proc = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    clients: list[TelegramClient] = []
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        telethon.crypto.rsa.add_key(info["pem"], old=False)
        main = await signed_in(info, info["phone"], info["code"])
        clients.append(main)
        peer = await main.get_input_entity(info["channel"])
        nearest = await sequential(main, functions.help.GetNearestDcRequest(), args.calls, args.warmup)
        history = await sequential(main, history_request(peer), args.calls, args.warmup)
        pairs = []
        for index in range(args.clients):
            client = await signed_in(info, bench_phone(index), BENCH_CODE)
            clients.append(client)
            pairs.append((client, history_request(await client.get_input_entity(info["channel"]))))
        load = await concurrent(pairs, args.seconds, proc.pid)
        cheap = [(client, functions.help.GetNearestDcRequest()) for client, _ in pairs]
        baseline = await concurrent(cheap, args.seconds, proc.pid)
    finally:
        for client in clients:
            await client.disconnect()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
    return {
        "sequential": {
            "get_history": history,
            "get_nearest_dc": nearest,
            "ratio_p50": history["p50_ms"] / nearest["p50_ms"],
        },
        "concurrent": load,
        "concurrent_get_nearest_dc": baseline,
    }


def environment() -> dict[str, Any]:
    return _common.environment(telethon=telethon.__version__)


def report(result: dict[str, Any]) -> None:
    seq, handler = result["sequential"], result["server_handler"]
    rows = [
        ("getHistory(20) handler+serialise", f"{handler['get_history_us']:.0f} us"),
        ("getNearestDc handler+serialise", f"{handler['get_nearest_dc_us']:.1f} us"),
    ]
    for name in ("get_history", "get_nearest_dc"):
        s = seq[name]
        timing = f"{s['p50_ms']:.2f} / {s['p90_ms']:.2f} / {s['p99_ms']:.2f} ms"
        rows.append((f"sequential {name} p50/p90/p99", timing))
    rows.append(("ratio getHistory/getNearestDc (p50)", f"{seq['ratio_p50']:.2f}x"))
    for key, name in (("concurrent", "getHistory"), ("concurrent_get_nearest_dc", "getNearestDc")):
        load = result[key]
        cpu = ""
        if "server_cpu_ms_per_rpc" in load:
            per_rpc, busy = load["server_cpu_ms_per_rpc"], load["server_cpu_share"]
            cpu = f" (server CPU {per_rpc:.2f} ms/RPC, busy {busy:.0%})"
        rows.append((f"concurrent {name}, {load['clients']} clients", f"{load['rpc_per_s']:.0f} RPC/s{cpu}"))
    rows.append(("load average (1 min)", str(result["environment"]["load_average"][0])))
    targets = result["targets"]
    rows.append(("target p50 < 3 ms", "met" if targets["p50_met"] else "MISSED"))
    rows.append(("target > 800 RPC/s", "met" if targets["rps_met"] else "MISSED"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="sequential calls per method (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per method (default 50)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="length of the concurrent phase (default 5)"
    )
    parser.add_argument("--profile", help="have the server write cProfile stats to this file")
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.clients, args.profile)
        return 0
    handler = handler_cost(args.calls)
    measured = asyncio.run(measure(args))
    result: dict[str, Any] = {
        "benchmark": "sandbox_rpc",
        "environment": environment(),
        "server_handler": handler,
    }
    result.update(measured)
    result["targets"] = {
        "p50_ms": TARGET_P50_MS,
        "rpc_per_s": TARGET_RPS,
        "p50_met": result["sequential"]["get_history"]["p50_ms"] < TARGET_P50_MS,
        "rps_met": result["concurrent"]["rpc_per_s"] > TARGET_RPS,
    }
    _common.emit(result, args.output)
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
