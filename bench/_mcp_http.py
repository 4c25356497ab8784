"""A minimal MCP client over streamable HTTP, for load generation only.

It speaks the real protocol a gateway sees from any client. Legacy era (``PROTOCOL_VERSION``):
``initialize`` (protocol version, capabilities, client info), the ``notifications/initialized``
notification, ``tools/call`` requests on the ``Mcp-Session-Id`` the server assigned, SSE or JSON
responses, and ``DELETE`` to end the session. 2026-07-28 (``MODERN_VERSION``): ``server/discover``
first, then self-contained requests, each with the version, client info and capabilities in its
``_meta`` and the ``Mcp-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers; no session.
It skips what a full client adds on its side (pydantic models for every message, a receive loop,
per-request streams), which in bench/tenants.py cost the load generator more CPU per call than the
gateway spent serving it, so the client, not the server, set the pace.

HTTP/1.1 is spoken by hand on an asyncio protocol: requests are bytes from a header block built once
per session, responses are parsed by httptools (C), and a session keeps its own keep-alive
connection (a second only if it sends concurrently), as a real client holds one per session. Built
on httpx, this client used 1.6-2.4 ms of CPU per tool call in bench/tenants.py (100 tenants, 10 s;
FastMCP floor phase 1.2-1.9 ms); this way 0.30-0.47 ms (floor 0.23-0.33), four A/B runs each. The
gateway's own CPU per call did not change with a connection per session instead of httpx's pool.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httptools
import httpx2 as httpx

PROTOCOL_VERSION = "2025-06-18"
MODERN_VERSION = "2026-07-28"
_CLIENT_INFO = {"name": "mcpgram-bench", "version": "1"}
#: Methods whose 2026-07-28 request names its target in ``Mcp-Name``, and the parameter it comes from.
_NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_ACCEPT = "application/json, text/event-stream"


class MCPError(RuntimeError):
    """A JSON-RPC error answer, or a tool result with ``isError``."""


class _Reply(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> str:
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == name), "")


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, its response parsed by httptools as it arrives."""

    def __init__(self, timeout: float | None) -> None:
        self._timeout = timeout  # seconds to wait for a response
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[_Reply] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(httpx.RemoteProtocolError("server closed the connection before the response ended"))

    def on_message_begin(self) -> None:  # httptools callbacks from here to on_message_complete
        self._headers, self._body = [], []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)  # a chunked body arrives already de-chunked

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.close()
        if self._waiter is not None and not self._waiter.done():
            status = self._parser.get_status_code()
            self._waiter.set_result(_Reply(status, self._headers, b"".join(self._body)))

    async def request(self, data: bytes) -> _Reply:
        if not self.open or self._transport is None:
            raise httpx.RemoteProtocolError("connection closed")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Reply] = loop.create_future()
        self._waiter = waiter
        self._transport.write(data)
        expire = None
        if self._timeout is not None:
            expire = loop.call_later(self._timeout, self._fail, httpx.ReadTimeout("no response in time"))
        try:
            return await waiter
        finally:
            if expire is not None:
                expire.cancel()

    def close(self) -> None:
        self.open = False
        if self._transport is not None:
            self._transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
            self.close()  # a response half read leaves the connection in an unknown state


