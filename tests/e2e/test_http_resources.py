"""Resources over HTTP with two tenants: a read is authorised per tenant exactly like a tool call.

Alice chats with Bob; Carol chats with Bob and never met Alice (tests/e2e/conftest.py). Whatever URI
Carol reads, she gets her own account's view or CHAT_NOT_FOUND, never a byte of Alice's chat.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from mcp import MCPError

from mcpgram.sandbox import SandboxServer

from .conftest import People, Running

pytestmark = pytest.mark.e2e


async def _read(client: Client[Any], uri: str) -> Any:
    contents = await client.read_resource(uri)
    return json.loads(contents[0].text)  # type: ignore[union-attr]


async def _refused(client: Client[Any], uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    return str(caught.value)


async def test_each_tenant_reads_only_its_own_chats(server: Running, people: People) -> None:
    """Both tenants read "their" chat with Bob and get their own messages; Carol cannot read Alice's chat."""
    async with server.client(server.alice) as alice, server.client(server.carol) as carol:
        alice_page = await _read(alice, f"telegram://chats/{people.bob}/messages?limit=5")
        carol_page = await _read(carol, f"telegram://chats/{people.bob}/messages?limit=5")
        assert [m["text"] for m in alice_page["messages"]] == [f"alice-bob {i}" for i in range(44, 39, -1)]
        assert [m["text"] for m in carol_page["messages"]] == ["carol to bob"]
        # Alice's private chat, by her id, by her username and as a profile: not Carol's to read.
        for uri in (
            f"telegram://chats/{people.alice}",
            f"telegram://chats/{people.alice}/messages",
            "telegram://chats/@alice_e2e/messages?limit=100",
        ):
            try:
                seen = await _read(carol, uri)
            except MCPError as exc:
                assert str(exc).startswith("CHAT_NOT_FOUND: "), str(exc)
                continue
            # @alice_e2e is public: Carol may see Alice's profile, never a message of Alice's chat with Bob.
            assert "alice-bob" not in json.dumps(seen), uri
            assert not seen.get("messages"), uri


async def test_a_channel_the_tenant_never_joined_is_not_served(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """A private channel Alice is in is CHAT_NOT_FOUND for Carol, however its id is written."""
    channel = sandbox.world.add_channel(title="Alice private notes", creator_id=people.alice, broadcast=True)
    marked = f"-100{channel.id}"
    async with server.client(server.carol) as carol:
        for uri in (f"telegram://chats/{marked}", f"telegram://chats/{marked}/messages?limit=1"):
            message = await _refused(carol, uri)
            assert message.startswith("CHAT_NOT_FOUND: ") and "private notes" not in message, message


async def test_a_resource_read_without_a_token_is_refused(server: Running) -> None:
    """No bearer token, no resource: the HTTP edge answers 401 before any read."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.base}/v1/mcp",
            headers={"Accept": "application/json, text/event-stream"},
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "resources/read",
                "params": {"uri": "telegram://chats/me"},
            },
        )
    assert response.status_code == 401 and b"Dana" not in response.content
