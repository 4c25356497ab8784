"""Every /setup page on a phone screen (390x844) in Chromium: no horizontal overflow, every field
labelled (``get_by_label`` finds it), and Tab reaching the fields and then the primary button in
order. Screenshots: ``tests/artifacts/setup/<test>/``. The consent page gets the same checks in
``test_oauth_crosssite.py``.
"""

from __future__ import annotations

import io
from typing import Any

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.phone import Endpoint, accept, login_token
from tests.browser.layout import PHONE_SCREEN, check_phone_layout
from tests.browser.test_setup_browser import CODE, PASSWORD, PHONE, PW_PHONE, base, page, sandbox, shot  # noqa: F401


async def test_sign_in_pages_fit_a_phone_and_are_keyboard_usable(page: Any, base: str) -> None:  # noqa: F811
    await page.set_viewport_size(PHONE_SCREEN)
    await page.goto(f"{base}/setup")
    await shot(page, "phone-390")
    await check_phone_layout(page, [("Phone number", "phone")], "Send the login code")
    await page.fill("#phone", PW_PHONE)
    await page.click("button:has-text('Send the login code')")
    await page.wait_for_selector("#code")
    await shot(page, "code-390")
    await check_phone_layout(page, [("Login code", "code")], "Sign in")
    await page.fill("#code", CODE)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#password")
    await shot(page, "password-390")
    await check_phone_layout(page, [("Password", "password")], "Sign in")
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#token", timeout=20_000)
    await shot(page, "token-390")
    await check_phone_layout(page, [("Bearer token", "token"), ("MCP endpoint", "endpoint")], "Header")
    token = await page.input_value("#token")
    await page.goto(f"{base}/setup/manage")
    await shot(page, "manage-390")
    await check_phone_layout(
        page, [("Stricter profile", "tighten-profile"), ("Deny a verb", "tighten-deny")], "Tighten"
    )
    await page.click("button:has-text('Sign out of this page')")
    await page.wait_for_selector("#token")
    await shot(page, "manage-signin-390")
    await check_phone_layout(page, [("Bearer token", "token")], "Sign in")
    await page.fill("#token", token)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("text=Rotate the token")
    await page.wait_for_load_state("networkidle")  # the icon too, before the server stops


async def test_qr_and_error_pages_fit_a_phone(page: Any, base: str, sandbox: SandboxServer) -> None:  # noqa: F811
    await page.set_viewport_size(PHONE_SCREEN)
    await page.goto(f"{base}/setup")
    await page.click("button:has-text('Show a QR code')")
    await page.wait_for_selector(".qr svg")
    await shot(page, "qr-390")
    await check_phone_layout(page, [], "I scanned it: continue")
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
    await page.wait_for_selector("#token", timeout=20_000)
    # A later view of the token page: no token, no config buttons; still fits.
    await page.reload()
    assert "/setup/config" not in await page.content()
    await shot(page, "token-later-390")
    widths = await page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    answer = await page.goto(f"{base}/setup/static/nope")
    assert answer.status == 404
    # Chromium logs the 404 itself as a console error; nothing else may be there.
    assert [problem for problem in page.problems if "404" not in problem] == []
    page.problems.clear()
    await shot(page, "error-390")
    assert await page.evaluate("() => document.documentElement.lang") == "en"
    widths = await page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    await page.wait_for_load_state("networkidle")
