"""``messages.*`` for sending text: sendMessage, with replies, topics, silent and scheduled-free semantics."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish
from ..render import resolve_input_peer
from ..router import Ctx, RpcError, Router
from ..world import Content, ReplyTo

router = Router()

MAX_TEXT = 4096


def reply_header(req_reply_to: Any) -> ReplyTo | None:
    if req_reply_to is None:
        return None
    if not isinstance(req_reply_to, types.InputReplyToMessage):
        raise RpcError(400, "REPLY_TO_INVALID")
    return ReplyTo(msg_id=req_reply_to.reply_to_msg_id, top_id=req_reply_to.top_msg_id, quote_text=req_reply_to.quote_text)


def check_random_id(ctx: Ctx, random_id: int) -> None:
    """Telegram refuses a reused random_id, which is what makes a retried send safe."""
    seen = ctx.world.random_ids
    key = (ctx.user_id, random_id)
    if key in seen:
        raise RpcError(500, "RANDOM_ID_DUPLICATE")
    seen.add(key)


@router.method(functions.messages.SendMessageRequest)
def send_message(ctx: Ctx, req: Any) -> Any:
    viewer = ctx.user_id
    peer = resolve_input_peer(ctx.world, viewer, req.peer)
    text = req.message or ""
    if not text.strip():
        raise RpcError(400, "MESSAGE_EMPTY")
    if len(text) > MAX_TEXT:
        raise RpcError(400, "MESSAGE_TOO_LONG")
    check_random_id(ctx, req.random_id)
    changes = Changes()
    content = Content(text=text, entities=list(req.entities or []))
    message = post(ctx.world, changes, sender_id=viewer, peer=peer, content=content,
                   reply_to=reply_header(req.reply_to), silent=bool(req.silent))
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])
