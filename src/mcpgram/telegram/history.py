"""Reading one chat's messages: the Telegram side of ``get_messages``.

Every mode is one Telegram request per page, the one Telegram's own apps use for it:

- ``messages.getHistory``: browse, newest first, or oldest first from a date;
- ``messages.getReplies``: a thread (replies to a message, a forum topic, or a channel post's
  comments, which Telegram serves from the linked discussion group);
- ``messages.search``: text, sender or media kind, optionally within a thread (``top_msg_id``);
- ``channels.getMessages`` / ``messages.getMessages``: given ids.

Pages ask for one message more than shown, so ``has_more`` is exact, and continue from the id of
the last message shown (https://core.telegram.org/api/offsets): backwards with ``offset_id = id``,
forwards with ``offset_id = id + 1`` and ``add_offset = -(limit + 1)``, which is how Telethon reads
in reverse. Ids only grow, so a deleted or edited message never shifts a page boundary, and a page
keeps only messages beyond the previous one: every walk moves on and ends, whatever a server answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from telethon import TelegramClient, utils
from telethon.tl import functions, types

from .chats import resolve_chat
from .convert import entity_map, marked_id, message_info, sender_id_of
from .shapes import MessageInfo

#: A page holds at most this many messages: Telegram serves up to 100 per request and we ask limit + 1.
MAX_PAGE = 99
MAX_IDS = 100
#: TL ``int``: the largest date and message id a request can carry.
MAX_INT = 2**31 - 1

_FILTERS: dict[str, type] = {
    "photo": types.InputMessagesFilterPhotos,
    "video": types.InputMessagesFilterVideo,
    "document": types.InputMessagesFilterDocument,
    "voice": types.InputMessagesFilterVoice,
    "round_video": types.InputMessagesFilterRoundVideo,
    "audio": types.InputMessagesFilterMusic,
    "gif": types.InputMessagesFilterGif,
    "link": types.InputMessagesFilterUrl,
}


def message_filter(media: str) -> Any:
    """The ``InputMessagesFilter`` for a media kind of :data:`~.shapes.MediaFilter` ("" = none)."""
    return _FILTERS[media]() if media else types.InputMessagesFilterEmpty()


@dataclass(frozen=True)
class Query:
    """What to read from one chat; ``after`` is the last id of the previous page (0: first page)."""

    chat: str
    limit: int
    from_date: int = 0
    search: str = ""
    thread: int = 0
    sender: str = ""
    media: str = ""
    after: int = 0

    @property
    def forward(self) -> bool:
        return self.from_date > 0


@dataclass(frozen=True)
class Page:
    """One page: its messages, whether more follow, the id the next page continues after."""

    messages: list[MessageInfo]
    has_more: bool = False
    last_id: int = 0
    #: Requested ids that do not exist (deleted, never sent, or in another chat).
    missing: list[int] | None = None
    #: The chat the messages live in, when it is not the one asked for: a channel post's comments
    #: are messages of its discussion group (reply there, with this id).
    chat: int | None = None


async def _self_id(client: TelegramClient) -> int | None:
    """The account's id from Telethon's cache (known once logged in: no request)."""
    me = await client.get_me(input_peer=True)
    return getattr(me, "user_id", None)


def page_request(q: Query, peer: Any, sender: Any) -> Any:
    """The one Telegram request for a page of ``q`` (``peer``/``sender``: input peers, or None)."""
    n = q.limit + 1
    if q.forward:
        # First page: from the date (history, replies) or from the start, filtered by date (search).
        offset_id, add_offset = (q.after + 1 if q.after else 0), -n
    else:
        offset_id, add_offset = q.after, 0
    if q.search or sender is not None or q.media:
        return functions.messages.SearchRequest(
            peer=peer,
            q=q.search,
            filter=message_filter(q.media),
            # min_date is exclusive: a message sent at from_date itself belongs to the page.
            min_date=q.from_date - 1 if q.forward else None,
            max_date=None,
            offset_id=offset_id or (1 if q.forward else 0),
            add_offset=add_offset,
            limit=n,
            max_id=0,
            min_id=0,
            hash=0,
            from_id=sender,
            top_msg_id=q.thread or None,
        )
    offset_date = q.from_date if q.forward and not offset_id else None
    # getReplies is getHistory within one thread: the same window, plus the thread's root id.
    window = {"offset_id": offset_id, "offset_date": offset_date, "add_offset": add_offset, "limit": n}
    if q.thread:
        return functions.messages.GetRepliesRequest(
            peer=peer, msg_id=q.thread, max_id=0, min_id=0, hash=0, **window
        )
    return functions.messages.GetHistoryRequest(peer=peer, max_id=0, min_id=0, hash=0, **window)


async def read_messages(client: TelegramClient, q: Query) -> Page:
    """One page of a chat's messages in one Telegram request (plus none for cached chat references).

    Newest first, or oldest first when ``from_date`` is set. A thread's messages come from where
    Telegram keeps them: a channel post's comments are messages of its discussion group.
    """
    if q.limit > MAX_PAGE:
        q = replace(q, limit=MAX_PAGE)
    peer = await resolve_chat(client, q.chat)
    sender = await resolve_chat(client, q.sender) if q.sender else None
    result = await client(page_request(q, peer, sender))
    raw = [m for m in getattr(result, "messages", []) if not isinstance(m, types.MessageEmpty)]
    if q.forward:
        # Telegram lists every window newest first; the oldest ones are the page.
        raw.sort(key=lambda m: m.id)
    if q.after:
        # Only what lies beyond the last page counts: a server that ignores the offset (seen on an
        # independent server, from_date walks) would otherwise serve one page, and cursor, forever.
        raw = [m for m in raw if (m.id > q.after if q.forward else m.id < q.after)]
    has_more = len(raw) > q.limit
    raw = raw[: q.limit]
    self_id = await _self_id(client)
    kept = raw
    if sender is not None:
        # Telegram has ignored from_id in private chats; a filtered-out message still moves the page on.
        wanted = self_id if isinstance(sender, types.InputPeerSelf) else utils.get_peer_id(sender)
        kept = [m for m in raw if sender_id_of(m, self_id) == wanted]
    entities = entity_map(result)
    messages = [message_info(m, entities, self_id=self_id) for m in kept]
    asked = self_id if isinstance(peer, types.InputPeerSelf) else utils.get_peer_id(peer)
    elsewhere = {marked_id(m.peer_id) for m in raw} - {asked}
    return Page(
        messages=messages,
        has_more=has_more,
        last_id=raw[-1].id if raw else 0,
        chat=elsewhere.pop() if len(elsewhere) == 1 else None,
    )


async def messages_by_id(client: TelegramClient, chat: str, ids: list[int]) -> Page:
    """The messages of ``chat`` with these ids, in the order asked; the others are ``missing``.

    One request. In private chats and basic groups, ids are per account, not per chat: a message
    the id names in another chat is reported missing, not shown as if it were in this one.
    """
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    peer = await resolve_chat(client, chat)
    input_ids = [types.InputMessageID(i) for i in wanted]
    if isinstance(peer, types.InputPeerChannel):
        channel = types.InputChannel(peer.channel_id, peer.access_hash)
        result = await client(functions.channels.GetMessagesRequest(channel=channel, id=input_ids))
    else:
        result = await client(functions.messages.GetMessagesRequest(id=input_ids))
    self_id = await _self_id(client)
    chat_id = self_id if isinstance(peer, types.InputPeerSelf) else utils.get_peer_id(peer)
    found = {
        m.id: m
        for m in getattr(result, "messages", [])
        if not isinstance(m, types.MessageEmpty) and utils.get_peer_id(m.peer_id) == chat_id
    }
    entities = entity_map(result)
    messages = [message_info(found[i], entities, self_id=self_id) for i in wanted if i in found]
    return Page(messages=messages, missing=[i for i in wanted if i not in found])


async def scheduled_messages(client: TelegramClient, chat: str, ids: list[int] | None = None) -> Page:
    """The account's scheduled messages in ``chat`` (all of them, or those ``ids``), soonest first.

    One request: ``messages.getScheduledHistory`` (Telegram keeps at most 100 per chat) or, for
    ids, ``messages.getScheduledMessages``. A message's ``date`` is when it will be sent; its id
    is the one ``send_message(schedule=...)`` returned, and only ``delete_messages(scheduled=true)``
    takes it (it is not an id of the chat's history).
    """
    peer = await resolve_chat(client, chat)
    if ids:
        wanted = list(dict.fromkeys(ids))[:MAX_IDS]
        result = await client(functions.messages.GetScheduledMessagesRequest(peer=peer, id=wanted))
    else:
        wanted = []
        result = await client(functions.messages.GetScheduledHistoryRequest(peer=peer, hash=0))
    raw = [m for m in getattr(result, "messages", []) if not isinstance(m, types.MessageEmpty)]
    raw.sort(key=lambda m: (m.date, m.id))
    self_id = await _self_id(client)
    entities = entity_map(result)
    found = {m.id for m in raw}
    # Not sent yet: no link (a link would name the chat's own message that has this id).
    messages = [replace(message_info(m, entities, self_id=self_id), link=None) for m in raw]
    return Page(messages=messages, missing=[i for i in wanted if i not in found] or None)
