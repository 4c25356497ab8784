"""Edge limits of the HTTP server itself, over a real socket with raw bytes: time limits for the head, the
body and idle keep-alive connections, the connection cap, and header/target size limits. Every refusal the
server makes itself is JSON with the security headers.

Each test runs against both public listeners, with the same settings: ``single`` is ``serve_http`` (one
process), ``front`` is the multi-worker front as ``serve_workers`` builds it (``build_front`` served by
``front_server``: uvicorn + the ASGI relay) in front of a real worker (``serve_http`` on a Unix socket,
as a worker process runs it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mcpgram.app import build_gateway, serve_http
from mcpgram.settings import Settings
from mcpgram.web.security import SECURITY_HEADERS
from mcpgram.web.upstream import WorkerLink
from mcpgram.workers import build_front, front_server

from .conftest import serving

SHORT = 0.5  # every time limit in these tests, in seconds
SLACK = 3.0  # how much later than its limit a close may come on a busy test machine
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
POST_HEAD = b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
ACCEPT = b"Accept: application/json, text/event-stream\r\n"
TOKENS: list[str] = []  # the token of the server running() last started


def authorized(head: bytes) -> bytes:
    """``head`` with the running server's valid bearer token (so the app waits for the body)."""
    return head + ACCEPT + b"Authorization: Bearer " + TOKENS[0].encode() + b"\r\n"


