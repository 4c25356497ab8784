"""The front of a multi-worker HTTP gateway: one listening socket, each tenant's requests to one worker.

With ``workers > 1`` (``workers.py``) N worker processes each run the whole gateway on a private
Unix socket, and this front owns the public socket. Each request goes to worker ``hash(token) % N``,
per request (a proxy may mix tenants on one connection), the token read by the code the worker
authenticates with (``web/tokensource.py``), so a tenant's Telegram client, sessions, seals and
request budget live in one process. No token: worker 0 (which answers 401). Requests are parsed
with ``httptools`` and forwarded re-framed (``Content-Length``, no ``Expect``, no hop-by-hop
headers, the client's address in :data:`PEER_HEADER`, a client's own copy dropped); the worker's
edge does the rest (Host/Origin, auth, headers, access log) and its answer is relayed with only its
hop-by-hop headers dropped, the body byte for byte. The front itself:

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

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Sequence

import httptools

from .. import auth
from .edge import (
    BAD_REQUEST,
    TOO_MANY_CONNECTIONS,
    EdgeLimits,
    headers_too_large,
    target_too_long,
    timed_out,
    too_many_headers,
)
from .frontwire import (
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

#: Seconds a refused connection is drained before it closes (see ``ClientConnection._linger``).
LINGER_SECONDS = 2.0
#: Connections over ``max_connections`` answered 503 at once; past that they are closed unanswered.
MAX_REFUSED = 64
#: Requests a client may queue on one connection (HTTP pipelining) before the front stops reading:
#: each holds up to ``max_body_bytes`` in memory.
MAX_QUEUED = 2


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
        self._parser = httptools.HttpRequestParser(self)
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
        if self._lingering:
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
        if self._timer is not None:
            self._timer.cancel()
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
        if self._parser.should_upgrade():  # CONNECT, or Upgrade: websocket / h2c
            self._refuse(Refusal(400, "UPGRADE_NOT_SUPPORTED", "Protocol upgrades are not supported."))
            raise _Stop
        target = origin_form(self._url, self._headers, self.front.scheme)
        if isinstance(target, Refusal):
            self._refuse(target)
            raise _Stop
        request = FrontRequest(
            method=self._parser.get_method(),
            target=target,
            version=self._parser.get_http_version(),
            headers=self._headers,
            body=bytes(self._body),
            keep_alive=self._parser.should_keep_alive(),
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
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.upstream is None and not self.queue and not self._head_started:
            self.close()

    def _arm_read(self, seconds: float, part: str) -> None:
        """Refuse with 408 unless the request's ``part`` has arrived within ``seconds``."""
        self._cancel_read_timer()
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
