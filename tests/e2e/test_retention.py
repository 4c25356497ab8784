"""Per-request retention: a gateway keeps nothing per request, MCP session or connection once they end.

A real HTTP gateway (``serve_http``, the whole edge) in front of the sandbox, and a client speaking
the legacy streamable-HTTP protocol by hand on a fresh connection per session: ``initialize``, the
``initialized`` notification, tool calls, ``DELETE``. After a warm-up (first-request costs, caches
filling), tracemalloc measures what stays allocated, after a full collection, across a few
thousand more requests; bench/soak.py is the long-run check of the same, by RSS.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from mcpgram.app import build_gateway, serve_http
from mcpgram.sandbox import SandboxServer

from .conftest import ALICE, CAROL, People, login_token, settings_for

pytestmark = pytest.mark.e2e

#: Bytes a request may leave allocated, on average. Measured: ~180 B, all of it bounded structures
#: still filling (Telethon keeps each client's last 500 server msg ids, the per-tenant rate window
#: the last minute's requests, SQLite its statement cache). Keeping 1 KiB per request on purpose
#: (``bytes(1024)`` per request in the session loop) measured 1,259 B and failed.
MAX_BYTES_PER_REQUEST = 512
WARMUP_SESSIONS, SESSIONS, CONCURRENCY = 40, 400, 4
REQUESTS_PER_SESSION = 5  # initialize, initialized, two tool calls, DELETE
ACCEPT = "application/json, text/event-stream"


async def _session(base: str, token: str, peer: int) -> None:
    """One MCP session on its own connection."""
    url = f"{base}/v1/mcp"
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    async with httpx.AsyncClient(timeout=30) as http:
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        answer = await http.post(
            url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}
        )
        assert answer.status_code == 200, answer.text
        headers |= {"Mcp-Session-Id": answer.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-06-18"}
        note = await http.post(
            url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        assert note.status_code == 202
        calls = [("find_chats", {"limit": 20}), ("get_messages", {"chat": str(peer), "limit": 20})]
        for n, (name, arguments) in enumerate(calls, start=2):
            message = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
            answer = await http.post(url, headers=headers, json=message)
            assert answer.status_code == 200 and not answer.json()["result"].get("isError"), answer.text
        assert (await http.delete(url, headers=headers)).status_code == 200


async def _sessions(base: str, tokens: list[str], peer: int, count: int) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            await _session(base, tokens[n % len(tokens)], peer)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


#: The sandbox runs in this process too; what it keeps per Telegram connection is its own concern.
_NOT_THE_GATEWAY = [
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "*/mcpgram/sandbox/*"),
]


def _traced() -> int:
    """Bytes allocated now (and still referenced after a full collection), the sandbox's aside."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(_NOT_THE_GATEWAY)
    return sum(stat.size for stat in snapshot.statistics("filename"))


@pytest.fixture
async def gateway_url(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[tuple[str, list[str]]]:
    # A starved test process (the suite alongside a benchmark) can sit idle past the 5 s keep-alive
    # between two requests of a session; the server then closes the connection as the client
    # writes on it. Memory is measured here, not keep-alive (nor call limits).
    settings = settings_for(
        sandbox,
        tmp_path / "data",
        transport="http",
        port=0,
        requests_per_minute=100_000,
        http_keep_alive_timeout=300.0,
        # Calls come as fast as the client can make them: no per-tenant call limit (bench/limits.py
        # and tests/tools/test_limits.py measure it); memory is measured here.
        call_rate=0,
        pacing=False,
    )
    vault = vault_for(settings)
    tokens = [
        await login_token(sandbox, settings, vault, ALICE, "alice"),
        await login_token(sandbox, settings, vault, CAROL, "carol"),
    ]
    gateway = build_gateway(settings, transport="http")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    try:
        yield f"http://127.0.0.1:{await asyncio.wait_for(bound, 10)}", tokens
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """Logs at WARNING, as a server runs by default, whatever an earlier test configured: pytest keeps
    every record a test emits in memory (for its report), which would count as retention here (another
    test's ``configure_logging("DEBUG")`` made that 16 KB a request). Log contents are tested elsewhere."""
    loggers = [logging.getLogger(), logging.getLogger("mcpgram")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@pytest.mark.timeout(300)  # ~25 s of CPU; a busy machine stretches it
@pytest.mark.usefixtures("quiet_logs")
async def test_requests_sessions_and_connections_leave_nothing_behind(
    gateway_url: tuple[str, list[str]], people: People
) -> None:
    base, tokens = gateway_url
    await _sessions(base, tokens, people.bob, WARMUP_SESSIONS)
    tracemalloc.start(1)
    try:
        before = _traced()
        await _sessions(base, tokens, people.bob, SESSIONS)
        after = _traced()
    finally:
        tracemalloc.stop()
    per_request = (after - before) / (SESSIONS * REQUESTS_PER_SESSION)
    assert per_request < MAX_BYTES_PER_REQUEST, f"{per_request:.0f} B retained per request"
