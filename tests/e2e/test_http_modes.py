"""HTTP serving modes: --no-auth on loopback serves only the owner; TLS serves https with HSTS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.app import build_gateway
from mcpgram.sandbox import SandboxServer

from ..web.conftest import serving
from .conftest import ALICE, People, login_owner, self_signed, settings_for

pytestmark = pytest.mark.e2e


running = serving  # serve_http for a gateway on a free port (tests/web/conftest.py)


async def test_no_auth_on_loopback_serves_the_owner_without_tokens(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Callable[..., Any]
) -> None:
    """With --no-auth on 127.0.0.1 a client without a token reaches the owner's account, and only it."""
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, no_auth=True)
    await login_owner(sandbox, settings, vault_for(settings), ALICE)
    gateway = build_gateway(settings, transport="http")
    assert gateway.verifier is None and gateway.owner is not None
    async with (
        running(gateway) as port,
        Client(StreamableHttpTransport(f"http://127.0.0.1:{port}/v1/mcp")) as c,
    ):
        chats = json.loads((await c.call_tool("find_chats", {})).content[0].text)["chats"]
    assert [chat["name"] for chat in chats] == ["Bob"]


async def test_tls_serves_https_with_hsts(sandbox: SandboxServer, tmp_path: Path) -> None:
    """With a certificate and key the server speaks TLS only, and every response carries HSTS."""
    cert, key = self_signed(tmp_path)
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, tls_cert=cert, tls_key=key)
    gateway = build_gateway(settings, transport="http")
    context = ssl.create_default_context(cafile=str(cert))
    async with running(gateway) as port, httpx.AsyncClient(verify=context) as http:
        health = await http.get(f"https://127.0.0.1:{port}/health")
        assert health.status_code == 200
        assert "max-age" in health.headers["strict-transport-security"]
        with pytest.raises(httpx.HTTPError):
            await http.get(f"http://127.0.0.1:{port}/health")


async def test_tls_refusals_made_by_the_http_server_carry_hsts(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Over TLS, the 400 the HTTP server itself gives a malformed request is JSON with HSTS too."""
    cert, key = self_signed(tmp_path)
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, tls_cert=cert, tls_key=key)
    context = ssl.create_default_context(cafile=str(cert))
    async with running(build_gateway(settings, transport="http")) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        try:
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            response = await asyncio.wait_for(reader.read(65536), 10)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nstrict-transport-security: max-age=" in head.lower()
    assert json.loads(body)["error"] == "BAD_REQUEST"


async def test_configured_cors_origins_reach_the_served_app(sandbox: SandboxServer, tmp_path: Path) -> None:
    """MCPGRAM_CORS_ORIGINS is honoured by `serve`: its origin gets CORS answers, another origin none."""
    allowed = "http://127.0.0.1:5173"
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, cors_origins=allowed)
    gateway = build_gateway(settings, transport="http")
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with running(gateway) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ok = await http.options("/v1/mcp", headers={"Origin": allowed, **preflight})
        foreign = await http.options("/v1/mcp", headers={"Origin": "http://127.0.0.1:5174", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed
    assert "mcp-method" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in foreign.headers and foreign.status_code in {400, 403}
