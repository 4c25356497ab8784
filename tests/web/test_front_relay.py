"""The multi-worker front against stand-in workers on real Unix sockets: caps, timeouts, hop-by-hop.

The stand-in workers speak plain HTTP/1.1 the way a worker (or a hung or misbehaving one) would;
the front is the real :class:`FrontServer` (uvicorn + the ASGI relay) on a real TCP socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from mcpgram.web import protocol
from mcpgram.web.edge import EdgeLimits
from mcpgram.web.front import FrontServer
from mcpgram.web.relay import WorkerRelay
from mcpgram.web.security import SECURITY_HEADERS
from mcpgram.web.upstream import WorkerLink

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

HOP_BY_HOP_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n"
    b"connection: keep-alive, x-worker-hop\r\nx-worker-hop: 1\r\nkeep-alive: timeout=3600\r\n"
    b"proxy-authenticate: Basic\r\nupgrade: h2c\r\nx-kept: yes\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n"
)


class Stage:
    """A front on 127.0.0.1 with one stand-in worker; what the worker saw, and when it was left."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[bytes] = []
        self.left = asyncio.Event()


async def _stage(
    tmp_path: Path, answer: bytes | None, limits: EdgeLimits | None = None, **options: Any
) -> AsyncIterator[Stage]:
    stage = Stage()

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                stage.requests.append(head)
                if answer is None:
                    await reader.read()  # hung: never answers; returns when the front gives up
                    stage.left.set()
                    return
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            stage.left.set()
        finally:
            writer.close()

    path = str(tmp_path / "w0.sock")
    workers = await asyncio.start_unix_server(worker, path)
    link = WorkerLink(path)
    relay = WorkerRelay([link], max_body_bytes=1 << 20, auth_failures_per_minute=100, **options)
    server = FrontServer(relay, limits=limits or EdgeLimits())
    stage.port = await server.start()
    try:
        yield stage
    finally:
        await server.stop()
        link.close()
        workers.close()
        await workers.wait_closed()


@pytest_asyncio.fixture
async def hung(tmp_path: Path) -> AsyncIterator[Stage]:
    async for stage in _stage(tmp_path, None, answer_seconds=0.5):
        yield stage


@pytest_asyncio.fixture
async def chatty(tmp_path: Path) -> AsyncIterator[Stage]:
    async for stage in _stage(tmp_path, HOP_BY_HOP_ANSWER, limits=EdgeLimits(max_connections=2)):
        yield stage


REQUEST = b"GET /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not (data.endswith(b"0\r\n\r\n") or b"content-length" in data.lower()):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _security_headers_in(head: bytes) -> bool:
    lowered = head.lower()
    return all(f"{name}: {value}".lower().encode() in lowered for name, value in SECURITY_HEADERS)


async def test_a_worker_that_does_not_answer_in_time_gets_the_client_a_504(hung: Stage) -> None:
    def ask() -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", hung.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(REQUEST)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            return data, time.monotonic() - started

    answer, took = await asyncio.to_thread(ask)
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 504 ")
    assert json.loads(body)["error"] == "WORKER_TIMEOUT"
    assert _security_headers_in(head)
    assert 0.4 < took < 5
    await asyncio.wait_for(hung.left.wait(), 5)  # the worker saw its client leave


async def test_hop_by_hop_headers_are_dropped_both_ways(chatty: Stage) -> None:
    request = (
        b"GET /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive, X-Client-Hop\r\n"
        b"X-Client-Hop: 1\r\nKeep-Alive: 5\r\nProxy-Authorization: Basic eDp5\r\nTE: trailers\r\n"
        b"Upgrade: h2c\r\nX-Kept: yes\r\n\r\n"
    )

    def exchange_twice() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", chatty.port), timeout=10) as sock:
            sock.sendall(request)
            first = _read_answer(sock)
            sock.sendall(request)  # the client connection stays usable
            return [first, _read_answer(sock)]

    answers = await asyncio.to_thread(exchange_twice)
    for answer in answers:
        assert answer == (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n"
            b"x-kept: yes\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
    forwarded = chatty.requests[0].lower()
    for dropped in (b"x-client-hop", b"keep-alive: 5", b"proxy-", b"te:", b"upgrade"):
        assert dropped not in forwarded
    assert b"x-kept: yes" in forwarded


async def test_connections_over_the_cap_are_refused_with_503(chatty: Stage) -> None:
    def over_the_cap() -> tuple[bytes, bytes]:
        held = [socket.create_connection(("127.0.0.1", chatty.port), timeout=10) for _ in range(2)]
        try:
            held[0].sendall(REQUEST)
            _read_answer(held[0])  # both held connections are now counted
            with socket.create_connection(("127.0.0.1", chatty.port), timeout=10) as third:
                refused = b""
                while chunk := third.recv(65536):
                    refused += chunk
        finally:
            held[1].close()
        time.sleep(0.2)  # the front sees the close
        with socket.create_connection(("127.0.0.1", chatty.port), timeout=10) as again:
            again.sendall(REQUEST)
            served = _read_answer(again)
        held[0].close()
        return refused, served

    refused, served = await asyncio.to_thread(over_the_cap)
    head, body = refused.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503 ")
    assert json.loads(body)["error"] == "TOO_MANY_CONNECTIONS"
    assert _security_headers_in(head)
    assert served.startswith(b"HTTP/1.1 200 OK")


async def test_a_flood_over_the_cap_is_closed_unanswered(
    chatty: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol, "MAX_REFUSED", 1)

    def flood() -> tuple[bytes, bytes]:
        held = [socket.create_connection(("127.0.0.1", chatty.port), timeout=10) for _ in range(3)]
        try:
            held[0].sendall(REQUEST)
            _read_answer(held[0])
            answered = held[2].recv(65536)  # the first over the cap: 503, lingering
            with socket.create_connection(("127.0.0.1", chatty.port), timeout=10) as fourth:
                try:
                    unanswered = fourth.recv(65536)
                except ConnectionResetError:
                    unanswered = b""
        finally:
            for sock in held:
                sock.close()
        return answered, unanswered

    answered, unanswered = await asyncio.to_thread(flood)
    assert answered.startswith(b"HTTP/1.1 503 ")
    assert unanswered == b""


async def test_an_answer_says_close_when_the_front_closes_after_it(chatty: Stage) -> None:
    def ask() -> bytes:
        with socket.create_connection(("127.0.0.1", chatty.port), timeout=10) as sock:
            sock.sendall(REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            data = b""
            while chunk := sock.recv(65536):  # the front closes after the answer
                data += chunk
            return data

    answer = await asyncio.to_thread(ask)
    assert answer == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n"
        b"x-kept: yes\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
