"""Assembles the HTTP edge around FastMCP's streamable-HTTP app, in the order security needs.

Outermost first::

    ServerErrorMiddleware (Starlette; its 500 carries the security headers too)
    AccessLogMiddleware        one token-free line per request, with the original path redacted
    SecurityHeadersMiddleware  on every response, refusals included
    HostGuardMiddleware        one well-formed allowed Host, an absolute-form target that agrees
                               with it, an Origin matching on scheme, host and port (400/421/403)
    CORSMiddleware             only when browser origins are configured
    RateLimitMiddleware        address locked out after too many 401s -> 429 without a token
                               lookup, unless a well-formed token comes (served if it verifies);
                               too many requests in flight -> 503; counts every 401 from below
    UrlAuthMiddleware          query tokens -> 400; /v1/url_auth/{token}/mcp -> /v1/mcp + header
    BodyLimitMiddleware        413 before the body is read past the limit
    router: /health            (behind FastMCP's Host/Origin guard too)
            /v1/attachments/*  signed download links (``web/attachments.py``): the capability in
                               the path is the credential, no bearer token
            everything else -> FastMCP's app: Host/Origin guard (421/403, laxer than ours, kept
                               as a second line) -> bearer auth
                               -> TenantTagMiddleware -> TenantThrottleMiddleware (429 per tenant)
                               -> 401 if unauthenticated (rewritten by UnauthorizedMiddleware
                               into mcpgram's JSON body and challenge) -> /v1/mcp

so the lockout, url_auth and the body limit act before FastMCP authenticates anything, and the
per-tenant budget applies once the verifier has named the tenant. MCP sessions close after
``mcp_session_idle_seconds`` without a request. The SDK has no absolute session lifetime; none is
needed for access control, because a session is bound to the bearer token that opened it and the
verifier checks that token against the vault on every request, so revoking or rotating it ends the
session's use at once. This module must not create the FastMCP server, the vault or the verifier:
the composition root passes them in.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from fastmcp import FastMCP
from fastmcp.server.auth import AuthProvider
from fastmcp.server.http import HostOriginGuardMiddleware
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.types import ASGIApp

from ..errors import ConfigError
from .health import PoolStatsSource, health_endpoint
from .hostguard import HostGuardMiddleware
from .ratelimit import Clock, EdgeLimiter, RateLimitMiddleware, TenantThrottleMiddleware
from .security import (
    ATTACHMENTS_PREFIX,
    AccessLogMiddleware,
    BodyLimitMiddleware,
    FrontPeerMiddleware,
    SecurityHeadersMiddleware,
    TenantTagMiddleware,
    json_error,
    security_headers,
    serves_https,
)
from .unauthorized import UnauthorizedMiddleware
from .urlauth import MCP_PATH, UrlAuthMiddleware

_CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Mcp-Session-Id",
    "Mcp-Protocol-Version",
    # 2026-07-28 requests name their method (and tool, resource or prompt) in headers too.
    "Mcp-Method",
    "Mcp-Name",
    "Last-Event-ID",
)
_CORS_EXPOSE_HEADERS = ("Mcp-Session-Id", "WWW-Authenticate", "Retry-After")


class HttpOptions(Protocol):
    """The parts of ``settings.HttpConfig`` the edge reads (any object with these attributes)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def public_url(self) -> object: ...
    @property
    def tls_cert(self) -> object: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def no_auth(self) -> bool: ...
    @property
    def auth_failures_per_minute(self) -> int: ...
    @property
    def requests_per_minute(self) -> int: ...
    @property
    def max_concurrent_requests(self) -> int: ...
    @property
    def trusted_proxies(self) -> Sequence[str]: ...
    @property
    def mcp_session_idle_seconds(self) -> float: ...


