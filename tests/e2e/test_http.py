"""HTTP end to end: two tenants behind one server, real MCP clients, real Telethon, the sandbox."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from mcpgram.log import configure_logging
from mcpgram.sandbox import SandboxServer
from mcpgram.testing import SANDBOX_API_HASH

from .conftest import People, Running

pytestmark = pytest.mark.e2e


def _json(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def _list_tools(server: Running, token: str) -> httpx.Response:
    """A bare tools/list with ``token``, outside any session: what a client with a stale token sends."""
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{server.base}/v1/mcp",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )


async def test_two_tenants_see_only_their_own_telegram(server: Running, people: People) -> None:
    """Each token reaches its own account; one tenant's chat ids and cursors mean nothing to the other."""
    async with server.client(server.alice) as alice, server.client(server.carol) as carol:
        alice_chats = _json(await alice.call_tool("find_chats", {}))["chats"]
        carol_chats = _json(await carol.call_tool("find_chats", {}))["chats"]
        assert [c["name"] for c in alice_chats] == ["Bob"] and [c["name"] for c in carol_chats] == ["Bob"]
        alice_page = _json(await alice.call_tool("get_messages", {"chat": str(people.bob), "limit": 5}))
        carol_page = _json(await carol.call_tool("get_messages", {"chat": str(people.bob), "limit": 5}))
        assert all(m["text"].startswith("alice-bob") for m in alice_page["messages"])
        assert [m["text"] for m in carol_page["messages"]] == ["carol to bob"]
        # Carol cannot reach Alice's chat by id, nor page with Alice's cursor.
        with pytest.raises(ToolError, match="CHAT_NOT_FOUND"):
            await carol.call_tool("get_messages", {"chat": str(people.alice)})
        with pytest.raises(ToolError, match="INVALID_CURSOR"):
            await carol.call_tool(
                "get_messages", {"chat": str(people.bob), "cursor": alice_page["next_cursor"]}
            )


async def test_concurrent_tenants_do_not_mix(server: Running, people: People) -> None:
    """Interleaved calls from both tenants each return their own data every time."""
    async with server.client(server.alice) as alice, server.client(server.carol) as carol:

        async def names(client: Client[Any]) -> str:
            page = _json(await client.call_tool("get_messages", {"chat": str(people.bob), "limit": 1}))
            return str(page["messages"][0]["text"])

        results = await asyncio.gather(*[names(alice) for _ in range(10)], *[names(carol) for _ in range(10)])
        assert results[:10] == ["alice-bob 44"] * 10 and results[10:] == ["carol to bob"] * 10


async def test_revoked_token_is_refused_on_the_next_request(server: Running) -> None:
    """After revocation the same token gets 401 at once; the other tenant is unaffected."""
    record = server.gateway.vault.authenticate(server.carol)
    async with server.client(server.carol) as carol:
        await carol.call_tool("find_chats", {})
    server.gateway.vault.revoke(record.tenant_id)
    assert (await _list_tools(server, server.carol)).status_code == 401
    async with server.client(server.alice) as alice:
        assert _json(await alice.call_tool("find_chats", {}))["chats"]


async def test_a_tenant_key_is_unwrapped_once_per_token_not_per_call(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later calls with a verified token reuse its unwrapped key; a rotated token is refused, and
    its successor unwraps afresh (the cache is keyed by the token, not the tenant)."""
    vault = server.gateway.vault
    unwraps: list[str] = []
    unlock = vault.unlock

    def counting_unlock(tenant_id: str, secret: bytes) -> Any:
        unwraps.append(tenant_id)
        return unlock(tenant_id, secret)

    monkeypatch.setattr(vault, "unlock", counting_unlock)
    async with server.client(server.alice) as alice:
        for _ in range(3):
            assert _json(await alice.call_tool("find_chats", {}))["chats"]
    assert len(unwraps) == 1
    rotated = vault.rotate(server.alice)
    unwraps.clear()  # rotating unwraps the key once itself, to re-wrap it
    assert (await _list_tools(server, server.alice)).status_code == 401
    async with server.client(rotated) as alice:
        assert _json(await alice.call_tool("find_chats", {}))["chats"]
        assert _json(await alice.call_tool("find_chats", {}))["chats"]
    assert len(unwraps) == 1


async def test_url_auth_path_works_and_health_is_liveness_only(server: Running) -> None:
    """A client that cannot send headers uses /v1/url_auth/{token}/mcp; /health says only ok."""
    url = f"{server.base}/v1/url_auth/{server.alice}/mcp"
    async with Client(StreamableHttpTransport(url)) as alice:
        assert _json(await alice.call_tool("find_chats", {}))["chats"][0]["name"] == "Bob"
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{server.base}/health")
    assert health.json() == {"status": "ok"} and health.headers["x-content-type-options"] == "nosniff"


async def test_no_secret_reaches_logs_or_the_database(
    server: Running, sandbox: SandboxServer, people: People, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens, the API hash, auth keys and message text appear in neither the logs nor the vault file."""
    configure_logging("DEBUG", json=True)
    caplog.set_level(logging.DEBUG)
    async with server.client(server.alice) as alice:
        await alice.call_tool("get_messages", {"chat": str(people.bob), "limit": 5})
    url = f"{server.base}/v1/url_auth/{server.alice}/mcp"
    async with Client(StreamableHttpTransport(url)) as alice:
        await alice.call_tool("find_chats", {})
    await server.gateway.pool.close()  # flush sessions so the database holds everything it will
    # The test's own MCP client logs its URL at DEBUG; only what the server side logs counts.
    client_side = ("mcp.client", "fastmcp.client", "httpx", "httpcore")
    server_records = [r for r in caplog.records if not r.name.startswith(client_side)]
    assert any(r.name.startswith("mcpgram") for r in server_records)
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in server_records)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name.startswith("vault.db"))
    auth_keys = [a.key for a in sandbox.auth_keys.values() if a.user_id == people.alice]
    assert auth_keys and all(key not in stored and key.hex() not in logged for key in auth_keys)
    for secret in (server.alice, server.carol, SANDBOX_API_HASH):
        assert secret not in logged
        assert secret.encode() not in stored
    assert "alice-bob" not in logged and b"alice-bob" not in stored
