"""Many tenants behind one HTTP gateway: tool calls per second, and RSS per connected idle tenant.

Separate processes, so each one's CPU and memory are its own:

- the sandbox (this script with ``--serve-sandbox``): a world with one account per tenant (phones
  ``999664XXXX``, code ``44444``), each with a private chat of ``--messages`` messages with a
  shared "Bench Peer" account;
- the gateway: ``python -m mcpgram serve --transport http --port 0`` on a data dir whose vault
  already holds every tenant, created with ``Vault.create_tenant`` and logged in with
  ``mcpgram.testing.login_tenant`` (``--login-concurrency`` at a time) before it starts;
- the FastMCP floor (this script with ``--serve-floor``): a bare FastMCP HTTP server, no auth, no
  Telegram, whose two tools of the same names return the very texts the gateway returned;
- this process: MCP clients over streamable HTTP, one session per tenant in use: for the load
  phases a minimal client (``bench/_mcp_http.py``: the real protocol, none of a full client's
  per-message models, so the load generator does not starve the server of CPU; ``--client
  fastmcp`` uses fastmcp's ``Client`` instead), fastmcp's ``Client`` to warm up; and, for the raw
  baseline, Telethon clients.

Measured in one run:

- ``memory``: the gateway's VmRSS when ready, after one tenant's first calls (the one-time cost of
  the first request), and after every tenant has made a ``find_chats`` and a ``get_messages`` call
  and sits idle with its Telegram client connected: ``per_idle_tenant_kib`` is the growth from the
  second to the third, per tenant; ``/health`` (operator token) confirms the pool holds them all;
- ``load``: ``--sessions`` concurrent MCP sessions cycling through all tenants (each opens a
  session for its next tenant, makes ``--calls-per-session`` calls alternating ``get_messages``
  (limit 20) and ``find_chats``, closes it) for ``--seconds``: tools/call per second over the wall
  time (session set-up included), latency percentiles, and each process's CPU per call;
- ``load_modern``: the same load from MCP 2026-07-28 clients (``server/discover``, then
  self-contained requests, no session) against the same gateway: ``ratios.modern_cpu_to_legacy_cpu``
  compares the two eras' gateway CPU per call in one run;
- ``floor``: the same load (legacy era) against the FastMCP floor: the framework's own CPU per call;
- ``raw_telethon``: the same concurrency of Telethon clients in this process calling
  ``get_messages(limit=20)`` straight at the sandbox;
- ``fronts`` (only with ``--compare-fronts``): the multi-worker front's own CPU per call before
  issue 10, today, and as an ASGI relay, in alternating phases (``bench/_fronts.py``).

The client and the servers share the machine: ``gateway.cpu_ms_per_call`` (and the capacity it
implies for one core) is the figure that does not depend on how busy the client kept it. JSON goes
to stdout, a short table to stderr. Must not touch the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastmcp
import httpx2 as httpx
import telethon
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from telethon import TelegramClient
from telethon.sessions import MemorySession

import _common  # bench/_common.py
from _mcp_http import MODERN_VERSION, PROTOCOL_VERSION, LeanSession  # bench/_mcp_http.py
from mcpgram.datadir import ensure_data_dir, server_secret_bytes
from mcpgram.settings import Settings
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID, login_tenant, sandbox_telegram_config
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

TENANT_CODE = "44444"  # sandbox phones 999664xxxx get code 44444
MAX_TENANTS = 10_000
TARGET_CALLS_PER_S, TARGET_BYTES_PER_TENANT = 300.0, 2_000_000
QUICK = {"tenants": 50, "seconds": 5.0, "settle": 1.0}
DEFAULTS = {"tenants": 1000, "seconds": 20.0, "settle": 3.0}
MIB = 1024 * 1024
Plan = list[tuple[str, dict[str, Any]]]


def tenant_phone(index: int) -> str:
    return f"999664{index:04d}"


def percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        samples = samples * 2 or [0.0, 0.0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50_ms": cuts[49], "p90_ms": cuts[89], "p99_ms": cuts[98]}


# -- the server processes this script plays --------------------------------------------------------


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


def serve_sandbox(tenants: int, messages: int) -> None:
    """Build the bench world, serve it, print how to connect (one JSON line), run until SIGTERM."""
    from mcpgram.sandbox import SandboxServer, World  # noqa: PLC0415 - only this mode needs them
    from mcpgram.sandbox.messaging import Changes, post  # noqa: PLC0415 - only this mode needs them
    from mcpgram.sandbox.world import Content, user_peer  # noqa: PLC0415 - only this mode needs them

    started = time.perf_counter()
    world = World()
    peer = world.add_user(first_name="Bench", last_name="Peer", username="bench_peer")
    for index in range(tenants):
        user = world.add_user(first_name="Tenant", last_name=str(index), phone=tenant_phone(index))
        for n in range(messages):
            sender, to = (user.id, peer.id) if n % 2 else (peer.id, user.id)
            text = f"bench message {n} of tenant {index}"
            post(world, Changes(), sender_id=sender, peer=user_peer(to), content=Content(text=text))
    built = time.perf_counter() - started

    async def run() -> None:
        async with SandboxServer(world) as server:
            info = {"host": server.host, "port": server.port, "dc_id": server.dc_id}
            info |= {"pem": server.public_key_pem, "peer_id": peer.id, "world_s": built}
            print(json.dumps(info), flush=True)
            await _until_signalled()

    asyncio.run(run())


def serve_floor(texts_file: Path) -> None:
    """A bare FastMCP server with tools named like mcpgram's returning fixed texts; prints its port."""
    import uvicorn  # noqa: PLC0415 - only this mode needs it

    texts = json.loads(texts_file.read_text())
    mcp: fastmcp.FastMCP[Any] = fastmcp.FastMCP("floor")

    @mcp.tool
    async def find_chats(query: str = "", limit: int = 20) -> str:
        """Find chats."""
        return str(texts["find_chats"])

    @mcp.tool
    async def get_messages(chat: str, limit: int = 20, cursor: str | None = None) -> str:
        """Read messages."""
        return str(texts["get_messages"])

    config = uvicorn.Config(
        # JSON answers, as the gateway gives (web/app.py): like for like.
        mcp.http_app(path="/v1/mcp", json_response=True),
        host="127.0.0.1",
        port=0,
        access_log=False,
        log_config=None,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.ensure_future(server.serve())  # uvicorn stops on SIGTERM by itself
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn only sets a flag
            await asyncio.sleep(0.02)
        print(json.dumps({"port": server.servers[0].sockets[0].getsockname()[1]}), flush=True)
        await serving

    asyncio.run(run())


# -- process helpers -------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a gateway with ``--workers`` is a front and its workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(grandchild for child in children for grandchild in process_tree(int(child)))]


def vm_rss(pid: int) -> int:
    """VmRSS of the process and its descendants, in bytes."""
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process and its living descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the given processes and this one (``client``) from now on."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.start["client"] = time.process_time()

    def used(self, elapsed: float, calls: int) -> dict[str, Any]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        now["client"] = time.process_time()
        out: dict[str, Any] = {}
        for name, value in now.items():
            spent = value - self.start[name]
            out[name] = {"cpu_s": spent, "ms_per_call": spent / max(calls, 1) * 1000, "busy": spent / elapsed}
        return out


#: The last lines each spawned process wrote (stderr, and stdout after its ready line), by pid:
#: printed when a run fails or a process exits on its own, so a crash is never silent.
TAIL_LINES = 200
OUTPUT_TAILS: dict[int, deque[str]] = {}


def _keep_tail(proc: asyncio.subprocess.Process, *streams: asyncio.StreamReader | None) -> deque[str]:
    """Drain ``streams`` for as long as the process lives (so no pipe fills up), keeping the last lines."""
    tail = OUTPUT_TAILS.setdefault(proc.pid, deque(maxlen=TAIL_LINES))

    async def drain(stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            tail.append(raw.decode(errors="replace").rstrip())

    for stream in streams:
        if stream is not None:
            asyncio.get_running_loop().create_task(drain(stream))
    return tail


def last_output(proc: asyncio.subprocess.Process) -> list[str]:
    return list(OUTPUT_TAILS.get(proc.pid, ()))


def print_last_output(procs: dict[str, asyncio.subprocess.Process]) -> None:
    """Each process's exit status and last output, on stderr (after a failed run)."""
    for name, proc in procs.items():
        status = "running" if proc.returncode is None else f"exited with {proc.returncode}"
        print(f"--- {name} (pid {proc.pid}, {status}): last output ---", file=sys.stderr)
        for line in last_output(proc):
            print(f"  {line}", file=sys.stderr)


async def spawn_json(*argv: str, env: dict[str, str] | None = None) -> tuple[asyncio.subprocess.Process, Any]:
    """Start ``python argv`` and read the one JSON line it prints when ready."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    tail = _keep_tail(proc, proc.stderr)
    line = await asyncio.wait_for(proc.stdout.readline(), 300)
    if not line:
        raise RuntimeError(f"{argv[1]} exited before it was ready: " + " | ".join(tail))
    _keep_tail(proc, proc.stdout)
    return proc, json.loads(line)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@dataclass
class Gateway:
    proc: asyncio.subprocess.Process
    base: str
    operator_token: str
    stderr_tail: deque[str]


async def start_gateway(env: dict[str, str], cwd: Path, launcher: tuple[str, ...] = ()) -> Gateway:
    """``mcpgram serve`` over HTTP; ``launcher`` replaces ``python -m mcpgram`` (a probe, valgrind)."""
    proc = await asyncio.create_subprocess_exec(
        *(launcher or (sys.executable, "-m", "mcpgram")), "serve", "--transport", "http", "--port", "0",
        env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    tail: deque[str] = OUTPUT_TAILS.setdefault(proc.pid, deque(maxlen=TAIL_LINES))
    while True:
        raw = await asyncio.wait_for(proc.stderr.readline(), 120)
        if not raw:
            raise RuntimeError("the gateway exited: " + " | ".join(list(tail)[-20:]))
        tail.append(raw.decode(errors="replace").rstrip())
        found = re.search(r"serving MCP at (http://[^/\s]+)/v1/mcp", tail[-1])
        if found:
            break
    _keep_tail(proc, proc.stderr)  # keeps draining into the same tail
    return Gateway(proc, found.group(1), env["MCPGRAM_OPERATOR_TOKEN"], tail)


async def pool_stats(gateway: Gateway) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {gateway.operator_token}"}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{gateway.base}/health", headers=headers)
    response.raise_for_status()
    pool: dict[str, Any] = response.json()["pool"]
    return pool


# -- tenants ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSandbox:
    """What ``sandbox_telegram_config`` reads from a ``SandboxServer``, for one in another process."""

    host: str
    port: int
    dc_id: int
    public_key_pem: str


def gateway_settings(work: Path, info: dict[str, Any]) -> Settings:
    key_file = work / "sandbox-key.pem"
    key_file.write_text(info["pem"])
    return Settings.load(
        env_file=None,
        data_dir=work / "data",
        api_id=SANDBOX_API_ID,
        api_hash=SANDBOX_API_HASH,
        dc=f"{info['dc_id']}@{info['host']}:{info['port']}",
        rsa_key_file=key_file,
    )


def gateway_env(settings: Settings, tenants: int, workers: int) -> dict[str, str]:
    assert settings.api_hash is not None and settings.dc is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGRAM_")}
    env.update(
        MCPGRAM_DATA_DIR=str(settings.data_dir),
        MCPGRAM_API_ID=str(settings.api_id),
        MCPGRAM_API_HASH=settings.api_hash.get_secret_value(),
        MCPGRAM_DC=str(settings.dc),
        MCPGRAM_RSA_KEY_FILE=str(settings.rsa_key_file),
        # Every tenant stays connected and idle clients are not swept during the run.
        MCPGRAM_POOL_MAX_CLIENTS=str(tenants + 10),
        MCPGRAM_POOL_IDLE_SECONDS="3600",
        MCPGRAM_TELEGRAM_TIMEOUT="60",
        # Throughput is measured, not the rate limiter's refusals (it still runs on every request).
        MCPGRAM_REQUESTS_PER_MINUTE="1000000",
        MCPGRAM_CALL_RATE="1000000",
        MCPGRAM_MAX_CONCURRENT_REQUESTS="1024",
        MCPGRAM_OPERATOR_TOKEN=secrets.token_urlsafe(32),
        MCPGRAM_LOG_LEVEL="WARNING",
        MCPGRAM_WORKERS=str(workers),
    )
    return env


async def log_in_tenants(settings: Settings, info: dict[str, Any], count: int, concurrency: int) -> list[str]:
    """Create ``count`` tenants in the gateway's vault and log each in to its own sandbox account."""
    remote = RemoteSandbox(info["host"], info["port"], info["dc_id"], info["pem"])
    config = sandbox_telegram_config(remote, settings, timeout=60.0)
    ensure_data_dir(settings.data_dir)
    store = SQLiteVault(settings.data_dir / "vault.db")
    vault = Vault(store, server_secret=server_secret_bytes(settings))
    tokens = [""] * count
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            _, token = vault.create_tenant(f"bench-{index}")
            keys = vault.unlock_with_token(token)
            await login_tenant(config, vault, keys, phone=tenant_phone(index), code=TENANT_CODE)
            tokens[index] = token

    try:
        await asyncio.gather(*(one(index) for index in range(count)))
    finally:
        store.close()
    return tokens


# -- MCP load --------------------------------------------------------------------------------------


@dataclass
class Tally:
    calls: int = 0
    sessions: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    session_open_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    #: The last text each tool returned (the floor server serves these).
    texts: dict[str, str] = field(default_factory=dict)

    def summary(self, elapsed: float) -> dict[str, Any]:
        return {
            "seconds": elapsed,
            "calls": self.calls,
            "calls_per_s": self.calls / elapsed,
            "sessions_opened": self.sessions,
            "latency": percentiles(self.latencies_ms),
            "session_open": percentiles(self.session_open_ms),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
        }


def plan_for(peer_id: int, calls: int) -> Plan:
    pair: Plan = [("find_chats", {"limit": 20}), ("get_messages", {"chat": str(peer_id), "limit": 20})]
    return [pair[i % 2] for i in range(calls)]


async def tenant_session(
    url: str,
    token: str,
    plan: Plan,
    tally: Tally,
    deadline: float | None,
    *,
    http: httpx.AsyncClient | None = None,
    era: str = PROTOCOL_VERSION,
) -> None:
    """One MCP session for one tenant: open it, make the calls (until ``deadline``), close it.

    With ``http``, the session is a :class:`LeanSession` on that shared connection pool; without,
    fastmcp's full ``Client`` (used to warm up, and with ``--client fastmcp``).
    """
    opened = time.perf_counter()
    try:
        async with _session(url, token, http, era) as client:
            tally.session_open_ms.append((time.perf_counter() - opened) * 1000)
            tally.sessions += 1
            for name, arguments in plan:
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                start = time.perf_counter()
                try:
                    text = await client.call_tool(name, arguments)
                except Exception as exc:  # counted and reported; the run goes on
                    tally.errors[f"{name}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
                    continue
                tally.latencies_ms.append((time.perf_counter() - start) * 1000)
                tally.calls += 1
                tally.texts[name] = text
    except Exception as exc:  # a failed session is counted too
        tally.errors[f"session: {type(exc).__name__}: {str(exc)[:80]}"] += 1


class _FullClient:
    """fastmcp's ``Client`` with LeanSession's ``call_tool -> text`` shape."""

    def __init__(self, url: str, token: str) -> None:
        transport = StreamableHttpTransport(url, headers={"Authorization": f"Bearer {token}"})
        self._client = Client(transport)

    async def __aenter__(self) -> _FullClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.__aexit__(*exc)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self._client.call_tool(name, arguments)
        return str(getattr(result.content[0], "text", ""))


def _session(url: str, token: str, http: httpx.AsyncClient | None, era: str) -> LeanSession | _FullClient:
    return LeanSession(http, url, token, era=era) if http is not None else _FullClient(url, token)


async def warm_all(url: str, tokens: list[str], peer_id: int, sessions: int) -> Tally:
    """Every tenant finds its chats and reads its messages once (so its client is connected)."""
    tally = Tally()
    queue = iter(tokens)  # shared by the workers: each token is taken once

    async def worker() -> None:
        for token in queue:
            await tenant_session(url, token, plan_for(peer_id, 2), tally, None)

    await asyncio.gather(*(worker() for _ in range(sessions)))
    return tally


async def load(
    url: str,
    tokens: list[str],
    peer_id: int,
    args: argparse.Namespace,
    meter: CpuMeter,
    *,
    server: str,
    era: str = PROTOCOL_VERSION,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """``args.sessions`` workers, each cycling through its share of the tenants until the deadline.

    Each session makes ``plan`` (default: ``find_chats`` and ``get_messages`` alternating)."""
    tally = Tally()
    plan = plan_for(peer_id, args.calls_per_session) if plan is None else plan
    start = time.perf_counter()
    deadline = start + args.seconds

    limits = httpx.Limits(max_connections=args.sessions, max_keepalive_connections=args.sessions)
    http = httpx.AsyncClient(timeout=60, limits=limits) if args.client == "lean" else None

    async def worker(first: int) -> None:
        index = first
        while time.perf_counter() < deadline:
            await tenant_session(url, tokens[index % len(tokens)], plan, tally, deadline, http=http, era=era)
            index += args.sessions

    try:
        await asyncio.gather(*(worker(w) for w in range(args.sessions)))
    finally:
        if http is not None:
            await http.aclose()
    elapsed = time.perf_counter() - start
    out = tally.summary(elapsed)
    out["concurrent_sessions"] = args.sessions
    out["client"] = args.client
    out["era"] = era if args.client == "lean" else "auto (fastmcp Client)"
    out["tools"] = sorted(tally.texts)  # the tools that answered
    out["cpu"] = cpu = meter.used(elapsed, tally.calls)
    # What the server would serve with one core of its own, and with two (the target),
    # from its CPU per call: its processes' CPU, whatever the machine's other processes took.
    server_ms = cpu[server]["ms_per_call"]
    out["capacity_calls_per_core_s"] = 1000 / server_ms if server_ms else None
    out["capacity_calls_on_2_cores_s"] = 2000 / server_ms if server_ms and server == "gateway" else None
    return out


# -- the raw Telethon baseline ---------------------------------------------------------------------


async def raw_telethon(
    info: dict[str, Any], clients: int, seconds: float, sandbox_pid: int
) -> dict[str, Any]:
    """``clients`` Telethon clients in this process, each its own account, calling get_messages(20)."""
    telethon.crypto.rsa.add_key(info["pem"], old=False)
    gate = asyncio.Semaphore(20)

    async def signed_in(index: int) -> tuple[TelegramClient, Any]:
        async with gate:
            client = TelegramClient(MemorySession(), SANDBOX_API_ID, SANDBOX_API_HASH, receive_updates=False)
            client.session.set_dc(info["dc_id"], info["host"], info["port"])
            await client.connect()
            sent = await client.send_code_request(tenant_phone(index))
            await client.sign_in(tenant_phone(index), TENANT_CODE, phone_code_hash=sent.phone_code_hash)
            await client.get_dialogs()  # fills the entity cache, as the gateway's first call does
            return client, await client.get_input_entity(info["peer_id"])

    pairs = await asyncio.gather(*(signed_in(i) for i in range(clients)))
    latencies: list[float] = []

    async def worker(client: TelegramClient, peer: Any, deadline: float) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await client.get_messages(peer, limit=20)
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        meter = CpuMeter({"sandbox": sandbox_pid})
        start = time.perf_counter()
        await asyncio.gather(*(worker(c, p, start + seconds) for c, p in pairs))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(client.disconnect() for client, _ in pairs))
    return {
        "clients": clients,
        "seconds": elapsed,
        "calls": len(latencies),
        "calls_per_s": len(latencies) / elapsed,
        "latency": percentiles(latencies),
        "cpu": meter.used(elapsed, len(latencies)),
    }


# -- the run ---------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    setup: dict[str, float] = {}
    clock = time.perf_counter()
    sandbox, info = await spawn_json(
        __file__, "--serve-sandbox", "--tenants", str(args.tenants), "--messages", str(args.messages)
    )
    setup["sandbox_start_s"], setup["sandbox_world_s"] = time.perf_counter() - clock, info["world_s"]
    peer_id, started = info["peer_id"], {"sandbox": sandbox}
    try:
        settings = gateway_settings(work, info)
        clock = time.perf_counter()
        tokens = await log_in_tenants(settings, info, args.tenants, args.login_concurrency)
        setup["login_s"] = time.perf_counter() - clock
        setup["logins_per_s"] = args.tenants / setup["login_s"]
        clock = time.perf_counter()
        gateway = await start_gateway(gateway_env(settings, args.tenants, args.workers), work)
        started["gateway"] = gateway.proc
        setup["gateway_start_s"] = time.perf_counter() - clock
        url, pid = f"{gateway.base}/v1/mcp", gateway.proc.pid
        memory: dict[str, Any] = {"rss_ready_mib": vm_rss(pid) / MIB}
        first = await warm_all(url, tokens[:1], peer_id, 1)
        rss_one = vm_rss(pid)
        clock = time.perf_counter()
        warm = await warm_all(url, tokens[1:], peer_id, args.sessions)
        setup["warm_all_s"] = time.perf_counter() - clock
        await asyncio.sleep(args.settle)  # background session seals finish; nothing else runs
        rss_idle, idle = vm_rss(pid), max(args.tenants - 1, 1)
        memory |= {
            "rss_one_tenant_mib": rss_one / MIB,
            "rss_idle_all_mib": rss_idle / MIB,
            "per_idle_tenant_kib": (rss_idle - rss_one) / idle / 1024,
            "per_idle_tenant_bytes": (rss_idle - rss_one) / idle,
            "pool_idle": await pool_stats(gateway),
        }
        meter = CpuMeter({"gateway": pid, "sandbox": sandbox.pid})
        loaded = await load(url, tokens, peer_id, args, meter, server="gateway")
        modern_meter = CpuMeter({"gateway": pid, "sandbox": sandbox.pid})
        loaded_modern = await load(
            url, tokens, peer_id, args, modern_meter, server="gateway", era=MODERN_VERSION
        )
        memory |= {"rss_after_load_mib": vm_rss(pid) / MIB, "pool_after_load": await pool_stats(gateway)}
        await stop(gateway.proc)
        texts = work / "texts.json"
        texts.write_text(json.dumps(first.texts))
        floor_proc, floor_info = await spawn_json(__file__, "--serve-floor", str(texts))
        started["floor"] = floor_proc
        floor_url = f"http://127.0.0.1:{floor_info['port']}/v1/mcp"
        floor = await load(
            floor_url, tokens, peer_id, args, CpuMeter({"floor": floor_proc.pid}), server="floor"
        )
        await stop(floor_proc)
        raw = await raw_telethon(info, min(args.sessions, args.tenants), args.seconds, sandbox.pid)
        compared = await comparisons(args, work, settings, tokens, peer_id, sandbox.pid)
    except BaseException:
        print_last_output(started)
        raise
    finally:
        for proc in reversed(started.values()):
            await stop(proc)
    return {
        "setup": setup,
        "memory": memory,
        "warm": warm.summary(setup["warm_all_s"]),
        "load": loaded,
        "load_modern": loaded_modern,
        "floor": floor,
        "raw_telethon": raw,
        **compared,
    }


async def comparisons(  # noqa: PLR0917 - what measure holds, passed on as is
    args: argparse.Namespace,
    work: Path,
    settings: Settings,
    tokens: list[str],
    peer_id: int,
    sandbox_pid: int,
) -> dict[str, Any]:
    """The optional same-run comparisons: ``fronts`` and ``guardrails``."""
    out: dict[str, Any] = {}
    if args.compare_fronts:
        from _fronts import compare_fronts  # noqa: PLC0415 - bench/_fronts.py imports this module

        out["fronts"] = await compare_fronts(args, work, settings, tokens, peer_id, sandbox_pid)
    if args.compare_guardrails:
        from _guardrails import compare_guardrails  # noqa: PLC0415 - it imports this module

        out["guardrails"] = await compare_guardrails(args, work, settings, tokens, peer_id, sandbox_pid)
    return out


def environment() -> dict[str, Any]:
    return _common.environment(telethon=telethon.__version__, fastmcp=fastmcp.__version__)


def report(result: dict[str, Any]) -> None:
    memory, loaded, floor, raw = result["memory"], result["load"], result["floor"], result["raw_telethon"]
    cpu, lat, ratios = loaded["cpu"], loaded["latency"], result["ratios"]
    modern = result["load_modern"]
    processes = ("gateway", "sandbox", "client")
    per_call = " / ".join(f"{cpu[k]['ms_per_call']:.2f}" for k in processes)
    busy = " / ".join(f"{cpu[k]['busy']:.0%}" for k in processes)
    floor_cpu = " / ".join(f"{floor['cpu'][k]['ms_per_call']:.2f}" for k in ("floor", "client"))
    rows = [
        ("tenants logged in", f"{result['config']['tenants']} ({result['setup']['logins_per_s']:.0f}/s)"),
        (
            "gateway RSS ready / after 1 tenant",
            f"{memory['rss_ready_mib']:.1f} / {memory['rss_one_tenant_mib']:.1f} MiB",
        ),
        ("gateway RSS, all tenants idle", f"{memory['rss_idle_all_mib']:.1f} MiB"),
        ("  Telegram clients in the pool", str(memory["pool_idle"]["active"])),
        ("RSS per connected idle tenant", f"{memory['per_idle_tenant_kib']:.0f} KiB"),
        (f"gateway tool calls/s, {loaded['concurrent_sessions']} sessions", f"{loaded['calls_per_s']:.0f}"),
        ("  calls, errors", f"{loaded['calls']}, {loaded['errors']}"),
        ("  latency p50 / p90 / p99", f"{lat['p50_ms']:.0f} / {lat['p90_ms']:.0f} / {lat['p99_ms']:.0f} ms"),
        ("  CPU ms/call gateway / sandbox / client", per_call),
        ("  busy gateway / sandbox / client", busy),
        ("  gateway capacity on one core", f"{loaded['capacity_calls_per_core_s']:.0f} calls/s"),
        (
            "2026-07-28 clients: calls/s, gateway CPU ms/call",
            f"{modern['calls_per_s']:.0f}, {modern['cpu']['gateway']['ms_per_call']:.2f}"
            f" ({ratios['modern_cpu_to_legacy_cpu']:.2f}x legacy)",
        ),
        ("FastMCP floor tool calls/s", f"{floor['calls_per_s']:.0f}"),
        ("  CPU ms/call floor / client", floor_cpu),
        (f"raw Telethon get_messages/s, {raw['clients']} clients", f"{raw['calls_per_s']:.0f}"),
        ("ratio gateway / raw Telethon (calls/s)", f"{ratios['gateway_to_raw']:.2f}x"),
        ("ratio gateway / floor (server CPU per call)", f"{ratios['gateway_cpu_to_floor_cpu']:.2f}x"),
        ("load average (1 min)", str(result["environment"]["load_average"][0])),
        (
            f"target >= {TARGET_CALLS_PER_S:.0f} calls/s",
            "met" if result["targets"]["calls_met"] else "MISSED",
        ),
        ("target < 2 MB per idle tenant", "met" if result["targets"]["memory_met"] else "MISSED"),
    ]
    if "fronts" in result:
        from _fronts import report_rows  # noqa: PLC0415 - bench/_fronts.py imports this module

        rows += report_rows(result["fronts"])
    if "guardrails" in result:
        from _guardrails import report_rows as guard_rows  # noqa: PLC0415 - it imports this module

        rows += guard_rows(result["guardrails"])
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=sys.stderr)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, help="tenants logged in (default 1000, quick 50)")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent MCP sessions (default 50)")
    parser.add_argument("--seconds", type=float, help="length of each load phase (default 20, quick 5)")
    parser.add_argument(
        "--calls-per-session", type=int, default=10, help="tool calls per session (default 10)"
    )
    parser.add_argument(
        "--messages", type=int, default=30, help="messages in each tenant's chat (default 30)"
    )
    parser.add_argument(
        "--client",
        choices=("lean", "fastmcp"),
        default="lean",
        help="load generator: a minimal MCP client (bench/_mcp_http.py, default) or fastmcp's Client",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="gateway worker processes (MCPGRAM_WORKERS; default 2)"
    )
    parser.add_argument("--login-concurrency", type=int, default=20, help="logins at a time (default 20)")
    parser.add_argument("--settle", type=float, help="idle seconds before the idle RSS (default 3, quick 1)")
    parser.add_argument(
        "--quick", action="store_true", help="50 tenants, 5 s: a smoke test, not a measurement"
    )
    parser.add_argument(
        "--compare-fronts",
        action="store_true",
        help="also measure the multi-worker front's CPU per call: before issue 10, now, as an ASGI relay",
    )
    parser.add_argument(
        "--front-rounds",
        type=int,
        default=2,
        help="with --compare-fronts: rounds of the 3 phases (default 2)",
    )
    parser.add_argument(
        "--compare-guardrails",
        action="store_true",
        help="also measure gateway CPU per read and per write with the guardrails on and off (same run)",
    )
    parser.add_argument(
        "--guard-rounds",
        type=int,
        default=8,
        help="with --compare-guardrails: rounds of the read and write phases (default 8)",
    )
    parser.add_argument(
        "--guard-together",
        action="store_true",
        help="with --compare-guardrails: load the three gateways at the same time in each phase (each"
        " with --sessions), so drifts of the machine hit them alike",
    )
    parser.add_argument(
        "--guard-keep",
        action="store_true",
        help="with --compare-guardrails: keep the same three gateway processes for every round (the"
        " default starts fresh ones each round: a process's own speed differs by a few percent)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not 1 <= args.tenants <= MAX_TENANTS:
        parser.error(f"--tenants must be between 1 and {MAX_TENANTS}")
    return args


def main() -> int:
    args = parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.tenants, args.messages)
        return 0
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return 0
    measured = _common.measure_in_tempdir("tenants", lambda work: measure(args, work))
    keys = ("tenants", "sessions", "seconds", "calls_per_session", "messages", "login_concurrency", "workers")
    keys += ("compare_fronts", "front_rounds") if args.compare_fronts else ()
    guard_keys = ("compare_guardrails", "guard_rounds", "guard_together", "guard_keep")
    keys += guard_keys if args.compare_guardrails else ()
    result: dict[str, Any] = {
        "benchmark": "tenants",
        "quick": args.quick,
        "environment": environment(),
        "config": {key: getattr(args, key) for key in keys},
        **measured,
    }
    loaded, floor = result["load"], result["floor"]
    result["ratios"] = {
        "gateway_to_raw": loaded["calls_per_s"] / result["raw_telethon"]["calls_per_s"],
        "gateway_to_floor": loaded["calls_per_s"] / floor["calls_per_s"],
        "gateway_cpu_to_floor_cpu": (
            loaded["cpu"]["gateway"]["ms_per_call"] / floor["cpu"]["floor"]["ms_per_call"]
        ),
        "modern_cpu_to_legacy_cpu": (
            result["load_modern"]["cpu"]["gateway"]["ms_per_call"] / loaded["cpu"]["gateway"]["ms_per_call"]
        ),
    }
    result["targets"] = {
        "calls_per_s": TARGET_CALLS_PER_S,
        "bytes_per_idle_tenant": TARGET_BYTES_PER_TENANT,
        "calls_met": loaded["calls_per_s"] >= TARGET_CALLS_PER_S,
        "memory_met": result["memory"]["per_idle_tenant_bytes"] < TARGET_BYTES_PER_TENANT,
    }
    _common.emit(result, args.output)
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