@dataclass(frozen=True)
class HostOriginOptions:
    """Arguments for FastMCP's Host/Origin guard (``FastMCP.http_app`` keyword arguments).

    With explicit ``allowed_hosts`` the guard checks Host on every request (wrong Host -> 421)
    and Origin whenever a browser sends one (foreign Origin -> 403). FastMCP always adds
    ``127.0.0.1``, ``localhost``, ``::1`` and the socket's own address to the allowed hosts.
    """

    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    host_origin_protection: Literal["auto"] = "auto"

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "host_origin_protection": self.host_origin_protection,
            "allowed_hosts": list(self.allowed_hosts),
            "allowed_origins": list(self.allowed_origins),
        }


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a bind address or name) only accepts connections from this machine."""
    host = host.strip().lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_wildcard_bind(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_unspecified
    except ValueError:
        return not host.strip()


def public_origin(public_url: object) -> tuple[str, str] | None:
    """``(hostname, origin)`` of the public URL, e.g. ``("gw.example", "https://gw.example")``."""
    if public_url is None:
        return None
    parts = urlsplit(str(public_url))
    if not parts.scheme or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = "" if parts.port in (None, default_port) else f":{parts.port}"
    return parts.hostname, f"{parts.scheme.lower()}://{host}{port}"


def host_origin_options(http_config: HttpOptions, cors_origins: Sequence[str] = ()) -> HostOriginOptions:
    """The Host/Origin allow-lists derived from the bind host, the public URL and CORS origins.

    A wildcard bind (``0.0.0.0``, ``::``) adds no name of its own: clients that use a DNS name
    need ``public_url`` set, which is what keeps DNS-rebinding pages out.
    """
    hosts: list[str] = []
    origins: list[str] = []
    if not _is_wildcard_bind(http_config.host):
        hosts.append(http_config.host)
    public = public_origin(http_config.public_url)
    if public is not None:
        hosts.append(public[0])
        origins.append(public[1])
    origins.extend(cors_origins)
    return HostOriginOptions(allowed_hosts=hosts, allowed_origins=origins)


def _check_auth_config(mcp: FastMCP[Any], http_config: HttpOptions, verifier: AuthProvider | None) -> None:
    if http_config.no_auth:
        if not is_loopback_host(http_config.host):
            raise ConfigError("no_auth is allowed only on a loopback host (127.0.0.1, ::1 or localhost)")
        return
    if mcp.auth is None:
        raise ConfigError(
            "HTTP serving needs a token verifier: create FastMCP with auth=MCPGramTokenVerifier(vault)"
        )
    if verifier is not None and mcp.auth is not verifier:
        raise ConfigError("the FastMCP server was built with a different verifier than the one given")


def _resource_metadata(mcp: FastMCP[Any]) -> str | None:
    """The RFC 9728 metadata URL a 401 names when the server is an OAuth resource server."""
    auth = mcp.auth
    if auth is None or getattr(auth, "_resource_url", None) is None:
        return None
    return str(build_resource_metadata_url(auth._resource_url))  # type: ignore[arg-type]


def build_http_app(
    mcp: FastMCP[Any],
    *,
    http_config: HttpOptions,
    operator_token: SecretStr | str | None = None,
    pool_stats: PoolStatsSource | None = None,
    verifier: AuthProvider | None = None,
    cors_origins: Sequence[str] = (),
    mcp_path: str = MCP_PATH,
    clock: Clock = time.monotonic,
    behind_front: bool = False,
    attachments: ASGIApp | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ASGI app to serve: FastMCP at ``mcp_path`` behind the edge middleware, plus ``/health``.

    Serve it with uvicorn's ``access_log=False``: its access log prints the raw request line,
    url_auth tokens included; :class:`~mcpgram.web.security.AccessLogMiddleware` replaces it.

    Args:
        mcp: The server, built with ``auth=verifier`` (or without auth in ``no_auth`` mode).
        http_config: Bind host/port, public URL, TLS, body limit, ``no_auth``, rate limits,
            trusted proxies and the MCP session idle timeout.
        operator_token: Unlocks the pool statistics on ``/health``.
        pool_stats: Returns the pool's counters for ``/health``.
        verifier: If given, must be the verifier ``mcp`` was built with (guards wiring mistakes).
        cors_origins: Browser origins allowed to call the API cross-origin; none by default.
        mcp_path: Where the MCP endpoint lives.
        clock: The rate limits' clock (seconds); tests pass a fake one.
        behind_front: A worker behind the multi-worker front (``web/front.py``), on a socket only
            the front reaches: the client address comes from the front's header.
        attachments: The signed-download endpoint (``web/attachments.py``), served at
            ``/v1/attachments/<capability>``; None serves none.
        extra_routes: Routes served beside ``/health``, before the MCP mount, with the same edge
            (the approval page, the /setup pages).

    Raises:
        ConfigError: ``no_auth`` on a non-loopback host, HTTP without a verifier, or a trusted
            proxy that is not an IP address or network.
    """
    _check_auth_config(mcp, http_config, verifier)
    guard = host_origin_options(http_config, cors_origins)
    hsts = serves_https(http_config)
    try:
        limiter = EdgeLimiter(
            auth_failures_per_minute=http_config.auth_failures_per_minute,
            requests_per_minute=http_config.requests_per_minute,
            max_concurrent_requests=http_config.max_concurrent_requests,
            trusted_proxies=http_config.trusted_proxies,
            clock=clock,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid rate limit settings: {exc}") from None
    inner = mcp.http_app(
        path=mcp_path,
        # TenantTag first, so the access log names the tenant of a throttled request too.
        middleware=[Middleware(TenantTagMiddleware), Middleware(TenantThrottleMiddleware, limiter=limiter)],
        session_idle_timeout=http_config.mcp_session_idle_seconds,
        # One JSON body per POST instead of an SSE stream: mcpgram sends no progress or log
        # notifications while a call runs, so the stream only ever carried the answer, and setting
        # it up cost a third of the gateway's CPU per tool call (bench/tenants.py: 6.5 -> 4.2 ms).
        # Server-to-client notifications still have the GET stream.
        json_response=True,
        **guard.as_kwargs(),
    )
    health = HostOriginGuardMiddleware(
        request_response(health_endpoint(operator_token=operator_token, pool_stats=pool_stats)),
        allowed_hosts=guard.allowed_hosts,
        allowed_origins=guard.allowed_origins,
        mode="auto",
    )
    middleware = [Middleware(FrontPeerMiddleware)] if behind_front else []
    middleware += [
        Middleware(AccessLogMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts=hsts),
        Middleware(
            HostGuardMiddleware, allowed_hosts=guard.allowed_hosts, allowed_origins=guard.allowed_origins
        ),
    ]
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=list(_CORS_ALLOW_HEADERS),
                expose_headers=list(_CORS_EXPOSE_HEADERS),
                max_age=600,
            )
        )
    middleware += [
        Middleware(RateLimitMiddleware, limiter=limiter, mcp_path=mcp_path),
        Middleware(UrlAuthMiddleware, mcp_path=mcp_path),
        Middleware(BodyLimitMiddleware, max_bytes=http_config.max_body_bytes),
    ]

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Starlette's outermost error handler sends this itself, outside our header middleware.
        return json_error(
            500, "INTERNAL", "Internal server error.", headers=dict(security_headers(hsts=hsts))
        )

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"]), *extra_routes]
    if attachments is not None:
        routes.append(Mount(ATTACHMENTS_PREFIX, app=attachments))
    # Every 401 from FastMCP's bearer authentication in mcpgram's shape, with its hint.
    routes.append(Mount("/", app=UnauthorizedMiddleware(inner, resource_metadata=_resource_metadata(mcp))))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={Exception: internal_error},
        lifespan=inner.lifespan,
    )
