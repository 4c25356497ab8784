"""The multi-worker front keeps nothing per request or connection: memory stays flat under load.

Two ways it leaked, one test each:

- ``mcpgram serve --workers N`` served the front inside the start-up block that disables the
  cyclic garbage collector, so every client connection's reference cycles (asyncio's transport and
  its bound callbacks, the parser and the protocol) stayed: ~5 KiB per connection, ~10 MB a minute
  under ``bench/tenants.py``. Checked on the real command: a front and two real worker processes,
  its RSS sampled across thousands of connections.
- a client connection held its ``httptools`` parser, which holds its bound methods: a cycle, so a
  closed connection waited for the collector (then the front's own protocol; now uvicorn's, which
  must not regress). Checked in-process, against a stand-in worker on a
  real Unix socket, with the collector off: closed connections must be freed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import subprocess
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcpgram.web.edge import EdgeLimits
from mcpgram.web.front import FrontServer
from mcpgram.web.protocol import EdgeProtocol
from mcpgram.web.relay import WorkerRelay
from mcpgram.web.upstream import WorkerLink

KIB = 1024
WARM_UP_CONNECTIONS = 500
CONNECTIONS = 3000
#: RSS the real front may gain over :data:`CONNECTIONS` connections after warming up. Measured: about
#: 0.2 MiB; with the collector off 15 MiB (3 MiB once a connection's own cycle is broken: asyncio's).
RSS_BOUND_KIB = 1536
ANSWER_BODY = b'{"jsonrpc":"2.0","id":1,"result":{}}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(ANSWER_BODY),
    ANSWER_BODY,
)


async def _connection(port: int, requests: int, token: bytes) -> None:
    """One client connection carrying ``requests`` keep-alive requests, each answer read whole."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(requests):
            writer.write(
                b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + b"\r\n"
                b"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            assert length is not None, head
            await reader.readexactly(int(length.group(1)))
    finally:
        writer.close()
        await writer.wait_closed()


async def _load(port: int, connections: int, *, requests: int = 2, concurrency: int = 20) -> None:
    """``connections`` connections, ``concurrency`` at a time, each with a fresh well-formed token."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            await _connection(port, requests, b"mcpg_%043d" % index)

    await asyncio.gather(*(one(index) for index in range(connections)))


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextlib.asynccontextmanager
async def _serve_command(data_dir: Path) -> AsyncIterator[tuple[int, int]]:
    """``mcpgram serve --workers 2`` (no Telegram needed: tokens are refused before any lookup of it)."""
    env = os.environ | {
        "MCPGRAM_DATA_DIR": str(data_dir),
        "MCPGRAM_API_ID": "1",
        "MCPGRAM_API_HASH": "0" * 32,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpgram", "serve", "--transport", "http", "--port", "0", "--workers", "2",
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        port = 0
        seen = []
        while line := await asyncio.wait_for(proc.stderr.readline(), 90):
            if found := re.search(rb"serving MCP at http://[^/\s]+:(\d+)/v1/mcp", line):
                port = int(found.group(1))
                break
            seen.append(line)
        if not port:  # what the front and its workers said instead, in full
            said = b"".join(seen[-60:]).decode(errors="replace")
            pytest.fail(f"the front exited before serving; its and its workers' stderr:\n{said}", False)

        async def read_stderr() -> None:
            assert proc.stderr is not None
            while await proc.stderr.readline():
                pass

        drain = asyncio.create_task(read_stderr())
        yield proc.pid, port
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
        if drain is not None:
            await drain


@pytest.mark.asyncio
async def test_the_serve_commands_front_keeps_nothing_per_connection() -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with _serve_command(Path(directory) / "data") as (pid, port):
            await _load(port, WARM_UP_CONNECTIONS)  # pools, caches and the allocator's arenas fill up
            before = _rss_kib(pid)
            await _load(port, CONNECTIONS)
            grown = _rss_kib(pid) - before
            assert grown < RSS_BOUND_KIB, f"the front grew {grown} KiB over {CONNECTIONS} connections"


async def _stand_in_worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            await reader.readexactly(2)  # every request here has a 2-byte body
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_a_closed_client_connection_is_freed_without_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "w0.sock")
    workers = await asyncio.start_unix_server(_stand_in_worker, path)
    link = WorkerLink(path)
    relay = WorkerRelay([link], max_body_bytes=1 << 20, auth_failures_per_minute=100)
    server = FrontServer(relay, limits=EdgeLimits())
    alive: weakref.WeakSet[EdgeProtocol] = weakref.WeakSet()
    made = EdgeProtocol.connection_made
    seen: list[EdgeProtocol] = []

    def tracked(connection: EdgeProtocol, transport: asyncio.Transport) -> None:
        alive.add(connection)
        seen.append(weakref.proxy(connection))
        made(connection, transport)

    monkeypatch.setattr(EdgeProtocol, "connection_made", tracked)
    port = await server.start()
    connections = server.server.server_state.connections
    gc.collect()
    gc.disable()
    try:
        await _load(port, 300, requests=3)
        for _ in range(50):  # the front sees each close a moment after the client's
            if not connections:
                break
            await asyncio.sleep(0.02)
        assert not connections
        assert len(seen) == 300
        assert len(alive) == 0, f"{len(alive)} of 300 closed connections still held"
    finally:
        gc.enable()
        await server.stop()
        link.close()
        workers.close()
        await workers.wait_closed()
