"""``updates.*``: the update state, and the difference since a known state.

pts is per account box (private chats and basic groups) and per channel, exactly as Telegram keeps
it; the difference replays the box's update log, so a client that missed pushed updates catches up.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..render import entities_for, message_tl, peer_key, resolve_input_channel
from ..router import Ctx, Router, RpcError
from ..world import Box, PeerKey, World

router = Router()
_DIFFERENCE_LIMIT = 1000


@router.method(functions.updates.GetStateRequest)
def get_state(ctx: Ctx, _req: Any) -> Any:
    box = ctx.world.box(ctx.user_id)
    return types.updates.State(pts=box.pts, qts=0, date=ctx.world.now(), seq=0, unread_count=0)


_MESSAGE_UPDATES = (
    types.UpdateNewMessage,
    types.UpdateNewChannelMessage,
    types.UpdateEditMessage,
    types.UpdateEditChannelMessage,
)


def _as_now(world: World, viewer: int, box: Box, update: Any) -> Any | None:
    """A logged update as ``viewer`` sees it now: its message re-rendered from the box, None if deleted.

    Telegram's difference returns messages as they are, edits included, and leaves deleted ones out;
    the log holds a snapshot (for channels, rendered for nobody, so ``out`` would be wrong).
    """
    if not isinstance(update, _MESSAGE_UPDATES):
        return update
    current = box.messages.get(update.message.id)
    if current is None:
        return None
    return type(update)(message_tl(world, viewer, current), update.pts, update.pts_count)


def _split(
    world: World, viewer: int, box: Box, records: list[Any]
) -> tuple[list[Any], list[Any], set[PeerKey]]:
    """Log records -> (new messages, other updates, peers they mention)."""
    new_messages, other, peers = [], [], set()
    for record in records:
        update = _as_now(world, viewer, box, record.update)
        if update is None:
            continue
        message = getattr(update, "message", None)
        if isinstance(update, types.UpdateNewMessage | types.UpdateNewChannelMessage):
            new_messages.append(message)
        else:
            other.append(update)
        if message is not None and not isinstance(message, str):
            peers.update(_peers_of(message))
        if isinstance(getattr(update, "peer", None), types.PeerUser | types.PeerChat | types.PeerChannel):
            peers.add(peer_key(update.peer))
    return new_messages, other, peers


@router.method(functions.updates.GetDifferenceRequest)
def get_difference(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    box = world.box(viewer)
    now = world.now()
    state = types.updates.State(pts=box.pts, qts=0, date=now, seq=0, unread_count=0)
    if req.pts >= box.pts:
        return types.updates.DifferenceEmpty(date=now, seq=0)
    records = [r for r in box.log if r.pts > req.pts]
    if box.log and box.log[0].pts - box.log[0].pts_count > req.pts:
        return types.updates.DifferenceTooLong(pts=box.pts)
    new_messages, other, peers = _split(world, viewer, box, records[:_DIFFERENCE_LIMIT])
    users, chats = entities_for(world, viewer, peers)
    if len(records) > _DIFFERENCE_LIMIT:
        last = records[_DIFFERENCE_LIMIT - 1].pts
        state.pts = last
        return types.updates.DifferenceSlice(new_messages, [], other, chats, users, state)
    return types.updates.Difference(new_messages, [], other, chats, users, state)


def _peers_of(message: Any) -> list[PeerKey]:
    peers = [peer_key(message.peer_id)]
    if getattr(message, "from_id", None) is not None:
        peers.append(peer_key(message.from_id))
    return peers


@router.method(functions.updates.GetChannelDifferenceRequest)
def get_channel_difference(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = resolve_input_channel(world, viewer, req.channel)
    box = channel.box
    if req.pts <= 0:
        raise RpcError(400, "PERSISTENT_TIMESTAMP_INVALID")
    if req.pts >= box.pts:
        return types.updates.ChannelDifferenceEmpty(pts=box.pts, final=True, timeout=30)
    records = [r for r in box.log if r.pts > req.pts][: max(1, min(req.limit, _DIFFERENCE_LIMIT))]
    new_messages, other, peers = _split(world, viewer, box, records)
    peers.add(PeerKey("channel", channel.id))
    users, chats = entities_for(world, viewer, peers)
    pts = records[-1].pts if records else box.pts
    return types.updates.ChannelDifference(
        pts=pts,
        new_messages=new_messages,
        other_updates=other,
        chats=chats,
        users=users,
        final=pts >= box.pts,
        timeout=30,
    )
