"""stdio end to end: a real MCP client launches ``mcpgram serve`` and reads the owner's Telegram."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from mcpgram.sandbox import SandboxServer

from .conftest import ALICE, People, login_owner, settings_env, settings_for

pytestmark = pytest.mark.e2e


def _json(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def test_owner_reads_chats_and_pages_history(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    """Over stdio the owner finds Bob and reads 45 messages in pages that join without gaps."""
    settings = settings_for(sandbox, tmp_path / "data")
    await login_owner(sandbox, settings, vault_for(settings), ALICE)
    transport = StdioTransport(
        command=sys.executable, args=["-m", "mcpgram", "serve"], env=settings_env(settings)
    )
    async with Client(transport) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {"find_chats", "get_messages"} <= names
        chats = _json(await client.call_tool("find_chats", {}))["chats"]
        assert [c["name"] for c in chats] == ["Bob"]
        bob_id = chats[0]["id"]
        seen: list[int] = []
        cursor = None
        while True:
            args: dict[str, Any] = {"chat": str(bob_id), "limit": 20}
            if cursor:
                args["cursor"] = cursor
            page = _json(await client.call_tool("get_messages", args))
            seen += [m["id"] for m in page["messages"]]
            if not page["has_more"]:
                assert "next_cursor" not in page
                break
            cursor = page["next_cursor"]
        assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 45
        first = _json(await client.call_tool("get_messages", {"chat": "@bob_e2e", "limit": 1}))["messages"][0]
        assert first["text"] == "alice-bob 44" and first["sender"] == "Alice" and first["out"] is True
        with pytest.raises(ToolError, match="INVALID_CURSOR"):
            await client.call_tool("get_messages", {"chat": str(bob_id), "cursor": cursor[:-2] + "xx"})
        with pytest.raises(ToolError, match="CHAT_NOT_FOUND"):
            await client.call_tool("get_messages", {"chat": str(people.carol)})


async def test_a_logged_out_owner_gets_login_required(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    """A revoked session makes tools answer LOGIN_REQUIRED; the session is kept, marked for login."""
    settings = settings_for(sandbox, tmp_path / "data")
    vault = vault_for(settings)
    keys = await login_owner(sandbox, settings, vault, ALICE)
    sandbox.revoke(people.alice)
    transport = StdioTransport(
        command=sys.executable, args=["-m", "mcpgram", "serve"], env=settings_env(settings)
    )
    async with Client(transport) as client:
        with pytest.raises(ToolError, match="LOGIN_REQUIRED") as refused:
            await client.call_tool("find_chats", {})
    assert "Traceback" not in str(refused.value) and str(tmp_path) not in str(refused.value)
    assert vault.get_tenant(keys.tenant_id).status == "login_required"
    assert vault.open(keys, "session") is not None


async def test_demo_serves_the_demo_world_over_stdio() -> None:
    """``mcpgram demo`` needs no account: a client lists the demo chats and reads Saved Messages."""
    transport = StdioTransport(command=sys.executable, args=["-m", "mcpgram", "demo"])
    async with Client(transport) as client:
        chats = _json(await client.call_tool("find_chats", {"limit": 50}))["chats"]
        names = {c["name"] for c in chats}
        assert any("Hiking" in n for n in names) and any("Family" in n for n in names)
        saved = _json(await client.call_tool("get_messages", {"chat": "me", "limit": 5}))
        assert saved["messages"] and all(m["sender"] == "Dana Demo" for m in saved["messages"])
