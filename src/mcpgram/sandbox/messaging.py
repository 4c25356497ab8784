"""Posting, editing and deleting messages across boxes, and publishing the updates that result.

One logical message lands in every box that holds it (both accounts of a private chat, every member
of a basic group, or the single box of a channel), each copy with that box's id. Every change is
logged in the box it touches with the pts Telegram would assign, and collected in a
:class:`Changes` so the RPC handler can answer its caller and push the rest to live sessions.

Handlers use it like this::

    changes = Changes()
    message = post(ctx.world, changes, sender_id=ctx.user_id, peer=peer, content=Content(text="hi"))
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telethon.tl import types

from .render import entities_for, message_peers, message_tl
from .router import RpcError
from .threads import discussion_copy, thread_reply
from .world import Box, Channel, Content, Message, PeerKey, ReplyTo, UpdateRecord, World, user_peer

if TYPE_CHECKING:
    from .handle import ServerHandle
    from .router import Ctx


@dataclass
class Changes:
    """Per-user updates produced by one world change, plus the peers their entities must cover."""

    updates: dict[int, list[Any]] = field(default_factory=dict)
    peers: set[PeerKey] = field(default_factory=set)

    def add(self, user_id: int, update: Any, *peers: PeerKey) -> None:
        self.updates.setdefault(user_id, []).append(update)
        self.peers.update(peers)


def box_of(world: World, owner: PeerKey) -> Box:
    if owner.kind == "user":
        return world.box(owner.id)
    return world.channels[owner.id].box


def copy_in(world: World, message: Message, owner: PeerKey) -> Message | None:
    """The copy of ``message`` held by box ``owner``, if that box has one."""
    for key, msg_id in message.copies:
        if key == owner:
            return box_of(world, key).messages.get(msg_id)
    return None


def chat_members(world: World, peer: PeerKey) -> list[int]:
    """Users whose sessions see traffic in ``peer`` (for a private chat: the sender side resolves it)."""
    if peer.kind == "chat":
        return list(world.chats[peer.id].participants)
    if peer.kind == "channel":
        return list(world.channels[peer.id].participants)
    return [peer.id]


def _reply_for(box: Box, reply: ReplyTo | None, source: Message | None, world: World) -> ReplyTo | None:
    """Translate a reply header from the sender's box into ``box`` (ids differ per box)."""
    if reply is None or source is None:
        return reply
    target = copy_in(world, source, box.owner)
    if target is None:
        return None
    top = reply.top_id
    return ReplyTo(msg_id=target.id, top_id=top, forum_topic=reply.forum_topic, quote_text=reply.quote_text)


def post(
    world: World,
    changes: Changes,
    *,
    sender_id: int,
    peer: PeerKey,
    content: Content,
    reply_to: ReplyTo | None = None,
    silent: bool = False,
    date: int | None = None,
) -> Message:
    """Store a new message from ``sender_id`` in ``peer`` and log its updates; returns the sender's copy.

    ``reply_to.msg_id`` is an id in the *sender's* view of the chat. For a broadcast channel the
    message is a post: shown as from the channel (``post_author`` when signatures are on).
    """
    date = date if date is not None else world.now()
    if peer.kind == "channel":
        return _post_to_channel(
            world,
            changes,
            sender_id=sender_id,
            peer=peer,
            content=content,
            reply_to=reply_to,
            silent=silent,
            date=date,
        )
    sender_box = world.box(sender_id)
    source = sender_box.messages.get(reply_to.msg_id) if reply_to and reply_to.msg_id else None
    if reply_to and reply_to.msg_id and source is None:
        raise RpcError(400, "REPLY_TO_INVALID")
    if peer.kind == "user":
        owners = [sender_id] if peer.id == sender_id else [sender_id, peer.id]
    else:
        owners = [sender_id] + [uid for uid in world.chats[peer.id].participants if uid != sender_id]
    copies: list[tuple[PeerKey, int]] = []
    first: Message | None = None
    for owner in owners:
        box = world.box(owner)
        seen_as = peer if peer.kind == "chat" or owner == sender_id else user_peer(sender_id)
        message = Message(
            id=box.allocate_id(),
            peer=seen_as,
            from_id=sender_id,
            date=date,
            content=content,
            out=owner == sender_id,
            silent=silent,
            copies=copies,
            author_id=sender_id,
            reply_to=reply_to if owner == sender_id else _reply_for(box, reply_to, source, world),
        )
        copies.append((box.owner, message.id))
        box.add(message)
        first = first or message
    for owner in owners:
        box = world.box(owner)
        message = box.messages[dict(copies)[box.owner]]
        update = types.UpdateNewMessage(message_tl(world, owner, message), box.pts + 1, 1)
        box.record(update)
        changes.add(owner, update, *message_peers(message))
    assert first is not None
    return first


