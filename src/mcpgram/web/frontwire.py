"""What the multi-worker front (``web/relay.py``) reads from a request and writes to a worker: pure.

:func:`route_key` and :func:`worker_index` pick the worker; :class:`FrontRequest` is a request and
its re-framed form for the worker; :func:`relayed_headers` is a worker's answer head as the client
gets it.

Must not: do I/O, log, or keep a token (only its hash picks the worker).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..signing import peek_route
from .edge import Refusal, error_response
from .hostguard import parse_authority, target_authority
from .security import ATTACHMENTS_PREFIX, FRONT_PEER_HEADER
from .tokensource import OAUTH_ACCESS_PREFIX, oauth_route_tag, presented_token, scope_path

__all__ = [
    "HOP_BY_HOP",
    "PEER_HEADER",
    "FrontRequest",
    "Refusal",
    "error_response",
    "origin_form",
    "relayed_headers",
    "request_worker",
    "route_hash",
    "route_key",
    "routing_key",
    "worker_index",
]

#: Carries "<scheme> <client ip> <client port> <server ip> <server port>" from the front to a
#: worker; only workers on the front's private socket read it (``FrontPeerMiddleware``).
PEER_HEADER = FRONT_PEER_HEADER
#: Hop-by-hop headers (RFC 9110 7.6.1): about one connection, never forwarded; ``proxy-*`` too, and
#: whatever a ``Connection`` header names. A request is re-framed (``Content-Length``; its trailer
#: fields are not kept), so its ``Transfer-Encoding``, ``Trailer`` and ``Expect`` go too; an answer
#: keeps ``Content-Length`` and ``Transfer-Encoding`` (uvicorn frames its body the same way again),
#: but not ``Trailer`` (its trailer fields are not relayed).
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"te", b"upgrade", b"proxy-connection"})
_DROPPED = HOP_BY_HOP | {b"content-length", b"transfer-encoding", b"trailer", b"expect", PEER_HEADER}
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"trailer"})
_ANSWER_DROPPED = HOP_BY_HOP | {b"trailer"}


def _named_by_connection(headers: Sequence[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(part.strip().lower() for part in value.split(b","))
    return named


def _kept(headers: Sequence[tuple[bytes, bytes]], dropped: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    named = _named_by_connection(headers)
    framing = _FRAMING - dropped  # an answer's framing is its own, whatever Connection names
    return [
        (name, value)
        for name, value in headers
        if (lowered := name.lower()) in framing
        or (lowered not in dropped and lowered not in named and not lowered.startswith(b"proxy-"))
    ]


def relayed_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A worker's answer headers as the client gets them: hop-by-hop ones dropped, framing kept.

    The front's server frames the body again (``Content-Length``, or chunked when the worker
    chunked it); trailer fields are not relayed, so ``Trailer`` goes too.
    """
    return _kept(headers, _ANSWER_DROPPED)


def route_key(target: bytes, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The token the worker will authenticate for this origin-form request (``web/tokensource.py``)."""
    return presented_token(scope_path(target), headers)


def routing_key(token: str) -> str:
    """What a token is routed by: itself, or for an OAuth access token its tenant's tag (so a
    refreshed token, and the attachment links it mints, stay on the tenant's worker)."""
    tag = oauth_route_tag(token)
    return token if tag is None else OAUTH_ACCESS_PREFIX + tag


def route_hash(key: str) -> int:
    """The 64-bit hash of a token that picks its worker; attachment links carry it (``signing.py``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def worker_index(key: str | None, workers: int) -> int:
    """The worker that serves ``key``: the same one for the same token, for the process's lifetime.

    An OAuth access token is routed by its tenant's tag, so a refreshed token stays on its worker.
    """
    if key is None or workers == 1:
        return 0
    return route_hash(routing_key(key)) % workers


def request_worker(target: bytes, headers: Sequence[tuple[bytes, bytes]], workers: int) -> int:
    """The worker for an origin-form request: by its token, or for an attachment link
    (``/v1/attachments/<capability>``) by the route hash of the token it was minted under, which
    the capability carries in clear (authenticated, so a changed one fails at the worker)."""
    path = scope_path(target)
    if workers > 1 and path is not None and path.startswith(ATTACHMENTS_PREFIX + "/"):
        route = peek_route(path[len(ATTACHMENTS_PREFIX) + 1 :])
        return 0 if route is None else route % workers
    return worker_index(route_key(target, headers), workers)


def origin_form(target: bytes, headers: Sequence[tuple[bytes, bytes]], scheme: str) -> bytes | Refusal:
    """The target as a worker gets it: an absolute-form one (``http://h/p``) becomes ``/p``.

    Only once its authority is the ``Host`` header's (the worker then holds that to the allowed
    hosts); otherwise, or with no single well-formed ``Host`` to compare, a 400 refusal.
    """
    if target.startswith(b"/") or target == b"*":
        return target
    hosts = [value for name, value in headers if name.lower() == b"host"]
    host = parse_authority(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
    named = target_authority(target.decode("latin-1"))
    if host is None or named is None or named != (host[0], host[1] or (443 if scheme == "https" else 80)):
        return Refusal(400, "BAD_REQUEST_TARGET", "The request target does not name the Host's host.")
    rest = target.partition(b"://")[2]
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    path = rest[cut:]
    return path if path.startswith(b"/") else b"/" + path


@dataclass
class FrontRequest:
    """One parsed request, as the front forwards it."""

    method: bytes
    target: bytes
    version: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool

    def encode(self, peer: str) -> bytes:
        """The request for a worker: the client's headers minus framing, re-framed, plus the peer."""
        connection = b"close" if self.method == b"HEAD" or not self.keep_alive else b"keep-alive"
        lines = [b"%s %s HTTP/1.1" % (self.method, self.target)]
        lines += [b"%s: %s" % item for item in _kept(self.headers, _DROPPED)]
        lines.append(b"connection: " + connection)
        lines.append(b"content-length: %d" % len(self.body))
        lines.append(PEER_HEADER + b": " + peer.encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body
