"""Changing sent messages: edit, delete (for me or for everyone) and pin, in every kind of chat.

Ids in a request are the caller's: its own box for private chats and basic groups, the channel's
box for channels. The change reaches every copy of the message (each box logs it with its own pts),
so the other side of a private chat and every group member see it under their own ids.

Telegram rules kept here: only the author edits (in a broadcast channel, admins too), within 48
hours except in Saved Messages and channel posts; ``revoke`` deletes a private-chat message for both
sides, but in a basic group only the author's or an admin's deletion reaches everyone; pinning posts
a ``messageActionPinMessage`` service message (not in Saved Messages, not with ``pm_oneside``, not
when the message was already pinned), ``silent`` only muting it.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, box_of, edit, log_channel_update, post, publish, push_changes, remove_copies
from ..render import peer_tl, resolve_input_channel, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..threads import in_thread
from ..world import Channel, Content, Message, PeerKey, ReplyTo, World, user_peer
from .media import MAX_CAPTION, stored_media
from .messages import MAX_TEXT

router = Router()

#: How long after sending a message may still be edited (outside Saved Messages and channel posts).
EDIT_WINDOW = 48 * 3600


def member_channel(world: World, viewer: int, peer: PeerKey) -> Channel:
    """The channel behind ``peer``, which the viewer must have joined to act in it."""
    channel = world.channels[peer.id]
    if viewer not in channel.participants:
        raise RpcError(400, "CHANNEL_PRIVATE")
    return channel


def is_admin(world: World, viewer: int, peer: PeerKey) -> bool:
    """Creator or admin of a group or channel (the sandbox gives admins every right)."""
    if peer.kind == "chat":
        member = world.chats[peer.id].participants.get(viewer)
    elif peer.kind == "channel":
        member = world.channels[peer.id].participants.get(viewer)
    else:
        return False
    return member is not None and (member.admin or member.creator)


def find_message(world: World, viewer: int, peer: PeerKey, msg_id: int) -> Message:
    """The viewer's copy of ``msg_id`` in ``peer``, or ``MESSAGE_ID_INVALID``."""
    if peer.kind == "channel":
        message = member_channel(world, viewer, peer).box.messages.get(msg_id)
    else:
        message = world.box(viewer).messages.get(msg_id)
        if message is not None and message.peer != peer:
            message = None
    if message is None:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    return message


def existing_copies(world: World, message: Message) -> list[tuple[PeerKey, Message]]:
    """``(box owner, copy)`` for every copy still held (a copy deleted "for me" is gone)."""
    found = []
    for owner, msg_id in message.copies:
        copy = box_of(world, owner).messages.get(msg_id)
        if copy is not None:
            found.append((owner, copy))
    return found


# -- edit ------------------------------------------------------------------------------------------


def _check_may_edit(world: World, viewer: int, peer: PeerKey, message: Message) -> None:
    if message.content.action is not None:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    channel_admin = (
        peer.kind == "channel" and world.channels[peer.id].broadcast and is_admin(world, viewer, peer)
    )
    if message.author_id != viewer and not channel_admin:
        raise RpcError(403, "MESSAGE_AUTHOR_REQUIRED")
    if peer != user_peer(viewer) and not message.post and world.now() - message.date > EDIT_WINDOW:
        raise RpcError(400, "MESSAGE_EDIT_TIME_EXPIRED")


def _same_entities(old: list[Any], new: list[Any]) -> bool:
    return [e.to_dict() for e in old] == [e.to_dict() for e in new]