@pytest.fixture(params=["single", "front"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, mode: str, **overrides: Any) -> AsyncIterator[int]:
    """The ``mode`` listener on 127.0.0.1 with short time limits (and ``overrides``); yields the port."""
    limits = {"http_header_timeout": SHORT, "http_body_timeout": SHORT, "http_keep_alive_timeout": SHORT}
    settings = Settings.load(
        env_file=None,
        data_dir=tmp_path / "data",
        transport="http",
        port=0,
        api_id=1,
        api_hash="0" * 32,
        **{**limits, **overrides},
    )
    gateway = build_gateway(settings, transport="http")
    _, token = gateway.vault.create_tenant("alice")
    TOKENS[:] = [token]
    if mode == "single":
        async with serving(gateway) as port:
            yield port
        return
    socket_path = str(tmp_path / "w0.sock")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    worker = asyncio.create_task(serve_http(gateway, ready=bound.set_result, worker_socket=socket_path))
    link = WorkerLink(socket_path)
    front = front_server(settings, build_front(settings, [link]))
    try:
        await asyncio.wait_for(bound, 10)
        port = await front.start()
        try:
            yield port
        finally:
            await front.stop()
    finally:
        link.close()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_to_close(reader: asyncio.StreamReader, limit: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as a close)."""
    chunks = []
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    return b"".join(chunks)


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` at once and read until the server closes."""
    async with connection(port) as (reader, writer):
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await read_to_close(reader)


def parse(response: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-case names) and JSON body of one whole response."""
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, json.loads(body) if body else None


def assert_refusal(response: bytes, status: int, code: str) -> dict[str, str]:
    got_status, headers, body = parse(response)
    assert (got_status, body["error"]) == (status, code), response[:300]
    assert isinstance(body["message"], str) and body["message"]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    for name, value in SECURITY_HEADERS:
        assert headers[name.lower()] == value, name
    return headers


# --- refused at once ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "request_bytes", "status", "code"),
    [
        ("malformed request line", b"NOT HTTP AT ALL\r\n\r\n", 400, "BAD_REQUEST"),
        ("binary garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 10, 400, "BAD_REQUEST"),
        (
            "Content-Length and chunked together",
            POST_HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "BAD_REQUEST",
        ),
        ("non-numeric Content-Length", POST_HEAD + b"Content-Length: five\r\n\r\n", 400, "BAD_REQUEST"),
        (
            "200 header fields",
            HEALTH[:-2] + b"".join(b"X-Filler-%d: x\r\n" % n for n in range(200)) + b"\r\n",
            431,
            "TOO_MANY_HEADERS",
        ),
        (
            "a 100 KB header field",
            HEALTH[:-2] + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "40 header fields of 1 KB",
            HEALTH[:-2] + b"".join(b"X-F%d: %s\r\n" % (n, b"b" * 1000) for n in range(40)) + b"\r\n",
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a 10 KB request target",
            b"GET /" + b"p" * 10_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            414,
            "TARGET_TOO_LONG",
        ),
        ("a 1 MB request target", b"GET /" + b"p" * 1_000_000 + b" HTTP/1.1\r\n\r\n", 414, "TARGET_TOO_LONG"),
    ],
)
async def test_hostile_requests_are_refused_with_json_and_security_headers(
    tmp_path: Path, mode: str, *, case: str, request_bytes: bytes, status: int, code: str
) -> None:
    async with running(tmp_path, mode) as port:
        response = await exchange(port, request_bytes)
        assert_refusal(response, status, code)
        # The server is still fine afterwards.
        assert parse(await exchange(port, HEALTH[:-2] + b"Connection: close\r\n\r\n"))[0] == 200


async def test_requests_inside_the_limits_are_served(tmp_path: Path, mode: str) -> None:
    """90 header fields, 12 KB of them, and a 6 KB target: all below the defaults, all served."""
    headers = b"".join(b"X-F%d: %s\r\n" % (n, b"c" * 120) for n in range(90))
    async with running(tmp_path, mode) as port:
        response = await exchange(port, HEALTH[:-2] + headers + b"Connection: close\r\n\r\n")
        assert parse(response)[0] == 200
        long_target = (
            b"GET /health?" + b"q" * 6000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert parse(await exchange(port, long_target))[0] == 200


async def test_a_head_still_arriving_is_refused_once_too_large(tmp_path: Path, mode: str) -> None:
    """A header field that never ends is refused once the head outgrows the limits, not buffered on."""
    async with running(tmp_path, mode, http_header_timeout=30) as port, connection(port) as (reader, writer):
        sender = asyncio.create_task(trickle(writer, HEALTH[:-2] + b"X-Endless: ", b"e" * 4096, every=0.01))
        try:
            response = await read_to_close(reader)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert_refusal(response, 431, "HEADERS_TOO_LARGE")


async def test_limits_follow_the_settings(tmp_path: Path, mode: str) -> None:
    """Lower limits from the settings apply: 20 header fields and a 2 KB target are now too many."""
    async with running(tmp_path, mode, max_header_count=16, max_target_bytes=1024) as port:
        many = HEALTH[:-2] + b"".join(b"X-F%d: x\r\n" % n for n in range(20)) + b"\r\n"
        assert_refusal(await exchange(port, many), 431, "TOO_MANY_HEADERS")
        long_target = b"GET /" + b"p" * 2000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        assert_refusal(await exchange(port, long_target), 414, "TARGET_TOO_LONG")


# --- slow and idle clients ---------------------------------------------------------------------------


async def trickle(writer: asyncio.StreamWriter, first: bytes, piece: bytes, every: float = 0.1) -> None:
    """Send ``first``, then ``piece`` every ``every`` seconds, for far longer than any limit here."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        writer.write(first)
        for _ in range(int(30 / every)):
            await writer.drain()
            await asyncio.sleep(every)
            writer.write(piece)


@pytest.mark.parametrize(
    ("case", "first", "piece"),
    [
        ("slowloris: a header field every 0.1 s", POST_HEAD, b"X-Slow: 1\r\n"),
        ("a request target one byte at a time", b"GET /", b"a"),
        ("only blank lines", b"\r\n", b"\r\n"),
        ("body trickle under Content-Length", POST_HEAD + b"Content-Length: 10000\r\n", b"{"),
        ("chunked body trickle", POST_HEAD + b"Transfer-Encoding: chunked\r\n", b"1\r\n{\r\n"),
    ],
)
async def test_trickling_clients_get_408_and_are_closed(
    tmp_path: Path, mode: str, case: str, first: bytes, piece: bytes
) -> None:
    async with running(tmp_path, mode) as port, connection(port) as (reader, writer):
        if case.startswith(("body", "chunked")):
            first = authorized(first) + b"\r\n"
        started = time.monotonic()
        sender = asyncio.create_task(trickle(writer, first, piece))
        try:
            response = await read_to_close(reader)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        elapsed = time.monotonic() - started
        assert SHORT * 0.8 <= elapsed < SHORT + SLACK, elapsed
        assert_refusal(response, 408, "REQUEST_TIMEOUT")


async def test_a_body_trickled_after_the_answer_is_cut_off_without_another_response(
    tmp_path: Path, mode: str
) -> None:
    """Without a token one process answers 401 before the body and closes a client still trickling it;
    the front forwards only whole requests, so it answers 408 once the body is late. One answer either way."""
    async with running(tmp_path, mode) as port, connection(port) as (reader, writer):
        sender = asyncio.create_task(trickle(writer, POST_HEAD + b"Content-Length: 10000\r\n\r\n", b"{"))
        try:
            response = await read_to_close(reader)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert response.count(b"HTTP/1.1 ") == 1
        assert parse(response)[0] == (401 if mode == "single" else 408)


async def test_a_connection_that_sends_nothing_is_closed_silently(tmp_path: Path, mode: str) -> None:
    async with running(tmp_path, mode) as port, connection(port) as (reader, _):
        started = time.monotonic()
        assert await read_to_close(reader) == b""
        assert time.monotonic() - started < SHORT + SLACK


async def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path, mode: str) -> None:
    """A request is served and the connection kept; idle past the keep-alive limit it closes."""
    async with (
        running(tmp_path, mode, http_keep_alive_timeout=1.0) as port,
        connection(port) as (reader, writer),
    ):
        writer.write(HEALTH)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(parse(head)[1]["content-length"])
        await reader.readexactly(length)
        assert parse(head)[0] == 200
        # A second request on the same connection is served too: keep-alive is on.
        writer.write(HEALTH)
        second = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(length)
        assert parse(second)[0] == 200
        started = time.monotonic()
        assert await read_to_close(reader) == b""
        assert 0.8 <= time.monotonic() - started < 1.0 + SLACK


async def test_connections_past_the_cap_get_503(tmp_path: Path, mode: str) -> None:
    async with running(tmp_path, mode, max_connections=3, http_header_timeout=30) as port:
        async with contextlib.AsyncExitStack() as held:
            for _ in range(3):
                await held.enter_async_context(connection(port))
            await asyncio.sleep(0.2)  # let the server accept them
            refused = await exchange(port, HEALTH)
            headers = assert_refusal(refused, 503, "TOO_MANY_CONNECTIONS")
            assert headers["retry-after"] == "1"
        # Once they are gone, new connections are served again.
        await asyncio.sleep(0.2)
        assert parse(await exchange(port, HEALTH[:-2] + b"Connection: close\r\n\r\n"))[0] == 200
