"""Recovering access by Telegram login on the manage page, in a real browser (with and without
JavaScript): sign up, lose the token, "I lost my token", phone + code, choose, and the new token
works for a real MCP client while the old one is refused. Screenshots go to
``tests/artifacts/setup/<test>/`` like the other browser tests."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.browser.test_setup_browser import (  # noqa: F401 (fixtures)
    CODE,
    PHONE,
    base,
    page,
    sandbox,
    shot,
    token_page,
    use_token,
)


async def sign_up(page: Any, base: str) -> str:  # noqa: F811
    await page.goto(f"{base}/setup")
    await page.fill("#phone", PHONE)
    await page.click("button:has-text('Send the login code')")
    await page.fill("#code", CODE)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#token")
    return str(await page.input_value("#token"))


async def recover(page: Any, base: str, javascript: bool) -> None:  # noqa: F811
    old_token = await sign_up(page, base)
    await page.context.clear_cookies()  # a new browser: the token is lost
    await page.goto(f"{base}/setup/manage")
    await shot(page, "manage-signin")
    await page.click("#recover")
    await page.wait_for_selector("#rekey-warning")
    assert "re-keys your access" in await page.inner_text("main")
    await shot(page, "recover-phone")
    await page.fill("#phone", "+" + PHONE)
    await page.click("button:has-text('Send the login code')")
    await page.wait_for_selector("#code")
    await page.fill("#code", CODE)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#rekey")
    await shot(page, "recover-choose")
    await page.click("#rekey")
    await page.wait_for_selector("#recovered")
    new_token = await token_page(page, base, javascript=javascript)
    assert new_token != old_token
    await use_token(base, new_token)
    async with httpx2.AsyncClient() as http:
        refused = await http.post(
            f"{base}/v1/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {old_token}", "Accept": "application/json, text/event-stream"},
        )
    assert refused.status_code == 401
    await page.goto(f"{base}/setup/manage")
    assert "Rotate the token" in await page.inner_text("main")  # signed in with the new token
    await shot(page, "recover-manage")


async def test_recovery_by_phone_in_the_browser(page: Any, base: str) -> None:  # noqa: F811
    await recover(page, base, javascript=True)


async def test_recovery_by_phone_with_no_js(page: Any, base: str) -> None:  # noqa: F811
    await recover(page, base, javascript=False)
