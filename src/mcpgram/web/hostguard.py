"""Strict Host, request-target and Origin checks, in front of FastMCP's own guard.

FastMCP's ``HostOriginGuardMiddleware`` reads the first ``Host`` header only, accepts a junk port
(``127.0.0.1:abc``) and lets any loopback Origin through to a loopback server whatever its port,
so a page on ``http://127.0.0.1:9999`` could drive a gateway on port 8000. This guard runs first
and refuses, with mcpgram's JSON body:

- no ``Host``, several, or a malformed one (userinfo, junk characters, empty, bad port) -> 400;
- a ``Host`` naming a host the server does not answer for -> 421;
- an absolute-form request target (``POST http://other.example/v1/mcp``) whose authority is
  malformed or not the ``Host`` (400), so it is held to the same allowed hosts;
- an ``Origin`` that is not one of the allowed origins and not the request's own origin (scheme,
  host AND port) -> 403.

The allowed hosts are FastMCP's (``127.0.0.1``, ``localhost``, ``::1``, the socket's own address)
plus the configured ones. The pure parts (:func:`parse_authority`, :func:`target_authority`) are
used by the multi-worker front too. Must not: look at tokens, bodies or anything but these headers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .security import json_error

__all__ = [
    "REQUEST_TARGET_KEY",
    "HostGuardMiddleware",
    "parse_authority",
    "parse_origin",
    "target_authority",
]

#: Where the HTTP protocol (``web/protocol.py``) leaves the raw request target in the ASGI scope;
#: uvicorn itself keeps only the path of an absolute-form target.
REQUEST_TARGET_KEY = "mcpgram.request_target"
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")

Authority = tuple[str, int | None]
Origin = tuple[str, str, int]


def parse_authority(value: str) -> Authority | None:
    """``(host, port)`` of a ``Host`` value or URL authority, host lower-cased and unbracketed.

    ``None`` when it is malformed: empty, userinfo (``a@b``), characters a host name cannot hold,
    an IPv6 literal that does not parse, or a port that is empty, not digits or out of range.
    """
    if value.startswith("["):
        literal, bracket, rest = value[1:].partition("]")
        try:
            host = ipaddress.IPv6Address(literal).compressed if bracket else ""
        except ValueError:
            return None
    else:
        host, colon, port_text = value.partition(":")
        host, rest = host.lower(), colon + port_text
        if len(host) > 253 or not _HOSTNAME.fullmatch(host):
            return None
    if not host:
        return None
    if not rest:
        return host, None
    port = rest[1:]
    if rest[0] != ":" or not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def parse_origin(value: str) -> Origin | None:
    """``(scheme, host, port)`` of an ``Origin`` value or configured origin, the port filled in."""
    if value == "*":
        return ("*", "*", 0)
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    authority = parse_authority(parts.netloc)
    if authority is None or value[len(scheme) + 3 :].rstrip("/") != parts.netloc:
        return None
    host, port = authority
    return scheme, host, _DEFAULT_PORTS[scheme] if port is None else port


def target_authority(target: str) -> tuple[str, int] | None:
    """``(host, port)`` an absolute-form target names (``http://h:1/p``), the port filled in."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    authority = parse_authority(parts.netloc) if scheme in _DEFAULT_PORTS else None
    if authority is None or not target[len(scheme) + 3 :].startswith(parts.netloc):
        return None
    return _with_port(authority, scheme)


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return not host


class HostGuardMiddleware:
    """Refuses requests whose ``Host``, absolute-form target or ``Origin`` is wrong (see module doc).

    Args:
        app: The rest of the edge.
        allowed_hosts: Host names accepted besides the defaults and the socket's own address.
        allowed_origins: Origins accepted besides the request's own (``*`` accepts any).
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allowed_hosts = frozenset(
            parsed[0] for host in (*DEFAULT_HOSTS, *allowed_hosts) if (parsed := _host_only(host))
        )
        self.allowed_origins = frozenset(
            origin for entry in allowed_origins if (origin := parse_origin(entry.rstrip("/")))
        )

    def _allowed_host(self, host: str, scope: Scope) -> bool:
        if host in self.allowed_hosts:
            return True
        server = scope.get("server")
        own = _host_only(str(server[0])) if server else None
        return own is not None and not _is_unspecified(own[0]) and own[0] == host

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """The ``(status, code, message)`` to refuse the request with, or ``None`` to serve it."""
        hosts = [value for name, value in scope["headers"] if name.lower() == b"host"]
        authority = parse_authority(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
        if authority is None:
            return 400, "BAD_HOST", "The request needs exactly one well-formed Host header."
        if not self._allowed_host(authority[0], scope):
            return 421, "MISDIRECTED_REQUEST", "This server does not answer for that host."
        scheme = str(scope.get("scheme", "http"))
        target = scope.get(REQUEST_TARGET_KEY) or scope.get("raw_path") or b"/"
        if not target.startswith(b"/") and target != b"*":
            named = target_authority(target.decode("latin-1"))
            if named is None or named != _with_port(authority, scheme):
                return 400, "BAD_REQUEST_TARGET", "The request target does not name the Host's host."
        origins = [value for name, value in scope["headers"] if name.lower() == b"origin"]
        if origins:
            origin = parse_origin(origins[0].decode("latin-1")) if len(origins) == 1 else None
            own = (scheme, *_with_port(authority, scheme))
            allowed = ("*", "*", 0) in self.allowed_origins or origin in self.allowed_origins
            if origin is None or not (allowed or origin == own):
                return 403, "FORBIDDEN_ORIGIN", "Requests from this origin are not allowed."
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (refusal := self.refusal(scope)) is not None:
            await json_error(*refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host_only(host: str) -> Authority | None:
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address, as bind addresses are written
    return parse_authority(host)


def _with_port(authority: Authority, scheme: str) -> tuple[str, int]:
    host, port = authority
    return host, _DEFAULT_PORTS.get(scheme, 80) if port is None else port
