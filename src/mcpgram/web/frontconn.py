"""One client connection of the multi-worker front (``web/front.py``): parsing, edge limits, pipelining.

:class:`ClientConnection` parses requests with ``httptools``, holds them to the front's
:class:`~mcpgram.web.edge.EdgeLimits` (time limits, sizes, the connection cap), queues at most
:data:`MAX_QUEUED` of them and has the front serve them one at a time, in order. Its own refusals
are answered in order after the answers before them; then the connection lingers and closes.

Must not: log or keep a token, or keep anything once the connection is closed (the parser, which
holds this protocol's bound methods, is dropped then, and no timer outlives it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

import httptools

from .edge import (
    BAD_REQUEST,
    TOO_MANY_CONNECTIONS,
    EdgeLimits,
    headers_too_large,
    target_too_long,
    timed_out,
    too_many_headers,
)
from .frontwire import FrontRequest, Refusal, origin_form
from .upstream import UpstreamConnection

__all__ = ["LINGER_SECONDS", "MAX_QUEUED", "MAX_REFUSED", "ClientConnection", "Front"]

_log = logging.getLogger("mcpgram.web.front")

#: Seconds a refused connection is drained before it closes (see ``ClientConnection._linger``).
LINGER_SECONDS = 2.0
#: Connections over ``max_connections`` answered 503 at once; past that they are closed unanswered.
MAX_REFUSED = 64
#: Requests a client may queue on one connection (HTTP pipelining) before the front stops reading:
#: each holds up to ``max_body_bytes`` in memory.
MAX_QUEUED = 2


class Front(Protocol):
    """What a connection needs of the front that accepted it (``web/front.py``'s ``FrontServer``)."""

    limits: EdgeLimits
    max_body_bytes: int
    scheme: str
    connections: set[ClientConnection]
    refused: set[ClientConnection]

    def refusal(self, refusal: Refusal, *, retry_after: float | None = None) -> bytes: ...

    async def forward(self, request: FrontRequest, client: ClientConnection) -> bool: ...


class _Stop(Exception):
    """Raised in a parser callback to stop parsing after a refusal was queued."""


class ClientConnection(asyncio.Protocol):
    """One client connection: parses requests, queues them, and serves them one at a time."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.upstream: UpstreamConnection | None = None  # while an answer is relayed
        self.peer_ip = ""
        self.peer_port = 0
        self.peer_line = ""
        self.queue: deque[FrontRequest | Refusal] = deque()
        self._wake = asyncio.Event()
        # The parser holds this protocol's bound methods: a cycle, broken in connection_lost so a
        # closed connection is freed at once, not by the next full collection.
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._reset()
        self._timer: asyncio.TimerHandle | None = None  # idle: no request under way (or lingering)
        self._read_timer: asyncio.TimerHandle | None = None  # the head or body being read
        self._reading_head = True  # between requests, or inside a request's head
        self._head_started = False  # some byte of the coming request has arrived
        self._boundary_in_chunk = False  # a request ended inside the current read
        self._head_raw = 0  # bytes of a head still arriving, counted in whole reads
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._lingering = False
        self._eof = False

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body = bytearray()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer_ip, self.peer_port = str(peer[0]), int(peer[1])
        local = transport.get_extra_info("sockname")
        server = f"{local[0]} {int(local[1])}" if isinstance(local, tuple) and len(local) >= 2 else "- 0"
        self.peer_line = f"{self.front.scheme} {self.peer_ip or '-'} {self.peer_port} {server}"
        if len(self.front.connections) >= self.front.limits.max_connections:
            if len(self.front.refused) >= MAX_REFUSED:  # a flood: no answer, no descriptor held
                transport.abort()
                return
            self.front.refused.add(self)
            self.write(self.front.refusal(TOO_MANY_CONNECTIONS))
            self._linger()  # not served: answered, then closed within LINGER_SECONDS
            return
        self.front.connections.add(self)
        self._arm(self.front.limits.header_timeout)  # a connection that never sends a byte
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self._lingering or self._parser is None:
            return  # after a refusal: read and drop what the client still sends, then close
        if self._reading_head and not self._head_started:
            self._head_started = True
            self._arm_read(self.front.limits.header_timeout, "head")
        self._boundary_in_chunk = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            return  # refused in on_message_complete, which always runs first
        except (httptools.HttpParserError, _Stop) as exc:
            if not isinstance(exc, _Stop) and not isinstance(exc.__context__, _Stop):
                self._refuse(BAD_REQUEST)
            return
        if self._reading_head and not self._boundary_in_chunk:
            # Every byte of this read belongs to a head still incomplete; the parser holds a header
            # field it has not finished, so bound what it can be made to keep.
            self._head_raw += len(data)
            if self._head_raw > self.front.limits.max_raw_head_bytes:
                self._refuse(headers_too_large(self.front.limits.max_header_bytes))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.front.connections.discard(self)
        self.front.refused.discard(self)
        self._cancel_read_timer()
        self._parser = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        upstream = self.upstream
        if upstream is not None:
            upstream.abort()  # the worker sees the client leave
        self._wake.set()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()
        # The bytes of this read before the head began were blank lines, if any: all count.
        self._reading_head = self._head_started = True
        self._head_raw = 0
        if self._read_timer is None:
            self._arm_read(self.front.limits.header_timeout, "head")

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.front.limits.max_target_bytes:
            self._stop(target_too_long(self.front.limits.max_target_bytes))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4  # ": " and the line end
        limits = self.front.limits
        if len(self._headers) > limits.max_header_count:
            self._stop(too_many_headers(limits.max_header_count))
        if self._header_bytes > limits.max_header_bytes:
            self._stop(headers_too_large(limits.max_header_bytes))

    def _stop(self, refusal: Refusal) -> None:
        self._refuse(refusal)
        raise _Stop

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._arm_read(self.front.limits.body_timeout, "body")
        length: int | None = None
        declared = [value for name, value in self._headers if name.lower() == b"content-length"]
        if declared and declared[0].strip().isdigit():
            length = int(declared[0])
        if length is not None and length > self.front.max_body_bytes:
            self._refuse(self._too_large())
            raise _Stop
        expects = any(
            name.lower() == b"expect" and value.lower() == b"100-continue" for name, value in self._headers
        )
        if expects and self.transport is not None and not self.queue and self.upstream is None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > self.front.max_body_bytes:
            self._refuse(self._too_large())
            raise _Stop

    def on_message_complete(self) -> None:
        self._cancel_read_timer()
        self._reading_head, self._head_started, self._boundary_in_chunk = True, False, True
        self._head_raw = 0
        parser = self._parser
        assert parser is not None  # called from its own feed_data
        if parser.should_upgrade():  # CONNECT, or Upgrade: websocket / h2c
            self._refuse(Refusal(400, "UPGRADE_NOT_SUPPORTED", "Protocol upgrades are not supported."))
            raise _Stop
        target = origin_form(self._url, self._headers, self.front.scheme)
        if isinstance(target, Refusal):
            self._refuse(target)
            raise _Stop
        request = FrontRequest(
            method=parser.get_method(),
            target=target,
            version=parser.get_http_version(),
            headers=self._headers,
            body=bytes(self._body),
            keep_alive=parser.should_keep_alive(),
        )
        self._reset()
        self.queue.append(request)
        if len(self.queue) >= MAX_QUEUED and self.transport is not None:
            self.transport.pause_reading()
        self._wake.set()

    # -- serving -------------------------------------------------------------------------------

    def _too_large(self) -> Refusal:
        limit = self.front.max_body_bytes
        message = f"The request body is larger than the server accepts ({limit} bytes)."
        return Refusal(413, "BODY_TOO_LARGE", message)

    def _refuse(self, refusal: Refusal) -> None:
        self._cancel_read_timer()
        self.queue.append(refusal)
        if self.transport is not None:
            self.transport.pause_reading()  # nothing after a refusal is read
        self._wake.set()

    def _arm(self, seconds: float) -> None:
        """Close the connection after ``seconds`` unless a request is under way by then."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed:
            return  # no timer (holding this connection) outlives it
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.upstream is None and not self.queue and not self._head_started:
            self.close()

    def _arm_read(self, seconds: float, part: str) -> None:
        """Refuse with 408 unless the request's ``part`` has arrived within ``seconds``."""
        self._cancel_read_timer()
        if self._closed:
            return
        refusal = timed_out(part, seconds)
        self._read_timer = asyncio.get_running_loop().call_later(seconds, self._refuse, refusal)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self._closed:
            self.transport.write(data)

    def _linger(self) -> None:
        """Close after a refusal without resetting the connection under the client's feet.

        Closing a socket with unread input sends a reset, and a client still sending its body
        would lose the answer: so send the answer and our FIN, and read and drop the rest of the
        input until the client closes, for :data:`LINGER_SECONDS` at most.
        """
        transport = self.transport
        if transport is None or self._closed:
            return
        self._lingering = True
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, self.close)

    def eof_received(self) -> bool | None:
        """The client will send nothing more: answer what it sent (keep the transport), then close."""
        self._eof = True
        self._wake.set()
        if self._lingering:
            self.close()
        return True

    def close(self) -> None:
        if self.transport is not None and not self._closed:
            self._closed = True
            self.transport.close()

    async def _serve(self) -> None:
        while not self._closed:
            if not self.queue:
                if self._eof:
                    self.close()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self.queue.popleft()
            if isinstance(item, Refusal):
                self.write(self.front.refusal(item))
                self._linger()
                return
            if self._timer is not None:
                self._timer.cancel()
            try:
                keep = await self.front.forward(item, self)
            except Exception:  # the outermost boundary of a connection: log the kind, close
                _log.exception("front.request_failed")
                keep = False
            if not keep:
                self.close()
                return
            if self.transport is not None and len(self.queue) < MAX_QUEUED:
                self.transport.resume_reading()
            self._arm(self.front.limits.keep_alive_timeout)
