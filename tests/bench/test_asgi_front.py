"""bench/_asgi_front.py, the ASGI relay prototype ``tenants.py --compare-fronts`` measures, works.

Real parts: the prototype front in this process over two spawned worker processes (whole gateways,
Telethon in them), the sandbox in this process, fastmcp's client. So the relay's numbers in
``bench/README.md`` describe a front that serves real tool calls.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.datadir import server_secret_bytes
from mcpgram.sandbox import SandboxServer, World
from mcpgram.testing import login_tenant, sandbox_telegram_config
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.workers import prepare_data_dir, serve_workers

from ..e2e.conftest import ALICE, populate, settings_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _asgi_front import AsgiFront  # bench/ is not a package

pytestmark = [pytest.mark.e2e]


@pytest.mark.parametrize("lean", [False, True], ids=["httpx", "lean"])
async def test_the_asgi_relay_serves_a_tenants_tool_call_through_the_workers(
    tmp_path: Path, lean: bool
) -> None:
    async with SandboxServer(World()) as sandbox:
        people = populate(sandbox.world)
        settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, workers=2)
        prepare_data_dir(settings)
        store = SQLiteVault(settings.data_dir / "vault.db")
        vault = Vault(store, server_secret=server_secret_bytes(settings))
        _, token = vault.create_tenant("alice")
        keys = vault.unlock_with_token(token)
        config = sandbox_telegram_config(sandbox, settings)
        await login_tenant(config, vault, keys, phone=ALICE, code=ALICE[5] * 5)
        store.close()
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve_workers(settings, ready=bound.set_result, front=AsgiFront(lean=lean))
        )
        try:
            base = f"http://127.0.0.1:{await asyncio.wait_for(bound, 90)}"
            transport = StreamableHttpTransport(
                f"{base}/v1/mcp", headers={"Authorization": f"Bearer {token}"}
            )
            async with Client(transport) as client:
                found = await client.call_tool("find_chats", {})
                read = await client.call_tool("get_messages", {"chat": str(people.bob), "limit": 5})
            assert {chat["id"] for chat in json.loads(found.content[0].text)["chats"]} == {people.bob}
            assert "alice-bob 44" in read.content[0].text
            async with httpx.AsyncClient(base_url=base) as http:
                refused = await http.post("/v1/mcp", json={}, headers={"Authorization": "Bearer nope"})
            # The worker's own refusal, relayed: its status, JSON body and security headers.
            assert refused.status_code == 401
            assert refused.headers["x-content-type-options"] == "nosniff"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
