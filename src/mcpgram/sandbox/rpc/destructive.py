"""Methods that destroy or give away an account or a chat: ``account.deleteAccount``,
``messages.deleteChat``, ``auth.exportAuthorization``.

They exist so tests can show a gateway never forwards them unless allowed: each call counts in the
server's per-method RPC counters like any other. They act as Telegram does, minimally: a deleted
account is gone (marked deleted, its username and phone freed, every session answered
``401 USER_DEACTIVATED``); a deleted basic group is deactivated and empty; an exported
authorization is random bytes (the sandbox has one DC, so nothing imports it).
"""

from __future__ import annotations

import os
from typing import Any

from telethon.tl import functions, types

from ..router import Ctx, Router, RpcError

router = Router()


@router.method(functions.account.DeleteAccountRequest)
def delete_account(ctx: Ctx, _req: Any) -> bool:
    user = ctx.world.users[ctx.user_id]
    for auth in ctx.server.authorizations_of(user.id):
        auth.revoked = "USER_DEACTIVATED"
    user.deleted = True
    user.username = None
    user.phone = None
    return True


@router.method(functions.messages.DeleteChatRequest)
def delete_chat(ctx: Ctx, req: Any) -> bool:
    chat = ctx.world.chats.get(req.chat_id)
    if chat is None or ctx.user_id not in chat.participants:
        raise RpcError(400, "CHAT_ID_INVALID")
    if chat.creator_id != ctx.user_id:
        raise RpcError(403, "CHAT_ADMIN_REQUIRED")
    chat.deactivated = True
    chat.participants.clear()
    return True


@router.method(functions.auth.ExportAuthorizationRequest)
def export_authorization(ctx: Ctx, req: Any) -> Any:
    if req.dc_id == ctx.server.dc_id:
        raise RpcError(400, "DC_ID_INVALID")
    return types.auth.ExportedAuthorization(id=ctx.user_id, bytes=os.urandom(32))
