"""Scheduled messages: a send with a future ``schedule_date``, the scheduled list, and delivery when due.

As on Telegram, a scheduled message lives only in its sender's scheduled list for that chat: it is not
in any box, so history, search and the other side do not see it. Its id comes from a sequence of its
own (one per account here), so it may equal an ordinary message id. The send is answered with
``updateMessageID`` + ``updateNewScheduledMessage``, which is what makes Telethon return a message
carrying the scheduled id.

Delivery posts the message into the chat like any other (every box gets its copy and its update)
and tells the sender's sessions ``updateDeleteScheduledMessages``. It happens:

- on a timer in the server's event loop at the due time (the world's clock, so a demo behaves);
- whenever a request touches scheduled messages (send, list, delete), for whatever is due by then;
- on :func:`deliver_due`, which tests call after moving the world's clock.

A reply whose target was deleted meanwhile is delivered without the reply, as Telegram does; a
message that can no longer be posted at all (the sender lost the right to write) is dropped.

Must not: import anything from mcpgram outside the sandbox.
"""

from __future__ import annotations

import asyncio
import datetime
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telethon.tl import types

from .messaging import Changes, post, push_changes
from .render import entities_for, message_tl, peer_tl
from .router import RpcError
from .threads import thread_reply
from .world import Content, Message, PeerKey, ReplyTo, World

if TYPE_CHECKING:
    from .handle import ServerHandle
    from .router import Ctx

#: ``schedule_date`` meaning "when the recipient comes online" (private chats): sent at once here.
SEND_WHEN_ONLINE = 0x7FFFFFFE
#: Telegram accepts schedule dates up to a year (and a few hours) ahead.
MAX_SCHEDULE_AHEAD = 366 * 24 * 3600
#: Telegram keeps at most this many scheduled messages per chat.
MAX_PER_CHAT = 100


@dataclass
class ScheduledMessage:
    id: int
    sender_id: int
    #: The chat as :func:`messaging.post` takes it (for a private chat: the other user).
    peer: PeerKey
    date: int
    content: Content
    reply_to: ReplyTo | None = None
    silent: bool = False


@dataclass
class ScheduledBook:
    """Every account's scheduled messages in one world."""

    next_id: int = 1
    by_user: dict[int, dict[int, ScheduledMessage]] = field(default_factory=dict)

    def of(self, user_id: int, peer: PeerKey | None = None) -> list[ScheduledMessage]:
        """A user's scheduled messages (in one chat, if given), oldest date first."""
        items = self.by_user.get(user_id, {}).values()
        return sorted((m for m in items if peer is None or m.peer == peer), key=lambda m: (m.date, m.id))


# Kept beside the world rather than in it: the world module is shared and nearly full.
_books: weakref.WeakKeyDictionary[World, ScheduledBook] = weakref.WeakKeyDictionary()


def book(world: World) -> ScheduledBook:
    found = _books.get(world)
    if found is None:
        found = _books[world] = ScheduledBook()
    return found


def schedule_date(world: World, raw: Any) -> int | None:
    """The future date a send is scheduled for; None for "send now" (no date, due, or when online).

    Raises ``SCHEDULE_DATE_TOO_LATE`` for a date more than a year ahead, as Telegram does.
    """
    if raw is None:
        return None
    if isinstance(raw, datetime.datetime):
        raw = int(raw.timestamp())
    if raw == SEND_WHEN_ONLINE or raw <= world.now():
        return None
    if raw > world.now() + MAX_SCHEDULE_AHEAD:
        raise RpcError(400, "SCHEDULE_DATE_TOO_LATE")
    return int(raw)


def _check_target(world: World, sender_id: int, peer: PeerKey, reply_to: ReplyTo | None) -> ReplyTo | None:
    """What ``post`` would refuse, refused now rather than at delivery; returns the completed reply."""
    if peer.kind != "channel":
        if reply_to and reply_to.msg_id and reply_to.msg_id not in world.box(sender_id).messages:
            raise RpcError(400, "REPLY_TO_INVALID")
        return reply_to
    channel = world.channels[peer.id]
    member = channel.participants.get(sender_id)
    if channel.broadcast and (member is None or not (member.admin or member.creator)):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if channel.megagroup and member is None:
        raise RpcError(403, "CHAT_WRITE_FORBIDDEN")
    if reply_to and reply_to.msg_id and reply_to.msg_id not in channel.box.messages:
        raise RpcError(400, "REPLY_TO_INVALID")
    return thread_reply(channel, reply_to, sender_id)


def _as_message(world: World, item: ScheduledMessage) -> Message:
    """The scheduled message as the sender sees it in the scheduled list (in no box)."""
    broadcast = item.peer.kind == "channel" and world.channels[item.peer.id].broadcast
    return Message(
        id=item.id,
        peer=item.peer,
        from_id=None if broadcast else item.sender_id,
        date=item.date,
        content=item.content,
        out=True,
        reply_to=item.reply_to,
        silent=item.silent,
        post=broadcast,
        author_id=item.sender_id,
    )