def _post_to_channel(
    world: World,
    changes: Changes,
    *,
    sender_id: int,
    peer: PeerKey,
    content: Content,
    reply_to: ReplyTo | None,
    silent: bool,
    date: int,
) -> Message:
    channel = world.channels[peer.id]
    box = channel.box
    if reply_to and reply_to.msg_id and reply_to.msg_id not in box.messages:
        raise RpcError(400, "REPLY_TO_INVALID")
    if content.action is None:
        _check_can_post(channel, sender_id)
    reply_to = thread_reply(channel, reply_to, sender_id)
    if channel.broadcast and channel.signatures and content.post_author is None:
        content.post_author = world.users[sender_id].full_name
    message = Message(
        id=box.allocate_id(),
        peer=peer,
        from_id=None if channel.broadcast else sender_id,
        date=date,
        content=content,
        out=False,
        silent=silent,
        post=channel.broadcast,
        reply_to=reply_to,
        author_id=sender_id,
    )
    if channel.broadcast and content.views is None:
        content.views = 1
    message.copies.append((box.owner, message.id))
    box.add(message)
    copy = discussion_copy(world, channel, message)
    if copy is not None:
        # Logged first: Telethon matches the sender's answer by message id, and the copy's id in the
        # group may equal the post's, so the post must come last to be the one it picks.
        group = world.channels[copy.peer.id]
        log_channel_update(
            world,
            changes,
            group.id,
            lambda viewer: types.UpdateNewChannelMessage(message_tl(world, viewer, copy), group.box.pts, 1),
            message_peers(copy),
        )
    log_channel_update(
        world,
        changes,
        channel.id,
        lambda viewer: types.UpdateNewChannelMessage(message_tl(world, viewer, message), box.pts, 1),
        message_peers(message),
    )
    if sender_id not in channel.participants:
        # A commenter need not be a member of the discussion group, yet gets their message back.
        update = types.UpdateNewChannelMessage(message_tl(world, sender_id, message), box.pts, 1)
        changes.add(sender_id, update, *message_peers(message), peer)
    return message


def _check_can_post(channel: Channel, sender_id: int) -> None:
    """Only admins post in a broadcast; only members write in a supergroup, except its comment threads."""
    member = channel.participants.get(sender_id)
    if channel.broadcast:
        if member is None or not (member.admin or member.creator):
            raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    elif member is None and channel.linked_chat_id is None:
        if channel.username is None:
            raise RpcError(406, "CHANNEL_PRIVATE")
        raise RpcError(403, "CHAT_WRITE_FORBIDDEN")


def log_channel_update(
    world: World, changes: Changes, channel_id: int, make: Any, peers: list[PeerKey], *, pts_count: int = 1
) -> int:
    """Advance the channel's pts, log the update (rendered for nobody), and queue it for every member.

    ``make(viewer)`` renders the update for one viewer, after pts has been advanced.
    """
    channel = world.channels[channel_id]
    channel.box.pts += pts_count
    channel.box.log.append(UpdateRecord(channel.box.pts, pts_count, make(0)))
    for member in channel.participants:
        changes.add(member, make(member), *peers, PeerKey("channel", channel_id))
    return channel.box.pts


