"""edit_message and forward_messages through a real MCP client, checked against the sandbox's truth."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions, types

from mcpgram.sandbox.world import Message, PeerKey

from .conftest import Demo


def _ref(peer: PeerKey) -> str:
    return f"-100{peer.id}" if peer.kind == "channel" else str(-peer.id if peer.kind == "chat" else peer.id)


def _copy(served: Demo, label: str) -> tuple[str, int, Message]:
    peer, msg_id = served.demo.messages[label]
    return _ref(peer), msg_id, served.demo.message(label)


async def _fresh(served: Demo, label: str) -> tuple[str, int, Message]:
    """A new own message in the chat of ``label`` (Telegram allows edits for 48 hours only)."""
    peer, _ = served.demo.messages[label]
    chat = _ref(peer)
    sent = await served.call("send_message", chat=chat, text="first draft")
    box = served.world.channels[peer.id].box if peer.kind == "channel" else served.world.box(served.me)
    return chat, sent["id"], box.messages[sent["id"]]


def _my_box_size(served: Demo) -> int:
    return len(served.world.box(served.me).messages)


async def test_edit_own_message_changes_it_everywhere(served: Demo) -> None:
    """Editing one's own message changes the shared content (both sides) and reports the edit time."""
    chat, msg_id, message = await _fresh(served, "misha_gift")
    result = await served.call("edit_message", chat=chat, message_id=msg_id, text="new_text *as is*")
    assert result["changed"] is True and result["id"] == msg_id and result["chat"] == int(chat)
    assert message.content.text == "new_text *as is*" and message.content.edit_date is not None
    assert result["edited"].endswith("Z")


async def test_edit_to_the_same_text_is_a_success_that_changes_nothing(served: Demo) -> None:
    """MESSAGE_NOT_MODIFIED is not an error: changed=false, the message is untouched."""
    chat, msg_id, message = await _fresh(served, "misha_gift")
    before = (message.content.text, message.content.edit_date)
    result = await served.call("edit_message", chat=chat, message_id=msg_id, text=message.content.text)
    assert result == {"chat": int(chat), "id": msg_id, "changed": False}
    assert (message.content.text, message.content.edit_date) == before


async def test_edit_with_markdown_in_a_forum(served: Demo) -> None:
    """markdown edits become entities on a supergroup message."""
    chat, msg_id, message = await _fresh(served, "forum_plan")
    await served.call(
        "edit_message", chat=chat, message_id=msg_id, text="**Day 4**: home", parse_mode="markdown"
    )
    assert message.content.text == "Day 4: home"
    assert [type(e) for e in message.content.entities] == [types.MessageEntityBold]


async def test_edit_refusals(served: Demo) -> None:
    """Someone else's message is NOT_ALLOWED; a missing id, a fuzzy chat or too long text are refused too."""
    chat, others_id, others = _copy(served, "maria_coffee")
    own_chat, own_id, own = await _fresh(served, "misha_gift")
    _, old_id, old = _copy(served, "misha_gift")
    table: list[tuple[dict[str, Any], str]] = [
        ({"chat": chat, "message_id": others_id}, "NOT_ALLOWED"),
        ({"chat": own_chat, "message_id": 999_999}, "CHAT_NOT_FOUND"),
        ({"chat": own_chat, "message_id": old_id}, "NOT_ALLOWED"),
        ({"chat": "Misha", "message_id": own_id}, "CHAT_NOT_FOUND"),
        ({"chat": "424242", "message_id": own_id}, "CHAT_NOT_FOUND"),
        ({"chat": own_chat, "message_id": own_id, "text": "x" * 4097}, "MESSAGE_TOO_LONG"),
        ({"chat": own_chat, "message_id": own_id, "text": " "}, "MESSAGE_EMPTY"),
    ]
    texts = (others.content.text, own.content.text, old.content.text)
    for args, code in table:
        with pytest.raises(ToolError) as caught:
            await served.call("edit_message", **{"text": "hijack", **args})
        assert str(caught.value).startswith(f"{code}: "), (args, str(caught.value))
    assert (others.content.text, own.content.text, old.content.text) == texts


async def test_forward_returns_new_ids_in_order(served: Demo) -> None:
    """Forwarded copies land in the target in the order asked, with their origin, under the returned ids."""
    chat, plan_id, plan = _copy(served, "alex_plan")
    _, sunset_id, sunset = _copy(served, "alex_sunset")
    result = await served.call(
        "forward_messages", from_chat=chat, message_ids=[sunset_id, plan_id], to_chat="me"
    )
    assert result["chat"] == served.me and len(result["ids"]) == 2 and "not_found" not in result
    box = served.world.box(served.me)
    copies = [box.messages[i] for i in result["ids"]]
    assert [c.content.text for c in copies] == [sunset.content.text, plan.content.text]
    assert all(c.content.fwd_from is not None and c.peer == PeerKey("user", served.me) for c in copies)
    assert result["ids"] == sorted(result["ids"])


async def test_forward_reports_ids_it_could_not_forward(served: Demo) -> None:
    """An id that does not exist in from_chat is listed in not_found; the others are forwarded."""
    chat, plan_id, _ = _copy(served, "alex_plan")
    before = _my_box_size(served)
    result = await served.call(
        "forward_messages", from_chat=chat, message_ids=[plan_id, 987_654], to_chat="me"
    )
    assert result["not_found"] == [987_654] and len(result["ids"]) == 1
    assert _my_box_size(served) == before + 1


async def test_forward_refusals_forward_nothing(served: Demo) -> None:
    """Fuzzy names, unknown chats and oversized id lists are refused; nothing is forwarded."""
    chat, plan_id, _ = _copy(served, "alex_plan")
    before = _my_box_size(served)
    table: list[tuple[dict[str, Any], str | None]] = [
        ({"from_chat": "Alex"}, "CHAT_NOT_FOUND"),
        ({"to_chat": "Saved Messages"}, "CHAT_NOT_FOUND"),
        ({"to_chat": "-1001"}, "CHAT_NOT_FOUND"),
        ({"message_ids": list(range(1, 102))}, None),
        ({"message_ids": []}, None),
        ({"message_ids": [0]}, None),
        ({"message_ids": [2**31]}, None),
    ]
    for overrides, code in table:
        args = {"from_chat": chat, "message_ids": [plan_id], "to_chat": "me", **overrides}
        with pytest.raises(ToolError) as caught:
            await served.call("forward_messages", **args)
        if code is not None:
            assert str(caught.value).startswith(f"{code}: "), (overrides, str(caught.value))
    assert _my_box_size(served) == before


async def test_forward_with_lost_answer_forwards_once(served: Demo) -> None:
    """A forward whose answer is lost is not repeated: one copy, and the result says the ids are unknown."""
    chat, plan_id, _ = _copy(served, "alex_plan")
    before = _my_box_size(served)
    served.sandbox.faults.lose_answer(functions.messages.ForwardMessagesRequest)
    result = await served.call("forward_messages", from_chat=chat, message_ids=[plan_id], to_chat="me")
    assert result == {"chat": served.me, "id_unknown": True}
    assert _my_box_size(served) == before + 1
