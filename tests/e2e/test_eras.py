"""Both MCP protocol eras end to end: legacy (initialize + session id; 2025-06-18 and 2025-11-25) and
2026-07-28 (stateless requests, ``server/discover``), over stdio, HTTP and url_auth, each through a
real SDK client of that era (``--workers`` is covered in test_workers.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from mcpgram.sandbox import SandboxServer

from .conftest import ALICE, People, Running, login_owner, settings_env, settings_for
from .eras import ERAS, MODERN, era_client, offering, tool_round

pytestmark = pytest.mark.e2e

MODERN_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Protocol-Version": MODERN,
}


def modern_request(method: str, params: dict[str, Any] | None = None, id_: int = 1) -> dict[str, Any]:
    """A 2026-07-28 request: the version and client identity travel in every request's ``_meta``."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": {**(params or {}), "_meta": meta}}


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_serves_each_era(
    era: str, sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    settings = settings_for(sandbox, tmp_path / "data")
    await login_owner(sandbox, settings, vault_for(settings), ALICE)
    transport = StdioTransport(
        command=sys.executable, args=["-m", "mcpgram", "serve"], env=settings_env(settings)
    )
    with offering(era):
        async with era_client(transport, era) as client:
            found = await tool_round(client, era)
    assert [chat["name"] for chat in found["chats"]] == ["Bob"]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("route", ["header", "url_auth"])
async def test_http_serves_each_era(era: str, route: str, server: Running, people: People) -> None:
    if route == "header":
        transport = StreamableHttpTransport(
            f"{server.base}/v1/mcp", headers={"Authorization": f"Bearer {server.alice}"}
        )
    else:
        transport = StreamableHttpTransport(f"{server.base}/v1/url_auth/{server.alice}/mcp")
    with offering(era):
        async with era_client(transport, era) as client:
            found = await tool_round(client, era)
            session_id = client.transport.get_session_id()  # type: ignore[attr-defined]
    assert [chat["id"] for chat in found["chats"]] == [people.bob]
    # Legacy HTTP sessions carry an Mcp-Session-Id; 2026-07-28 requests have none.
    assert (session_id is None) == (era == MODERN)


async def test_modern_requests_need_no_initialize_and_no_session(server: Running, people: People) -> None:
    """A bare 2026-07-28 POST is answered at once; discover names the revision; no session id is issued."""
    auth = {"Authorization": f"Bearer {server.alice}"}
    async with httpx.AsyncClient(base_url=server.base) as http:
        discover = await http.post(
            "/v1/mcp",
            headers={**MODERN_HEADERS, **auth, "Mcp-Method": "server/discover"},
            json=modern_request("server/discover"),
        )
        assert discover.status_code == 200, discover.text
        assert MODERN in discover.json()["result"]["supportedVersions"]
        call = await http.post(
            "/v1/mcp",
            headers={**MODERN_HEADERS, **auth, "Mcp-Method": "tools/call", "Mcp-Name": "find_chats"},
            json=modern_request("tools/call", {"name": "find_chats", "arguments": {}}, 2),
        )
    assert call.status_code == 200, call.text
    assert "mcp-session-id" not in call.headers
    assert str(people.bob) in call.json()["result"]["content"][0]["text"]


@pytest.mark.parametrize(
    ("headers", "body_method", "name"),
    [
        ({"Mcp-Method": "tools/list"}, "tools/call", "find_chats"),  # header names another method
        ({"Mcp-Method": "tools/call", "Mcp-Name": "send_message"}, "tools/call", "find_chats"),
        ({"Mcp-Method": "tools/call"}, "tools/call", "find_chats"),  # Mcp-Name missing
    ],
)
async def test_modern_header_and_body_must_agree(
    headers: dict[str, str], body_method: str, name: str, server: Running
) -> None:
    """A routing header that disagrees with the body is refused before any tool runs."""
    auth = {"Authorization": f"Bearer {server.alice}"}
    async with httpx.AsyncClient(base_url=server.base) as http:
        response = await http.post(
            "/v1/mcp",
            headers={**MODERN_HEADERS, **auth, **headers},
            json=modern_request(body_method, {"name": name, "arguments": {}}),
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] < 0 and "Traceback" not in response.text


async def test_modern_requests_are_authenticated_like_legacy_ones(server: Running) -> None:
    """No token, a bad token: 401 for a 2026-07-28 request too, with no tool run."""
    async with httpx.AsyncClient(base_url=server.base) as http:
        for auth in ({}, {"Authorization": "Bearer mcpg_" + "A" * 43}):
            response = await http.post(
                "/v1/mcp",
                headers={**MODERN_HEADERS, **auth, "Mcp-Method": "tools/call", "Mcp-Name": "find_chats"},
                json=modern_request("tools/call", {"name": "find_chats", "arguments": {}}),
            )
            assert response.status_code == 401
            assert "Bearer" in response.headers["www-authenticate"]


class ListingCounter(Middleware):
    """Counts the tools/list runs through FastMCP's middleware chain."""

    def __init__(self) -> None:
        self.listings = 0

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        self.listings += 1
        return await call_next(context)


@pytest.mark.parametrize("era", ERAS)
async def test_a_tool_call_does_not_list_every_tool(era: str, server: Running, people: People) -> None:
    """The SDK checks tools/call headers against the tool's schema; FastMCP serves it from its cache.

    mcpgram used to hand the SDK that lookup itself (a listing per call cost 17% of the gateway's
    CPU in bench/tenants.py); FastMCP 4.2 does it, and this holds it to that.
    """
    counter = ListingCounter()
    server.gateway.mcp.add_middleware(counter)
    transport = StreamableHttpTransport(
        f"{server.base}/v1/mcp", headers={"Authorization": f"Bearer {server.alice}"}
    )
    with offering(era):
        async with era_client(transport, era) as client:
            await client.call_tool("find_chats", {})
            first = counter.listings
            for _ in range(5):
                await client.call_tool("find_chats", {})
    # At most the client's own listing, before its first call (it reads the tools' schemas once).
    assert first <= 1 and counter.listings == first
