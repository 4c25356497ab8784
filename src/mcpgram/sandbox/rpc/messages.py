"""``messages.sendMessage`` and the scheduled list: replies, forum topics, silent and scheduled sends.

A future ``schedule_date`` (up to a year ahead, else ``SCHEDULE_DATE_TOO_LATE``) stores the message
in the sender's scheduled list (``sandbox/scheduled.py``); a due date or Telegram's "send when
online" marker sends at once. ``getScheduledHistory``, ``getScheduledMessages``,
``deleteScheduledMessages`` and ``sendScheduledMessages`` read and change that list. Methods that do
not model scheduling (forwards) refuse a real schedule with ``SCHEDULE_DATE_INVALID`` through
:func:`check_schedule` rather than sending early. ``no_webpage`` and ``clear_draft`` are accepted and
ignored (no link previews, no drafts).
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from .. import scheduled
from ..messaging import Changes, post, publish
from ..render import entities_for, peer_tl, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Content, ReplyTo, World
from .contacts import telegram_hash

router = Router()

MAX_TEXT = 4096


def reply_header(req_reply_to: Any, top_msg_id: int | None = None) -> ReplyTo | None:
    """``InputReplyTo`` (plus a method's separate ``top_msg_id``) -> a reply header in the sender's ids.

    A bare ``top_msg_id`` posts into a forum topic without replying to a particular message.
    """
    if req_reply_to is None:
        if top_msg_id:
            return ReplyTo(msg_id=top_msg_id, top_id=top_msg_id)
        return None
    if not isinstance(req_reply_to, types.InputReplyToMessage):
        raise RpcError(400, "REPLY_TO_INVALID")
    return ReplyTo(
        msg_id=req_reply_to.reply_to_msg_id,
        top_id=req_reply_to.top_msg_id or top_msg_id,
        quote_text=req_reply_to.quote_text,
    )


def check_random_id(ctx: Ctx, random_id: int) -> None:
    """Telegram refuses a reused random_id, which is what makes a retried send safe."""
    seen = ctx.world.random_ids
    key = (ctx.user_id, random_id)
    if key in seen:
        raise RpcError(500, "RANDOM_ID_DUPLICATE")
    seen.add(key)


def check_schedule(world: World, schedule_date: Any) -> None:
    """For methods that do not schedule: accept a date that means "now", refuse a real schedule."""
    if scheduled.schedule_date(world, schedule_date) is not None:
        raise RpcError(400, "SCHEDULE_DATE_INVALID")


def check_text(text: str) -> None:
    if not text.strip():
        raise RpcError(400, "MESSAGE_EMPTY")
    if len(text) > MAX_TEXT:
        raise RpcError(400, "MESSAGE_TOO_LONG")


@router.method(functions.messages.SendMessageRequest)
def send_message(ctx: Ctx, req: Any) -> Any:
    viewer = ctx.user_id
    peer = resolve_input_peer(ctx.world, viewer, req.peer)
    text = req.message or ""
    check_text(text)
    when = scheduled.schedule_date(ctx.world, req.schedule_date)
    check_random_id(ctx, req.random_id)
    content = Content(text=text, entities=list(req.entities or []))
    reply_to = reply_header(req.reply_to)
    if when is not None:
        return scheduled.schedule(
            ctx,
            peer=peer,
            content=content,
            reply_to=reply_to,
            silent=bool(req.silent),
            date=when,
            random_id=req.random_id,
        )
    changes = Changes()
    message = post(
        ctx.world,
        changes,
        sender_id=viewer,
        peer=peer,
        content=content,
        reply_to=reply_to,
        silent=bool(req.silent),
    )
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])


@router.method(functions.messages.GetScheduledHistoryRequest)
def get_scheduled_history(ctx: Ctx, req: Any) -> Any:
    peer = resolve_input_peer(ctx.world, ctx.user_id, req.peer)
    scheduled.deliver_due(ctx.server)
    # The list hash covers id, edit date (0 if unedited) and date of each message, in the order sent.
    listed = scheduled.listed(ctx.world, ctx.user_id, peer)
    stamps = [n for m in listed for n in (m.id, m.content.edit_date or 0, m.date)]
    if req.hash and req.hash == telegram_hash(stamps):
        return types.messages.MessagesNotModified(count=len(listed))
    return scheduled.history_tl(ctx.world, ctx.user_id, peer)


@router.method(functions.messages.GetScheduledMessagesRequest)
def get_scheduled_messages(ctx: Ctx, req: Any) -> Any:
    peer = resolve_input_peer(ctx.world, ctx.user_id, req.peer)
    scheduled.deliver_due(ctx.server)
    wanted = set(req.id)
    found = [m for m in scheduled.book(ctx.world).of(ctx.user_id, peer) if m.id in wanted]
    users, chats = entities_for(ctx.world, ctx.user_id, [peer])
    messages = [scheduled.scheduled_tl(ctx.world, m) for m in found]
    return types.messages.Messages(messages=messages, topics=[], chats=chats, users=users)


@router.method(functions.messages.DeleteScheduledMessagesRequest)
def delete_scheduled_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    scheduled.deliver_due(ctx.server)
    gone = scheduled.remove(world, viewer, peer, list(req.id))
    changes = Changes()
    if gone:
        changes.add(viewer, types.UpdateDeleteScheduledMessages(peer_tl(peer), gone), peer)
    return publish(ctx, changes)


@router.method(functions.messages.SendScheduledMessagesRequest)
def send_scheduled_messages(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    mine = {m.id for m in scheduled.book(world).of(viewer, peer)}
    if not set(req.id) & mine:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    scheduled.deliver_due(ctx.server, force={viewer: set(req.id) & mine})
    return types.Updates(updates=[], users=[], chats=[], date=world.now(), seq=0)
