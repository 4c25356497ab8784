"""The ASGI app of the multi-worker front: each request to its tenant's worker, the answer back.

uvicorn parses the client's HTTP and holds each connection to the edge limits
(``web/protocol.py``'s :class:`~mcpgram.web.protocol.EdgeProtocol`, as the single-process server
does; ``web/front.py`` serves this app with it). :class:`WorkerRelay` then sends each request to
worker ``hash(token) % N`` (``frontwire.worker_index``; the token read by the code the worker
authenticates with, ``web/tokensource.py``), per request, since a proxy may mix tenants on one
connection. No token: worker 0 (which answers 401). An attachment link (``/v1/attachments/...``)
goes by the route hash it carries in clear (``frontwire.request_worker``). The request is
re-framed for the worker (``frontwire.FrontRequest.encode``: ``Content-Length``, no ``Expect`` or
hop-by-hop headers, the client's address in :data:`~mcpgram.web.frontwire.PEER_HEADER`) over
the worker's Unix socket (``web/upstream.py``); the worker's edge does the rest (Host/Origin,
auth, headers, access log) and its answer comes back with only its hop-by-hop headers dropped, the
body as it arrives. The relay itself:

- refuses bodies over ``max_body_bytes`` (413, before reading a declared one), upgrades (400), and
  an absolute-form target (``http://host/path``) whose authority is not the ``Host`` (400; else
  it becomes ``/path``, so routing and the worker's Host check see one host);
- answers 504 when a worker's answer has not begun within ``answer_seconds`` (and drops the
  worker connection, so the worker sees the client leave), 503 while a worker is not listening,
  502 when a worker's answer broke off before its head;
- enforces the failed-authentication lockout across workers: it counts every 401 a worker sends
  against the client address (each worker alone would see only its share of the failures); once
  the address is locked it answers 429 itself to a request without a well-formed token, and
  forwards one with such a token marked locked (the worker serves it if it verifies, else 429);
- answers the operator's ``/health`` with every worker's pool counters summed.

Its refusals are ``web/edge.py``'s (JSON body, security headers). Must not: log or keep a token
(only a hash picks the worker), read a body beyond framing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from .. import auth
from .edge import Refusal, refusal_parts
from .frontwire import FrontRequest, origin_form, relayed_headers, request_worker, route_key
from .hostguard import REQUEST_TARGET_KEY
from .ratelimit import LOCKED_OUT, IPNetwork, SlidingWindow, client_address, is_auth_failure
from .security import redact_path, security_headers
from .upstream import UpstreamConnection, WorkerLink

__all__ = ["WorkerRelay"]

_log = logging.getLogger("mcpgram.web.front")
_access_log = logging.getLogger("mcpgram.web.access")

Scope = dict[str, Any]
Receive = Any
Send = Any

UPGRADE = Refusal(400, "UPGRADE_NOT_SUPPORTED", "Protocol upgrades are not supported.")
TIMED_OUT = Refusal(504, "WORKER_TIMEOUT", "The server did not answer in time; retry shortly.")
FAILED = Refusal(502, "WORKER_FAILED", "The request failed; retry shortly.")
UNAVAILABLE = Refusal(503, "WORKER_UNAVAILABLE", "The server is restarting a worker; retry shortly.", 1)


class WorkerRelay:
    """The front's ASGI app (see the module docstring).

    Args:
        links: One per worker, in worker order.
        max_body_bytes: Largest request body accepted (the workers' limit too).
        auth_failures_per_minute: 401s per client address a minute before the front locks it out.
        trusted_proxies: Whose ``X-Forwarded-For`` is believed, as in the workers.
        hsts: Whether the relay's own answers carry HSTS (clients reach it over HTTPS).
        answer_seconds: How long a worker's answer may take to begin before the client gets 504.
    """

    def __init__(
        self,
        links: Sequence[WorkerLink],
        *,
        max_body_bytes: int,
        auth_failures_per_minute: int,
        trusted_proxies: Sequence[IPNetwork] = (),
        hsts: bool = False,
        answer_seconds: float = 120.0,
    ) -> None:
        self.links = list(links)
        self.max_body_bytes = max_body_bytes
        self.failures = SlidingWindow(auth_failures_per_minute)
        self.trusted_proxies = tuple(trusted_proxies)
        self.hsts = hsts
        self.answer_seconds = answer_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not served
        started = time.perf_counter()
        try:
            status = await self._serve(scope, receive, send)
        except _ClientGone:
            return
        if status is not None:
            _access_log.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    "path": redact_path(scope["path"]),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "tenant": None,
                },
            )

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> int | None:
        """Serve one request; the status of an answer the relay gave itself (the workers log theirs)."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        raw_target: bytes = scope.get(REQUEST_TARGET_KEY) or scope["raw_path"]
        target = origin_form(raw_target, headers, scope["scheme"])
        if isinstance(target, Refusal):
            return await self.refuse(send, target, close=True)
        if _upgrade(headers):
            return await self.refuse(send, UPGRADE, close=True)
        address = client_address(scope, self.trusted_proxies)
        wait = self.failures.retry_after(address)
        key = route_key(target, headers)
        # A locked-out address still gets a well-formed token verified (the worker answers 429 for
        # a failed one), so a guesser behind the same NAT cannot lock out valid tenants.
        locked = wait > 0
        if locked and not (key is not None and auth.is_well_formed(key)):
            return await self.refuse(send, Refusal(429, *LOCKED_OUT), retry_after=wait)
        body = await self._body(headers, receive)
        if body is None:
            limit = self.max_body_bytes
            message = f"The request body is larger than the server accepts ({limit} bytes)."
            return await self.refuse(send, Refusal(413, "BODY_TOO_LARGE", message))
        method: str = scope["method"]
        request = FrontRequest(method.encode(), target, scope["http_version"], headers, body, True)
        peer = _peer_line(scope) + (" locked" if locked else "")
        if target.partition(b"?")[0] == b"/health" and any(name == b"authorization" for name, _ in headers):
            status = await self._health(request, peer, receive, send)
        else:
            link = self.links[request_worker(target, headers, len(self.links))]
            status = await self._relay(link, request, peer, receive, send)
        failed = is_auth_failure(scope["path"], status) or (locked and status == 429)
        if failed and self.failures.record(address) == self.failures.limit and not locked:
            _log.warning("ratelimit.address_locked", extra={"client": address})
        return status if status in (502, 503, 504) else None

    async def _body(self, headers: list[tuple[bytes, bytes]], receive: Receive) -> bytes | None:
        """The whole request body, or ``None`` once it is over ``max_body_bytes`` (declared or read)."""
        for name, value in headers:
            if name == b"content-length" and value.strip().isdigit() and int(value) > self.max_body_bytes:
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _relay(
        self, link: WorkerLink, request: FrontRequest, peer: str, receive: Receive, send: Send
    ) -> int:
        try:
            upstream = await link.acquire()
        except OSError:
            return await self.refuse(send, UNAVAILABLE)
        try:
            return await self._exchange(upstream, request, peer, receive, send)
        finally:
            link.release(upstream)

    async def _exchange(
        self, upstream: UpstreamConnection, request: FrontRequest, peer: str, receive: Receive, send: Send
    ) -> int:
        # The client may leave while the worker works: then drop the worker connection, so the
        # worker sees it leave too (uvicorn drops whatever is sent after a disconnect).
        finished = False

        def client_left(_: object) -> None:
            if not finished:
                upstream.abort()

        watcher = asyncio.ensure_future(receive())
        watcher.add_done_callback(client_left)
        try:
            exchange = await upstream.exchange(request.encode(peer), head_seconds=self.answer_seconds)
            if exchange.timed_out:
                return await self.refuse(send, TIMED_OUT, close=True)
            if exchange.status is None:
                return await self.refuse(send, FAILED, close=True)
            headers = relayed_headers(exchange.headers)
            await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
            if request.method != b"HEAD":
                async for chunk in upstream.body():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if request.method == b"HEAD" or exchange.complete:
                await send({"type": "http.response.body", "body": b""})
            return exchange.status
        finally:
            finished = True
            watcher.remove_done_callback(client_left)
            watcher.cancel()

    async def _health(self, request: FrontRequest, peer: str, receive: Receive, send: Send) -> int:
        """The operator's view: every worker's pool counters summed; any refusal is relayed as is."""
        totals: dict[str, float] = {}
        for link in self.links:
            try:
                upstream = await link.acquire()
            except OSError:
                return await self.refuse(send, UNAVAILABLE)
            try:
                exchange = await upstream.exchange(request.encode(peer), head_seconds=self.answer_seconds)
                body = await upstream.read_body() if exchange.status == 200 else b""
            finally:
                link.release(upstream)
            if exchange.status != 200 or not exchange.complete:
                return await self._relay(link, request, peer, receive, send)  # the worker's refusal, whole
            pool = json.loads(body).get("pool") or {}
            for name, value in pool.items():
                totals[name] = totals.get(name, 0) + value
        body = json.dumps({"status": "ok", "pool": totals, "workers": len(self.links)}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        headers += [(k.encode(), v.encode()) for k, v in security_headers(hsts=self.hsts)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200

    async def refuse(
        self, send: Send, refusal: Refusal, *, retry_after: float | None = None, close: bool = False
    ) -> int:
        """Answer ``refusal`` (``web/edge.py``'s shape); ``close`` closes the connection after it."""
        wait = refusal.retry_after if retry_after is None else retry_after
        headers, body = refusal_parts(
            refusal.code, refusal.message, hsts=self.hsts, retry_after=wait, close=close
        )
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return refusal.status


class _ClientGone(Exception):
    pass


def _peer_line(scope: Scope) -> str:
    client = scope.get("client") or ("-", 0)
    server = scope.get("server") or ("-", 0)
    return f"{scope['scheme']} {client[0]} {client[1]} {server[0]} {server[1]}"


def _upgrade(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return any(name == b"upgrade" for name, _ in headers) and any(
        name == b"connection" and b"upgrade" in value.lower() for name, value in headers
    )
