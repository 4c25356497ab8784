"""Reading a chat: ``messages.getHistory``, ``messages.getMessages`` and ``channels.getMessages``.

Also the paging rules every message list shares (https://core.telegram.org/api/offsets), used by
``search.py`` too. A chat's messages are conceptually listed newest first; a page starts at
``offsetFromID(offset_id) + add_offset`` — the number of messages with an id ``>= offset_id`` (or,
without an ``offset_id``, sent at or after ``offset_date``) — and holds ``limit`` messages, of which
only those with ``min_id < id < max_id`` are returned. Telethon relies on exactly this: it walks
backwards with ``offset_id = last id`` and forwards with ``add_offset = -limit``, and filters
``min_id`` / ``max_id`` itself because Telegram applies them *after* cutting the window.

Positions are found by bisecting the box's ascending per-chat id list, so a page of a 100k-message
chat costs O(log n + limit), not a scan.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telethon.tl import functions, types

from ..render import entities_for, message_peers, message_tl, resolve_input_channel, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Box, Channel, Message, PeerKey, World

router = Router()

MAX_LIMIT = 100
#: "When 0 is provided the limit will often default to an intermediate value like ~20."
DEFAULT_LIMIT = 20
_MASK64 = (1 << 64) - 1


def timestamp(value: Any) -> int:
    """A TL ``date`` as Telethon decodes it (``datetime``, or None for 0) -> unix seconds."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


@dataclass(frozen=True)
class Paging:
    """The offset parameters of one list request."""

    offset_id: int = 0
    offset_date: int = 0
    add_offset: int = 0
    limit: int = DEFAULT_LIMIT
    max_id: int = 0
    min_id: int = 0

    @classmethod
    def of(cls, req: Any, *, zero_limit: int = DEFAULT_LIMIT) -> Paging:
        limit = req.limit if req.limit > 0 else zero_limit
        return cls(
            offset_id=max(getattr(req, "offset_id", 0) or 0, 0),
            offset_date=timestamp(getattr(req, "offset_date", None)),
            add_offset=getattr(req, "add_offset", 0) or 0,
            limit=min(limit, MAX_LIMIT),
            max_id=getattr(req, "max_id", 0) or 0,
            min_id=getattr(req, "min_id", 0) or 0,
        )

    @property
    def positioned(self) -> bool:
        return bool(self.offset_id or self.offset_date)


def page_ids(ids: Sequence[int], date_of: Callable[[int], int], paging: Paging) -> tuple[list[int], int]:
    """One page of ascending ``ids`` as Telegram cuts it: its ids newest first, and its start position."""
    count = len(ids)
    if paging.offset_id > 0:
        from_top = count - bisect_left(ids, paging.offset_id)
    elif paging.offset_date > 0:
        # Ids are allocated in time order, so dates ascend with them and bisect applies.
        from_top = count - bisect_left(ids, paging.offset_date, key=date_of)
    else:
        from_top = 0
    start = from_top + paging.add_offset
    low, high = max(start, 0), min(max(start + paging.limit, 0), count)
    page = [ids[count - 1 - index] for index in range(low, high)]
    if paging.max_id > 0:
        page = [i for i in page if i < paging.max_id]
    if paging.min_id > 0:
        page = [i for i in page if i > paging.min_id]
    return page, low


def messages_hash(messages: Iterable[Message]) -> int:
    """Telegram's list hash (core.telegram.org/api/offsets#hash-generation) over ids and edit dates."""
    value = 0
    for message in messages:
        for item in (message.id, message.content.edit_date or 0):
            value ^= value >> 21
            value ^= (value << 35) & _MASK64
            value ^= value >> 4
            value = (value + item) & _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def can_read_channel(channel: Channel, viewer: int) -> None:
    """Members read any channel; others only public ones, as on Telegram."""
    if viewer not in channel.participants and channel.username is None:
        raise RpcError(400, "CHANNEL_PRIVATE")


def history_source(world: World, viewer: int, input_peer: Any) -> tuple[Box, PeerKey, Channel | None]:
    """The box holding ``input_peer``'s history for ``viewer``, the chat's key, and its channel if any."""
    peer = resolve_input_peer(world, viewer, input_peer)
    if peer.kind == "channel":
        channel = world.channels[peer.id]
        can_read_channel(channel, viewer)
        return channel.box, peer, channel
    return world.box(viewer), peer, None


