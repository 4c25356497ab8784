"""bench/_mcp_http.py speaks MCP over HTTP/1.1 correctly: the handshake, the framings and the errors.

A scripted server plays the gateway, so the framings a real gateway does not send today (chunked
bodies, several SSE events in one) are covered too; a real FastMCP server checks the SSE answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fastmcp
import httpx2 as httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _mcp_http import MODERN_VERSION, PROTOCOL_VERSION, LeanSession, MCPError  # bench/ is not a package

Request = tuple[str, dict[str, str], bytes]
HANG_UP = b"<hang up>"  # at the end of an answer: the server closes the connection after writing it
Answer = Callable[[Request], bytes]


def http(status: str, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def chunked(body: bytes, content_type: str, extra: str = "") -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:]) if part)
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n{extra}\r\n"
    return head.encode() + chunks + b"0\r\n\r\n"


def result(request: Request, payload: dict[str, Any]) -> bytes:
    rid = json.loads(request[2])["id"]
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": payload}).encode()


def tool_text(request: Request, text: str, *, error: bool = False) -> bytes:
    return result(request, {"content": [{"type": "text", "text": text}], "isError": error})


class Scripted:
    """An HTTP/1.1 server answering each request with the next function of ``answers``."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers, self.requests, self.connections = list(answers), list[Request](), 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers and (head := await reader.readuntil(b"\r\n\r\n")):
                line, *fields = head.decode().split("\r\n")[:-2]
                headers = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.requests.append((line, headers, body))
                answer = self.answers.pop(0)(self.requests[-1])
                writer.write(answer.removesuffix(HANG_UP))
                await writer.drain()
                if answer.endswith(HANG_UP):
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[Answer]], Any]]:
    servers: list[asyncio.Server] = []

    async def start(answers: list[Answer]) -> tuple[Scripted, str]:
        scripted = Scripted(answers)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
        servers.append(server)
        return scripted, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/mcp"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def handshake(session_id: str = "s-1") -> list[Answer]:
    def initialize(request: Request) -> bytes:
        # Several SSE events, the first without data (a priming event), on a chunked body.
        events = b"id: 0\ndata:\n\n" + b"event: message\ndata: " + result(request, {}) + b"\n\n"
        return chunked(events, "text/event-stream", f"mcp-session-id: {session_id}\r\n")

    return [initialize, lambda request: b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"]


async def test_session_follows_the_protocol_on_one_connection(serve: Any) -> None:
    """initialize, initialized, calls and DELETE go out in order with the right headers, on one connection."""
    answers = [
        *handshake(),
        lambda r: http("200 OK", tool_text(r, "chats")),
        lambda r: chunked(tool_text(r, "messages"), "application/json"),
        lambda r: http("200 OK", b"", content_type="text/plain"),
    ]
    scripted, url = await serve(answers)
    async with httpx.AsyncClient(timeout=5) as client, LeanSession(client, url, "tok") as session:
        assert await session.call_tool("find_chats", {"limit": 20}) == "chats"
        assert await session.call_tool("get_messages", {"chat": "1"}) == "messages"
    assert scripted.connections == 1
    (init, note, call, _, delete) = scripted.requests
    assert init[0] == "POST /v1/mcp HTTP/1.1" and "mcp-session-id" not in init[1]
    assert json.loads(init[2])["params"]["protocolVersion"] == PROTOCOL_VERSION
    assert json.loads(note[2]) == {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert json.loads(call[2])["params"] == {"name": "find_chats", "arguments": {"limit": 20}}
    assert delete[0] == "DELETE /v1/mcp HTTP/1.1"
    for _, headers, _ in (note, call, delete):
        assert headers["mcp-session-id"] == "s-1" and headers["mcp-protocol-version"] == PROTOCOL_VERSION
    assert call[1]["authorization"] == "Bearer tok" and call[1]["content-type"] == "application/json"
    assert call[1]["accept"] == "application/json, text/event-stream"


async def test_a_2026_07_28_session_discovers_then_sends_self_contained_requests(serve: Any) -> None:
    """server/discover first; every request carries _meta and the routing headers; no session, no DELETE."""
    answers = [
        lambda r: http("200 OK", result(r, {"supportedVersions": [MODERN_VERSION]})),
        lambda r: http("200 OK", tool_text(r, "chats")),
    ]
    scripted, url = await serve(answers)
    async with LeanSession(None, url, "tok", era=MODERN_VERSION) as session:
        assert await session.call_tool("find_chats", {"limit": 20}) == "chats"
    discover, call = scripted.requests  # nothing after the call: no DELETE
    assert json.loads(discover[2])["method"] == "server/discover"
    assert discover[1]["mcp-method"] == "server/discover" and "mcp-name" not in discover[1]
    assert call[1]["mcp-method"] == "tools/call" and call[1]["mcp-name"] == "find_chats"
    for _, headers, body in (discover, call):
        assert headers["mcp-protocol-version"] == MODERN_VERSION and "mcp-session-id" not in headers
        meta = json.loads(body)["params"]["_meta"]
        assert meta["io.modelcontextprotocol/protocolVersion"] == MODERN_VERSION
        assert meta["io.modelcontextprotocol/clientInfo"]["name"] == "mcpgram-bench"
    assert json.loads(call[2])["params"]["arguments"] == {"limit": 20}


async def test_post_returns_the_response_as_received(serve: Any) -> None:
    answers = [
        *handshake(),
        lambda r: http("200 OK", result(r, {"tools": []}), extra="x-a: 1\r\n"),
        lambda r: http("200 OK", b""),
    ]
    _, url = await serve(answers)
    async with LeanSession(None, url, "tok") as session:
        response = await session.post("tools/list", {})
        assert response.status_code == 200 and response.reason_phrase == "OK"
        assert [k for k, _ in response.headers.raw] == [b"content-type", b"content-length", b"x-a"]
        assert response.json()["result"] == {"tools": []}


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (lambda r: http("404 Not Found", b"{}"), httpx.HTTPStatusError, "404"),
        (
            lambda r: http("200 OK", json.dumps({"id": 2, "error": {"message": "bad args"}}).encode()),
            MCPError,
            "bad args",
        ),
        (lambda r: http("200 OK", tool_text(r, "flood wait", error=True)), MCPError, "flood wait"),
        (lambda r: http("200 OK", tool_text(r, "x"))[:-3] + HANG_UP, httpx.RemoteProtocolError, "closed"),
    ],
)
async def test_errors_raise(serve: Any, answer: Answer, error: type[Exception], match: str) -> None:
    """Non-2xx, a JSON-RPC error, an error result and a connection closed mid-body each raise."""
    _, url = await serve([*handshake(), answer, lambda r: http("200 OK", b"")])
    async with LeanSession(None, url, "tok") as session:
        with pytest.raises(error, match=match):
            await session.call_tool("find_chats", {})


async def test_failed_initialize_raises_and_closes(serve: Any) -> None:
    _, url = await serve([lambda r: http("401 Unauthorized", b"{}")])
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        async with LeanSession(None, url, "tok"):
            pass


@pytest.mark.parametrize("json_response", [True, False])
async def test_against_a_fastmcp_server(json_response: bool) -> None:
    """A real streamable-HTTP server (JSON answers as the gateway gives, or SSE) accepts the session."""
    mcp: fastmcp.FastMCP[Any] = fastmcp.FastMCP("t")

    @mcp.tool
    async def echo(text: str) -> str:
        """Echo."""
        return text

    app = mcp.http_app(path="/mcp", json_response=json_response)
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_config=None, access_log=False, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn only sets a flag
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/mcp"
    try:
        for _ in range(2):
            async with LeanSession(None, url, "tok") as session:
                assert await session.call_tool("echo", {"text": "hé"}) == "hé"
                with pytest.raises(MCPError):
                    await session.call_tool("echo", {})
    finally:
        server.should_exit = True
        await serving
