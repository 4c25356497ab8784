"""The front of a multi-worker HTTP gateway: one listening socket, each tenant's requests to one worker.

With ``workers > 1`` (``workers.py``) N worker processes each run the whole gateway on a private
Unix socket, and this front owns the public socket. Each request goes to worker ``hash(token) % N``,
per request (a proxy may mix tenants on one connection), the token read by the code the worker
authenticates with (``web/tokensource.py``), so a tenant's Telegram client, sessions, seals and
request budget live in one process. No token: worker 0 (which answers 401). Requests are parsed
with ``httptools`` and forwarded re-framed (``Content-Length``, no ``Expect``, no hop-by-hop
headers, the client's address in :data:`PEER_HEADER`, a client's own copy dropped); the worker's
edge does the rest (Host/Origin, auth, headers, access log) and its answer is relayed with only its
hop-by-hop headers dropped, the body byte for byte. Each client connection is a
:class:`~mcpgram.web.frontconn.ClientConnection`. The front itself:

- holds client connections to the single-process server's :class:`~mcpgram.web.edge.EdgeLimits`
  with the same refusals (head and body time limits 408, idle close, target 414, header count and
  size 431 counted as they arrive, connection cap 503), as ``web/protocol.py`` describes;
- answers 504 when a worker's answer has not begun within ``answer_seconds`` (and drops the
  worker connection, so the worker sees the client leave);
- refuses bodies over ``max_body_bytes`` (413, before reading them), malformed requests (400) and
  upgrades (400), and answers ``100-continue``;
- turns an absolute-form target (``http://host/path``) into ``/path`` if its authority is the
  ``Host`` header's, else refuses it (400), so routing and the worker's Host check see one host;
- enforces the failed-authentication lockout across workers: it counts every 401 a worker sends
  against the client address (each worker alone would see only its share of the failures); once
  the address is locked it answers 429 itself to a request without a well-formed token, and
  forwards one with such a token marked locked (the worker serves it if it verifies, else 429);
- answers the operator's ``/health`` with every worker's pool counters summed;
- terminates TLS, when configured.

Must not: log or keep a token (only a hash picks the worker), read a body beyond framing it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from .. import auth
from .edge import EdgeLimits
from .frontconn import ClientConnection
from .frontwire import (
    PEER_HEADER,
    FrontRequest,
    Refusal,
    error_response,
    route_key,
    worker_index,
)
from .ratelimit import LOCKED_OUT, IPNetwork, SlidingWindow, client_address
from .security import redact_path, security_headers
from .upstream import Exchange, WorkerLink

__all__ = ["PEER_HEADER", "ClientConnection", "FrontRequest", "FrontServer", "route_key", "worker_index"]

_log = logging.getLogger(__name__)
_access_log = logging.getLogger("mcpgram.web.access")


DEFAULT_LIMITS = EdgeLimits()


class FrontServer:
    """Routes each request to its tenant's worker; ``asyncio`` server protocol factory.

    Args:
        links: One per worker, in worker order.
        max_body_bytes: Largest request body accepted (the workers' limit too).
        auth_failures_per_minute: 401s per client address a minute before the front locks it out.
        trusted_proxies: Whose ``X-Forwarded-For`` is believed, as in the workers.
        limits: The edge limits every client connection is held to (HSTS on the front's own
            answers when ``limits.hsts``).
        scheme: ``"https"`` when the front terminates TLS, told to the workers.
        answer_seconds: How long a worker's answer may take to begin before the client gets 504.
    """

    def __init__(
        self,
        links: Sequence[WorkerLink],
        *,
        max_body_bytes: int,
        auth_failures_per_minute: int,
        trusted_proxies: Sequence[IPNetwork] = (),
        limits: EdgeLimits = DEFAULT_LIMITS,
        scheme: str = "http",
        answer_seconds: float = 120.0,
    ) -> None:
        self.links = list(links)
        self.max_body_bytes = max_body_bytes
        self.failures = SlidingWindow(auth_failures_per_minute)
        self.trusted_proxies = tuple(trusted_proxies)
        self.limits = limits
        self.hsts = limits.hsts
        self.scheme = scheme
        self.answer_seconds = answer_seconds
        self.connections: set[ClientConnection] = set()
        self.refused: set[ClientConnection] = set()  # over the cap, being answered 503

    def __call__(self) -> ClientConnection:
        return ClientConnection(self)

    def close_connections(self) -> None:
        """Close every client connection (shutdown)."""
        for connection in [*self.connections, *self.refused]:
            connection.close()

    def refusal(self, refusal: Refusal, *, retry_after: float | None = None) -> bytes:
        return error_response(
            refusal.status,
            refusal.code,
            refusal.message,
            hsts=self.hsts,
            retry_after=refusal.retry_after if retry_after is None else retry_after,
            close=refusal.status != 429,
        )

    async def forward(self, request: FrontRequest, client: ClientConnection) -> bool:
        """Serve one request; returns whether the client connection may carry another."""
        started = time.perf_counter()
        scope = {"client": (client.peer_ip, client.peer_port), "headers": request.headers}
        address = client_address(scope, self.trusted_proxies)
        wait = self.failures.retry_after(address)
        key = route_key(request.target, request.headers)
        # A locked-out address still gets a well-formed token verified (the worker answers 429 for
        # a failed one), so a guesser behind the same NAT cannot lock out valid tenants.
        locked = wait > 0
        if locked and not (key is not None and auth.is_well_formed(key)):
            client.write(self.refusal(Refusal(429, *LOCKED_OUT), retry_after=wait))
            self._log(request, 429, started)
            return request.keep_alive
        peer = client.peer_line + (" locked" if locked else "")
        if request.target.partition(b"?")[0] == b"/health" and _has_authorization(request):
            exchange = await self._health(request, client)
        else:
            link = self.links[worker_index(key, len(self.links))]
            exchange = await self._relay(link, request, client, peer)
        failed = exchange.status == 401 or (locked and exchange.status == 429)
        if failed and self.failures.record(address) == self.failures.limit and not locked:
            _log.warning("ratelimit.address_locked", extra={"client": address})
        if exchange.timed_out:
            message = "The server did not answer in time; retry shortly."
            client.write(self.refusal(Refusal(504, "WORKER_TIMEOUT", message)))
            self._log(request, 504, started)
            return False
        if exchange.status is None:
            client.write(self.refusal(Refusal(502, "WORKER_FAILED", "The request failed; retry shortly.")))
            self._log(request, 502, started)
            return False
        return exchange.complete and exchange.keep_alive and request.keep_alive

    async def _relay(
        self, link: WorkerLink, request: FrontRequest, client: ClientConnection, peer: str = ""
    ) -> Exchange:
        try:
            upstream = await link.acquire()
        except OSError:
            message = "The server is restarting a worker; retry shortly."
            client.write(self.refusal(Refusal(503, "WORKER_UNAVAILABLE", message), retry_after=1))
            return Exchange.answered(503, keep_alive=False)
        client.upstream = upstream
        try:
            return await upstream.exchange(
                request.encode(peer or client.peer_line),
                client.write,
                head_only=request.method == b"HEAD",
                close_client=not request.keep_alive,
                head_seconds=self.answer_seconds,
            )
        finally:
            client.upstream = None
            link.release(upstream)

    async def _health(self, request: FrontRequest, client: ClientConnection) -> Exchange:
        """The operator's view: every worker's pool counters summed; any refusal is relayed as is."""
        totals: dict[str, float] = {}
        for link in self.links:
            try:
                upstream = await link.acquire()
            except OSError:
                return await self._relay(link, request, client)  # answers 503
            try:
                exchange = await upstream.exchange(
                    request.encode(client.peer_line), None, head_seconds=self.answer_seconds
                )
            finally:
                link.release(upstream)
            if exchange.status != 200 or not exchange.complete:
                return await self._relay(link, request, client)  # the worker's refusal, relayed whole
            pool = json.loads(exchange.body).get("pool") or {}
            for name, value in pool.items():
                totals[name] = totals.get(name, 0) + value
        body = json.dumps({"status": "ok", "pool": totals, "workers": len(self.links)}).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        headers += security_headers(hsts=self.hsts)
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        client.write(head.encode() + b"\r\n" + body)
        return Exchange.answered(200, keep_alive=True)

    def _log(self, request: FrontRequest, status: int, started: float) -> None:
        _access_log.info(
            "http.request",
            extra={
                "method": request.method.decode("latin-1"),
                "path": redact_path(request.target.partition(b"?")[0].decode("latin-1")),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "tenant": None,
            },
        )


def _has_authorization(request: FrontRequest) -> bool:
    return any(name.lower() == b"authorization" for name, _ in request.headers)
