"""Edge middleware that every HTTP response passes through: headers, body limit, access log.

Pure ASGI classes (no ``BaseHTTPMiddleware``), so streamed MCP responses are never buffered.
- :class:`SecurityHeadersMiddleware` stamps the security headers on every response, errors included.
- :class:`BodyLimitMiddleware` answers 413 before reading past the limit.
- :class:`AccessLogMiddleware` writes our own access log: method, redacted path, status, duration
  and the tenant's label (``log.tenant_label``, as on audit and application lines). It never
  logs a query string, a header or a token; uvicorn's own access log must stay off
  (``access_log=False``) because it prints the raw request line.
- :class:`TenantTagMiddleware` sits inside FastMCP's authentication and tells the access log
  which tenant the request turned out to be.
This module must not look up tokens or tenants: it only reads what the verifier already decided.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import auth
from ..log import tenant_label

_access_log = logging.getLogger("mcpgram.web.access")

#: Sent on every response. The API serves JSON and event streams only, so nothing may be framed,
#: sniffed, cached or referred.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
)
HSTS_HEADER = ("Strict-Transport-Security", "max-age=31536000")

#: Where :class:`AccessLogMiddleware` leaves its per-request record in the ASGI scope. The record
#: is shared by reference, so inner layers that copy the scope still fill in the same one.
ACCESS_RECORD_KEY = "mcpgram.access"

URL_AUTH_PREFIX = "/v1/url_auth"
_TOKEN_LIKE = re.compile(rf"{auth.PREFIX}[A-Za-z0-9_-]*", re.IGNORECASE)
_MAX_LOGGED_PATH = 200


def json_error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON body every refusal at the edge uses: ``{"error": code, "message": message}``.

    Args:
        status: HTTP status code.
        code: Stable machine-readable error code.
        message: One client-safe sentence (no secrets, no echo of the request).
        headers: Extra response headers, e.g. ``WWW-Authenticate``.
    """
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def security_headers(*, hsts: bool) -> list[tuple[str, str]]:
    """The security headers to send, with HSTS only when the server is reached over HTTPS."""
    return [*SECURITY_HEADERS, HSTS_HEADER] if hsts else list(SECURITY_HEADERS)


def serves_https(http_config: object) -> bool:
    """Whether clients reach the server over HTTPS (own TLS, or an https public URL): then HSTS."""
    tls_cert = getattr(http_config, "tls_cert", None)
    return tls_cert is not None or str(getattr(http_config, "public_url", "") or "").lower().startswith(
        "https:"
    )


def redact_path(path: str) -> str:
    """The request path as the access log may show it: no url_auth token, nothing token-like.

    ``/v1/url_auth/<anything>/mcp/x`` becomes ``/v1/url_auth/[redacted]/mcp/x``; any other
    ``mcpg_...`` run becomes ``[redacted]``; long paths are cut short.
    """
    if path == URL_AUTH_PREFIX or path.startswith(URL_AUTH_PREFIX + "/"):
        # Same split as the url_auth rewrite: the first segment is the token, whatever it holds.
        _, _, tail = path[len(URL_AUTH_PREFIX) + 1 :].partition("/")
        keep = "/" + tail if tail == "mcp" or tail.startswith("mcp/") else ""
        path = URL_AUTH_PREFIX + "/[redacted]" + keep
    path = _TOKEN_LIKE.sub("[redacted]", path)
    if len(path) > _MAX_LOGGED_PATH:
        path = path[:_MAX_LOGGED_PATH] + "..."
    return path


