"""The edge limits of a public HTTP listener, and the refusals a server writes itself: pure, shared.

Both public listeners hold connections to the same :class:`EdgeLimits` (the ``MCPGRAM_HTTP_*`` and
``MCPGRAM_MAX_*`` settings) and refuse with the same answers: the single-process server's protocol
(``web/protocol.py``) and the multi-worker front (``web/front.py``). Each refusal is a
:class:`Refusal`, written by :func:`error_response` as a JSON body ``{"error": CODE, "message": ...}``
with the security headers, like the app's own refusals.

Must not: do I/O or log.
"""

from __future__ import annotations

import http
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..configs import HttpConfig
from .security import security_headers, serves_https

__all__ = [
    "BAD_REQUEST",
    "TOO_MANY_CONNECTIONS",
    "EdgeLimits",
    "Refusal",
    "error_response",
    "headers_too_large",
    "refusal_parts",
    "target_too_long",
    "timed_out",
    "too_many_headers",
]

#: Room for the method, version and line ends on top of the target and header limits, when the raw
#: size of a head that is still arriving is checked.
REQUEST_LINE_ALLOWANCE = 1024


@dataclass(frozen=True)
class EdgeLimits:
    """What one public listener allows a connection (the ``MCPGRAM_HTTP_*`` and ``max_*`` settings)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000
    max_header_count: int = 100
    max_header_bytes: int = 16_384
    max_target_bytes: int = 8192
    hsts: bool = False

    @classmethod
    def from_config(cls, config: HttpConfig) -> EdgeLimits:
        """The limits the settings of the same names give."""
        return cls(
            header_timeout=config.http_header_timeout,
            body_timeout=config.http_body_timeout,
            keep_alive_timeout=config.http_keep_alive_timeout,
            max_connections=config.max_connections,
            max_header_count=config.max_header_count,
            max_header_bytes=config.max_header_bytes,
            max_target_bytes=config.max_target_bytes,
            hsts=serves_https(config),
        )

    @property
    def max_raw_head_bytes(self) -> int:
        """Bytes of a head still arriving past which it is refused (431) rather than buffered on."""
        return self.max_header_bytes + self.max_target_bytes + REQUEST_LINE_ALLOWANCE


@dataclass(frozen=True)
class Refusal:
    """An answer the server gives itself; the connection closes after it (except after a 429)."""

    status: int
    code: str
    message: str
    retry_after: int | None = None


BAD_REQUEST = Refusal(400, "BAD_REQUEST", "The request is not well-formed HTTP/1.1.")
TOO_MANY_CONNECTIONS = Refusal(503, "TOO_MANY_CONNECTIONS", "The server has too many open connections.", 1)


def target_too_long(limit: int) -> Refusal:
    return Refusal(414, "TARGET_TOO_LONG", f"The request target is longer than {limit} bytes.")


def too_many_headers(limit: int) -> Refusal:
    return Refusal(431, "TOO_MANY_HEADERS", f"The request has more than {limit} header fields.")


def headers_too_large(limit: int) -> Refusal:
    return Refusal(431, "HEADERS_TOO_LARGE", f"The request's header fields are larger than {limit} bytes.")


def timed_out(part: str, seconds: float) -> Refusal:
    """408 for a request ``part`` (``"head"`` or ``"body"``) that took longer than ``seconds``."""
    return Refusal(408, "REQUEST_TIMEOUT", f"The request {part} did not arrive within {seconds:g} s.")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    hsts: bool,
    retry_after: float | None = None,
    close: bool = False,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """A whole JSON refusal, shaped like the app's (``{"error", "message"}``, security headers).

    The one builder of refusals written as raw bytes: the front's own and the single-process
    server's (``web/protocol.py``, which passes uvicorn's default headers as ``extra``).
    """
    reason = _REASONS.get(status) or http.HTTPStatus(status).phrase
    headers, body = refusal_parts(code, message, hsts=hsts, retry_after=retry_after, close=close)
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())]
    lines += [b"%s: %s\r\n" % item for item in [*extra, *headers]]
    return b"".join(lines) + b"\r\n" + body


def refusal_parts(
    code: str, message: str, *, hsts: bool, retry_after: float | None = None, close: bool = False
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and JSON body of a refusal, for a server that frames the answer itself (ASGI)."""
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % max(1, math.ceil(retry_after))))
    if close:
        headers.append((b"connection", b"close"))
    headers += [(name.encode(), value.encode()) for name, value in security_headers(hsts=hsts)]
    return headers, body


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
