"""Message conversion (``convert.message_info``) on TL objects Telegram sends that the demo world lacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telethon.tl import types

from mcpgram.telegram.convert import message_info, message_link
from mcpgram.telegram.history import Query, page_request

WHEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ME, BOB, GROUP = 10, 20, 30
BOB_USER = types.User(id=BOB, first_name="Bob")


def service(action: object, *, sender: int = BOB, reply: int | None = None) -> types.MessageService:
    header = types.MessageReplyHeader(reply_to_msg_id=reply) if reply else None
    return types.MessageService(
        id=7,
        peer_id=types.PeerChat(GROUP),
        date=WHEN,
        action=action,
        from_id=types.PeerUser(sender),
        reply_to=header,
    )


@pytest.mark.parametrize(
    ("action", "reply", "line"),
    [
        (types.MessageActionChatAddUser(users=[BOB]), None, "joined"),
        (types.MessageActionChatAddUser(users=[ME]), None, "added 10"),
        (types.MessageActionChatJoinedByLink(inviter_id=ME), None, "joined"),
        (types.MessageActionChatDeleteUser(user_id=BOB), None, "left"),
        (types.MessageActionPinMessage(), 123, "pinned 123"),
        (types.MessageActionPhoneCall(call_id=1, duration=65), None, "call 65s"),
        (
            types.MessageActionPhoneCall(call_id=1, video=True, reason=types.PhoneCallDiscardReasonMissed()),
            None,
            "missed video call",
        ),
        (
            types.MessageActionGroupCall(call=types.InputGroupCall(id=1, access_hash=2), duration=30),
            None,
            "voice chat 30s",
        ),
        (types.MessageActionTopicCreate(title="Trip", icon_color=0), None, "topic created: Trip"),
        (types.MessageActionTopicEdit(closed=True), None, "topic closed"),
        (types.MessageActionChatEditTitle(title="New"), None, "renamed: New"),
        (types.MessageActionHistoryClear(), None, "history clear"),
    ],
)
def test_service_messages_become_short_lines(action: object, reply: int | None, line: str) -> None:
    """Joins, pins, calls and topics read as a few words; the pinned id is in the line, not reply_to."""
    info = message_info(service(action, reply=reply), {BOB: BOB_USER}, self_id=ME)
    assert info.service == line and info.reply_to is None and info.sender == "Bob"


def test_links_exist_only_for_channels_and_supergroups() -> None:
    """Public channels link by username, private ones by /c/<id>; users and basic groups have none."""
    public = types.Channel(id=5, title="T", photo=types.ChatPhotoEmpty(), date=WHEN, username="pub")
    private = types.Channel(id=6, title="T", photo=types.ChatPhotoEmpty(), date=WHEN, megagroup=True)
    group = types.Chat(
        id=7, title="G", photo=types.ChatPhotoEmpty(), participants_count=2, date=WHEN, version=1
    )
    assert message_link(public, 9) == "https://t.me/pub/9"
    assert message_link(private, 9) == "https://t.me/c/6/9"
    assert message_link(group, 9) is None and message_link(BOB_USER, 9) is None


def test_private_messages_without_from_id_name_their_sender() -> None:
    """Telegram omits from_id in private chats: outgoing is from us, incoming from the other side."""
    incoming = types.Message(id=1, peer_id=types.PeerUser(BOB), date=WHEN, message="hi")
    outgoing = types.Message(id=2, peer_id=types.PeerUser(BOB), date=WHEN, message="yo", out=True)
    me = types.User(id=ME, first_name="Me", is_self=True)
    entities = {BOB: BOB_USER, ME: me}
    assert message_info(incoming, entities, self_id=ME).sender_id == BOB
    mine = message_info(outgoing, entities, self_id=ME)
    assert (mine.sender_id, mine.sender, mine.out) == (ME, "Me", True)


def test_pages_ask_one_more_than_shown_and_read_forward_from_the_next_id() -> None:
    """limit + 1 for an exact has_more; forward pages start after the last id with a negative add_offset."""
    peer = types.InputPeerChat(GROUP)
    backward = page_request(Query(chat="x", limit=5, after=40), peer, None)
    assert (backward.limit, backward.offset_id, backward.add_offset) == (6, 40, 0)
    forward = page_request(Query(chat="x", limit=5, from_date=1000, after=40), peer, None)
    assert (forward.limit, forward.offset_id, forward.add_offset, forward.offset_date) == (6, 41, -6, None)
    first = page_request(Query(chat="x", limit=5, from_date=1000, search="a"), peer, None)
    assert (first.offset_id, first.add_offset, first.min_date) == (1, -6, 999)
