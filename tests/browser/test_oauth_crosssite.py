"""OAuth started from another site, in Chromium: a page on ``http://localhost:<port>`` (another site
than ``127.0.0.1``, where mcpgram runs) links to the authorization URL, as claude.ai would.

- Signed in before (the /setup session cookie, SameSite=Lax): the link leads straight to the
  consent page, no sign-up again. With a Strict cookie Chromium would drop it on this cross-site
  navigation and the person would land on /setup.
- Not signed in, but already set up: /setup offers "Sign in with your token"; the token sign-in on
  /setup/manage continues to the consent page. No new tenant either way.

The consent page is checked on a phone screen (overflow, Tab order) and screenshotted:
``tests/artifacts/oauth/<test>/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import pytest

from mcpgram.sandbox import SandboxServer
from tests.browser.layout import PHONE_SCREEN, check_phone_layout
from tests.browser.test_oauth_browser import callback, page, sandbox, shot  # noqa: F401 (fixtures)
from tests.e2e.conftest import ALICE
from tests.e2e.oauthflow import OAuthServer, client_document, oauth_server, pkce
from tests.fetch.conftest import LocalServer, TestCA, response, test_ca  # noqa: F401 (the fixture)


@pytest.fixture
async def client_site() -> AsyncIterator[LocalServer]:
    """The OAuth client's own web page, reached as ``http://localhost:<port>``."""
    site = LocalServer(None)
    site.routes["/favicon.ico"] = response(204)
    await site.start()
    yield site
    await site.stop()


def publish_start(site: LocalServer, authorize_url: str) -> str:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Agent</title></head>"
        f"<body><a id='connect' href='{authorize_url}'>Connect Telegram</a></body></html>"
    ).encode()
    site.routes["/start"] = response(200, body, [("Content-Type", "text/html; charset=utf-8")])
    return f"http://localhost:{site.port}/start"


def authorize_url(server: OAuthServer, client_id: str, redirect: str, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "state": state,
        "code_challenge": pkce()[1],
        "code_challenge_method": "S256",
        "resource": server.resource,
    }
    return f"{server.base}/authorize?{urlencode(query)}"


async def consent_and_allow(tab: Any, server: OAuthServer, redirect: str, state: str, name: str) -> None:
    await tab.wait_for_selector("button:has-text('Allow')")
    assert httpx.URL(tab.url).path == "/oauth/consent"
    assert "Cross-site Agent" in await tab.inner_text("h1")
    await check_phone_layout(tab, [], "Allow")
    await shot(tab, name)
    await tab.click("button:has-text('Allow')")
    await tab.wait_for_url(f"{redirect}?*")
    landed = httpx.URL(tab.url)
    assert landed.params["state"] == state and landed.params["code"] and "error" not in landed.params


async def test_a_signed_in_person_reaches_consent_from_another_site(
    sandbox: SandboxServer,  # noqa: F811
    tmp_path: Path,
    test_ca: TestCA,  # noqa: F811
    *,
    callback: LocalServer,  # noqa: F811
    client_site: LocalServer,
    page: Any,  # noqa: F811
) -> None:
    redirect = f"http://127.0.0.1:{callback.port}/callback"
    await page.set_viewport_size(PHONE_SCREEN)
    async with oauth_server(
        sandbox, tmp_path / "data", test_ca, setup_sessions=True, signup="open"
    ) as server:
        client_id = server.client_id("/client.json")
        server.publish(
            "/client.json", client_document(client_id, name="Cross-site Agent", redirects=[redirect])
        )
        # Signed up earlier, on mcpgram's own site.
        await page.goto(f"{server.base}/setup")
        await page.fill("#phone", "+" + ALICE)
        await page.click("button:has-text('Send the login code')")
        await page.fill("#code", ALICE[5] * 5)
        await page.click("button:has-text('Sign in')")
        token = await page.input_value("#token", timeout=20_000)
        assert token.startswith("mcpg_")
        # Later, the agent's site (another site) sends the browser to /authorize.
        start = publish_start(client_site, authorize_url(server, client_id, redirect, "x-1"))
        await page.goto(start)
        await shot(page, "1-client-site")
        await page.click("#connect")
        await consent_and_allow(page, server, redirect, "x-1", "2-consent-phone")
        assert len(server.gateway.vault.list_tenants()) == 1  # no second sign-up

        # Another browser, same person, not signed in there: sign in by token, then consent.
        context = await page.context.browser.new_context(viewport=PHONE_SCREEN)
        try:
            other = await context.new_page()
            other.shots = page.shots
            await other.goto(publish_start(client_site, authorize_url(server, client_id, redirect, "x-2")))
            await other.click("#connect")
            await other.wait_for_selector("#token-signin")
            assert httpx.URL(other.url).path == "/setup"
            await shot(other, "3-setup-offers-token-sign-in")
            await other.click("#token-signin")
            await other.wait_for_selector("#token")
            await check_phone_layout(other, [("Bearer token", "token")], "Sign in")
            await shot(other, "4-token-sign-in")
            await other.fill("#token", token)
            await other.click("button:has-text('Sign in')")
            await consent_and_allow(other, server, redirect, "x-2", "5-consent-after-token-sign-in")
        finally:
            await context.close()
        assert len(server.gateway.vault.list_tenants()) == 1
