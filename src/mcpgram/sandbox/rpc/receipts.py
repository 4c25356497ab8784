"""What readers leave on messages: read marks (``readHistory``) and emoji reactions.

Reading a private chat or basic group moves the reader's ``read_inbox_max_id`` (logged in their box,
so their other sessions see ``updateReadHistoryInbox``) and the senders' ``read_outbox_max_id``,
translated into each sender's own ids (``updateReadHistoryOutbox``, logged in the sender's box).
Channels keep read marks per user outside the channel's pts sequence: ``updateReadChannelInbox``
carries the channel's current pts without advancing it, and supergroup authors get
``updateReadChannelOutbox``.

Reactions live in the message's shared content, so every copy shows them. A user has one reaction
per message (three with Premium); sending a new list replaces theirs and an empty list removes it.
Only Telegram's standard emoji reactions are accepted; custom emoji and paid reactions are refused
with ``REACTION_INVALID``. ``updateMessageReactions`` has no pts: it is pushed live, not logged.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, publish, push_changes
from ..render import peer_tl, reactions_tl, resolve_input_channel, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Message, PeerKey, World, user_peer
from .actions import existing_copies, find_message

router = Router()

_STANDARD_REACTIONS_TEXT = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 "
    "🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 "
    "💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 "
    "😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 "
    "😘 💊 🙊 😎 👾 🤷\u200d♂ 🤷 🤷\u200d♀ 😡 "
)
#: Telegram's standard reactions (``messages.getAvailableReactions``), without emoji variation selectors.
STANDARD_REACTIONS = frozenset(_STANDARD_REACTIONS_TEXT.split())
MAX_REACTIONS = 1
MAX_REACTIONS_PREMIUM = 3


# -- read marks ------------------------------------------------------------------------------------


def _read_up_to(history: list[int], requested: int) -> int:
    """``max_id`` 0 reads everything; a larger id than the newest reads up to the newest."""
    newest = history[-1] if history else 0
    return newest if requested <= 0 else min(requested, newest)


def _mark_outboxes(world: World, changes: Changes, reader: int, read: list[Message]) -> None:
    """Move each sender's ``read_outbox_max_id`` to their own id of the newest message just read."""
    newest: dict[int, Message] = {}
    for message in read:
        for owner, copy in existing_copies(world, message):
            mine = owner.kind == "user" and owner.id != reader and copy.out
            if mine and (owner.id not in newest or copy.id > newest[owner.id].id):
                newest[owner.id] = copy
    for sender, copy in newest.items():
        state = world.read_state(sender, copy.peer)
        if copy.id <= state.read_outbox_max_id:
            continue
        state.read_outbox_max_id = copy.id
        box = world.box(sender)
        update = types.UpdateReadHistoryOutbox(peer_tl(copy.peer), copy.id, box.pts + 1, 1)
        box.record(update)
        changes.add(sender, update, copy.peer, user_peer(reader))


