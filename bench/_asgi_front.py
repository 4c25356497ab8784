"""A prototype front for ``--workers N``: uvicorn + a small ASGI relay, for ``tenants.py --compare-fronts``.

Issue 10 asked whether the multi-worker front (``src/mcpgram/web/front.py``: an asyncio protocol
parsing HTTP with httptools and relaying bytes) could instead be uvicorn serving an ASGI app that
relays each request with httpx, if its CPU per call stays within 0.3 ms of today's front. This is
that app, honest but minimal, run over the very same workers (``mcpgram.workers.serve_workers``
with ``front=AsgiFront()``):

- the worker is picked exactly as today's front picks it: the token ``web/tokensource.py`` reads
  (from uvicorn's own ``scope["path"]`` and headers), hashed by ``frontwire.worker_index``;
- the failed-authentication lockout is kept the way the front keeps it (the 401s a worker sends
  are counted per client address; a locked address without a well-formed token gets 429), so the
  per-request work is the same;
- the request goes to the worker over its Unix socket with one ``httpx.AsyncClient`` per worker,
  the body streamed, hop-by-hop headers dropped, the client's address in ``frontwire.PEER_HEADER``;
  the answer is streamed back (event streams flow as they come) without its hop-by-hop headers;
- an answer that has not begun within ``front_answer_seconds`` gets 504; a worker that is not
  listening, 503;
- uvicorn listens with the edge protocol of the single-process server (``web/protocol.py``:
  head and body timeouts, head size limits, the connection cap: ``EdgeLimits.from_config``), so
  those limits are reused rather than written again in bytes.

:class:`LeanRelay` (``--lean``) is the same app with the worker leg written by hand instead of
httpx (httptools over asyncio Unix connections, the request body read whole and re-framed as
``web/front.py`` does), to tell what uvicorn costs from what httpx costs.

Left out (not needed for the measurement): ``/health`` summing, TLS, HEAD, absolute-form targets.

Run by ``tenants.py`` as ``python bench/_asgi_front.py [--lean]`` with the gateway's ``MCPGRAM_*``
environment; it says ``serving MCP at ...`` on stderr once listening, as ``mcpgram serve`` does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httptools
import httpx2 as httpx
import uvicorn

from mcpgram import auth
from mcpgram.settings import Settings
from mcpgram.web.frontwire import HOP_BY_HOP, PEER_HEADER, worker_index
from mcpgram.web.protocol import EdgeLimits, edge_protocol
from mcpgram.web.ratelimit import LOCKED_OUT, SlidingWindow, client_address, parse_networks
from mcpgram.web.security import security_headers
from mcpgram.web.tokensource import presented_token
from mcpgram.workers import serve_workers

Scope = dict[str, Any]

#: Dropped from a request: hop-by-hop, and what httpx frames itself (it keeps a Content-Length).
_REQUEST_DROPPED = HOP_BY_HOP | {b"transfer-encoding", b"trailer", b"expect", PEER_HEADER}
#: Dropped from an answer: hop-by-hop, and its chunked framing (uvicorn frames it again).
_ANSWER_DROPPED = HOP_BY_HOP | {b"transfer-encoding", b"trailer"}
KEEP_ALIVE_SECONDS = 5
MAX_IDLE_PER_WORKER = 64


def _kept(headers: Sequence[tuple[bytes, bytes]], dropped: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    named = {
        part.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for part in value.split(b",")
    }
    return [
        (name, value)
        for name, value in headers
        if (lowered := name.lower()) not in dropped
        and lowered not in named
        and not lowered.startswith(b"proxy-")
    ]


class AsgiRelay:
    """The ASGI app: one request in, the same request to its tenant's worker, its answer back."""

    def __init__(self, socket_paths: Sequence[str], settings: Settings) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=MAX_IDLE_PER_WORKER)
        self.clients = [
            httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=path, limits=limits))
            for path in socket_paths
        ]
        self.failures = SlidingWindow(settings.auth_failures_per_minute)
        self.trusted_proxies = tuple(parse_networks(settings.trusted_proxies))
        self.answer_seconds = settings.front_answer_seconds

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        address = client_address(scope, self.trusted_proxies)
        wait = self.failures.retry_after(address)
        key = presented_token(scope["path"], headers)
        locked = wait > 0
        if locked and not (key is not None and auth.is_well_formed(key)):
            await _refuse(send, 429, *LOCKED_OUT, retry_after=wait)
            return
        status = await self._forward(worker_index(key, len(self.clients)), scope, receive, send, locked)
        if status == 401 or (locked and status == 429):
            self.failures.record(address)

    async def _forward(self, index: int, scope: Scope, receive: Any, send: Any, locked: bool) -> int:
        """Relay one request to worker ``index``; returns the status the worker answered."""
        return await self._relay(self.clients[index], scope, receive, send, locked)

    async def _relay(
        self, client: httpx.AsyncClient, scope: Scope, receive: Any, send: Any, locked: bool
    ) -> int:
        (client_ip, client_port), (server_ip, server_port) = scope["client"], scope["server"]
        peer = f"{scope['scheme']} {client_ip} {client_port} {server_ip} {server_port}"
        headers = _kept(scope["headers"], _REQUEST_DROPPED)
        headers.append((PEER_HEADER, (peer + (" locked" if locked else "")).encode()))
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        request = httpx.Request(
            scope["method"],
            "http://worker" + target.decode("latin-1"),
            headers=headers,
            content=_body(receive),
        )
        try:
            response = await asyncio.wait_for(client.send(request, stream=True), self.answer_seconds)
        except TimeoutError:
            await _refuse(send, 504, "WORKER_TIMEOUT", "The server did not answer in time; retry shortly.")
            return 504
        except httpx.ConnectError:
            message = "The server is restarting a worker; retry shortly."
            await _refuse(send, 503, "WORKER_UNAVAILABLE", message, retry_after=1)
            return 503
        except httpx.HTTPError:
            await _refuse(send, 502, "WORKER_FAILED", "The request failed; retry shortly.")
            return 502
        try:
            answer_headers = _kept(response.headers.raw, _ANSWER_DROPPED)
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": answer_headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()
        return response.status_code


