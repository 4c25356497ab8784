"""FastMCP's own OAuth client with a real Chromium as the person's browser, nothing stood in.

The client discovers everything itself (401 -> protected resource metadata -> authorization server
metadata -> its client ID metadata document as ``client_id``), opens the authorization URL in
Chromium (Playwright instead of ``webbrowser.open``), and waits on fastmcp's own callback server.
Chromium signs in to Telegram on /setup (phone + code against the sandbox), continues to consent,
allows, and is redirected to that callback server with the code; the client exchanges it (PKCE)
and lists and calls tools. Screenshots: ``tests/artifacts/oauth/<test>/``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.auth import OAuth
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.sandbox import SandboxServer
from tests.browser.test_oauth_browser import page, sandbox, shot  # noqa: F401 (fixtures)
from tests.e2e.conftest import ALICE
from tests.e2e.eras import MODERN, era_client, offering, tool_round
from tests.e2e.oauthflow import client_document, free_port, oauth_server
from tests.fetch.conftest import TestCA, test_ca  # noqa: F401 (the fixture)


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    """fastmcp's callback server runs uvicorn, whose default logging config rewires the ``uvicorn``
    loggers for the whole process; put them back afterwards (``tests/test_log.py`` relies on them)."""
    names = ["uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


class ChromiumBrowser(OAuth):
    """fastmcp's OAuth client; the authorization URL opens in Playwright's Chromium."""

    def __init__(self, tab: Any, client_metadata_url: str, port: int) -> None:
        super().__init__(
            client_metadata_url=client_metadata_url, callback_port=port, callback_host="127.0.0.1"
        )
        self.tab, self.port = tab, port
        self.opened: list[str] = []
        self.driving: asyncio.Task[None] | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        # Returns at once: the client then starts its callback server (callback_handler).
        self.opened.append(authorization_url)
        self.driving = asyncio.create_task(self.sign_in_and_allow(authorization_url))

    async def sign_in_and_allow(self, url: str) -> None:
        tab = self.tab
        await tab.goto(url)
        await tab.wait_for_selector("#phone")
        assert httpx.URL(tab.url).path == "/setup"
        await shot(tab, "1-setup")
        await tab.fill("#phone", "+" + ALICE)
        await tab.click("button:has-text('Send the login code')")
        await tab.fill("#code", ALICE[5] * 5)
        await tab.click("button:has-text('Sign in')")
        await tab.wait_for_selector("#token", timeout=20_000)
        await shot(tab, "2-token")
        await tab.click("#continue")
        await tab.wait_for_selector("button:has-text('Allow')")
        assert "FastMCP in Chromium" in await tab.inner_text("h1")
        await shot(tab, "3-consent")
        for _ in range(100):  # fastmcp's callback server is up by now; make sure
            if await port_open(self.port):
                break
            await asyncio.sleep(0.1)
        await tab.click("button:has-text('Allow')")
        await tab.wait_for_url(f"http://127.0.0.1:{self.port}/callback?*")
        await shot(tab, "4-callback")


@pytest.mark.filterwarnings("ignore:Using in-memory token storage:UserWarning")
async def test_fastmcp_oauth_client_with_chromium_signing_in(
    sandbox: SandboxServer,  # noqa: F811
    tmp_path: Path,
    test_ca: TestCA,  # noqa: F811
    page: Any,  # noqa: F811
    uvicorn_logging: None,
) -> None:
    port = free_port()
    async with oauth_server(
        sandbox, tmp_path / "data", test_ca, setup_sessions=True, signup="open"
    ) as server:
        client_id = server.client_id("/fastmcp.json")
        redirect = f"http://127.0.0.1:{port}/callback"
        server.publish(
            "/fastmcp.json", client_document(client_id, name="FastMCP in Chromium", redirects=[redirect])
        )
        browser = ChromiumBrowser(page, client_id, port)
        with offering(MODERN):
            async with era_client(StreamableHttpTransport(server.resource, auth=browser), MODERN) as client:
                assert isinstance(client, Client)
                result = await tool_round(client, MODERN)
        assert browser.driving is not None
        await browser.driving  # Chromium's part finished without error
        assert result["chats"] and len(browser.opened) == 1
        sent = httpx.URL(browser.opened[0]).params
        assert sent["client_id"] == client_id and sent["code_challenge_method"] == "S256"
        assert sent["resource"] == server.resource and sent["redirect_uri"] == redirect
        assert len(server.gateway.vault.list_tenants()) == 1
