"""Deleting whole chats and histories: ``channels.deleteChannel``, ``messages.deleteHistory``,
``channels.deleteHistory``, ``channels.deleteParticipantHistory``, ``messages.deleteSavedHistory``,
``messages.deleteTopicHistory``, ``messages.deletePhoneCallHistory`` (``messages.deleteChat`` is in
``destructive.py``).

They are what mcpgram's raw-bridge denylist refuses, so tests show a refused call never arrives; a
lifted one acts as on Telegram. A deleted channel is gone for every member (each is pushed
``updateChannel`` and sees ``channelForbidden``; the channel's id is ``CHANNEL_INVALID`` from then on),
and only its creator may delete it. A private chat's history deleted with ``revoke`` goes for both
sides; in a basic group ``revoke`` reaches the other members' copies of the caller's own messages (of
every message for an admin). Every deletion is logged and pushed as ordinary message deletions, so
``updates.getDifference`` replays it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, publish, push_changes, remove_copies
from ..render import resolve_input_peer, resolve_input_user
from ..router import Ctx, Router, RpcError
from ..scheduled import book
from ..threads import GENERAL_TOPIC_ID, is_admin, topic_of
from ..world import Channel, Message, PeerKey, World, user_peer
from .channels import visible_channel
from .history import timestamp
from .password import check_srp

router = Router()

#: Telegram refuses to delete a channel with more members than this (``CHANNEL_TOO_LARGE``).
MAX_DELETABLE_MEMBERS = 1000


def _in_range(message: Message, max_id: int, min_date: int, max_date: int) -> bool:
    return (
        (not max_id or message.id <= max_id)
        and (not min_date or message.date >= min_date)
        and (not max_date or message.date <= max_date)
    )


def _affected(ctx: Ctx, pts_count: int) -> Any:
    """Telegram deletes a long history in slices (``offset`` > 0: call again); the sandbox does it at once."""
    return types.messages.AffectedHistory(pts=ctx.world.box(ctx.user_id).pts, pts_count=pts_count, offset=0)


# -- channels --------------------------------------------------------------------------------------


def _forget_channel(world: World, channel: Channel) -> None:
    """Remove ``channel`` from the world, with its discussion link on both sides and every message
    scheduled into it (which has nowhere to go now)."""
    key = PeerKey("channel", channel.id)
    for items in book(world).by_user.values():
        for item_id in [i for i, item in items.items() if item.peer == key]:
            del items[item_id]
    if channel.linked_chat_id is not None and channel.linked_chat_id in world.channels:
        linked = world.channels[channel.linked_chat_id]
        linked.linked_chat_id = None
        for message in linked.box.messages.values():
            if message.discussion is not None and message.discussion[0] == channel.id:
                message.discussion = None
    del world.channels[channel.id]


@router.method(functions.channels.DeleteChannelRequest)
def delete_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = visible_channel(ctx, req.channel)
    if channel.creator_id != viewer:
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if len(channel.participants) > MAX_DELETABLE_MEMBERS:
        raise RpcError(406, "CHANNEL_TOO_LARGE")
    members = list(channel.participants)
    _forget_channel(world, channel)
    now = world.now()
    answer: Any = None
    for member in members:
        forbidden = types.ChannelForbidden(
            id=channel.id,
            access_hash=world.access_hash(member, "channel", channel.id),
            title=channel.title,
            broadcast=channel.broadcast or None,
            megagroup=channel.megagroup or None,
        )
        updates = types.Updates(
            updates=[types.UpdateChannel(channel_id=channel.id)], users=[], chats=[forbidden], date=now, seq=0
        )
        if member == viewer:
            answer = updates
            ctx.server.push(member, updates, exclude=ctx.auth)
        else:
            ctx.server.push(member, updates)
    if answer is None:  # the creator had left it: still theirs to delete
        answer = types.Updates(
            updates=[types.UpdateChannel(channel_id=channel.id)], users=[], chats=[], date=now, seq=0
        )
    return answer


def _channel_deletion(ctx: Ctx, channel: Channel, keep: Callable[[Message], bool]) -> tuple[Changes, int]:
    """Delete every message of ``channel`` that ``keep`` rejects; returns the changes and the count."""
    ids = [m.id for m in channel.box.messages.values() if not keep(m)]
    changes = Changes()
    remove_copies(ctx.world, changes, {channel.box.owner: ids})
    if channel.pinned_msg_id in ids:
        channel.pinned_msg_id = None
    return changes, len(ids)


@router.method(functions.channels.DeleteHistoryRequest)
def delete_channel_history(ctx: Ctx, req: Any) -> Any:
    """``for_everyone`` (admins of a supergroup): the messages up to ``max_id`` go for every member.

    Without it Telegram hides them from the caller only; the sandbox answers the same update but keeps
    showing them (per-member history floors are not modelled).
    """
    viewer = ctx.user_id
    channel = visible_channel(ctx, req.channel)
    if viewer not in channel.participants:
        raise RpcError(400, "USER_NOT_PARTICIPANT")
    extra = [types.UpdateChannelAvailableMessages(channel_id=channel.id, available_min_id=req.max_id)]
    changes = Changes()
    if req.for_everyone:
        if channel.broadcast:
            raise RpcError(400, "CHANNEL_INVALID")  # a broadcast's posts are deleted with deleteMessages
        if not is_admin(channel, viewer):
            raise RpcError(400, "CHAT_ADMIN_REQUIRED")
        changes, _ = _channel_deletion(ctx, channel, lambda m: bool(req.max_id) and m.id > req.max_id)
    changes.peers.add(PeerKey("channel", channel.id))
    return publish(ctx, changes, extra=extra)


@router.method(functions.channels.DeleteParticipantHistoryRequest)
def delete_participant_history(ctx: Ctx, req: Any) -> Any:
    """An admin deletes everything one member wrote in a supergroup."""
    world, viewer = ctx.world, ctx.user_id
    channel = visible_channel(ctx, req.channel)
    if channel.broadcast:
        raise RpcError(400, "CHANNEL_INVALID")
    if not is_admin(channel, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    target = resolve_input_peer(world, viewer, req.participant)
    if target.kind != "user":
        raise RpcError(400, "PARTICIPANT_ID_INVALID")
    changes, _ = _channel_deletion(ctx, channel, lambda m: m.author_id != target.id)
    push_changes(ctx.server, changes)
    return _affected(ctx, 0)  # the deletions arrive under the channel's pts, as with deleteMessages


@router.method(functions.messages.DeleteTopicHistoryRequest)
def delete_topic_history(ctx: Ctx, req: Any) -> Any:
    """Delete a forum topic with every message in it (its creator or an admin; General cannot go)."""
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    channel = world.channels.get(peer.id) if peer.kind == "channel" else None
    if channel is None or not channel.forum:
        raise RpcError(400, "CHANNEL_INVALID")
    topic = channel.topics.get(req.top_msg_id)
    if topic is None or req.top_msg_id == GENERAL_TOPIC_ID:
        raise RpcError(400, "TOPIC_ID_INVALID")
    if topic.creator_id != viewer and not is_admin(channel, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    changes, _ = _channel_deletion(ctx, channel, lambda m: topic_of(channel, m) != topic.id)
    del channel.topics[topic.id]
    push_changes(ctx.server, changes)
    return _affected(ctx, 0)


# -- private chats, basic groups, Saved Messages ---------------------------------------------------


def _may_revoke(world: World, viewer: int, message: Message) -> bool:
    if message.peer.kind == "chat":
        member = world.chats[message.peer.id].participants.get(viewer)
        return message.author_id == viewer or (member is not None and (member.admin or member.creator))
    return True


def _delete_own_box(ctx: Ctx, chosen: list[Message], *, revoke: bool) -> Any:
    world, viewer = ctx.world, ctx.user_id
    me = user_peer(viewer)
    per_box: dict[PeerKey, list[int]] = {}
    for message in chosen:
        if revoke and message.peer != me and _may_revoke(world, viewer, message):
            for owner, msg_id in message.copies:
                per_box.setdefault(owner, []).append(msg_id)
        else:
            per_box.setdefault(me, []).append(message.id)
    changes = Changes()
    removed = remove_copies(world, changes, per_box)
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return _affected(ctx, len(removed.get(me, [])))


@router.method(functions.messages.DeleteHistoryRequest)
def delete_history(ctx: Ctx, req: Any) -> Any:
    """A private chat, a basic group or Saved Messages, up to ``max_id`` (0: all) within the dates."""
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    if peer.kind == "channel":
        raise RpcError(400, "PEER_ID_INVALID")  # channels use channels.deleteHistory
    box = world.box(viewer)
    low, high = timestamp(req.min_date), timestamp(req.max_date)
    chosen = [box.messages[i] for i in box.history(peer) if _in_range(box.messages[i], req.max_id, low, high)]
    return _delete_own_box(ctx, chosen, revoke=bool(req.revoke))


def _saved_from(message: Message) -> PeerKey | None:
    """Who a Saved Messages entry is "from" in Telegram's saved dialogs: the forward's origin, else None."""
    origin = getattr(message.content.fwd_from, "from_id", None)
    if isinstance(origin, types.PeerUser):
        return user_peer(origin.user_id)
    if isinstance(origin, types.PeerChannel):
        return PeerKey("channel", origin.channel_id)
    if isinstance(origin, types.PeerChat):
        return PeerKey("chat", origin.chat_id)
    return None


@router.method(functions.messages.DeleteSavedHistoryRequest)
def delete_saved_history(ctx: Ctx, req: Any) -> Any:
    """One saved dialog: the Saved Messages forwarded from ``peer`` (the account itself: its own notes)."""
    world, viewer = ctx.world, ctx.user_id
    if req.parent_peer is not None:
        raise RpcError(400, "PARENT_PEER_INVALID")  # monoforum saved dialogs are not modelled
    wanted = resolve_input_peer(world, viewer, req.peer)
    me = user_peer(viewer)
    box = world.box(viewer)
    low, high = timestamp(req.min_date), timestamp(req.max_date)
    chosen = [
        box.messages[i]
        for i in box.history(me)
        if (_saved_from(box.messages[i]) or me) == wanted
        and _in_range(box.messages[i], req.max_id, low, high)
    ]
    return _delete_own_box(ctx, chosen, revoke=False)


@router.method(functions.messages.DeletePhoneCallHistoryRequest)
def delete_phone_call_history(ctx: Ctx, _req: Any) -> Any:
    """The sandbox has no calls: nothing to delete, answered as Telegram answers an empty call log."""
    pts = ctx.world.box(ctx.user_id).pts
    return types.messages.AffectedFoundMessages(pts=pts, pts_count=0, offset=0, messages=[])


@router.method(functions.messages.EditChatCreatorRequest)
def edit_chat_creator(ctx: Ctx, req: Any) -> Any:
    """Hand a supergroup or channel to another member; the creator proves the 2FA password by SRP."""
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    if peer.kind != "channel":
        raise RpcError(400, "PEER_ID_INVALID")
    channel = world.channels[peer.id]
    if channel.creator_id != viewer:
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    heir = resolve_input_user(world, viewer, req.user_id)
    if heir.id == viewer or heir.id not in channel.participants:
        raise RpcError(400, "USER_ID_INVALID")
    record = world.users[viewer].password
    if record is None:
        raise RpcError(400, "PASSWORD_MISSING")
    check_srp(ctx, req.password, record)
    old, new = channel.participants[viewer], channel.participants[heir.id]
    old.creator, old.admin = False, True
    new.creator, new.admin = True, True
    channel.creator_id = heir.id
    changes = Changes()
    for member in channel.participants:
        if member != viewer:
            changes.add(member, types.UpdateChannel(channel_id=channel.id), peer)
    changes.peers.add(peer)
    return publish(ctx, changes, extra=[types.UpdateChannel(channel_id=channel.id)])
