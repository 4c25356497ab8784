"""Connections from the front (``web/front.py``) to one worker process, over its private Unix socket.

A :class:`WorkerLink` keeps idle keep-alive connections to one worker and hands one out per
request: a connection carries one request at a time (no pipelining), so the end of each answer is
known from the worker's own framing (``Content-Length`` or chunked), parsed with ``httptools``.
The answer's bytes go to the caller's ``sink`` exactly as the worker wrote them, as they arrive,
so event streams flow through unbuffered; nothing here reads or rewrites an answer.

This module must not look at tokens or bodies, nor log anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httptools

__all__ = ["Exchange", "UpstreamConnection", "WorkerLink"]

#: Idle connections kept per worker; more are opened under load and closed when returned.
MAX_IDLE_PER_WORKER = 64


class Exchange:
    """How one request's answer went: the status (``None`` if none came) and whether it completed."""

    __slots__ = ("body", "complete", "keep_alive", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.complete = False
        self.keep_alive = False
        #: The answer's body, only when the exchange was made without a sink (``capture``).
        self.body = bytearray()

    @classmethod
    def answered(cls, status: int, *, keep_alive: bool) -> Exchange:
        """An exchange the front completed itself, with ``status``."""
        exchange = cls()
        exchange.status, exchange.complete, exchange.keep_alive = status, True, keep_alive
        return exchange


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to a worker; :meth:`exchange` sends a request and relays its answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._sink: Callable[[bytes], object] | None = None
        self._done: asyncio.Future[None] | None = None
        self._exchange = Exchange()
        self._head_only = False
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream socket, never a datagram one
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the worker broke the protocol
            self.abort()
            return
        if self._sink is not None:
            self._sink(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._head_only and self._exchange.status is not None:
            self._exchange.complete = True  # a HEAD answer ends with the connection we asked to close
        self._finish()

    # -- httptools callbacks -------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._exchange.status = self._parser.get_status_code()
        self._exchange.keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self._sink is None:
            self._exchange.body += body

    def on_message_complete(self) -> None:
        self._exchange.complete = True
        self._finish()

    # -- use -----------------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def abort(self) -> None:
        """Drop the connection now (the client went away, or the worker misbehaved)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._finish()

    async def exchange(
        self, request: bytes, sink: Callable[[bytes], object] | None, *, head_only: bool = False
    ) -> Exchange:
        """Send ``request`` and relay the answer to ``sink`` (or keep its body, if ``sink`` is None).

        ``head_only`` marks a HEAD request, sent with ``Connection: close``: its answer declares a
        body it does not send, so it ends when the worker closes the connection.
        """
        assert self.transport is not None and self._done is None
        self._exchange = exchange = Exchange()
        self._parser = httptools.HttpResponseParser(self)
        self._sink = sink
        self._head_only = head_only
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await self._done
        finally:
            self._done = None
            self._parser = None
            self._sink = None
        return exchange

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
            self._idle.append(connection)
        elif not connection.closed:
            connection.abort()

    def close(self) -> None:
        """Close every idle connection (the worker is being replaced or the front stops)."""
        while self._idle:
            self._idle.pop().abort()
