"""Connections from the front (``web/front.py``) to one worker process, over its private Unix socket.

A :class:`WorkerLink` keeps idle keep-alive connections to one worker and hands one out per
request: a connection carries one request at a time (no pipelining), so the end of each answer is
known from the worker's own framing (``Content-Length`` or chunked), parsed with ``httptools``.
The answer's head goes to the caller's ``sink`` without its hop-by-hop headers (``frontwire.
relayed_head``); its body exactly as the worker wrote it, as it arrives, so event streams flow
through unbuffered. An answer that has not begun within ``head_seconds`` is abandoned
(``Exchange.timed_out``): the connection is dropped, so the worker sees the client leave.

This module must not look at tokens or bodies, nor log anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httptools

from .frontwire import HOP_BY_HOP, relayed_head

__all__ = ["Exchange", "UpstreamConnection", "WorkerLink"]

_SCREENED = HOP_BY_HOP  # an answer with none of these (nor proxy-*) passes unchanged
#: Idle connections kept per worker; more are opened under load and closed when returned.
MAX_IDLE_PER_WORKER = 64


class Exchange:
    """How one request's answer went: the status (``None`` if none came) and whether it completed."""

    __slots__ = ("body", "complete", "keep_alive", "status", "timed_out")

    def __init__(self) -> None:
        self.status: int | None = None
        self.complete = False
        self.keep_alive = False
        #: No answer began within the exchange's ``head_seconds``; nothing was relayed.
        self.timed_out = False
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
        self._head: bytearray | None = None  # the answer's head, until it is complete
        self._headers: list[tuple[bytes, bytes]] = []
        self._close_client = False
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream socket, never a datagram one
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the worker broke the protocol
            self.abort()
            return
        if self._head is not None:
            self._head += data  # relayed, rewritten, by on_headers_complete
        elif self._sink is not None:
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

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None and self._head is not None
        if self._timer is not None:
            self._timer.cancel()
        self._exchange.status = self._parser.get_status_code()
        self._exchange.keep_alive = self._parser.should_keep_alive()
        head, self._head = self._head, None
        end = head.find(b"\r\n\r\n")
        if end < 0:  # a head without CRLF line ends: not one our workers write
            raise httptools.HttpParserError("head")
        if self._sink is None:
            return
        close = self._close_client or not self._exchange.keep_alive
        if not close and not any(
            name.lower() in _SCREENED or name[:6].lower() == b"proxy-" for name, _ in self._headers
        ):
            self._sink(bytes(head))  # nothing hop-by-hop in it (the usual answer): relayed as is
            return
        status_line = bytes(head[: head.find(b"\r\n")])
        self._sink(relayed_head(status_line, self._headers, close=close) + head[end + 4 :])

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

    def _head_expired(self) -> None:
        if self._head is not None:
            self._exchange.timed_out = True
            self.abort()

    async def exchange(
        self,
        request: bytes,
        sink: Callable[[bytes], object] | None,
        *,
        head_only: bool = False,
        close_client: bool = False,
        head_seconds: float | None = None,
    ) -> Exchange:
        """Send ``request`` and relay the answer to ``sink`` (or keep its body, if ``sink`` is None).

        ``head_only`` marks a HEAD request, sent with ``Connection: close``: its answer declares a
        body it does not send, so it ends when the worker closes the connection. ``close_client``
        adds ``Connection: close`` to the relayed head (the front closes the client's connection
        after it); so does a worker's own close. ``head_seconds`` bounds the wait for the head.
        """
        assert self.transport is not None and self._done is None
        self._exchange = exchange = Exchange()
        self._parser = httptools.HttpResponseParser(self)
        self._sink = sink
        self._head_only = head_only
        self._head = bytearray()
        self._headers = []
        self._close_client = close_client
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        if head_seconds is not None:
            self._timer = loop.call_later(head_seconds, self._head_expired)
        self.transport.write(request)
        try:
            await self._done
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._done = None
            self._parser = None
            self._sink = None
            self._head = None
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