@router.method(functions.messages.ReadHistoryRequest)
def read_history(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    if peer.kind == "channel":
        raise RpcError(400, "PEER_ID_INVALID")  # channels are read with channels.readHistory
    box = world.box(viewer)
    history = box.history(peer)
    max_id = _read_up_to(history, req.max_id)
    state = world.read_state(viewer, peer)
    if max_id <= state.read_inbox_max_id:
        return types.messages.AffectedMessages(pts=box.pts, pts_count=0)
    incoming = [box.messages[i] for i in history if not box.messages[i].out]
    read = [m for m in incoming if state.read_inbox_max_id < m.id <= max_id]
    state.read_inbox_max_id = max_id
    unread = sum(1 for m in incoming if m.id > max_id)
    changes = Changes()
    update = types.UpdateReadHistoryInbox(peer_tl(peer), max_id, unread, box.pts + 1, 1)
    box.record(update)
    changes.add(viewer, update, peer)
    _mark_outboxes(world, changes, viewer, read)
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return types.messages.AffectedMessages(pts=box.pts, pts_count=1)


@router.method(functions.channels.ReadHistoryRequest)
def read_channel_history(ctx: Ctx, req: Any) -> bool:
    world, viewer = ctx.world, ctx.user_id
    channel = resolve_input_channel(world, viewer, req.channel)
    key = PeerKey("channel", channel.id)
    if viewer not in channel.participants:
        return True  # reading a public channel without joining leaves no read mark
    history = channel.box.history(key)
    max_id = _read_up_to(history, req.max_id)
    state = world.read_state(viewer, key)
    if max_id <= state.read_inbox_max_id:
        return True
    incoming = [channel.box.messages[i] for i in history if channel.box.messages[i].author_id != viewer]
    read = [m for m in incoming if state.read_inbox_max_id < m.id <= max_id]
    state.read_inbox_max_id = max_id
    unread = sum(1 for m in incoming if m.id > max_id)
    changes = Changes()
    changes.add(viewer, types.UpdateReadChannelInbox(channel.id, max_id, unread, channel.box.pts), key)
    if channel.megagroup:
        newest: dict[int, int] = {}
        for message in read:
            if message.author_id is not None and message.author_id in channel.participants:
                newest[message.author_id] = max(newest.get(message.author_id, 0), message.id)
        for author, msg_id in newest.items():
            author_state = world.read_state(author, key)
            if msg_id > author_state.read_outbox_max_id:
                author_state.read_outbox_max_id = msg_id
                changes.add(author, types.UpdateReadChannelOutbox(channel.id, msg_id), key)
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return True


# -- reactions -------------------------------------------------------------------------------------


def _emoticons(world: World, viewer: int, reactions: list[Any] | None) -> list[str]:
    chosen: list[str] = []
    for reaction in reactions or []:
        if isinstance(reaction, types.ReactionEmpty):
            continue
        if not isinstance(reaction, types.ReactionEmoji):
            raise RpcError(400, "REACTION_INVALID")
        emoticon = reaction.emoticon.replace("\ufe0f", "")
        if emoticon not in STANDARD_REACTIONS:
            raise RpcError(400, "REACTION_INVALID")
        if emoticon not in chosen:
            chosen.append(emoticon)
    limit = MAX_REACTIONS_PREMIUM if world.users[viewer].premium else MAX_REACTIONS
    if len(chosen) > limit:
        raise RpcError(400, "REACTIONS_TOO_MANY")
    return chosen


def _reactions_update(world: World, viewer: int, message: Message) -> Any:
    reactions = reactions_tl(viewer, message.content.reactions) or types.MessageReactions(results=[])
    return types.UpdateMessageReactions(peer_tl(message.peer), message.id, reactions)


def _queue_reactions(world: World, changes: Changes, message: Message) -> None:
    """Every copy's owner (every member, for a channel) gets the reactions as they see them."""
    for owner, copy in existing_copies(world, message):
        if owner.kind == "channel":
            for member in world.channels[owner.id].participants:
                changes.add(member, _reactions_update(world, member, copy), owner)
        else:
            changes.add(owner.id, _reactions_update(world, owner.id, copy), copy.peer)


@router.method(functions.messages.SendReactionRequest)
def send_reaction(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    message = find_message(world, viewer, peer, req.msg_id)
    if message.content.action is not None:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    chosen = _emoticons(world, viewer, req.reaction)
    reactions = message.content.reactions
    for emoticon, users in list(reactions.items()):
        if viewer in users and emoticon not in chosen:
            users.remove(viewer)
        if not users:
            del reactions[emoticon]
    for emoticon in chosen:
        users = reactions.setdefault(emoticon, [])
        if viewer not in users:
            users.append(viewer)
    changes = Changes()
    _queue_reactions(world, changes, message)
    return publish(ctx, changes)


@router.method(functions.messages.GetMessagesReactionsRequest)
def get_messages_reactions(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    updates = []
    for msg_id in req.id:
        try:
            updates.append(_reactions_update(world, viewer, find_message(world, viewer, peer, msg_id)))
        except RpcError:
            continue  # Telegram leaves out ids it cannot find
    changes = Changes()
    changes.peers.add(peer)
    return publish(ctx, changes, extra=updates)
