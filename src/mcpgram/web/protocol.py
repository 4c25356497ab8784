"""The HTTP/1.1 protocol the gateway serves with: uvicorn's, keeping the raw request target, with edge limits.

uvicorn builds the ASGI scope from the path of the request target only, so an absolute-form
request (``POST http://other.example/v1/mcp HTTP/1.1``) would reach the app looking like
``POST /v1/mcp``, its authority silently dropped. :class:`TargetKeepingProtocol` leaves the raw
target in the scope (:data:`~mcpgram.web.hostguard.REQUEST_TARGET_KEY`), so
:class:`~mcpgram.web.hostguard.HostGuardMiddleware` can hold the authority to the ``Host`` rules.

Its subclass :class:`EdgeProtocol` (built by :func:`edge_protocol` from ``web/edge.py``'s
:class:`~mcpgram.web.edge.EdgeLimits`) is what a public
listener uses. It adds what uvicorn lacks, all enforced before the app (and so before any token is
looked at):

- a time limit for the request head (from the connection's start, or from the first byte of a later
  request) and one for the request body: a trickling client gets ``408`` and the connection closes;
  a connection that sent nothing is closed silently;
- a cap on open connections: past it a new connection gets ``503`` (``Retry-After: 1``) at once,
  and past :data:`MAX_REFUSED` more (a flood) it is closed unanswered;
- limits on the request target (``414``), the number of header fields and their total size (``431``),
  checked while the head is read, so an oversized head is never buffered whole;
- every refusal the server makes itself (these, and a malformed request's ``400``) is a JSON body
  ``{"error": CODE, "message": ...}`` with the security headers, like the app's own refusals.

After a refusal the write side is shut and the rest of the client's bytes are read and dropped for a
moment before the socket closes, so the client reads the refusal instead of a reset. The idle time
between requests is uvicorn's ``timeout_keep_alive``. Pass the protocol as ``uvicorn.Config(http=...)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .edge import (
    BAD_REQUEST,
    TOO_MANY_CONNECTIONS,
    EdgeLimits,
    Refusal,
    error_response,
    headers_too_large,
    target_too_long,
    timed_out,
    too_many_headers,
)
from .hostguard import REQUEST_TARGET_KEY

__all__ = ["EdgeLimits", "EdgeProtocol", "Refusal", "TargetKeepingProtocol", "edge_protocol", "refusal_bytes"]

_log = logging.getLogger("mcpgram.web.edge")

#: How long a refused connection keeps reading (and dropping) the client's bytes before it closes.
LINGER_SECONDS = 2.0
#: Connections over ``max_connections`` answered 503 (and lingering); past that, closed unanswered.
MAX_REFUSED = 64
#: Refused connections are logged at most this often (seconds): a flood must not flood the log.
CAP_WARNING_INTERVAL = 60.0


class TargetKeepingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the raw request target in the scope."""

    def on_headers_complete(self) -> None:
        # The scope is created per request in on_message_begin; the app starts after this returns.
        self.scope[REQUEST_TARGET_KEY] = bytes(self.url)  # type: ignore[literal-required]
        super().on_headers_complete()