def scheduled_tl(world: World, item: ScheduledMessage) -> Any:
    message = message_tl(world, item.sender_id, _as_message(world, item))
    message.from_scheduled = True  # how Telegram marks a message of the scheduled list
    return message


def schedule(
    ctx: Ctx,
    *,
    peer: PeerKey,
    content: Content,
    reply_to: ReplyTo | None,
    silent: bool,
    date: int,
    random_id: int,
) -> Any:
    """Store a scheduled send and answer it as Telegram does (the random_id is already checked)."""
    world, sender = ctx.world, ctx.user_id
    deliver_due(ctx.server)
    reply_to = _check_target(world, sender, peer, reply_to)
    scheduled = book(world)
    if len(scheduled.of(sender, peer)) >= MAX_PER_CHAT:
        raise RpcError(400, "SCHEDULE_TOO_MUCH")
    item = ScheduledMessage(scheduled.next_id, sender, peer, date, content, reply_to, silent)
    scheduled.next_id += 1
    scheduled.by_user.setdefault(sender, {})[item.id] = item
    _start_timer(ctx.server, date)
    update = types.UpdateNewScheduledMessage(scheduled_tl(world, item))
    users, chats = entities_for(world, sender, [peer])
    pushed = types.Updates(updates=[update], users=users, chats=chats, date=world.now(), seq=0)
    ctx.server.push(sender, pushed, exclude=ctx.auth)
    updates = [types.UpdateMessageID(item.id, random_id), update]
    return types.Updates(updates=updates, users=users, chats=chats, date=world.now(), seq=0)


def _start_timer(server: ServerHandle, date: int) -> None:
    delay = max(0.0, date - server.world.now())
    # A timer left behind when the server stops only finds nothing due: delivery re-checks the clock.
    asyncio.get_running_loop().call_later(delay, deliver_due, server)


def remove(world: World, sender_id: int, peer: PeerKey, ids: list[int]) -> list[int]:
    """Drop scheduled messages of ``sender_id`` in ``peer``; returns the ids that existed."""
    items = book(world).by_user.get(sender_id, {})
    gone = [i for i in dict.fromkeys(ids) if i in items and items[i].peer == peer]
    for i in gone:
        del items[i]
    return gone


def deliver_due(server: ServerHandle, *, force: dict[int, set[int]] | None = None) -> int:
    """Post every scheduled message that is due (plus ``force``: user id -> ids to send now).

    Returns how many were posted.
    """
    world = server.world
    scheduled = _books.get(world)
    if scheduled is None:
        return 0
    now = world.now()
    posted = 0
    for user_id, items in list(scheduled.by_user.items()):
        forced = (force or {}).get(user_id, set())
        for item in sorted(items.values(), key=lambda m: (m.date, m.id)):
            if item.date > now and item.id not in forced:
                continue
            del items[item.id]
            changes = Changes()
            if _post(world, changes, item):
                posted += 1
            gone = types.UpdateDeleteScheduledMessages(peer_tl(item.peer), [item.id])
            changes.add(user_id, gone, item.peer)
            push_changes(server, changes)
    return posted


def _post(world: World, changes: Changes, item: ScheduledMessage) -> bool:
    attempts = [item.reply_to]
    if item.reply_to is not None:
        attempts.append(_topic_only(item.reply_to))
    for reply_to in attempts:
        try:
            post(
                world,
                changes,
                sender_id=item.sender_id,
                peer=item.peer,
                content=item.content,
                reply_to=reply_to,
                silent=item.silent,
            )
            return True
        except RpcError:
            continue
    return False


def _topic_only(reply_to: ReplyTo | None) -> ReplyTo | None:
    """A reply header without its (deleted) target: a forum topic post stays in its topic."""
    if reply_to is None or not reply_to.forum_topic or reply_to.top_id is None:
        return None
    return ReplyTo(msg_id=reply_to.top_id, top_id=reply_to.top_id, forum_topic=True)


def listed(world: World, viewer: int, peer: PeerKey) -> list[ScheduledMessage]:
    """The viewer's scheduled list in ``peer`` as getScheduledHistory sends it: highest id first.

    That is the order of every history answer; Telethon's iterator stops at the first id that is not
    lower than the one before, so a date order would hide messages scheduled out of order.
    """
    return sorted(book(world).of(viewer, peer), key=lambda m: m.id, reverse=True)


def history_tl(world: World, viewer: int, peer: PeerKey) -> Any:
    """``messages.messages`` of the viewer's scheduled list in ``peer``, highest id first."""
    items = listed(world, viewer, peer)
    users, chats = entities_for(world, viewer, [peer])
    messages = [scheduled_tl(world, item) for item in items]
    return types.messages.Messages(messages=messages, topics=[], chats=chats, users=users)
