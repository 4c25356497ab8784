"""Refusals in one shape (issue 9): arguments the schema refuses and unknown chats, per tool, through a
real MCP client. Read-only: nothing here reaches Telegram with a write that could succeed."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp.exceptions import ToolError

from .action_support import refusal
from .conftest import Demo

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Per tool, arguments the schema refuses, and the argument the answer must name.
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("find_chats", {"limit": 0}, "limit"),
    ("find_chats", {"kind": "planet"}, "kind"),
    ("find_chats", {"query": "x" * 129}, "query"),
    ("find_chats", {"unread": "maybe"}, "unread"),
    ("get_chat", {"chat": "me", "topics": 51}, "topics"),
    ("get_chat", {}, "chat"),
    ("get_messages", {"chat": "me", "limit": 1000}, "limit"),
    ("get_messages", {"chat": True}, "chat"),
    ("get_messages", {"chat": 1.5}, "chat"),
    ("get_messages", {"chat": ""}, "chat"),
    ("get_messages", {"chat": "me", "ids": [0]}, "ids"),
    ("get_messages", {"chat": "me", "media": "hologram"}, "media"),
    ("get_messages", {"chat": "me", "sender": ["x"]}, "sender"),
    ("get_messages", {"chat": "me", "bogus": 1}, "bogus"),
    ("get_messages", {"chat": "me", "../etc\nINJECTED": 1}, "an unknown argument"),
    ("search_messages", {"query": "x", "chat_type": "planets"}, "chat_type"),
    ("search_messages", {"limit": 5}, "query"),
    ("send_message", {"chat": "me", "text": "x", "parse_mode": "markdownv2"}, "parse_mode"),
    ("send_message", {"chat": "me", "text": "x", "reply_to": -1}, "reply_to"),
    ("send_message", {"chat": "me"}, "text"),
    ("edit_message", {"chat": "me", "message_id": 0, "text": "x"}, "message_id"),
    ("forward_messages", {"from_chat": "me", "message_ids": [], "to_chat": "me"}, "message_ids"),
    ("send_to_phone", {"phone": "1", "text": "x"}, "phone"),
    ("delete_messages", {"chat": "me", "message_ids": [1]}, "for_everyone"),
    ("delete_messages", {"chat": "me", "message_ids": [1] * 101, "for_everyone": True}, "message_ids"),
    ("mark_read", {"chat": "me", "up_to": 2**31}, "up_to"),
    ("react", {"chat": "me", "message_id": 1, "emoji": "x" * 17}, "emoji"),
    ("pin_message", {"chat": "me", "message_id": "one"}, "message_id"),
    ("transcribe_voice", {"chat": "me"}, "message_id"),
]


@pytest.mark.parametrize(("tool", "args", "field"), BAD_ARGUMENTS, ids=lambda v: str(v)[:40])
async def test_bad_arguments_answer_invalid_argument_naming_the_field(
    shared: Demo, tool: str, args: dict[str, Any], field: str
) -> None:
    """CODE: message. hint: the wrong argument and what it allows; never pydantic's text, input or URLs."""
    with pytest.raises(ToolError) as caught:
        await shared.call(tool, **args)
    text = str(caught.value)
    assert text.startswith("INVALID_ARGUMENT: ") and field in text.split(". hint: ", maxsplit=1)[0], text
    assert ". hint: " in text and "\n" not in text, text
    for leak in ("pydantic", "http", "validation error", "input_value", "Input should"):
        assert leak not in text, text
    assert "x" * 17 not in text and "markdownv2" not in text and "planet" not in text
    assert "INJECTED" not in text


async def test_the_hint_says_the_allowed_range(shared: Demo) -> None:
    """The hint spells out the schema's range or values."""
    with pytest.raises(ToolError, match=r"limit: an integer from 1 to 100"):
        await shared.call("get_messages", chat="me", limit=0)
    with pytest.raises(ToolError, match=r"kind: one of: any, user, bot, group, channel, forum"):
        await shared.call("find_chats", kind="planet")


UNKNOWN_CHAT = -1009999999  # a basic group id nobody has: Telethon would take it on trust


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_chat", {}),
        ("get_messages", {}),
        ("get_messages", {"ids": [1]}),
        ("send_message", {"text": "x"}),
        ("edit_message", {"message_id": 1, "text": "x"}),
        ("delete_messages", {"message_ids": [1], "for_everyone": True}),
        ("delete_messages", {"message_ids": [1], "for_everyone": False, "scheduled": True}),
        ("mark_read", {}),
        ("react", {"message_id": 1, "emoji": "👍"}),
        ("pin_message", {"message_id": 1}),
        ("transcribe_voice", {"message_id": 1}),
    ],
)
async def test_an_unknown_chat_is_chat_not_found_in_every_tool(
    shared: Demo, tool: str, args: dict[str, Any]
) -> None:
    """An id no chat has is CHAT_NOT_FOUND everywhere (delete_messages once answered success)."""
    for chat in (UNKNOWN_CHAT, "-1001234567890", "@nobody_has_this_name"):
        text = await refusal(shared, tool, chat=chat, **args)
        assert text.startswith("CHAT_NOT_FOUND: "), (tool, chat, text)


async def test_forward_and_sender_refs_are_checked_too(shared: Demo) -> None:
    """forward_messages refuses an unknown chat on either side before anything is forwarded."""
    for args in ({"from_chat": UNKNOWN_CHAT, "to_chat": "me"}, {"from_chat": "me", "to_chat": UNKNOWN_CHAT}):
        text = await refusal(shared, "forward_messages", message_ids=[1], **args)
        assert text.startswith("CHAT_NOT_FOUND: "), text
