"""Approvals over stdio: a real MCP client launches ``mcpgram serve``; the person answers in Telegram.

Without elicitation the request goes to the owner's Saved Messages, and the person (a second
Telethon client logged in as the same account) replies there; a 2025-era client that declares
elicitation is asked by form within the call. Sends are counted in the sandbox's history.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import user_peer

from ..sandbox.conftest import login, new_client
from .conftest import ALICE, People, login_owner, settings_env, settings_for
from .eras import offering

pytestmark = pytest.mark.e2e

CODE = re.compile(r"mcpgram approval ([A-Z]{3}\d{3})")


def sent(sandbox: SandboxServer, sender: int, to: int, text: str) -> int:
    box = sandbox.world.box(sender)
    return sum(1 for i in box.history(user_peer(to)) if box.messages[i].content.text == text)


async def serve(sandbox: SandboxServer, tmp_path: Path, vault_for: Any) -> StdioTransport:
    settings = settings_for(sandbox, tmp_path / "data")
    await login_owner(sandbox, settings, vault_for(settings), ALICE, approvals=True)
    return StdioTransport(command=sys.executable, args=["-m", "mcpgram", "serve"], env=settings_env(settings))


async def test_over_stdio_the_person_approves_in_saved_messages(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    """A first message to Carol answers APPROVAL_PENDING and sends nothing; after the person's
    "yes CODE" in Saved Messages the identical call sends it exactly once."""
    transport = await serve(sandbox, tmp_path, vault_for)
    person = new_client(sandbox)
    await login(person, sandbox, ALICE)
    try:
        async with Client(transport) as client:
            args = {"chat": "@carol_e2e", "text": "hello Carol"}
            with pytest.raises(ToolError, match=r"^APPROVAL_PENDING: .*Saved Messages"):
                await client.call_tool("send_message", args)
            assert sent(sandbox, people.alice, people.carol, "hello Carol") == 0
            request = (await person.get_messages("me", limit=1))[0].message
            code = CODE.search(request or "")
            assert code is not None and "hello Carol" in request
            await person.send_message("me", f"yes {code.group(1)}")
            await client.call_tool("send_message", args)
        assert sent(sandbox, people.alice, people.carol, "hello Carol") == 1
    finally:
        await person.disconnect()  # type: ignore[func-returns-value]


async def test_over_stdio_a_2025_client_is_asked_by_form(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    """Elicitation within the call: refused sends nothing, approved sends once."""
    transport = await serve(sandbox, tmp_path, vault_for)
    answers = iter([False, True])
    asked: list[str] = []

    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return next(answers)

    with offering("2025-11-25"):
        async with Client(transport, mode="legacy", elicitation_handler=person) as client:
            args = {"chat": "@carol_e2e", "text": "asked by form"}
            refused = await client.call_tool("send_message", args, raise_on_error=False)
            assert refused.is_error and refused.content[0].text.startswith("APPROVAL_REFUSED: ")  # type: ignore[union-attr]
            assert sent(sandbox, people.alice, people.carol, "asked by form") == 0
            await client.call_tool("send_message", args)
    assert len(asked) == 2 and "asked by form" in asked[0]
    assert sent(sandbox, people.alice, people.carol, "asked by form") == 1
