"""OAuth 2.1 through ``serve --workers 2``: the endpoints work from any worker (state in SQLite), the
/setup session signs the person in, and access tokens (refreshed ones too) reach their tenant.

Spawned worker processes fetch client documents with the production fetcher, which refuses this
test's loopback document server, so the client registers dynamically (enabled here).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.datadir import server_secret_bytes
from mcpgram.sandbox import SandboxServer
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.frontwire import worker_index
from mcpgram.web.setup.signedin import cookie_name
from mcpgram.web.setup.store import SetupStore
from mcpgram.workers import prepare_data_dir, serve_workers

from .conftest import ALICE, People, login_token, settings_for
from .oauthflow import REDIRECT, authorize, consent, free_port, location, pkce

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def front(sandbox: SandboxServer, people: People, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    settings = settings_for(
        sandbox, data, transport="http", port=port, workers=2, public_url=base, oauth=True,
        oauth_dynamic_registration=True, auth_failures_per_minute=1000,
    )  # fmt: skip
    prepare_data_dir(settings)
    store = SQLiteVault(data / "vault.db")
    vault = Vault(store, server_secret=server_secret_bytes(settings))
    token = await login_token(sandbox, settings, vault, ALICE, "alice")
    tenant = vault.authenticate(token).tenant_id
    store.close()
    sessions = SetupStore(data / "signin.db")
    session = sessions.create_session(tenant, {"token": token})
    sessions.close()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_workers(settings, ready=bound.set_result))
    try:
        await asyncio.wait_for(bound, 90)
        yield base, session
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@dataclass(frozen=True)
class Front:
    base: str
    resource: str


async def find_chats(base: str, access: str) -> list[Any]:
    transport = StreamableHttpTransport(f"{base}/v1/mcp", headers={"Authorization": f"Bearer {access}"})
    async with Client(transport) as client:
        result = await client.call_tool("find_chats", {})
    chats: list[Any] = json.loads(result.content[0].text)["chats"]  # type: ignore[union-attr]
    return chats


async def test_oauth_through_the_front(front: tuple[str, str]) -> None:
    base, session = front
    async with httpx.AsyncClient(timeout=30) as http:
        body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "W"}
        registered = await http.post(f"{base}/register", json=body)
        assert registered.status_code == 201, registered.text
        client_id = registered.json()["client_id"]
        verifier, challenge = pkce()
        endpoints = Front(base, f"{base}/v1/mcp")
        to_consent = str(location(await authorize(http, endpoints, client_id, challenge)))
        answered = location(await consent(http, to_consent, session, name=cookie_name(False)))
        form = {"grant_type": "authorization_code", "code": answered.params["code"], "redirect_uri": REDIRECT,
                "client_id": client_id, "code_verifier": verifier}  # fmt: skip
        issued = (await http.post(f"{base}/token", data=form)).json()
        assert await find_chats(base, issued["access_token"])
        refresh = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": issued["refresh_token"],
        }
        rotated = (await http.post(f"{base}/token", data=refresh)).json()
    assert worker_index(rotated["access_token"], 2) == worker_index(issued["access_token"], 2)
    assert await find_chats(base, rotated["access_token"])
