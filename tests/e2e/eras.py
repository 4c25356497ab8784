"""MCP protocol eras for the end-to-end tests: a real SDK client speaking each era, and one tool round.

Legacy clients open with ``initialize`` (and over HTTP get an ``Mcp-Session-Id``); 2026-07-28
clients send self-contained requests, first ``server/discover``. The SDK's client offers its newest
handshake version (2025-11-25) in ``initialize``; an older client is the same client offering
2025-06-18, which is all that distinguishes one on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mcp.client.session as sdk_session
import pytest
from fastmcp import Client
from fastmcp.client.transports import ClientTransport

MODERN = "2026-07-28"
LEGACY = ("2025-06-18", "2025-11-25")
ERAS = (*LEGACY, MODERN)


@contextmanager
def offering(era: str) -> Iterator[None]:
    """While inside, the SDK client's ``initialize`` offers ``era`` (a handshake-era version)."""
    with pytest.MonkeyPatch.context() as patch:
        if era != MODERN:
            patch.setattr(sdk_session, "LATEST_HANDSHAKE_VERSION", era)
        yield


def era_client(transport: ClientTransport, era: str) -> Client[Any]:
    """A client of ``era``: legacy mode for a handshake version, else ``auto`` (discover first).

    ``auto`` rather than a pinned modern version, so the server really answers ``server/discover``;
    the test then checks that the era negotiated is the modern one and not a fallback.
    """
    return Client(transport, mode="legacy" if era in LEGACY else "auto")


async def tool_round(client: Client[Any], era: str) -> dict[str, Any]:
    """Check the negotiated era, list tools, find chats and read one back by the id as it came."""
    assert client.protocol_version == era
    session = client.session
    if era == MODERN:
        assert session.discover_result is not None and session.initialize_result is None
        assert MODERN in session.discover_result.supported_versions
    else:
        assert session.initialize_result is not None and session.discover_result is None
    names = {tool.name for tool in await client.list_tools()}
    assert {"find_chats", "get_messages", "send_message"} <= names
    chats = json.loads((await client.call_tool("find_chats", {})).content[0].text)["chats"]  # type: ignore[union-attr]
    assert chats, "the tenant has chats"
    page = await client.call_tool("get_messages", {"chat": str(chats[0]["id"]), "limit": 2})
    messages = json.loads(page.content[0].text)["messages"]  # type: ignore[union-attr]
    assert messages and all("id" in message for message in messages)
    return {"chats": chats, "messages": messages}