async def _body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client went away")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _refuse(
    send: Any, status: int, code: str, message: str, *, retry_after: float | None = None
) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    if retry_after is not None:
        headers.append(("retry-after", str(max(1, round(retry_after)))))
    headers += security_headers(hsts=False)
    encoded = [(name.encode(), value.encode()) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})


class _WorkerAnswer(asyncio.Protocol):
    """One keep-alive connection to a worker; each answer, parsed with httptools, as ASGI-shaped events.

    The events go to ``events``: ``(status, headers)`` once the head is complete, then body chunks
    (``bytes``), then ``True`` when the answer is complete or ``None`` if the connection ended first.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.events: asyncio.Queue[tuple[int, list[tuple[bytes, bytes]]] | bytes | bool | None] = (
            asyncio.Queue()
        )
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.closed = False

    def begin(self) -> None:
        self.events = asyncio.Queue()
        self.parser = httptools.HttpResponseParser(self)
        self.headers = []
        self.complete = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.events.put_nowait(None)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.events.put_nowait((self.parser.get_status_code(), self.headers))

    def on_body(self, body: bytes) -> None:
        self.events.put_nowait(bytes(body))

    def on_message_complete(self) -> None:
        self.complete = self.parser.should_keep_alive()
        self.events.put_nowait(True)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class LeanRelay(AsgiRelay):
    """:class:`AsgiRelay` with the worker leg written by hand: httptools over asyncio, no httpx.

    The request body is read whole and re-framed with ``Content-Length``, as ``web/front.py`` does.
    """

    def __init__(self, socket_paths: Sequence[str], settings: Settings) -> None:
        super().__init__(socket_paths, settings)
        self.paths = list(socket_paths)
        self.idle: list[list[_WorkerAnswer]] = [[] for _ in socket_paths]

    async def _forward(self, index: int, scope: Scope, receive: Any, send: Any, locked: bool) -> int:
        (client_ip, client_port), (server_ip, server_port) = scope["client"], scope["server"]
        peer = f"{scope['scheme']} {client_ip} {client_port} {server_ip} {server_port}"
        body = b"".join([chunk async for chunk in _body(receive)])
        target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        lines = [b"%s %s HTTP/1.1" % (scope["method"].encode(), target)]
        lines += [
            b"%s: %s" % item for item in _kept(scope["headers"], _REQUEST_DROPPED | {b"content-length"})
        ]
        lines.append(b"content-length: %d" % len(body))
        lines.append(PEER_HEADER + b": " + (peer + (" locked" if locked else "")).encode())
        idle = self.idle[index]
        while idle and idle[-1].closed:
            idle.pop()
        try:
            if idle:
                connection = idle.pop()
            else:
                loop = asyncio.get_running_loop()
                _, connection = await loop.create_unix_connection(_WorkerAnswer, self.paths[index])
        except OSError:
            message = "The server is restarting a worker; retry shortly."
            await _refuse(send, 503, "WORKER_UNAVAILABLE", message, retry_after=1)
            return 503
        connection.begin()
        assert connection.transport is not None
        connection.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        try:
            head = await asyncio.wait_for(connection.events.get(), self.answer_seconds)
        except TimeoutError:
            connection.abort()
            await _refuse(send, 504, "WORKER_TIMEOUT", "The server did not answer in time; retry shortly.")
            return 504
        if not isinstance(head, tuple):
            connection.abort()
            await _refuse(send, 502, "WORKER_FAILED", "The request failed; retry shortly.")
            return 502
        status, answer_headers = head
        try:
            kept = _kept(answer_headers, _ANSWER_DROPPED)
            await send({"type": "http.response.start", "status": status, "headers": kept})
            while isinstance(event := await connection.events.get(), bytes):
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if connection.complete and not connection.closed and len(idle) < MAX_IDLE_PER_WORKER:
                idle.append(connection)
            else:
                connection.abort()
        return status

    async def aclose(self) -> None:
        await super().aclose()
        for idle in self.idle:
            while idle:
                idle.pop().abort()


class AsgiFront:
    """A ``mcpgram.workers.Front``: uvicorn (httptools) serving :class:`AsgiRelay` on the public port."""

    def __init__(self, *, lean: bool = False) -> None:
        self.lean = lean
        self.relay: AsgiRelay | None = None
        self.server: uvicorn.Server | None = None
        self.ticking: asyncio.Task[None] | None = None

    async def start(self, settings: Settings, socket_paths: Sequence[str]) -> int:
        self.relay = (LeanRelay if self.lean else AsgiRelay)(socket_paths, settings)
        config = uvicorn.Config(
            self.relay,
            host=settings.host,
            port=settings.port,
            # The edge protocol the single-process server listens with (web/protocol.py): uvicorn's
            # httptools protocol plus head/body timeouts, head size limits and the connection cap.
            http=edge_protocol(EdgeLimits.from_config(settings.http_config())),
            lifespan="off",
            access_log=False,
            log_config=None,
            proxy_headers=False,
            server_header=False,  # the worker's answer carries its own headers (and date)
            date_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=5,
        )
        config.load()
        self.server = server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()  # not serve(): the supervisor owns SIGTERM and SIGINT
        self.ticking = asyncio.create_task(server.main_loop())
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port

    def worker_replaced(self, index: int) -> None:
        """Nothing to drop: httpx discards a pooled connection the worker closed."""

    async def stop(self) -> None:
        if self.server is not None and self.server.started:
            self.server.should_exit = True
            if self.ticking is not None:
                await self.ticking
            await self.server.shutdown()
        if self.relay is not None:
            await self.relay.aclose()


def main() -> int:
    lean = sys.argv[1:] == ["--lean"]  # the worker leg by hand (httptools), not httpx
    variant = ", lean" if lean else ""
    settings = Settings.load(env_file=None, port=0)  # any free port, as `serve --port 0`
    logging.basicConfig(level=logging.WARNING)

    def ready(port: int) -> None:
        url = f"http://{settings.host}:{port}/v1/mcp"
        print(
            f"mcpgram: serving MCP at {url} with {settings.workers} workers (ASGI relay{variant})",
            file=sys.stderr,
            flush=True,
        )

    anyio.run(
        lambda: serve_workers(settings, ready=ready, log_level=settings.log_level, front=AsgiFront(lean=lean))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
