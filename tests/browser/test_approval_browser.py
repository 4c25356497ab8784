"""The approval page in a real browser: Chromium opens the URL a 2026-07-28 client was given.

Not signed in, the page shows only that an action waits and a token form; another tenant's token
is refused without saying whose approval it is; the approval's own token signs the browser in and
brings it back to the page, which now shows the action; Approve is pressed and the client's retry
sends the message exactly once (counted in the sandbox). The browser posts the forms as a person's
would (Origin, cookies, redirects), under the page's CSP. Screenshots of each step:
``tests/artifacts/approval/<test>/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mcp_types
import pytest

from mcpgram.sandbox import SandboxServer, World
from tests.browser.tab import browser_tab
from tests.e2e.conftest import People, populate, serving, vault_for  # noqa: F401 (the fixture)
from tests.e2e.test_approvals_http import ask, modern_client, sent

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "approval"
ARGS = {"chat": "@carol_e2e", "text": "meet at the old mill at 9"}


@pytest.fixture
async def world() -> AsyncIterator[tuple[SandboxServer, People]]:
    world = World()
    people = populate(world)  # Alice, Bob, Carol and their chats
    async with SandboxServer(world) as server:
        yield server, people


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with browser_tab(request, ARTIFACTS) as tab:
        yield tab


async def shot(page: Any, name: str) -> None:
    path = page.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


async def test_the_person_signs_in_on_the_page_and_approves(
    world: tuple[SandboxServer, People],
    tmp_path: Path,
    vault_for: Any,  # noqa: F811
    page: Any,
) -> None:
    sandbox, people = world
    async with (
        serving(sandbox, tmp_path / "data", vault_for, approvals=True, approval_wait_seconds=1) as server,
        modern_client(server, server.alice, "approve", []) as client,
    ):
        first, url = await ask(client, ARGS)

        await page.goto(url)
        await shot(page, "1-not-signed-in")
        text = await page.inner_text("body")
        assert "waits for your approval" in text
        assert "old mill" not in text and "Carol" not in text and "send_message" not in text
        assert await page.locator("button[value=approve]").count() == 0

        await page.fill("input[name=token]", server.carol)
        await page.click("button:has-text('Sign in')")
        await shot(page, "2-another-tenants-token")
        text = await page.inner_text("body")
        assert "That token cannot open this approval." in text and "old mill" not in text

        await page.fill("input[name=token]", server.alice)
        await page.click("button:has-text('Sign in')")
        await page.wait_for_selector("button[value=approve]")
        assert page.url == url  # back on the page after the sign-in
        await shot(page, "3-signed-in")
        text = await page.inner_text("body")
        assert "meet at the old mill at 9" in text and "send_message" in text and "first_contact" in text

        await page.click("button[value=approve]")
        await page.wait_for_selector("text=You approved it.")
        await shot(page, "4-approved")

        result = await client.session.call_tool(
            "send_message",
            ARGS,
            allow_input_required=True,
            input_responses={"approval": mcp_types.ElicitResult(action="accept")},
            request_state=first.request_state,
        )
        assert isinstance(result, mcp_types.CallToolResult) and not result.is_error

        await page.goto(url)
        await shot(page, "5-used")
        assert "This approval is used" in await page.inner_text("body")
    assert sent(sandbox, people.alice, people.carol, ARGS["text"]) == 1
