"""The front of a multi-worker HTTP gateway: one listening socket, each tenant's requests to one worker.

One Python process serves one core's worth of tool calls. With ``workers > 1`` (``workers.py``)
N worker processes each run the whole gateway (edge, MCP, client pool) on a private Unix socket,
and this front owns the public socket. Every request goes to worker ``hash(token) % N``, the token
read from the ``Authorization`` header or the url_auth path, so a tenant's Telegram client, MCP
sessions, session seals and request budget live in exactly one process, as with one worker.
Routing is per request, not per connection, so a reverse proxy that mixes tenants on one
upstream connection is still routed right. Requests without a token go to worker 0 (they get 401).

The worker is picked by the token the worker itself will authenticate, read by the same code
(``web/tokensource.py``): a url_auth token however percent-encoded, else the first Authorization
header. The front parses each request with ``httptools`` and forwards it re-framed
(``Content-Length``, no ``Expect``), without hop-by-hop headers, with the client's socket address
in :data:`PEER_HEADER` (a client's own copy is dropped); the worker's edge does everything else
(Host/Origin, auth, limits, headers, access log) and its answer is relayed with only its
hop-by-hop headers dropped, the body byte for byte. The front itself:

- holds at most ``max_connections`` client connections: one more gets 503 and is closed;
- answers 504 when a worker's answer has not begun within ``answer_seconds`` (and drops the
  worker connection, so the worker sees the client leave);

- refuses heads over :data:`MAX_HEAD_BYTES` (431), bodies over ``max_body_bytes`` (413, before
  reading them), malformed requests (400) and upgrades (400), and answers ``100-continue``;
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

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Sequence

import httptools

from .. import auth
from .frontwire import (
    MAX_HEAD_BYTES,
    PEER_HEADER,
    FrontRequest,
    Refusal,
    error_response,
    origin_form,
    route_key,
    worker_index,
)
from .ratelimit import LOCKED_OUT, IPNetwork, SlidingWindow, client_address
from .security import redact_path, security_headers
from .upstream import Exchange, UpstreamConnection, WorkerLink

__all__ = ["PEER_HEADER", "ClientConnection", "FrontRequest", "FrontServer", "route_key", "worker_index"]

_log = logging.getLogger(__name__)
_access_log = logging.getLogger("mcpgram.web.access")

#: Seconds a connection may sit idle between requests, and may take to send one request.
KEEP_ALIVE_SECONDS = 5.0
REQUEST_SECONDS = 30.0
#: Seconds a refused connection is drained before it closes (see ``ClientConnection._linger``).
LINGER_SECONDS = 2.0
#: Connections over ``max_connections`` answered 503 at once; past that they are closed unanswered.
MAX_REFUSED = 64
#: Requests a client may queue on one connection (HTTP pipelining) before the front stops reading:
#: each holds up to ``max_body_bytes`` in memory.
MAX_QUEUED = 2


class FrontServer:
    """Routes each request to its tenant's worker; ``asyncio`` server protocol factory.

    Args:
        links: One per worker, in worker order.
        max_body_bytes: Largest request body accepted (the workers' limit too).
        auth_failures_per_minute: 401s per client address a minute before the front locks it out.
        trusted_proxies: Whose ``X-Forwarded-For`` is believed, as in the workers.
        hsts: Whether the server is reached over HTTPS (HSTS on the front's own answers).
        scheme: ``"https"`` when the front terminates TLS, told to the workers.
        max_connections: Client connections held at once; more are refused with 503.
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
        scheme: str = "http",
        max_connections: int = 1024,
        answer_seconds: float = 120.0,
    ) -> None:
        self.links = list(links)
        self.max_body_bytes = max_body_bytes
        self.failures = SlidingWindow(auth_failures_per_minute)
        self.trusted_proxies = tuple(trusted_proxies)
        self.hsts = hsts
        self.scheme = scheme
        self.max_connections = max_connections
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
            retry_after=retry_after,
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


class _Stop(Exception):
    """Raised in a parser callback to stop parsing after a refusal was queued."""


class ClientConnection(asyncio.Protocol):
    """One client connection: parses requests, queues them, and serves them one at a time."""

    def __init__(self, front: FrontServer) -> None:
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
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._lingering = False
        self._eof = False

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
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
        if len(self.front.connections) >= self.front.max_connections:
            if len(self.front.refused) >= MAX_REFUSED:  # a flood: no answer, no descriptor held
                transport.abort()
                return
            self.front.refused.add(self)
            message = "The server has too many connections open; retry shortly."
            self.write(self.front.refusal(Refusal(503, "TOO_MANY_CONNECTIONS", message)))
            self._linger()  # not served: answered, then closed within LINGER_SECONDS
            return
        self.front.connections.add(self)
        self._arm(KEEP_ALIVE_SECONDS)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self._lingering or self._parser is None:
            return  # after a refusal: read and drop what the client still sends, then close
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # refused in on_message_complete, which always runs first
        except (httptools.HttpParserError, _Stop) as exc:
            if not isinstance(exc, _Stop) and not isinstance(exc.__context__, _Stop):
                self._refuse(Refusal(400, "BAD_REQUEST", "The request is not valid HTTP/1.1."))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.front.connections.discard(self)
        self.front.refused.discard(self)
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
        if not self.queue:
            self._arm(REQUEST_SECONDS)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(Refusal(431, "HEADERS_TOO_LARGE", "The request head is too large."))
            raise _Stop

    def on_headers_complete(self) -> None:
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
        self.queue.append(refusal)
        if self.transport is not None:
            self.transport.pause_reading()  # nothing after a refusal is read
        self._wake.set()

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed:
            return  # no timer (holding this connection) outlives it
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        if self.upstream is None and not self.queue:
            self.close()

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
            self._arm(KEEP_ALIVE_SECONDS)