@dataclass
class AccessRecord:
    """What inner layers learn about a request that the access log wants to show."""

    tenant: str | None = None


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` (and HSTS when ``hsts``) to every HTTP response.

    Our values replace the app's, except that an app's ``no-transform`` (set on event streams so
    proxies do not buffer them) is kept next to ``no-store``.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                keep_no_transform = "no-transform" in headers.get("cache-control", "").lower()
                # The /setup pages set their own (still strict) policy: their CSS and JS from 'self',
                # and a same-origin referrer (with no-referrer, Chromium posts forms with Origin: null).
                page_csp = headers.get("content-security-policy", "")
                page_referrer = headers.get("referrer-policy", "")
                for name, value in self.headers:
                    headers[name] = value
                if page_csp.startswith("default-src 'none'"):
                    headers["Content-Security-Policy"] = page_csp
                    if page_referrer == "same-origin":
                        headers["Referrer-Policy"] = page_referrer
                if keep_no_transform:
                    headers["Cache-Control"] = "no-store, no-transform"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, without reading past the limit.

    A declared ``Content-Length`` is checked before the app runs; the ASGI server enforces that
    the body matches it. A body without one (chunked) is read here, chunk by chunk, and the app
    only runs once the whole body is known to fit; it then receives the body as one message.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        return json_error(
            413,
            "BODY_TOO_LARGE",
            f"The request body is larger than the server accepts ({self.max_bytes} bytes).",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [value for name, value in scope["headers"] if name.lower() == b"content-length"]
        if declared:
            if len(set(declared)) != 1 or not declared[0].strip().isdigit():
                response = json_error(400, "BAD_CONTENT_LENGTH", "The Content-Length header is not valid.")
                await response(scope, receive, send)
            elif int(declared[0]) > self.max_bytes:
                await self._too_large()(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before finishing its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        await self.app(scope, replay, send)


class AccessLogMiddleware:
    """One ``http.request`` log line per request, with no secrets in it.

    Fields (``extra``): ``method``, ``path`` (see :func:`redact_path`), ``status``,
    ``duration_ms`` and ``tenant`` (:func:`~mcpgram.log.tenant_label`: the label the audit and
    application lines of the same request carry; ``None`` when unauthenticated).
    """

    def __init__(self, app: ASGIApp, *, logger: logging.Logger = _access_log) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = AccessRecord()
        scope[ACCESS_RECORD_KEY] = record
        # Captured before inner layers rewrite the path (url_auth); only the redacted form is kept.
        path = redact_path(scope["path"])
        status = 500
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.logger.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "tenant": tenant_label(record.tenant) if record.tenant else None,
                },
            )


def authenticated_tenant(scope: Scope) -> str | None:
    """The tenant FastMCP's authentication put in the scope, or ``None``; valid inside that layer."""
    access_token = getattr(scope.get("user"), "access_token", None)
    client_id = getattr(access_token, "client_id", None)
    return client_id if isinstance(client_id, str) else None


class TenantTagMiddleware:
    """Copies the authenticated tenant into the access record; goes inside FastMCP's auth middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = scope.get(ACCESS_RECORD_KEY)
        tenant = authenticated_tenant(scope)
        if isinstance(record, AccessRecord) and tenant is not None:
            record.tenant = tenant
        await self.app(scope, receive, send)


#: Set by the multi-worker front (``web/front.py``) on every request it forwards to a worker.
FRONT_PEER_HEADER = b"x-mcpgram-peer"
#: Where :class:`FrontPeerMiddleware` notes that the front has locked the client's address out
#: (``True``); the worker's rate limiter then treats the request as locked out too.
FRONT_LOCKED_KEY = "mcpgram.front_locked"


class FrontPeerMiddleware:
    """In a worker behind the front: the client's and the server's address from the front's header.

    The header (:data:`FRONT_PEER_HEADER`) reads ``<scheme> <client ip> <client port> <server ip>
    <server port>``, plus `` locked`` when the front has locked the client's address out for failed
    authentications (:data:`FRONT_LOCKED_KEY`): what ``scope["scheme"]``, ``scope["client"]`` and
    ``scope["server"]`` would hold had the worker accepted the connection itself (the Host check and
    the rate limits read them). A worker listens on a Unix socket only the front can reach, so the
    socket says nothing and the front's header is the truth; it is removed here, so no inner layer
    sees it. Without it (the front always sends it) the client is unknown. Only for workers: a
    public listener must never read it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            peer = [value for name, value in headers if name == FRONT_PEER_HEADER]
            scope["headers"] = [item for item in headers if item[0] != FRONT_PEER_HEADER]
            scope["client"] = None
            parts = peer[0].decode("latin-1").split(" ") if len(peer) == 1 else []
            if parts[5:] == ["locked"]:
                scope[FRONT_LOCKED_KEY] = True
                del parts[5:]
            if len(parts) == 5 and parts[2].isdigit() and parts[4].isdigit():
                scheme, client_host, client_port, server_host, server_port = parts
                if client_host != "-":
                    scope["client"] = (client_host, int(client_port))
                if server_host != "-":
                    scope["server"] = (server_host, int(server_port))
                if scheme in {"http", "https"}:
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)
