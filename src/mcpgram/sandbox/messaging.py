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
from .world import Box, Content, Message, PeerKey, ReplyTo, UpdateRecord, World, user_peer

if TYPE_CHECKING:
    from .router import Ctx
    from .server import SandboxServer


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
        return _post_to_channel(world, changes, sender_id, peer, content, reply_to, silent, date)
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
            id=box.allocate_id(), peer=seen_as, from_id=sender_id, date=date, content=content,
            out=owner == sender_id, silent=silent, copies=copies, author_id=sender_id,
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
    world: World, changes: Changes, sender_id: int, peer: PeerKey, content: Content,
    reply_to: ReplyTo | None, silent: bool, date: int,
) -> Message:
    channel = world.channels[peer.id]
    box = channel.box
    if reply_to and reply_to.msg_id and reply_to.msg_id not in box.messages:
        raise RpcError(400, "REPLY_TO_INVALID")
    if channel.broadcast and channel.signatures and content.post_author is None:
        content.post_author = world.users[sender_id].full_name
    message = Message(
        id=box.allocate_id(), peer=peer, from_id=None if channel.broadcast else sender_id, date=date,
        content=content, out=False, silent=silent, post=channel.broadcast, reply_to=reply_to,
        author_id=sender_id,
    )
    if channel.broadcast and content.views is None:
        content.views = 1
    message.copies.append((box.owner, message.id))
    box.add(message)
    log_channel_update(world, changes, channel.id, lambda viewer: types.UpdateNewChannelMessage(
        message_tl(world, viewer, message), box.pts, 1), message_peers(message))
    return message


def log_channel_update(
    world: World, changes: Changes, channel_id: int, make: Any, peers: list[PeerKey], pts_count: int = 1
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
            log_channel_update(world, changes, owner.id, lambda viewer, m=channel_message: (
                types.UpdateEditChannelMessage(message_tl(world, viewer, m), world.channels[owner.id].box.pts, 1)
            ), message_peers(channel_message))
            continue
        box = world.box(owner.id)
        copy = box.messages.get(msg_id)
        if copy is None:
            continue
        update = types.UpdateEditMessage(message_tl(world, owner.id, copy), box.pts + 1, 1)
        box.record(update)
        changes.add(owner.id, update, *message_peers(copy))


def delete(world: World, changes: Changes, actor_id: int, messages: list[Message], *, revoke: bool) -> list[int]:
    """Delete messages the actor sees; with ``revoke`` every copy goes. Returns the actor's deleted ids."""
    per_box: dict[PeerKey, list[int]] = {}
    actor_ids: list[int] = []
    for message in messages:
        targets = message.copies if revoke else [c for c in message.copies if c[0] == user_peer(actor_id)]
        if message.peer.kind == "channel":
            targets = message.copies
        for owner, msg_id in targets:
            per_box.setdefault(owner, []).append(msg_id)
    for owner, ids in per_box.items():
        if owner.kind == "channel":
            box = world.channels[owner.id].box
            for msg_id in ids:
                box.remove(msg_id)
            log_channel_update(world, changes, owner.id, lambda _viewer, ids=ids, cid=owner.id: (
                types.UpdateDeleteChannelMessages(cid, ids, world.channels[cid].box.pts, len(ids))
            ), [], pts_count=len(ids))
            actor_ids.extend(ids)
            continue
        box = world.box(owner.id)
        for msg_id in ids:
            box.remove(msg_id)
        update = types.UpdateDeleteMessages(ids, box.pts + len(ids), len(ids))
        box.record(update, len(ids))
        changes.add(owner.id, update)
        if owner.id == actor_id:
            actor_ids.extend(ids)
    return actor_ids


def publish(ctx: Ctx, changes: Changes, *, extra: list[Any] | None = None) -> Any:
    """Push every other user's updates (and the caller's other sessions'), return the caller's ``Updates``."""
    actor = ctx.user_id
    push_changes(ctx.server, changes, exclude=ctx.auth)
    mine = list(extra or []) + changes.updates.get(actor, [])
    users, chats = entities_for(ctx.world, actor, changes.peers)
    return types.Updates(updates=mine, users=users, chats=chats, date=ctx.world.now(), seq=0)


def push_changes(server: SandboxServer, changes: Changes, *, exclude: Any = None) -> None:
    """Deliver queued updates to live sessions (``exclude``: the caller's session, which gets the answer)."""
    now = server.world.now()
    for user_id, updates in changes.updates.items():
        users, chats = entities_for(server.world, user_id, changes.peers)
        server.push(user_id, types.Updates(updates=updates, users=users, chats=chats, date=now, seq=0), exclude=exclude)