def refusal_bytes(refusal: Refusal, *, hsts: bool, extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """The whole response for ``refusal``: JSON body, security headers, ``connection: close``."""
    return error_response(
        refusal.status,
        refusal.code,
        refusal.message,
        hsts=hsts,
        retry_after=refusal.retry_after,
        close=True,
        extra=extra or (),
    )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal waits in ``_refusal``."""


class EdgeProtocol(TargetKeepingProtocol):
    """:class:`TargetKeepingProtocol` with the limits of :attr:`limits` (see the module docstring)."""

    limits: ClassVar[EdgeLimits] = EdgeLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._reading_head = True  # between requests, or inside a request's head
        self._head_started = False  # some byte of the coming request has arrived
        self._boundary_in_chunk = False  # a request ended inside the current read
        self._head_raw = 0  # bytes of a head still arriving, counted in whole reads
        self._header_count = 0
        self._header_bytes = 0
        self._refusal: Refusal | None = None
        self._refused = False

    # --- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            _warn_over_cap(self.limits.max_connections)
            if len(self.connections) > self.limits.max_connections + MAX_REFUSED:
                transport.abort()  # a flood: no answer, no descriptor held while lingering
                return
            self._refuse(TOO_MANY_CONNECTIONS)
            return
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self._refused:
            self.transport.close()
        else:
            super().shutdown()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: drop what the client still sends
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_started = True
            if self._timer is None:
                self._arm(self.limits.header_timeout, self._head_timed_out)
        self._boundary_in_chunk = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._cancel_timer()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._refuse(self._refusal or BAD_REQUEST)
            return
        if self._reading_head and not self._boundary_in_chunk:
            # Every byte of this read belongs to a head that is still incomplete; the parser holds a
            # header field it has not finished, so bound what it can be made to keep. (After a read
            # that ended a request too, the rest of it goes uncounted: at most one read, 256 KiB.)
            self._head_raw += len(data)
            limits = self.limits
            if self._head_raw > limits.max_raw_head_bytes:
                self._refuse(headers_too_large(limits.max_header_bytes))

    def send_400_response(self, msg: str) -> None:
        del msg  # uvicorn's plain-text reason; ours is JSON
        self._refuse(BAD_REQUEST)

    # --- parser callbacks ------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The bytes of this read before the head began were blank lines, if any: all count.
        self._reading_head = self._head_started = True
        self._head_raw = self._header_count = self._header_bytes = 0
        if self._timer is None:
            self._arm(self.limits.header_timeout, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_target_bytes:
            self._stop(target_too_long(self.limits.max_target_bytes))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4  # ": " and the line end
        if self._header_count > self.limits.max_header_count:
            self._stop(too_many_headers(self.limits.max_header_count))
        if self._header_bytes > self.limits.max_header_bytes:
            self._stop(headers_too_large(self.limits.max_header_bytes))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_timer()
        super().on_headers_complete()
        self._arm(self.limits.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._cancel_timer()
        self._reading_head, self._head_started, self._boundary_in_chunk = True, False, True
        self._head_raw = 0
        super().on_message_complete()

    # --- refusing --------------------------------------------------------------------------------

    def _stop(self, refusal: Refusal) -> None:
        self._refusal = refusal
        raise _Refused

    def _head_timed_out(self) -> None:
        self._timer = None
        if not self._head_started:
            self.transport.close()  # opened and never used: nobody to answer
            return
        self._refuse(timed_out("head", self.limits.header_timeout))

    def _body_timed_out(self) -> None:
        self._timer = None
        self._refuse(timed_out("body", self.limits.body_timeout))

    def _refuse(self, refusal: Refusal) -> None:
        """Answer ``refusal`` (unless a response is already under way), then close the connection."""
        if self._refused:
            return
        self._refused = True
        self._cancel_timer()
        self._unset_keepalive_if_required()
        self.pipeline.clear()
        cycle = self.cycle
        # Reading a head, ``cycle`` is the previous request's: answer unless its response is under
        # way. Reading a body, it is this request's: answer unless the app already did (a client that
        # got its 401 and keeps trickling a body is just closed).
        answered = cycle is not None and cycle.response_started
        if self._reading_head and cycle is not None and cycle.response_complete:
            answered = False
        if cycle is not None and not cycle.response_complete:
            # The app, if it is still running, sees a disconnect, and whatever it sends is dropped.
            cycle.disconnected = True
            cycle.waiting_for_100_continue = False
            cycle.message_event.set()
        if not answered and not self.transport.is_closing():
            extra = list(self.server_state.default_headers)
            self.transport.write(refusal_bytes(refusal, hsts=self.limits.hsts, extra=extra))
        self.flow.resume_reading()
        if self.transport.can_write_eof() and not self.transport.is_closing():
            # Shut our side, keep reading (and dropping) for a moment: closing with unread bytes
            # would reset the connection, and the client could lose the refusal.
            self.transport.write_eof()
            self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _arm(self, seconds: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


_cap_warned_at = [-CAP_WARNING_INTERVAL]  # monotonic time of the last warning, in a cell


def _warn_over_cap(limit: int) -> None:
    """Logs that connections are being refused, at most once per :data:`CAP_WARNING_INTERVAL`."""
    now = time.monotonic()
    if now - _cap_warned_at[0] >= CAP_WARNING_INTERVAL:
        _cap_warned_at[0] = now
        _log.warning("http.too_many_connections", extra={"max_connections": limit})


def edge_protocol(limits: EdgeLimits) -> type[EdgeProtocol]:
    """An :class:`EdgeProtocol` class enforcing ``limits`` (uvicorn instantiates it per connection)."""

    class ConfiguredEdgeProtocol(EdgeProtocol):
        pass

    ConfiguredEdgeProtocol.limits = limits
    return ConfiguredEdgeProtocol
