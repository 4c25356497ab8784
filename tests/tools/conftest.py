"""Fixtures for tool tests: the demo world in a sandbox, a gateway logged in to it, a real MCP client.

The path is the real one: FastMCP ``Client`` (in-memory MCP transport, the whole protocol) ->
mcpgram's tools -> pool -> Telethon -> MTProto over TCP -> sandbox. ``Demo`` bundles what a test
needs: ``call(tool, **args)`` returns the parsed JSON result (a ``ToolError`` is raised as is), and
``world``/``demo`` are the sandbox's truth to compare results with.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
from fastmcp import Client

from mcpgram.app import Gateway, build_gateway
from mcpgram.fetch.fetcher import Fetcher
from mcpgram.policy.book import PolicyBook
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.demo import DemoWorld, build_demo_world
from mcpgram.settings import Settings
from mcpgram.testing import login_tenant, sandbox_telegram_config
from mcpgram.vault.vault import Vault

#: A fixed clock: every run sees the same ids and dates.
DEMO_NOW = 1_750_000_000


@dataclass
class Demo:
    demo: DemoWorld
    sandbox: SandboxServer
    gateway: Gateway
    client: Client[Any]

    @property
    def world(self) -> World:
        return self.demo.world

    @property
    def me(self) -> int:
        return self.demo.user_id

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        """Call ``tool`` and return its JSON payload (raises ToolError on a tool error)."""
        result = await self.client.call_tool(tool, args)
        assert len(result.content) == 1
        payload: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
        return payload

    async def raw(self, tool: str, **args: Any) -> str:
        """The result text exactly as the client received it."""
        result = await self.client.call_tool(tool, args)
        return result.content[0].text  # type: ignore[union-attr,no-any-return]


async def no_dns(host: str, port: int) -> list[str]:
    """A resolver that answers nothing: a URL a test did not plan for never reaches the network."""
    raise OSError("no lookups in tests")


async def serve_demo(
    data_dir: Path,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    settings: dict[str, Any] | None = None,
    fetcher: Fetcher | None = None,
    roots: list[str] | None = None,
    telegram: dict[str, Any] | None = None,
    approvals: bool = False,
) -> AsyncIterator[Demo]:
    """The demo world behind a gateway for ``transport`` (HTTP: no-auth), with ``settings`` overrides,
    a URL ``fetcher``, the MCP ``roots`` its client declares and ``telegram`` config changes, if given.
    Without ``approvals`` the owner's policy lets first contacts and deletes for everyone through
    unasked (tests of other things); with it, the default policy applies (they ask a person)."""
    demo = build_demo_world(now=DEMO_NOW)
    async with SandboxServer(demo.world) as sandbox:
        no_auth = True if transport == "http" else None
        # Tests call and write far faster than any agent: no call limit or pacing unless a test sets one.
        unlimited = {"call_rate": 0, "pacing": False}
        loaded = Settings.load(
            env_file=None, data_dir=data_dir, no_auth=no_auth, **{**unlimited, **(settings or {})}
        )
        config = sandbox_telegram_config(sandbox, **(telegram or {}))
        gateway = build_gateway(
            loaded, transport=transport, telegram=config, fetcher=fetcher or Fetcher(resolver=no_dns)
        )
        assert gateway.owner is not None
        await login_tenant(config, gateway.vault, gateway.owner, phone=demo.phone, code=demo.login_code)
        if not approvals:
            allow_unasked(gateway.vault, gateway.owner.tenant_id, loaded.default_policy)
        # Roots need a back-channel, which 2026-07-28 clients do not have: a legacy-era client.
        client_mode: Any = "legacy" if roots else "auto"
        async with gateway, Client(gateway.mcp, roots=roots, mode=client_mode) as client:
            yield Demo(demo=demo, sandbox=sandbox, gateway=gateway, client=client)


def allow_unasked(vault: Vault, tenant_id: str, default: str = "all") -> None:
    """Store ``default`` for the tenant with first_contact and delete_everyone set to allow."""
    book = PolicyBook(vault, default)
    book.set(
        tenant_id, book.get(tenant_id).with_situations({"first_contact": "allow", "delete_everyone": "allow"})
    )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Demo]:
    """A fresh demo world per test (writes in one test never leak into another)."""
    async for demo in serve_demo(tmp_path / "data"):
        yield demo


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """One demo world for a whole module of read-only tests (0.5 s saved per test).

    A module using it marks its tests ``pytestmark = pytest.mark.asyncio(loop_scope="module")``.
    Never write through it: the next test would see the change.
    """
    async for demo in serve_demo(tmp_path_factory.mktemp("shared") / "data"):
        yield demo
