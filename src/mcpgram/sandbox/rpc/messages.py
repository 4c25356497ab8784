"""``messages.sendMessage``: text messages, with replies, forum topics, silent sends and scheduling limits.

Scheduled messages are not modelled. A ``schedule_date`` that is already due, or Telegram's "send
when online" marker, sends at once; a date more than a year ahead is ``SCHEDULE_DATE_TOO_LATE`` as on
Telegram; any other future date is refused with ``SCHEDULE_DATE_INVALID`` rather than being sent
early. ``no_webpage`` and ``clear_draft`` are accepted and ignored (no link previews, no drafts).
"""

from __future__ import annotations

import datetime
from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish
from ..render import resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Content, ReplyTo, World

router = Router()

MAX_TEXT = 4096
#: ``schedule_date`` meaning "when the recipient comes online" (private chats).
SEND_WHEN_ONLINE = 0x7FFFFFFE
#: Telegram accepts schedule dates up to a year (and a few hours) ahead.
MAX_SCHEDULE_AHEAD = 366 * 24 * 3600


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
    """Accept a ``schedule_date`` that means "now"; refuse a real schedule (see the module docstring)."""
    if schedule_date is None:
        return
    if isinstance(schedule_date, datetime.datetime):
        schedule_date = int(schedule_date.timestamp())
    if schedule_date == SEND_WHEN_ONLINE or schedule_date <= world.now():
        return
    if schedule_date > world.now() + MAX_SCHEDULE_AHEAD:
        raise RpcError(400, "SCHEDULE_DATE_TOO_LATE")
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
    check_schedule(ctx.world, req.schedule_date)
    check_random_id(ctx, req.random_id)
    changes = Changes()
    content = Content(text=text, entities=list(req.entities or []))
    message = post(
        ctx.world,
        changes,
        sender_id=viewer,
        peer=peer,
        content=content,
        reply_to=reply_header(req.reply_to),
        silent=bool(req.silent),
    )
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])
