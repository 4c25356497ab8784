"""/setup in a real browser: Playwright drives Debian's Chromium against mcpgram and the sandbox.

Each flow (phone, 2FA, QR) ends with the token copied off the page and used by a real MCP client
(fastmcp over HTTP: tools/list and one tool call). Screenshots of every step go to
``tests/artifacts/setup/`` (ignored by git). The tests skip only when /usr/bin/chromium is missing
on a developer machine; with ``CI=true`` a missing browser fails them.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.app import build_gateway, serve_http
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.phone import Endpoint, accept, login_token
from mcpgram.sandbox.srp import make_password_record
from tests.e2e.conftest import settings_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "setup"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE, CODE = "9996610001", "11111"
PW_PHONE, PASSWORD, HINT = "9996610002", "lighthouse-keeper", "where Sam works"

HAVE_CHROMIUM = CHROMIUM.exists()
if not HAVE_CHROMIUM and os.environ.get("CI") != "true":
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    world = World()
    world.add_user(first_name="Ada", phone=PHONE)
    world.add_user(first_name="Sam", phone=PW_PHONE, password=make_password_record(PASSWORD, HINT))
    async with SandboxServer(world) as server:
        yield server


@pytest.fixture
async def base(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[str]:
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0, signup="open")
    gateway = build_gateway(settings, transport="http")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    port = await asyncio.wait_for(bound, 10)
    yield f"http://127.0.0.1:{port}"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    assert HAVE_CHROMIUM, "CI needs /usr/bin/chromium for the browser tests"
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(accept_downloads=True)
        tab = await context.new_page()
        problems: list[str] = []
        tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        tab.on("pageerror", lambda exc: problems.append(str(exc)))
        tab.problems = problems
        tab.shots = ARTIFACTS / request.node.name
        tab.shots.mkdir(parents=True, exist_ok=True)
        yield tab
        await context.close()
        await browser.close()
        # A CSP violation or a script error is a console error.
        assert problems == []


async def shot(page: Any, name: str) -> None:
    path = page.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


async def use_token(base: str, token: str) -> None:
    """The token from the page works for a real MCP client: tools/list and one tool call."""
    transport = StreamableHttpTransport(f"{base}/v1/mcp", headers={"Authorization": f"Bearer {token}"})
    async with Client(transport) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert "find_chats" in names
        result = await client.call_tool("find_chats", {})
        assert not result.is_error
        assert "chats" in json.loads(result.content[0].text)  # type: ignore[union-attr]


async def token_page(page: Any, base: str) -> str:
    await page.wait_for_selector("#token", timeout=20_000)
    await shot(page, "token")
    # Our own JS ran under the CSP: it shows the copy buttons.
    assert await page.is_visible("button.copy")
    token = str(await page.input_value("#token"))
    async with page.expect_download() as info:
        await page.click("li:has-text('Cursor') button:has-text('Header')")
    download = await info.value
    saved = await download.path()
    assert token in await asyncio.to_thread(Path(saved).read_text)
    await page.reload()
    assert token not in await page.content()
    await shot(page, "token-not-again")
    return token


async def test_phone_flow_in_the_browser(page: Any, base: str) -> None:
    await page.goto(f"{base}/setup")
    await shot(page, "phone")
    await page.fill("#phone", "+" + PHONE)
    await page.click("button:has-text('Send the login code')")
    await page.wait_for_selector("#code")
    await shot(page, "code")
    await page.fill("#code", CODE)
    await page.click("button:has-text('Sign in')")
    await use_token(base, await token_page(page, base))


async def test_two_step_flow_in_the_browser(page: Any, base: str) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone screen
    await page.goto(f"{base}/setup")
    await page.fill("#phone", PW_PHONE)
    await page.press("#phone", "Enter")
    await page.wait_for_selector("#code")
    await page.fill("#code", CODE)
    await page.press("#code", "Enter")
    await page.wait_for_selector("#password")
    assert HINT in await page.inner_text("main")
    await shot(page, "password")
    await page.fill("#password", "not-it")
    await page.press("#password", "Enter")
    await page.wait_for_selector("[role=alert]")
    await shot(page, "password-wrong")
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await use_token(base, await token_page(page, base))


async def test_qr_flow_in_the_browser(page: Any, base: str, sandbox: SandboxServer) -> None:
    await page.goto(f"{base}/setup")
    await page.click("button:has-text('Show a QR code')")
    await page.wait_for_selector(".qr svg")
    await shot(page, "qr")
    url = await page.get_attribute("#qr-link", "href")
    endpoint = Endpoint(sandbox.dc_id, sandbox.host, sandbox.port)
    status = await accept(
        endpoint,
        sandbox.public_key_pem,
        login_token(url),
        phone=PHONE,
        code=CODE,
        password=None,
        out=io.StringIO(),
    )
    assert status == 0
    # No click: the page's own polling moves on.
    await use_token(base, await token_page(page, base))
