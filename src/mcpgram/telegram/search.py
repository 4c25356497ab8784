"""Searching every chat of the account: the Telegram side of ``search_messages``.

One ``messages.searchGlobal`` request per page. Telegram orders hits newest first across chats and
continues a walk from ``(offset_rate, offset_peer, offset_id)``: the date, chat and id of the last
message of the previous page (``next_rate`` is that date). We ask for one hit more than shown, so
``has_more`` is exact, and continue from the last hit *shown*, not from the one held back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from telethon import TelegramClient, utils
from telethon.tl import functions, types

from .convert import entity_map, message_info
from .history import MAX_PAGE, message_filter
from .shapes import MessageInfo

ChatType = Literal["", "users", "groups", "channels"]


@dataclass(frozen=True)
class Position:
    """Where a global search continues: the last hit's date, chat (marked id) and message id."""

    rate: int
    peer: int
    msg_id: int


@dataclass(frozen=True)
class Hits:
    messages: list[MessageInfo]
    #: Marked chat id -> name, for every chat a hit is in.
    chats: dict[int, str]
    next: Position | None = None


class UnknownPeer(Exception):
    """A position names a chat this account's entity cache does not know (a cursor from elsewhere)."""


async def search_all(
    client: TelegramClient,
    *,
    text: str,
    limit: int,
    media: str = "",
    chat_type: ChatType = "",
    min_date: int = 0,
    max_date: int = 0,
    after: Position | None = None,
) -> Hits:
    """One page of hits across all chats, newest first. Dates are unix seconds (0: unbounded)."""
    limit = max(1, min(limit, MAX_PAGE))
    offset_peer: Any = types.InputPeerEmpty()
    if after is not None:
        try:
            offset_peer = await client.get_input_entity(after.peer)
        except ValueError:
            raise UnknownPeer(after.peer) from None
    request = functions.messages.SearchGlobalRequest(
        q=text,
        filter=message_filter(media),
        # Telegram's bounds are exclusive; ours include the days named.
        min_date=min_date - 1 if min_date else None,
        max_date=max_date + 1 if max_date else None,
        offset_rate=after.rate if after else 0,
        offset_peer=offset_peer,
        offset_id=after.msg_id if after else 0,
        limit=limit + 1,
        broadcasts_only=chat_type == "channels",
        groups_only=chat_type == "groups",
        users_only=chat_type == "users",
    )
    result = await client(request)
    raw = [m for m in getattr(result, "messages", []) if not isinstance(m, types.MessageEmpty)]
    if after is not None:
        # Only hits past the last one shown: a server that ignores the offset serves them again.
        raw = [m for m in raw if _beyond(m, after)]
    shown = raw[:limit]
    entities = entity_map(result)
    me = await client.get_me(input_peer=True)
    self_id = getattr(me, "user_id", None)
    messages = [message_info(m, entities, self_id=self_id, in_chat=True) for m in shown]
    chats: dict[int, str] = {}
    for message in messages:
        entity = entities.get(message.chat) if message.chat is not None else None
        if message.chat is not None and entity is not None:
            chats[message.chat] = utils.get_display_name(entity) or str(message.chat)
    next_position = None
    if len(raw) > limit and shown:
        last = shown[-1]
        next_position = Position(
            rate=int(last.date.timestamp()), peer=utils.get_peer_id(last.peer_id), msg_id=last.id
        )
        if next_position == after:
            # The same page again (a server that ignored the offset): continuing would loop.
            next_position = None
    return Hits(messages=messages, chats=chats, next=next_position)


def _beyond(message: Any, after: Position) -> bool:
    """Whether a hit comes after ``after`` in Telegram's newest-first order (older, or as old and another)."""
    stamp = int(message.date.timestamp())
    if stamp != after.rate:
        return stamp < after.rate
    return (utils.get_peer_id(message.peer_id), message.id) != (after.peer, after.msg_id)
