"""``messages.forwardMessages``: copy messages from any chat the user can read into any chat they write in.

A forward is a new message in the target chat whose ``fwd_from`` names the original: its sender
(a user, or the channel for a broadcast post, with ``channel_post`` and ``post_author``), and its
date. Forwarding a forward keeps the first header, as Telegram does; forwarding into Saved Messages
also records where the message was saved from. ``drop_author`` sends a plain copy without a header,
``drop_media_captions`` also drops the text of media messages. An album forwarded together stays an
album (a new ``grouped_id``). Service messages cannot be forwarded.
"""

from __future__ import annotations

import os
from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish
from ..render import peer_tl, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Content, Message, PeerKey, World, user_peer
from .messages import check_random_id, check_schedule, reply_header

router = Router()


def readable_message(world: World, viewer: int, peer: PeerKey, msg_id: int) -> Message | None:
    """The viewer's view of ``msg_id`` in ``peer`` if they may read it (a public channel needs no join)."""
    if peer.kind == "channel":
        channel = world.channels[peer.id]
        if viewer not in channel.participants and channel.username is None:
            raise RpcError(400, "CHANNEL_PRIVATE")
        return channel.box.messages.get(msg_id)
    message = world.box(viewer).messages.get(msg_id)
    return message if message is not None and message.peer == peer else None


def forward_header(source: Message, source_peer: PeerKey, *, saved: bool) -> Any:
    """The ``MessageFwdHeader`` a forward of ``source`` carries."""
    original = source.content.fwd_from
    if original is not None:
        header = types.MessageFwdHeader(
            date=original.date,
            from_id=original.from_id,
            from_name=original.from_name,
            channel_post=original.channel_post,
            post_author=original.post_author,
        )
    elif source.post:
        header = types.MessageFwdHeader(
            date=source.date,
            from_id=peer_tl(source_peer),
            channel_post=source.id,
            post_author=source.content.post_author,
        )
    else:
        # Whoever the message shows as its sender: a channel speaking in a group, else the user.
        sender = source.from_peer or (
            user_peer(source.from_id) if source.from_id is not None else source_peer
        )
        header = types.MessageFwdHeader(date=source.date, from_id=peer_tl(sender))
    if saved:
        header.saved_from_peer = peer_tl(source_peer)
        header.saved_from_msg_id = source.id
    return header


def _forwarded_content(
    source: Message, source_peer: PeerKey, req: Any, *, saved: bool, albums: dict[int, int]
) -> Content:
    original = source.content
    grouped_id = None
    if original.grouped_id is not None:
        grouped_id = albums.setdefault(
            original.grouped_id, int.from_bytes(os.urandom(8), "little", signed=True)
        )
    drop_text = bool(req.drop_media_captions) and original.media_id is not None
    return Content(
        text="" if drop_text else original.text,
        entities=[] if drop_text else list(original.entities),
        media_id=original.media_id,
        media_kind=original.media_kind,
        grouped_id=grouped_id,
        fwd_from=None if req.drop_author else forward_header(source, source_peer, saved=saved),
    )


def _check_random_ids(ctx: Ctx, random_ids: list[int]) -> None:
    """All or nothing: a duplicate anywhere refuses the whole forward before any id is consumed."""
    seen = ctx.world.random_ids
    if len(set(random_ids)) != len(random_ids) or any((ctx.user_id, r) in seen for r in random_ids):
        raise RpcError(500, "RANDOM_ID_DUPLICATE")
    for random_id in random_ids:
        check_random_id(ctx, random_id)


@router.method(functions.messages.ForwardMessagesRequest)
def forward_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    ids, random_ids = list(req.id), list(req.random_id or [])
    if not ids:
        raise RpcError(400, "MESSAGE_IDS_EMPTY")
    if len(random_ids) != len(ids):
        raise RpcError(400, "RANDOM_ID_INVALID")
    source_peer = resolve_input_peer(world, viewer, req.from_peer)
    target = resolve_input_peer(world, viewer, req.to_peer)
    check_schedule(world, req.schedule_date)
    pairs = [
        (readable_message(world, viewer, source_peer, msg_id), random_id)
        for msg_id, random_id in zip(ids, random_ids, strict=True)
    ]
    found = [(m, r) for m, r in pairs if m is not None and m.content.action is None]
    if not found:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    _check_random_ids(ctx, [r for _, r in found])
    reply = reply_header(req.reply_to, req.top_msg_id)
    saved = target == user_peer(viewer)
    albums: dict[int, int] = {}
    changes = Changes()
    sent: list[Any] = []
    for source, random_id in found:
        content = _forwarded_content(source, source_peer, req, saved=saved, albums=albums)
        if source.post:
            source.content.forwards += 1
        message = post(
            world,
            changes,
            sender_id=viewer,
            peer=target,
            content=content,
            reply_to=reply,
            silent=bool(req.silent),
        )
        sent.append(types.UpdateMessageID(message.id, random_id))
    return publish(ctx, changes, extra=sent)
