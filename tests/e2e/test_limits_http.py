"""Per-tenant limits over HTTP: one tenant over its call limit or write pace does not slow another.

Real MCP clients with bearer tokens -> a running HTTP gateway -> Telethon -> sandbox, two tenants
(Alice and Carol) in one process sharing one rate store.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp.exceptions import ToolError

from mcpgram.sandbox import SandboxServer

from .conftest import People, Running, serving


@pytest.fixture
async def strict(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[Running]:
    """Alice and Carol behind a gateway with a tight call limit and write pace."""
    async with serving(
        sandbox, tmp_path / "data", vault_for, call_rate=0.2, call_burst=3,
        pace_write_seconds=30.0, pace_write_burst=1, pace_max_wait=0.5,
    ) as running:  # fmt: skip
        yield running


async def refused(server: Running, token: str, tool: str, **args: Any) -> str:
    async with server.client(token) as client:
        with pytest.raises(ToolError) as caught:
            await client.call_tool(tool, args)
    return str(caught.value)


async def test_one_tenants_write_pace_does_not_slow_another(strict: Running, people: People) -> None:
    """Alice's second send within her pace is RATE_LIMITED; Carol's send right after goes through."""
    async with strict.client(strict.alice) as client:
        await client.call_tool("send_message", {"chat": str(people.bob), "text": "one"})
    text = await refused(strict, strict.alice, "send_message", chat=str(people.bob), text="two")
    found = re.search(r"retry_after=(\d+)", text)
    assert text.startswith("RATE_LIMITED: ") and found and 25 <= int(found[1]) <= 30
    async with strict.client(strict.carol) as client:
        await client.call_tool("send_message", {"chat": str(people.bob), "text": "carol's turn"})


async def test_one_tenants_call_limit_does_not_limit_another(strict: Running, people: People) -> None:
    """Alice's fourth call in a row is RATE_LIMITED with retry_after; Carol's three calls all work."""
    async with strict.client(strict.alice) as client:
        for _ in range(3):
            await client.call_tool("get_chat", {"chat": str(people.bob)})
        with pytest.raises(ToolError) as caught:
            await client.call_tool("get_chat", {"chat": str(people.bob)})
    found = re.search(r"retry_after=(\d+)", str(caught.value))
    assert str(caught.value).startswith("RATE_LIMITED: ") and found and 1 <= int(found[1]) <= 5
    async with strict.client(strict.carol) as client:
        for _ in range(3):
            await client.call_tool("get_chat", {"chat": str(people.bob)})


@pytest.mark.parametrize("path", ["/v1/mtproto", "/mtproto-api"])
async def test_the_raw_bridge_counts_against_the_same_call_limit(
    strict: Running, sandbox: SandboxServer, path: str
) -> None:
    """Two MCP calls and one bridge call use Alice's burst of 3; her next bridge call is 429
    RATE_LIMITED with Retry-After and the tools' body, and never reaches Telegram; her next MCP call
    is refused as well (one bucket). Carol's bridge call goes through."""
    async with strict.client(strict.alice) as client:
        for _ in range(2):
            await client.call_tool("get_chat", {"chat": "me"})
    async with httpx.AsyncClient(base_url=strict.base, timeout=30) as http:

        async def bridge(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            return await http.post(f"{path}/users.getFullUser", json={"id": "me"}, headers=headers)

        assert (await bridge(strict.alice)).status_code == 200
        before = sandbox.rpc_counts["users.getFullUser"]
        limited = await bridge(strict.alice)
        assert sandbox.rpc_counts["users.getFullUser"] == before
        assert (await bridge(strict.carol)).status_code == 200
    body = limited.json()
    assert limited.status_code == 429 and body["error"] == "RATE_LIMITED"
    assert 1 <= int(limited.headers["retry-after"]) <= 5 and body["retry_after"] == int(
        limited.headers["retry-after"]
    )
    assert body["message"].startswith("this tenant may make 3 calls at once") and body["hint"]
    assert "RATE_LIMITED: " in await refused(strict, strict.alice, "get_chat", chat="me")
