"""``delete_messages`` through a real MCP client against the demo world, checked against the sandbox's boxes.

The other action tools are tested in test_action_marks.py (mark_read, react, pin_message) and
test_action_transcribe.py; shared helpers are in action_support.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from mcpgram.sandbox.rpc.actions import existing_copies
from mcpgram.sandbox.world import PeerKey

from .action_support import chat_id, my_box, my_copy, ref, refusal, telegram_calls, user_chat
from .conftest import Demo


def _copies(served: Demo, label: str) -> dict[Any, int]:
    """Where each copy of a labelled message still exists: box owner -> id."""
    peer, msg_id = served.demo.messages[label]
    message = my_box(served, peer).messages[msg_id]
    return {owner: copy.id for owner, copy in existing_copies(served.world, message)}


def _own_messages(served: Demo, peer: Any) -> list[int]:
    box = my_box(served, peer)
    return [
        i
        for i in box.history(peer)
        if box.messages[i].author_id == served.me and not box.messages[i].content.action
    ]


def _others_messages(served: Demo, peer: Any) -> list[int]:
    box = my_box(served, peer)
    mine = served.me
    return [i for i in box.history(peer) if box.messages[i].author_id not in (None, mine)]


async def test_delete_for_everyone_in_a_private_chat_removes_both_copies_and_repeats_cleanly(
    served: Demo,
) -> None:
    """for_everyone removes the message from both sides; a second call finds nothing and does not fail."""
    peer = user_chat(served, "alex")
    msg_id = _own_messages(served, peer)[-1]
    message = my_copy(served, peer, msg_id)
    assert message is not None and len(existing_copies(served.world, message)) == 2
    result = await served.call(
        "delete_messages", chat=str(chat_id(peer)), message_ids=[msg_id], for_everyone=True
    )
    assert result == {"deleted": 1, "for_everyone": True}
    assert existing_copies(served.world, message) == []
    again = await served.call(
        "delete_messages", chat=str(chat_id(peer)), message_ids=[msg_id], for_everyone=True
    )
    assert again == {"deleted": 0, "for_everyone": True, "not_found": [msg_id]}


async def test_delete_for_me_keeps_the_other_side(served: Demo) -> None:
    """for_everyone=false removes only the account's own copy; the other person still has theirs."""
    chat, msg_id = ref(served, "alex_plan")
    before = _copies(served, "alex_plan")
    result = await served.call("delete_messages", chat=chat, message_ids=[msg_id], for_everyone=False)
    assert result == {"deleted": 1, "for_everyone": False}
    peer = user_chat(served, "alex")
    assert my_copy(served, peer, msg_id) is None
    alex_box = served.world.box(served.demo.users["alex"])
    alex_id = before[alex_box.owner]
    assert alex_id in alex_box.messages


async def test_ids_of_other_chats_are_reported_and_left_alone(served: Demo) -> None:
    """An id that belongs to another chat (ids are account-wide) is not_found here and survives there."""
    alex, alex_msg = ref(served, "alex_plan")
    mom_peer, mom_msg = served.demo.messages["mom_garden"]
    result = await served.call(
        "delete_messages", chat=alex, message_ids=[mom_msg, alex_msg, 999_999, alex_msg], for_everyone=False
    )
    assert result == {"deleted": 1, "for_everyone": False, "not_found": [mom_msg, 999_999]}
    assert my_copy(served, mom_peer, mom_msg) is not None
    assert my_copy(served, user_chat(served, "alex"), alex_msg) is None


async def test_supergroup_deletes_own_messages_for_everyone_and_says_so(served: Demo) -> None:
    """In a supergroup deletion is always for everyone; the result notes it when for_everyone was false."""
    peer = served.demo.chats["work"]
    msg_id = _own_messages(served, peer)[-1]
    result = await served.call(
        "delete_messages", chat=str(chat_id(peer)), message_ids=[999_999, msg_id], for_everyone=False
    )
    assert result == {
        "deleted": 1,
        "for_everyone": True,
        "not_found": [999_999],
        "note": "channels and supergroups delete for everyone",
    }
    assert my_copy(served, peer, msg_id) is None


async def test_basic_group_own_message_for_everyone_reaches_every_member(served: Demo) -> None:
    """The account's own message in a basic group, deleted for everyone, leaves no copy anywhere."""
    peer = served.demo.chats["family"]
    msg_id = _own_messages(served, peer)[-1]
    message = my_copy(served, peer, msg_id)
    assert message is not None and len(existing_copies(served.world, message)) == 3
    result = await served.call(
        "delete_messages", chat=str(chat_id(peer)), message_ids=[msg_id], for_everyone=True
    )
    assert result == {"deleted": 1, "for_everyone": True}
    assert existing_copies(served.world, message) == []


async def test_basic_group_others_message_for_me_only_is_allowed(served: Demo) -> None:
    """Without admin rights, another member's message in a basic group may still be deleted for oneself."""
    peer = served.demo.chats["family"]
    msg_id = _others_messages(served, peer)[-1]
    message = my_copy(served, peer, msg_id)
    assert message is not None
    result = await served.call(
        "delete_messages", chat=str(chat_id(peer)), message_ids=[msg_id], for_everyone=False
    )
    assert result == {"deleted": 1, "for_everyone": False}
    assert my_copy(served, peer, msg_id) is None
    assert len(existing_copies(served.world, message)) == 2