def messages_result(
    world: World,
    viewer: int,
    messages: Sequence[Message],
    *,
    total: int,
    channel: Channel | None = None,
    extra_peers: Iterable[PeerKey] = (),
    position: int | None = None,
    next_rate: int | None = None,
    sliced: bool | None = None,
) -> Any:
    """``messages.channelMessages`` for a channel, else ``messages.messages`` when the page is the
    whole list (``sliced`` overrides) and ``messages.messagesSlice`` with its ``count`` otherwise."""
    rendered = [message_tl(world, viewer, m) for m in messages]
    peers: set[PeerKey] = set(extra_peers)
    for message in messages:
        peers.update(message_peers(message))
    users, chats = entities_for(world, viewer, peers)
    if channel is not None:
        return types.messages.ChannelMessages(
            pts=channel.box.pts,
            count=total,
            messages=rendered,
            topics=[],
            chats=chats,
            users=users,
            offset_id_offset=position,
        )
    if sliced is None:
        sliced = len(messages) < total
    if not sliced:
        return types.messages.Messages(messages=rendered, topics=[], chats=chats, users=users)
    return types.messages.MessagesSlice(
        count=total,
        messages=rendered,
        topics=[],
        chats=chats,
        users=users,
        next_rate=next_rate,
        offset_id_offset=position,
    )


@router.method(functions.messages.GetHistoryRequest)
def get_history(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    box, peer, channel = history_source(world, viewer, req.peer)
    ids = box.history(peer)
    paging = Paging.of(req)
    page, start = page_ids(ids, lambda msg_id: box.messages[msg_id].date, paging)
    messages = [box.messages[msg_id] for msg_id in page]
    if req.hash and req.hash == messages_hash(messages):
        return types.messages.MessagesNotModified(count=len(ids))
    return messages_result(
        world,
        viewer,
        messages,
        total=len(ids),
        channel=channel,
        extra_peers=[peer],
        position=start if paging.positioned else None,
    )


def _pinned_in(box: Box, channel: Channel) -> Message | None:
    if channel.pinned_msg_id is not None and channel.pinned_msg_id in box.messages:
        return box.messages[channel.pinned_msg_id]
    pinned = [m for m in box.messages.values() if m.pinned]
    return max(pinned, key=lambda m: m.id) if pinned else None


def _lookup(box: Box, input_message: Any, channel: Channel | None) -> tuple[int, Message | None]:
    """``InputMessage*`` -> (the id to report if missing, the message if it exists in ``box``)."""
    if isinstance(input_message, int):
        input_message = types.InputMessageID(input_message)
    if isinstance(input_message, types.InputMessageID):
        return input_message.id, box.messages.get(input_message.id)
    if isinstance(input_message, types.InputMessageReplyTo):
        source = box.messages.get(input_message.id)
        target = source.reply_to.msg_id if source is not None and source.reply_to is not None else None
        return target or input_message.id, box.messages.get(target) if target else None
    if isinstance(input_message, types.InputMessagePinned) and channel is not None:
        pinned = _pinned_in(box, channel)
        return (pinned.id if pinned else 0), pinned
    # Pinned without a chat (messages.getMessages) or a callback query: nothing to point at.
    return getattr(input_message, "id", 0), None


def _by_ids(world: World, viewer: int, box: Box, wanted: list[Any], channel: Channel | None) -> Any:
    """One entry per requested message, in request order; a missing one is ``messageEmpty`` with its id."""
    found: list[Message] = []
    rendered: list[Any] = []
    for input_message in wanted:
        missing_id, message = _lookup(box, input_message, channel)
        if message is None:
            rendered.append(types.MessageEmpty(id=missing_id, peer_id=None))
        else:
            found.append(message)
            rendered.append(message_tl(world, viewer, message))
    peers: set[PeerKey] = {box.owner} if channel is not None else set()
    for message in found:
        peers.update(message_peers(message))
    users, chats = entities_for(world, viewer, peers)
    if channel is not None:
        return types.messages.ChannelMessages(
            pts=channel.box.pts, count=len(rendered), messages=rendered, topics=[], chats=chats, users=users
        )
    return types.messages.Messages(messages=rendered, topics=[], chats=chats, users=users)


@router.method(functions.messages.GetMessagesRequest)
def get_messages(ctx: Ctx, req: Any) -> Any:
    """Messages of the caller's own box (private chats and basic groups) by id."""
    viewer = ctx.user_id
    return _by_ids(ctx.world, viewer, ctx.world.box(viewer), list(req.id), None)


@router.method(functions.channels.GetMessagesRequest)
def get_channel_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = resolve_input_channel(world, viewer, req.channel)
    can_read_channel(channel, viewer)
    if not req.id:
        raise RpcError(400, "MESSAGE_IDS_EMPTY")
    return _by_ids(world, viewer, channel.box, list(req.id), channel)