class LeanSession:
    """One MCP session for one bearer token, on HTTP/1.1 keep-alive connections of its own.

    ``http`` is only read for its timeouts (the callers share one ``httpx.AsyncClient`` for that);
    ``http`` and ``https`` URLs are both accepted, as they were when this client was built on httpx.
    """

    def __init__(
        self, http: httpx.AsyncClient | None, url: str, token: str, *, era: str = PROTOCOL_VERSION
    ) -> None:
        self.era = era
        self._modern = era == MODERN_VERSION
        self._meta = {
            "io.modelcontextprotocol/protocolVersion": era,
            "io.modelcontextprotocol/clientInfo": _CLIENT_INFO,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        timeout = http.timeout if http is not None else httpx.Timeout(60)
        self._connect_timeout, self._read_timeout = timeout.connect, timeout.read
        self._url = url
        parts = urlsplit(url)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._path = path.encode()
        self._head = (
            f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\nAccept: {_ACCEPT}\r\n".encode()
        )
        self._idle: list[_Connection] = []
        self._session_id = ""
        self._next_id = 0

    async def __aenter__(self) -> LeanSession:
        if self._modern:
            self._head += f"Mcp-Protocol-Version: {self.era}\r\n".encode()
            try:
                message = self._request("server/discover", {})
                self._answer(await self._send(self._post_bytes(message)), message["id"])
            except BaseException:
                self._close()
                raise
            return self
        init = {"protocolVersion": self.era, "capabilities": {}, "clientInfo": _CLIENT_INFO}
        try:
            message = self._request("initialize", init)
            reply = await self._send(self._post_bytes(message))
            self._answer(reply, message["id"])
            self._session_id = reply.header(b"mcp-session-id")
            if self._session_id:
                self._head += f"Mcp-Session-Id: {self._session_id}\r\n".encode()
            self._head += f"MCP-Protocol-Version: {self.era}\r\n".encode()
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            self._check(await self._send(self._post_bytes(note)))
        except BaseException:
            self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._session_id:
                await self._send(b"DELETE %s HTTP/1.1\r\n%s\r\n" % (self._path, self._head))
        finally:
            self._close()

    async def post(self, method: str, params: dict[str, Any]) -> httpx.Response:
        """Send one request on the session; the HTTP response as received (bench/tools.py counts it)."""
        reply = self._check(await self._send(self._post_bytes(self._request(method, params))))
        response = httpx.Response(reply.status, headers=reply.headers, stream=httpx.ByteStream(reply.body))
        response.read()  # headers.raw stay the ones on the wire (content= would add a Content-Length)
        return response

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's first text block; MCPError for a JSON-RPC error or an error result."""
        message = self._request("tools/call", {"name": name, "arguments": arguments})
        result = self._answer(await self._send(self._post_bytes(message)), message["id"])
        text = str(result["content"][0].get("text", ""))
        if result.get("isError"):
            raise MCPError(text[:200])
        return text

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        if self._modern:
            params = {**params, "_meta": self._meta}
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}

    def _post_bytes(self, message: dict[str, Any]) -> bytes:
        body = json.dumps(message, separators=(",", ":")).encode()
        routing = b""
        if self._modern and "method" in message:
            method = message["method"]
            routing = f"Mcp-Method: {method}\r\n".encode()
            if method in _NAMED:
                routing += f"Mcp-Name: {message['params'][_NAMED[method]]}\r\n".encode()
        head = b"POST %s HTTP/1.1\r\n%s%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        return head % (self._path, self._head, routing, len(body)) + body

    async def _send(self, data: bytes) -> _Reply:
        """``data`` on an idle connection of the session, or a new one; the whole response."""
        while self._idle and not self._idle[-1].open:
            self._idle.pop()
        if self._idle:
            conn = self._idle.pop()
        else:
            new = asyncio.get_running_loop().create_connection(
                lambda: _Connection(self._read_timeout), self._host, self._port, ssl=self._tls
            )
            _, conn = await asyncio.wait_for(new, self._connect_timeout)
        try:
            reply = await conn.request(data)
        except BaseException:  # cancelled or failed mid-response: the connection's state is unknown
            conn.close()
            raise
        if conn.open:
            self._idle.append(conn)
        return reply

    def _close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    def _check(self, reply: _Reply) -> _Reply:
        """``reply`` if 2xx; httpx.HTTPStatusError otherwise, as ``raise_for_status`` raised it on httpx."""
        if not 200 <= reply.status < 300:
            request = httpx.Request("POST", self._url)
            response = httpx.Response(
                reply.status, headers=reply.headers, content=reply.body, request=request
            )
            response.raise_for_status()
        return reply

    def _answer(self, reply: _Reply, request_id: int) -> dict[str, Any]:
        self._check(reply)
        if reply.header(b"content-type").startswith("text/event-stream"):
            messages = [json.loads(data) for data in _sse_data(reply.body.decode())]
        else:
            messages = [json.loads(reply.body)]
        for message in messages:
            if message.get("id") == request_id:
                if "error" in message:
                    raise MCPError(str(message["error"].get("message", ""))[:200])
                return dict(message["result"])
        raise MCPError("no answer to the request in the response")


def _sse_data(text: str) -> list[str]:
    """The data of each event of an SSE body (its ``data:`` lines, joined); events with none skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
        if data := "\n".join(lines):  # an event with empty data is not dispatched (SSE spec)
            events.append(data)
    return events