@router.method(functions.messages.EditMessageRequest)
def edit_message(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    if req.schedule_date is not None:
        raise RpcError(400, "MESSAGE_ID_INVALID")  # no scheduled messages exist to edit
    message = find_message(world, viewer, peer, req.id)
    _check_may_edit(world, viewer, peer, message)
    content = message.content
    text = req.message if req.message is not None else content.text
    entities = list(req.entities or []) if req.message is not None or req.entities else list(content.entities)
    media = None
    if req.media is not None and not isinstance(req.media, types.InputMediaEmpty):
        if content.media_id is None:
            raise RpcError(400, "MEDIA_PREV_INVALID")  # a text message cannot gain media
        media = stored_media(world, viewer, req.media)
    has_media = media is not None or content.media_id is not None
    if not has_media and not text.strip():
        raise RpcError(400, "MESSAGE_EMPTY")
    if len(text) > (MAX_CAPTION if has_media else MAX_TEXT):
        raise RpcError(400, "MEDIA_CAPTION_TOO_LONG" if has_media else "MESSAGE_TOO_LONG")
    if (
        (media is None or media.id == content.media_id)
        and text == content.text
        and _same_entities(content.entities, entities)
    ):
        raise RpcError(400, "MESSAGE_NOT_MODIFIED")
    content.text, content.entities, content.edit_date = text, entities, world.now()
    if media is not None:
        content.media_id, content.media_kind = media.id, media.kind
    changes = Changes()
    edit(world, changes, message)
    _edit_discussion_copy(world, changes, message)
    return publish(ctx, changes)


def _edit_discussion_copy(world: World, changes: Changes, post: Message) -> None:
    """A post's automatic copy in its discussion group follows the post's edits, as on Telegram."""
    if post.discussion is None:
        return
    group_id, copy_id = post.discussion
    group = world.channels.get(group_id)
    copy = group.box.messages.get(copy_id) if group is not None else None
    if copy is None:
        return
    source = post.content
    copy.content.text, copy.content.entities = source.text, list(source.entities)
    copy.content.media_id, copy.content.media_kind = source.media_id, source.media_kind
    copy.content.edit_date = source.edit_date
    edit(world, changes, copy)


# -- delete ----------------------------------------------------------------------------------------


def _may_revoke(world: World, viewer: int, message: Message) -> bool:
    """Whether the viewer's "delete for everyone" reaches the other copies of ``message``."""
    if message.peer.kind == "chat":
        return message.author_id == viewer or is_admin(world, viewer, message.peer)
    return True


@router.method(functions.messages.DeleteMessagesRequest)
def delete_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    box = world.box(viewer)
    me = user_peer(viewer)
    per_box: dict[PeerKey, list[int]] = {}
    for msg_id in dict.fromkeys(req.id):
        message = box.messages.get(msg_id)
        if message is None:
            continue  # Telegram skips ids that are already gone
        if req.revoke and message.peer != me and _may_revoke(world, viewer, message):
            for owner, copy in existing_copies(world, message):
                per_box.setdefault(owner, []).append(copy.id)
        else:
            per_box.setdefault(me, []).append(msg_id)
    changes = Changes()
    removed = remove_copies(world, changes, per_box)
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return types.messages.AffectedMessages(pts=box.pts, pts_count=len(removed.get(me, [])))


@router.method(functions.channels.DeleteMessagesRequest)
def delete_channel_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = resolve_input_channel(world, viewer, req.channel)
    key = PeerKey("channel", channel.id)
    member_channel(world, viewer, key)
    admin = is_admin(world, viewer, key)
    ids: list[int] = []
    for msg_id in dict.fromkeys(req.id):
        message = channel.box.messages.get(msg_id)
        if message is None:
            continue
        if not admin and (channel.broadcast or message.author_id != viewer):
            raise RpcError(403, "MESSAGE_DELETE_FORBIDDEN")
        ids.append(msg_id)
    changes = Changes()
    remove_copies(world, changes, {channel.box.owner: ids})
    if channel.pinned_msg_id in ids:
        channel.pinned_msg_id = _latest_pinned(channel)
    # Telegram answers with the channel's pts, which Telethon files under the *account* pts: a false
    # gap, or, when the numbers happen to line up, a skipped account update. The sandbox answers
    # with the account's unchanged pts and pushes the channel update to the caller's sessions too.
    push_changes(ctx.server, changes)
    return types.messages.AffectedMessages(pts=world.box(viewer).pts, pts_count=0)


# -- pin -------------------------------------------------------------------------------------------


def _latest_pinned(channel: Channel) -> int | None:
    return max((m.id for m in channel.box.messages.values() if m.pinned), default=None)


def _check_may_pin(world: World, viewer: int, peer: PeerKey) -> None:
    """Channels need an admin; public supergroups too (Telegram locks the right there); groups allow all."""
    if peer.kind != "channel":
        return
    channel = member_channel(world, viewer, peer)
    if (channel.broadcast or channel.username is not None) and not is_admin(world, viewer, peer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")


def _set_pinned(
    world: World, changes: Changes, targets: list[tuple[PeerKey, list[Message]]], pinned: bool
) -> None:
    """Flip ``pinned`` on copies and log one pinned-messages update per box."""
    for owner, copies in targets:
        for copy in copies:
            copy.pinned = pinned
        ids = [copy.id for copy in copies]
        if owner.kind == "channel":
            cid = owner.id
            channel = world.channels[cid]
            channel.pinned_msg_id = _latest_pinned(channel)
            log_channel_update(
                world,
                changes,
                cid,
                lambda _viewer, cid=cid, ids=ids: types.UpdatePinnedChannelMessages(
                    cid, ids, world.channels[cid].box.pts, 1, pinned=pinned
                ),
                [],
            )
            continue
        box = world.box(owner.id)
        update = types.UpdatePinnedMessages(peer_tl(copies[0].peer), ids, box.pts + 1, 1, pinned=pinned)
        box.record(update)
        changes.add(owner.id, update, copies[0].peer)


@router.method(functions.messages.UpdatePinnedMessageRequest)
def update_pinned_message(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    message = find_message(world, viewer, peer, req.id)
    if message.content.action is not None:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    _check_may_pin(world, viewer, peer)
    pinned = not req.unpin
    one_side = peer.kind == "user" and (req.pm_oneside or peer.id == viewer)
    copies = [(user_peer(viewer), message)] if one_side else existing_copies(world, message)
    changing = [(owner, [copy]) for owner, copy in copies if copy.pinned != pinned]
    changes = Changes()
    if not changing:
        return publish(ctx, changes)  # already as asked: no update, and no service message either
    _set_pinned(world, changes, changing, pinned)
    if pinned and not one_side:
        post(
            world,
            changes,
            sender_id=viewer,
            peer=peer,
            content=Content(action=types.MessageActionPinMessage()),
            reply_to=ReplyTo(msg_id=message.id),
            silent=bool(req.silent),
        )
    return publish(ctx, changes)


@router.method(functions.messages.UnpinAllMessagesRequest)
def unpin_all_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    _check_may_pin(world, viewer, peer)
    box = world.channels[peer.id].box if peer.kind == "channel" else world.box(viewer)
    mine = [box.messages[i] for i in box.history(peer) if box.messages[i].pinned]
    if req.top_msg_id and peer.kind == "channel":
        mine = [m for m in mine if in_thread(world.channels[peer.id], m, req.top_msg_id)]
    per_box: dict[PeerKey, list[Message]] = {}
    for message in mine:
        for owner, copy in existing_copies(world, message):
            if copy.pinned:
                per_box.setdefault(owner, []).append(copy)
    changes = Changes()
    _set_pinned(world, changes, list(per_box.items()), False)
    if peer.kind == "channel":
        push_changes(ctx.server, changes)  # as for channels.deleteMessages: the answer carries account pts
        return types.messages.AffectedHistory(pts=world.box(viewer).pts, pts_count=0, offset=0)
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return types.messages.AffectedHistory(pts=box.pts, pts_count=1 if per_box.get(box.owner) else 0, offset=0)
