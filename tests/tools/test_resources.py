"""The ``telegram://`` resources through a real MCP client: same data as the tools, same refusals.

A resource is a second door to the same reads, so every check compares it with the tool behind it
and with the sandbox's truth, and every hostile URI must be refused as cleanly as a tool refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import MCPError

from mcpgram.sandbox.messaging import box_of
from mcpgram.sandbox.world import PeerKey
from mcpgram.tools.context import THIRD_PARTY_NOTE

from .conftest import Demo

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAT_TEMPLATE = "telegram://chats/{chat}"
MESSAGES_TEMPLATE = "telegram://chats/{chat}/messages{?limit}"
#: A clean refusal: our CODE: text, or FastMCP's own "not found" for a URI no template matches.
CLEAN = re.compile(r"^(?:[A-Z_]+: |Resource not found: |Unknown resource: )")


def marked(peer: PeerKey) -> int:
    """The id the tools use for a chat (Telegram's marked id)."""
    return {"user": peer.id, "chat": -peer.id, "channel": -(10**12 + peer.id)}[peer.kind]


def newest_ids(served: Demo, peer: PeerKey, limit: int) -> list[int]:
    """The ids of the demo account's newest ``limit`` messages in ``peer``, newest first."""
    box = box_of(served.world, peer) if peer.kind == "channel" else served.world.box(served.me)
    return sorted(box.history(peer), reverse=True)[:limit]


def demo_chats(served: Demo) -> dict[str, PeerKey]:
    """Saved messages, a private chat, a basic group (if any), supergroups, the forum and the channel."""
    chats = {"me": PeerKey("user", served.me), "alex": PeerKey("user", served.demo.users["alex"])}
    chats.update(served.demo.chats)
    return chats


async def read(served: Demo, uri: str) -> dict[str, Any]:
    contents = await served.client.read_resource(uri)
    assert len(contents) == 1
    assert contents[0].mime_type == "application/json"
    payload: dict[str, Any] = json.loads(contents[0].text)  # type: ignore[union-attr]
    return payload


async def refusal(served: Demo, uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await served.client.read_resource(uri)
    message = str(caught.value)
    assert CLEAN.match(message), f"{uri}: {message!r}"
    assert "Error reading resource" not in message and "Traceback" not in message, message
    return message


async def test_both_templates_are_listed_as_json(shared: Demo) -> None:
    """resources/templates/list names both URI templates (and the audit journal's, tools/auditlog.py),
    with a description and the JSON mime type."""
    templates = {t.uri_template: t for t in await shared.client.list_resource_templates()}
    assert set(templates) == {CHAT_TEMPLATE, MESSAGES_TEMPLATE, "mcpgram://audit{?limit}"}
    for template in templates.values():
        assert template.mime_type == "application/json" and template.description


async def test_chat_resource_is_the_get_chat_payload(shared: Demo) -> None:
    """telegram://chats/{chat} returns what get_chat returns, for every kind of demo chat."""
    for label, peer in demo_chats(shared).items():
        chat = "me" if label == "me" else str(marked(peer))
        payload = await read(shared, f"telegram://chats/{chat}")
        assert payload["note"] == THIRD_PARTY_NOTE
        assert payload["id"] == marked(peer), label
        assert payload == await shared.call("get_chat", chat=chat), label


async def test_messages_resource_is_the_newest_page(shared: Demo) -> None:
    """telegram://chats/{chat}/messages is the newest page, 20 by default, as get_messages returns it."""
    for label, peer in demo_chats(shared).items():
        chat = str(marked(peer))
        payload = await read(shared, f"telegram://chats/{chat}/messages")
        ids = [message["id"] for message in payload["messages"]]
        assert ids == newest_ids(shared, peer, 20), label
        assert payload["has_more"] is (len(box_ids := newest_ids(shared, peer, 10**6)) > 20), label
        tool = await shared.call("get_messages", chat=chat, limit=20)
        assert tool["messages"] == payload["messages"], label
        assert len(box_ids) >= len(ids)


@pytest.mark.parametrize("limit", [1, 7, 100])
async def test_limit_selects_the_page_size(shared: Demo, limit: int) -> None:
    """?limit=N returns the newest N messages (all of them when the chat has fewer)."""
    peer = shared.demo.chats["news_chat"]
    payload = await read(shared, f"telegram://chats/{marked(peer)}/messages?limit={limit}")
    assert [m["id"] for m in payload["messages"]] == newest_ids(shared, peer, limit)


@pytest.mark.parametrize(
    "limit", ["0", "101", "-1", "1.5", "abc", "", "1e2", "\uff11", "99999999999999999999"]
)
async def test_limit_out_of_bounds_is_refused(shared: Demo, limit: str) -> None:
    """A limit outside 1..100, or not a plain number, is INVALID_ARGUMENT."""
    message = await refusal(shared, f"telegram://chats/me/messages?limit={limit}")
    assert message.startswith("INVALID_ARGUMENT: "), message


HOSTILE_CHATS = [
    *("..%2F..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", "%2Fetc%2Fpasswd", "%00", "me%00", "%0d%0aX: 1"),
    *("-1009999999999", "-1001", "999999999", "-999999999", "9223372036854775808", "0", "-0"),
    *("@nobody_here_at_all", "%40", "x" * 300, "%20", "file%3A%2F%2F%2Fetc%2Fpasswd", "%E2%80%AEme"),
    "https%3A%2F%2Ft.me%2Fnobody_here_at_all",
]


@pytest.mark.parametrize("chat", HOSTILE_CHATS, ids=lambda c: c[:24])
async def test_hostile_chat_values_are_refused_cleanly(shared: Demo, chat: str) -> None:
    """Traversal, control characters, foreign or impossible ids: a clean refusal from either template."""
    for uri in (f"telegram://chats/{chat}", f"telegram://chats/{chat}/messages?limit=5"):
        await refusal(shared, uri)


async def test_an_unknown_chat_is_chat_not_found(shared: Demo) -> None:
    """A chat id the account has never seen is CHAT_NOT_FOUND with a hint, from both templates."""
    for uri in ("telegram://chats/-1009999999999", "telegram://chats/-1009999999999/messages"):
        message = await refusal(shared, uri)
        assert message.startswith("CHAT_NOT_FOUND: ") and "hint" in message, message
