"""OAuth 2.1 in a real browser: Chromium opens a client's authorization URL, signs in to Telegram
on /setup (phone + code against the sandbox), continues to the consent page, approves, and lands
on the client's redirect URI (a local HTTP listener) with the code. The test then exchanges the
code with its PKCE verifier and a real MCP client of each protocol era lists tools and calls them
with the access token. The client metadata document is served over TLS by a local server that the
gateway's test fetcher admits (``tests/e2e/oauthflow.py``), as in the OAuth e2e tests.
Screenshots of each step: ``tests/artifacts/oauth/<test>/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.sandbox import SandboxServer, World
from tests.browser.tab import browser_tab
from tests.e2e.conftest import ALICE, populate
from tests.e2e.eras import LEGACY, MODERN, era_client, offering, tool_round
from tests.e2e.oauthflow import client_document, oauth_server, pkce
from tests.fetch.conftest import LocalServer, TestCA, response, test_ca  # noqa: F401 (the fixture)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "oauth"


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    world = World()
    populate(world)  # Alice, Bob, Carol and their chats
    async with SandboxServer(world) as server:
        yield server


@pytest.fixture
async def callback() -> AsyncIterator[LocalServer]:
    """The client's redirect URI: a plain HTTP listener on loopback that records what arrives."""
    listener = LocalServer(None)
    listener.routes["/callback"] = response(200, b"back at the client", [("Content-Type", "text/plain")])
    listener.routes["/favicon.ico"] = response(204)
    await listener.start()
    yield listener
    await listener.stop()


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with browser_tab(request, ARTIFACTS) as tab:
        yield tab


async def shot(page: Any, name: str) -> None:
    path = page.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


@pytest.mark.parametrize("era", [LEGACY[0], MODERN])
async def test_oauth_in_the_browser(
    sandbox: SandboxServer,
    tmp_path: Path,
    test_ca: TestCA,  # noqa: F811
    *,
    callback: LocalServer,
    page: Any,
    era: str,
) -> None:
    redirect = f"http://127.0.0.1:{callback.port}/callback"
    data_dir = tmp_path / "data"
    async with oauth_server(sandbox, data_dir, test_ca, setup_sessions=True, signup="open") as server:
        client_id = server.client_id("/client.json")
        server.publish("/client.json", client_document(client_id, name="Browser Agent", redirects=[redirect]))
        verifier, challenge = pkce()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "state": "browser-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": server.resource,
        }
        # No sign-in cookie yet: authorize -> consent -> /setup?next=<consent>.
        await page.goto(f"{server.base}/authorize?{urlencode(query)}")
        await page.wait_for_selector("#phone")
        assert page.url.startswith(f"{server.base}/setup?next=")
        await shot(page, "1-setup")
        await page.fill("#phone", "+" + ALICE)
        await page.click("button:has-text('Send the login code')")
        await page.wait_for_selector("#code")
        await shot(page, "2-code")
        await page.fill("#code", ALICE[5] * 5)  # the test DC's code
        await page.click("button:has-text('Sign in')")
        await page.wait_for_selector("#token", timeout=20_000)
        assert (await page.input_value("#token")).startswith("mcpg_")  # still shown once
        await shot(page, "3-token")
        await page.click("#continue")
        await page.wait_for_selector("button:has-text('Allow')")
        assert "Browser Agent" in await page.inner_text("h1")
        await shot(page, "4-consent")
        await page.click("button:has-text('Allow')")
        await page.wait_for_url(f"{redirect}?*")
        await shot(page, "5-redirected")
        landed = httpx.URL(page.url)
        assert landed.params["state"] == "browser-1" and "error" not in landed.params
        assert any(seen.path.startswith("/callback?") for seen in callback.seen)
        async with httpx.AsyncClient(timeout=20) as http:
            reply = await http.post(
                f"{server.base}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": landed.params["code"],
                    "redirect_uri": redirect,
                    "client_id": client_id,
                    "code_verifier": verifier,
                    "resource": server.resource,
                },
            )
        assert reply.status_code == 200, reply.text
        access = reply.json()["access_token"]
        assert not access.startswith("mcpg_")  # an OAuth access token, not the setup token
        transport = StreamableHttpTransport(server.resource, headers={"Authorization": f"Bearer {access}"})
        with offering(era):
            async with era_client(transport, era) as client:
                result = await tool_round(client, era)
        assert result["chats"]
        # Signed in now: a second authorization goes straight to consent, no /setup.
        await page.goto(f"{server.base}/authorize?{urlencode({**query, 'code_challenge': pkce()[1]})}")
        await page.wait_for_selector("button:has-text('Allow')")
        assert httpx.URL(page.url).path == "/oauth/consent"
        await shot(page, "6-consent-again")