@pytest.mark.parametrize(
    ("chat_key", "for_everyone", "who"),
    [
        ("family", True, "others"),  # basic group, not admin: refused before anything is deleted
        ("work", False, "others"),  # supergroup, not admin: Telegram refuses
        ("news", True, "posts"),  # broadcast channel, not admin: Telegram refuses
    ],
)
async def test_others_messages_without_rights_are_not_allowed(
    served: Demo, chat_key: str, for_everyone: bool, who: str
) -> None:
    """Deleting others' messages without admin rights is NOT_ALLOWED; nothing is deleted, not even own ids."""
    peer = served.demo.chats[chat_key]
    others = _others_messages(served, peer)
    if who == "posts":
        box = my_box(served, peer)
        others = [i for i in box.history(peer) if box.messages[i].content.action is None]
    target = [*others[-2:], *_own_messages(served, peer)[-1:]]
    text = await refusal(
        served, "delete_messages", chat=str(chat_id(peer)), message_ids=target, for_everyone=for_everyone
    )
    assert text.startswith("NOT_ALLOWED:") and "hint:" in text
    assert all(my_copy(served, peer, i) is not None for i in target)


async def test_delete_makes_two_calls_and_one_when_nothing_is_there(served: Demo) -> None:
    """A delete reads the ids in the chat, then deletes them; with none there it stops after the read."""
    chat, msg_id = ref(served, "alex_plan")
    await served.call(
        "delete_messages", chat=chat, message_ids=[999_998], for_everyone=False
    )  # warms the cache
    with telegram_calls(served) as calls:
        await served.call("delete_messages", chat=chat, message_ids=[msg_id], for_everyone=True)
    assert calls == {"messages.getMessages": 1, "messages.deleteMessages": 1}
    with telegram_calls(served) as calls:
        await served.call("delete_messages", chat=chat, message_ids=[msg_id], for_everyone=True)
    assert calls == {"messages.getMessages": 1}


async def test_long_flood_wait_is_reported_and_nothing_is_deleted(served: Demo) -> None:
    """A long FLOOD_WAIT on the delete is RATE_LIMITED with retry_after, and the message stays."""
    chat, msg_id = ref(served, "alex_plan")
    served.sandbox.faults.flood_wait(functions.messages.DeleteMessagesRequest, 3600)
    text = await refusal(served, "delete_messages", chat=chat, message_ids=[msg_id], for_everyone=True)
    assert text.startswith("RATE_LIMITED:") and "retry_after=3600" in text
    assert my_copy(served, user_chat(served, "alex"), msg_id) is not None


HOSTILE: list[tuple[dict[str, Any], str]] = [
    ({"chat": "Alex Carter", "message_ids": [1]}, "CHAT_NOT_FOUND"),
    ({"chat": "alex", "message_ids": [1]}, "CHAT_NOT_FOUND"),  # a name, not a username
    ({"chat": "@nobody_has_this_name", "message_ids": [1]}, "CHAT_NOT_FOUND"),
    ({"chat": "-1001234567890", "message_ids": [1]}, "CHAT_NOT_FOUND"),  # a channel never seen
    ({"chat": "me", "message_ids": []}, "validation"),
    ({"chat": "me", "message_ids": list(range(1, 102))}, "validation"),
    ({"chat": "me", "message_ids": [0]}, "validation"),
    ({"chat": "me", "message_ids": [-5]}, "validation"),
    ({"chat": "me", "message_ids": [2**31]}, "validation"),
    ({"chat": "", "message_ids": [1]}, "validation"),
    ({"chat": "me", "message_ids": ["1; DROP"]}, "validation"),
]


async def test_hostile_inputs_are_refused_with_a_clear_code(served: Demo) -> None:
    """Fuzzy names, unknown chats and out-of-range or too many ids are refused; nothing is deleted."""
    before = {owner: len(box.messages) for owner, box in served.world.boxes.items()}
    for args, expected in HOSTILE:
        with pytest.raises(ToolError) as caught:
            await served.call("delete_messages", for_everyone=True, **args)
        text = str(caught.value)
        if expected == "validation":
            assert text.startswith("INVALID_ARGUMENT: "), (args, text)
        else:
            assert text.startswith(f"{expected}:") and "find_chats" in text, (args, text)
    assert {owner: len(box.messages) for owner, box in served.world.boxes.items()} == before


async def test_for_everyone_must_be_chosen(served: Demo) -> None:
    """for_everyone has no default: leaving it out is a validation error."""
    chat, msg_id = ref(served, "alex_plan")
    with pytest.raises(ToolError, match=r"(?i)validation|required"):
        await served.call("delete_messages", chat=chat, message_ids=[msg_id])
    assert my_copy(served, user_chat(served, "alex"), msg_id) is not None


async def test_delete_in_saved_messages(served: Demo) -> None:
    """'me' names Saved Messages; its messages are deleted and other chats' ids there are not_found."""
    peer = PeerKey("user", served.me)
    box = my_box(served, peer)
    msg_id = box.history(peer)[-1]
    _, alex_msg = ref(served, "alex_plan")
    result = await served.call(
        "delete_messages", chat="me", message_ids=[msg_id, alex_msg], for_everyone=True
    )
    assert result == {"deleted": 1, "for_everyone": True, "not_found": [alex_msg]}
    assert msg_id not in box.messages and alex_msg in box.messages