def edit(world: World, changes: Changes, message: Message) -> None:
    """Log the edit of ``message`` (its shared content already changed) in every box holding a copy."""
    for owner, msg_id in message.copies:
        if owner.kind == "channel":
            channel_message = world.channels[owner.id].box.messages[msg_id]
            log_channel_update(
                world,
                changes,
                owner.id,
                lambda viewer, m=channel_message, cid=owner.id: types.UpdateEditChannelMessage(
                    message_tl(world, viewer, m), world.channels[cid].box.pts, 1
                ),
                message_peers(channel_message),
            )
            continue
        box = world.box(owner.id)
        copy = box.messages.get(msg_id)
        if copy is None:
            continue
        update = types.UpdateEditMessage(message_tl(world, owner.id, copy), box.pts + 1, 1)
        box.record(update)
        changes.add(owner.id, update, *message_peers(copy))


def delete(
    world: World, changes: Changes, actor_id: int, messages: list[Message], *, revoke: bool
) -> list[int]:
    """Delete messages the actor sees; with ``revoke`` every copy goes. Returns the actor's deleted ids."""
    per_box: dict[PeerKey, list[int]] = {}
    for message in messages:
        targets = message.copies if revoke else [c for c in message.copies if c[0] == user_peer(actor_id)]
        if message.peer.kind == "channel":
            targets = message.copies
        for owner, msg_id in targets:
            per_box.setdefault(owner, []).append(msg_id)
    removed = remove_copies(world, changes, per_box)
    mine = [ids for owner, ids in removed.items() if owner.kind == "channel" or owner.id == actor_id]
    return [msg_id for ids in mine for msg_id in ids]


def remove_copies(
    world: World, changes: Changes, per_box: dict[PeerKey, list[int]]
) -> dict[PeerKey, list[int]]:
    """Remove message copies (ids per box), logging one delete update per box; returns the ids removed.

    Ids a box no longer holds are skipped, so a copy deleted earlier "for me" is not reported twice.
    """
    removed: dict[PeerKey, list[int]] = {}
    for owner, ids in per_box.items():
        box = box_of(world, owner)
        gone = [msg_id for msg_id in dict.fromkeys(ids) if box.remove(msg_id) is not None]
        if not gone:
            continue
        removed[owner] = gone
        if owner.kind == "channel":
            log_channel_update(
                world,
                changes,
                owner.id,
                lambda _viewer, ids=gone, cid=owner.id: types.UpdateDeleteChannelMessages(
                    cid, ids, world.channels[cid].box.pts, len(ids)
                ),
                [],
                pts_count=len(gone),
            )
            continue
        update = types.UpdateDeleteMessages(gone, box.pts + len(gone), len(gone))
        box.record(update, len(gone))
        changes.add(owner.id, update)
    return removed


def publish(ctx: Ctx, changes: Changes, *, extra: list[Any] | None = None) -> Any:
    """Push every other user's updates (and the caller's other sessions'), return the caller's ``Updates``."""
    actor = ctx.user_id
    push_changes(ctx.server, changes, exclude=ctx.auth)
    mine = list(extra or []) + changes.updates.get(actor, [])
    users, chats = entities_for(ctx.world, actor, changes.peers)
    return types.Updates(updates=mine, users=users, chats=chats, date=ctx.world.now(), seq=0)


def push_changes(server: ServerHandle, changes: Changes, *, exclude: Any = None) -> None:
    """Deliver queued updates to live sessions (``exclude``: the caller's session, which gets the answer)."""
    now = server.world.now()
    for user_id, updates in changes.updates.items():
        users, chats = entities_for(server.world, user_id, changes.peers)
        server.push(
            user_id,
            types.Updates(updates=updates, users=users, chats=chats, date=now, seq=0),
            exclude=exclude,
        )
