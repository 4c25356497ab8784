"""Shared pieces for the HTTP edge tests: a real vault whose store counts lookups, a tiny MCP server
with a ``whoami`` tool, the edge app around it, and ways to talk to it (in-process and over a socket)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_access_token
from starlette.applications import Starlette

from mcpgram.settings import HttpConfig
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.app import build_http_app
from mcpgram.web.protocol import TargetKeepingProtocol
from mcpgram.web.verifier import MCPGramTokenVerifier

SERVER_SECRET = b"s" * 32
BASE_URL = "http://127.0.0.1:8000"
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "edge-test", "version": "1"},
    },
}


class CountingStore:
    """A vault store that forwards to SQLite and counts every call by method name."""

    def __init__(self, inner: SQLiteVault) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted

    @property
    def lookups(self) -> int:
        """How many times a token digest was looked up."""
        return self.calls["tenant_by_digest"]


@dataclass(frozen=True)
class EdgeConfig(HttpConfig):
    """The real ``HttpConfig``, with a 4 KiB body limit so the limit tests stay small."""

    max_body_bytes: int = 4096


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    counting = CountingStore(SQLiteVault(tmp_path / "vault.db"))
    yield counting
    counting.inner.close()


@pytest.fixture
def vault(store: CountingStore) -> Vault:
    return Vault(store, server_secret=SERVER_SECRET)


def whoami_server(auth: MCPGramTokenVerifier | None) -> FastMCP[Any]:
    """A FastMCP server whose only tool reports the tenant the request authenticated as."""
    mcp: FastMCP[Any] = FastMCP("edge-test", auth=auth)

    @mcp.tool
    def whoami() -> str:
        """Return the authenticated tenant id."""
        token = get_access_token()
        return token.client_id if token else "anonymous"

    return mcp


EdgeFactory = Callable[..., Starlette]


@pytest.fixture
def edge(vault: Vault) -> EdgeFactory:
    """Builds the edge app around a whoami server authenticated against ``vault``."""

    def build(config: EdgeConfig | None = None, **kwargs: Any) -> Starlette:
        verifier = MCPGramTokenVerifier(vault)
        return build_http_app(whoami_server(verifier), http_config=config or EdgeConfig(), **kwargs)

    return build


@contextlib.asynccontextmanager
async def asgi_client(app: Starlette, base_url: str = BASE_URL) -> AsyncIterator[httpx2.AsyncClient]:
    """An in-process client for ``app`` with its lifespan running (FastMCP's session manager needs it)."""
    transport = httpx2.ASGITransport(app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=transport, base_url=base_url) as c,
    ):
        yield c


async def initialize(client: httpx2.AsyncClient, path: str = "/v1/mcp", **headers: str) -> httpx2.Response:
    """POST an MCP ``initialize`` request, the first thing any client sends."""
    return await client.post(path, json=INITIALIZE, headers={**MCP_ACCEPT, **headers})


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 and an OS-chosen port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    # proxy_headers=False as in mcpgram.app.serve_http: X-Forwarded-For is the edge's to judge.
    config = uvicorn.Config(
        app,
        access_log=False,
        log_config=None,
        lifespan="on",
        ws="none",
        proxy_headers=False,
        http=TargetKeepingProtocol,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def serving(gateway: Any) -> AsyncIterator[int]:
    """``mcpgram.app.serve_http`` for ``gateway`` on 127.0.0.1 and a free port; yields the port."""
    from mcpgram.app import serve_http

    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    try:
        yield await asyncio.wait_for(bound, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
