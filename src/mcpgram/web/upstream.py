"""Connections from the front (``web/front.py``) to one worker process, over its private Unix socket.

A :class:`WorkerLink` keeps idle keep-alive connections to one worker and hands one out per
request: a connection carries one request at a time (no pipelining), so the end of each answer is
known from the worker's own framing (``Content-Length`` or chunked), parsed with ``httptools``.
:meth:`UpstreamConnection.exchange` sends a request and returns the answer's head (status and
headers) once it arrives; :meth:`UpstreamConnection.body` then yields the body as it arrives,
de-chunked (the front's server frames it again), so event streams flow through unbuffered. An
answer that has not begun within ``head_seconds`` is abandoned (``Exchange.timed_out``): the
connection is dropped, so the worker sees the client leave.

This module must not look at tokens or bodies, nor log anything.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

import httptools

__all__ = ["Exchange", "UpstreamConnection", "WorkerLink"]

#: Idle connections kept per worker; more are opened under load and closed when returned.
MAX_IDLE_PER_WORKER = 64
#: Body chunks buffered from a worker before the front stops reading from it (a slow client).
MAX_BUFFERED_CHUNKS = 16


class Exchange:
    """How one request's answer went: its head (``None`` if none came) and whether it completed."""

    __slots__ = ("complete", "headers", "keep_alive", "status", "timed_out")

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.keep_alive = False
        #: No answer began within the exchange's ``head_seconds``; nothing was relayed.
        self.timed_out = False


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to a worker: :meth:`exchange`, then :meth:`body`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._exchange = Exchange()
        self._chunks: deque[bytes] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._paused = False
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream socket, never a datagram one
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the worker broke the protocol
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._notify()

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._exchange.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._exchange.status = self._parser.get_status_code()
        self._exchange.keep_alive = self._parser.should_keep_alive()
        self._notify()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        if len(self._chunks) >= MAX_BUFFERED_CHUNKS and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._notify()

    def on_message_complete(self) -> None:
        self._exchange.complete = True
        self._notify()

    # -- use -----------------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _wait(self) -> None:
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    def abort(self) -> None:
        """Drop the connection now (the client went away, or the worker misbehaved)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._notify()

    async def exchange(self, request: bytes, *, head_seconds: float | None = None) -> Exchange:
        """Send ``request``; return once the answer's head is in (or the connection ended)."""
        assert self.transport is not None
        self._exchange = exchange = Exchange()
        self._chunks.clear()
        self._parser = httptools.HttpResponseParser(self)
        self.transport.write(request)
        try:
            async with asyncio.timeout(head_seconds):
                while exchange.status is None and not self.closed:
                    await self._wait()
        except TimeoutError:
            exchange.timed_out = True
            self.abort()
        return exchange

    async def body(self) -> AsyncIterator[bytes]:
        """The answer's body, chunk by chunk as it arrives, until complete (or the connection ends)."""
        chunks = self._chunks
        while True:
            while chunks:
                yield chunks.popleft()
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            if self._exchange.complete or self.closed:
                return
            await self._wait()

    async def read_body(self) -> bytes:
        """The whole answer body (a small one: ``/health``)."""
        return b"".join([chunk async for chunk in self.body()])

    def settle(self) -> None:
        """Between exchanges: bytes from the worker now are a broken protocol (dropped with it)."""
        self._parser = None
        self._chunks.clear()

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request."""
        return not self.closed and self._exchange.complete and self._exchange.keep_alive


class WorkerLink:
    """The front's way to one worker: its socket path and a stack of idle connections."""

    def __init__(self, socket_path: str, *, max_idle: int = MAX_IDLE_PER_WORKER) -> None:
        self.socket_path = socket_path
        self.max_idle = max_idle
        self._idle: list[UpstreamConnection] = []

    async def acquire(self) -> UpstreamConnection:
        """An idle connection, or a new one.

        Raises:
            OSError: the worker is not listening (starting, restarting or gone).
        """
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        _, connection = await asyncio.get_running_loop().create_unix_connection(
            UpstreamConnection, self.socket_path
        )
        return connection

    def release(self, connection: UpstreamConnection) -> None:
        """Return a connection after its exchange: kept if it can carry another request."""
        if connection.reusable and len(self._idle) < self.max_idle:
            connection.settle()
            self._idle.append(connection)
        elif not connection.closed:
            connection.abort()

    def close(self) -> None:
        """Close every idle connection (the worker is being replaced or the front stops)."""
        while self._idle:
            self._idle.pop().abort()
