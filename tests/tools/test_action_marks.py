"""``mark_read``, ``react`` and ``pin_message`` through a real MCP client, checked against sandbox state."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions, types

from mcpgram.sandbox.rpc.actions import existing_copies
from mcpgram.sandbox.world import Message, PeerKey

from .action_support import chat_id, my_box, my_copy, ref, refusal, telegram_calls, user_chat
from .conftest import Demo

# -- mark_read -------------------------------------------------------------------------------------


def _read_mark(served: Demo, peer: PeerKey) -> int:
    return served.world.read_state(served.me, peer).read_inbox_max_id


def _newest(served: Demo, peer: PeerKey) -> int:
    return my_box(served, peer).history(peer)[-1]


@pytest.mark.parametrize("peer_of", ["maria", "family", "hiking", "news"])
async def test_mark_read_reads_everything_and_repeats_cleanly(served: Demo, peer_of: str) -> None:
    """up_to=0 moves the read mark to the newest message (private chat, basic group, supergroup, channel)."""
    peer = served.demo.chats.get(peer_of) or user_chat(served, peer_of)
    assert _read_mark(served, peer) < _newest(served, peer)
    assert await served.call("mark_read", chat=str(chat_id(peer))) == {"read": "all"}
    assert _read_mark(served, peer) == _newest(served, peer)
    assert await served.call("mark_read", chat=str(chat_id(peer))) == {"read": "all"}
    assert _read_mark(served, peer) == _newest(served, peer)


async def test_mark_read_up_to_an_id_stops_there_and_never_goes_back(served: Demo) -> None:
    """up_to reads up to that message only; a lower up_to later leaves the mark where it is."""
    peer = user_chat(served, "tom")
    box = my_box(served, peer)
    start = _read_mark(served, peer)
    unread = [i for i in box.history(peer) if i > start and not box.messages[i].out]
    assert len(unread) >= 2
    target = unread[0]
    assert await served.call("mark_read", chat=str(chat_id(peer)), up_to=target) == {"read_up_to": target}
    assert _read_mark(served, peer) == target
    await served.call("mark_read", chat=str(chat_id(peer)), up_to=start)
    assert _read_mark(served, peer) == target


async def test_mark_read_makes_one_call(served: Demo) -> None:
    """With the chat known, mark_read is one readHistory call."""
    chat = str(chat_id(user_chat(served, "maria")))
    channel = str(chat_id(served.demo.chats["hiking"]))
    await served.call("mark_read", chat=chat, up_to=1)  # warms the entity cache
    with telegram_calls(served) as calls:
        await served.call("mark_read", chat=chat)
        await served.call("mark_read", chat=channel)
    assert calls == {"messages.readHistory": 1, "channels.readHistory": 1}


# -- react -----------------------------------------------------------------------------------------


def _counts(message: Message) -> dict[str, int]:
    return {emoji: len(users) for emoji, users in message.content.reactions.items() if users}


def _mine(served: Demo, message: Message) -> list[str]:
    return [emoji for emoji, users in message.content.reactions.items() if served.me in users]


async def test_react_sets_replaces_and_removes_my_reaction(served: Demo) -> None:
    """A reaction is set (twice: same state), replaced (variation selector accepted) and removed."""
    chat, msg_id = ref(served, "alex_plan")
    message = served.demo.message("alex_plan")
    assert _mine(served, message) == []
    for _ in range(2):
        result = await served.call("react", chat=chat, message_id=msg_id, emoji="👍")
        assert result == {"reactions": _counts(message), "mine": "👍"}
        assert _counts(message) == {"👍": 1} and _mine(served, message) == ["👍"]
    result = await served.call("react", chat=chat, message_id=msg_id, emoji="❤️")
    assert result == {"reactions": {"❤": 1}, "mine": "❤"}
    assert _mine(served, message) == ["❤"]
    for _ in range(2):
        assert await served.call("react", chat=chat, message_id=msg_id) == {"reactions": {}}
        assert _counts(message) == {}


async def test_react_on_a_channel_post_shows_everyone_s_reactions(served: Demo) -> None:
    """On a post with others' reactions, the result is the post's full summary, as every member sees it."""
    chat, msg_id = ref(served, "news_bike")
    message = served.demo.message("news_bike")
    others = {
        emoji: [u for u in users if u != served.me] for emoji, users in message.content.reactions.items()
    }
    result = await served.call("react", chat=chat, message_id=msg_id, emoji="👍")
    assert result == {"reactions": _counts(message), "mine": "👍"}
    assert result["reactions"]["👍"] == len(others["👍"]) + 1
    assert "🔥" not in result["reactions"]  # the account's previous reaction was replaced


async def test_react_makes_one_call(served: Demo) -> None:
    """With the chat known, a reaction is one sendReaction call; its answer carries the summary."""
    chat, msg_id = ref(served, "alex_plan")
    await served.call("react", chat=chat, message_id=msg_id, emoji="👍")
    with telegram_calls(served) as calls:
        await served.call("react", chat=chat, message_id=msg_id, emoji="🔥")
    assert calls == {"messages.sendReaction": 1}


async def test_react_refusals_have_clear_codes(served: Demo) -> None:
    """Unknown emoji, text, missing or foreign message ids and bad chats are refused; nothing changes."""
    chat, msg_id = ref(served, "alex_plan")
    _, mom_msg = ref(served, "mom_garden")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"emoji": "🦖"}, "REACTION_INVALID"),
        ({"emoji": "abc"}, "REACTION_INVALID"),
        ({"emoji": "👍👎"}, "REACTION_INVALID"),
        ({"emoji": "x" * 17}, "validation"),
        ({"message_id": 999_999, "emoji": "👍"}, "MESSAGE_NOT_FOUND"),
        ({"message_id": mom_msg, "emoji": "👍"}, "MESSAGE_NOT_FOUND"),  # another chat's id
        ({"message_id": 0, "emoji": "👍"}, "validation"),
        ({"message_id": 2**31, "emoji": "👍"}, "validation"),
        ({"chat": "Alex Carter", "emoji": "👍"}, "CHAT_NOT_FOUND"),
    ]
    before = served.demo.digest()
    for case, expected in cases:
        args = {"chat": chat, "message_id": msg_id, **case}
        with pytest.raises(ToolError) as caught:
            await served.call("react", **args)
        text = str(caught.value)
        if expected == "validation":
            assert text.startswith("INVALID_ARGUMENT: "), (case, text)
        else:
            assert text.startswith(f"{expected}:") and "hint:" in text, (case, text)
    assert served.demo.digest() == before


async def test_react_long_flood_wait_is_reported(served: Demo) -> None:
    """A long FLOOD_WAIT is RATE_LIMITED with retry_after, and no reaction is set."""
    chat, msg_id = ref(served, "alex_plan")
    served.sandbox.faults.flood_wait(functions.messages.SendReactionRequest, 3600)
    text = await refusal(served, "react", chat=chat, message_id=msg_id, emoji="👍")
    assert text.startswith("RATE_LIMITED:") and "retry_after=3600" in text
    assert _counts(served.demo.message("alex_plan")) == {}


# -- pin_message -----------------------------------------------------------------------------------


def _pin_notices(served: Demo, peer: PeerKey) -> list[Message]:
    box = my_box(served, peer)
    found = [box.messages[i] for i in box.history(peer)]
    return [m for m in found if isinstance(m.content.action, types.MessageActionPinMessage)]


@pytest.mark.parametrize(
    ("label", "notify"), [("alex_plan", False), ("family_cake", True), ("forum_house", False)]
)
async def test_pin_pins_for_everyone_once(served: Demo, label: str, notify: bool) -> None:
    """A pin reaches every copy and posts one notice (silent unless notify); pinning again changes nothing."""
    chat, msg_id = ref(served, label)
    peer = served.demo.messages[label][0]
    message = served.demo.message(label)
    notices = len(_pin_notices(served, peer))
    for _ in range(2):
        result = await served.call("pin_message", chat=chat, message_id=msg_id, notify=notify)
        assert result == {"message_id": msg_id, "pinned": True}
        assert all(copy.pinned for _, copy in existing_copies(served.world, message))
        assert len(_pin_notices(served, peer)) == notices + 1
    assert _pin_notices(served, peer)[-1].silent is not notify


async def test_unpin_unpins_and_repeats_cleanly(served: Demo) -> None:
    """unpin=true clears the pin on every copy; a second unpin is no error."""
    chat, msg_id = ref(served, "sam_standup")
    message = served.demo.message("sam_standup")
    assert message.pinned
    for _ in range(2):
        result = await served.call("pin_message", chat=chat, message_id=msg_id, unpin=True)
        assert result == {"message_id": msg_id, "pinned": False}
        assert not any(copy.pinned for _, copy in existing_copies(served.world, message))


async def test_pin_makes_one_call(served: Demo) -> None:
    """With the chat known, a pin is one updatePinnedMessage call."""
    chat, msg_id = ref(served, "alex_plan")
    await served.call("pin_message", chat=chat, message_id=msg_id)
    with telegram_calls(served) as calls:
        await served.call("pin_message", chat=chat, message_id=msg_id, unpin=True)
    assert calls == {"messages.updatePinnedMessage": 1}


async def test_pin_refusals_have_clear_codes(served: Demo) -> None:
    """Pins without rights (channel, public supergroup), missing or foreign ids and bad chats are refused."""
    _, mom_msg = ref(served, "mom_garden")
    alex, alex_msg = ref(served, "alex_plan")
    news, news_msg = ref(served, "news_bike")
    hiking = served.demo.chats["hiking"]
    hiking_msg = my_box(served, hiking).history(hiking)[-1]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"chat": news, "message_id": news_msg}, "NOT_ALLOWED"),
        ({"chat": str(chat_id(hiking)), "message_id": hiking_msg}, "NOT_ALLOWED"),
        ({"chat": alex, "message_id": 999_999}, "MESSAGE_NOT_FOUND"),
        ({"chat": alex, "message_id": mom_msg}, "MESSAGE_NOT_FOUND"),
        ({"chat": "@nobody_has_this_name", "message_id": alex_msg}, "CHAT_NOT_FOUND"),
        ({"chat": alex, "message_id": -1}, "validation"),
    ]
    before = served.demo.digest()
    for args, expected in cases:
        with pytest.raises(ToolError) as caught:
            await served.call("pin_message", **args)
        text = str(caught.value)
        if expected == "validation":
            assert text.startswith("INVALID_ARGUMENT: "), (args, text)
        else:
            assert text.startswith(f"{expected}:") and "hint:" in text, (args, text)
    assert served.demo.digest() == before
    assert my_copy(served, served.demo.messages["news_bike"][0], news_msg) is not None


async def test_mark_read_refusals_have_clear_codes(served: Demo) -> None:
    """Out-of-range up_to and chats that are not strict references are refused; no read mark moves."""
    chat = str(chat_id(user_chat(served, "maria")))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"chat": chat, "up_to": -1}, "validation"),
        ({"chat": chat, "up_to": 2**31}, "validation"),
        ({"chat": "Мария Иванова"}, "CHAT_NOT_FOUND"),
        ({"chat": "https://evil.example/maria"}, "CHAT_NOT_FOUND"),
        ({"chat": "999999999"}, "CHAT_NOT_FOUND"),  # a user id this account never saw
    ]
    before = served.demo.digest()
    for args, expected in cases:
        with pytest.raises(ToolError) as caught:
            await served.call("mark_read", **args)
        text = str(caught.value)
        if expected == "validation":
            assert text.startswith("INVALID_ARGUMENT: "), (args, text)
        else:
            assert text.startswith(f"{expected}:") and "find_chats" in text, (args, text)
    assert served.demo.digest() == before


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("REACTIONS_TOO_MANY", "REACTION_INVALID:"),
        ("MESSAGE_ID_INVALID", "MESSAGE_NOT_FOUND:"),
        ("CHAT_WRITE_FORBIDDEN", "NOT_ALLOWED:"),
        ("REACTION_SOMETHING_NEW", "TELEGRAM_ERROR: Telegram refused the call: REACTION_SOMETHING_NEW"),
    ],
)
async def test_telegram_refusals_of_a_reaction_map_to_codes(served: Demo, error: str, expected: str) -> None:
    """Telegram's refusals become our codes; an unknown one keeps only its name."""
    chat, msg_id = ref(served, "alex_plan")
    served.sandbox.faults.error(functions.messages.SendReactionRequest, 400, error)
    assert (await refusal(served, "react", chat=chat, message_id=msg_id, emoji="👍")).startswith(expected)


async def test_long_flood_waits_on_read_and_pin_are_reported(served: Demo) -> None:
    """A long FLOOD_WAIT is RATE_LIMITED with retry_after for mark_read and pin_message; nothing changes.

    (Write pacing is off here, so each reaches Telegram; with it on, the first flood holds the
    tenant's writes: tests/tools/test_limits.py.)"""
    chat, msg_id = ref(served, "alex_plan")
    served.sandbox.faults.flood_wait(functions.messages.ReadHistoryRequest, 3600)
    served.sandbox.faults.flood_wait(functions.messages.UpdatePinnedMessageRequest, 7200)
    before = served.demo.digest()
    read = await refusal(served, "mark_read", chat=chat)
    pin = await refusal(served, "pin_message", chat=chat, message_id=msg_id)
    assert read.startswith("RATE_LIMITED:") and "retry_after=3600" in read
    assert pin.startswith("RATE_LIMITED:") and "retry_after=7200" in pin
    assert served.demo.digest() == before
