"""Telegram Passport: ``account.getAllSecureValues``, ``getSecureValue``, ``saveSecureValue``,
``deleteSecureValue``, ``getAuthorizationForm``, ``acceptAuthorization``.

Passport values are encrypted by the client with a secret only its password unlocks, so the server
stores what it is given: the sandbox keeps each value by its type, with the ``hash`` Telegram computes
over it, and needs the account to have a 2FA password to save one (``PASSWORD_REQUIRED``). Files
attached to a value are not kept. A form is asked for by a bot: ``BOT_INVALID`` for anything else,
``PUBLIC_KEY_REQUIRED`` without the bot's key; accepting one hands the values to the bot (nothing
the sandbox delivers).
"""

from __future__ import annotations

import hashlib
from typing import Any

from telethon.tl import functions, types

from ..accountdata import account_data
from ..render import user_tl
from ..router import Ctx, Router, RpcError
from ..world import User

router = Router()


def _key(value_type: Any) -> str:
    return type(value_type).__name__


def _bot(ctx: Ctx, bot_id: int, public_key: str) -> User:
    bot = ctx.world.users.get(bot_id)
    if bot is None or not bot.bot:
        raise RpcError(400, "BOT_INVALID")
    if not public_key:
        raise RpcError(400, "PUBLIC_KEY_REQUIRED")
    return bot


@router.method(functions.account.GetAllSecureValuesRequest)
def get_all_secure_values(ctx: Ctx, _req: Any) -> list[Any]:
    return list(account_data(ctx.world, ctx.user_id).secure_values.values())


@router.method(functions.account.GetSecureValueRequest)
def get_secure_value(ctx: Ctx, req: Any) -> list[Any]:
    stored = account_data(ctx.world, ctx.user_id).secure_values
    return [stored[_key(t)] for t in req.types if _key(t) in stored]


@router.method(functions.account.SaveSecureValueRequest)
def save_secure_value(ctx: Ctx, req: Any) -> Any:
    if ctx.world.users[ctx.user_id].password is None:
        raise RpcError(400, "PASSWORD_REQUIRED")
    value = req.value
    if value.data is None and value.plain_data is None:
        raise RpcError(400, "SECURE_VALUE_EMPTY")
    material = value.data.data if value.data is not None else bytes(value.plain_data)
    saved = types.SecureValue(
        type=value.type,
        hash=hashlib.sha256(material).digest(),
        data=value.data,
        plain_data=value.plain_data,
    )
    account_data(ctx.world, ctx.user_id).secure_values[_key(value.type)] = saved
    return saved


@router.method(functions.account.DeleteSecureValueRequest)
def delete_secure_value(ctx: Ctx, req: Any) -> bool:
    stored = account_data(ctx.world, ctx.user_id).secure_values
    for value_type in req.types:
        stored.pop(_key(value_type), None)
    return True


@router.method(functions.account.GetAuthorizationFormRequest)
def get_authorization_form(ctx: Ctx, req: Any) -> Any:
    bot = _bot(ctx, req.bot_id, req.public_key)
    values = list(account_data(ctx.world, ctx.user_id).secure_values.values())
    return types.account.AuthorizationForm(
        required_types=[],
        values=values,
        errors=[],
        users=[user_tl(ctx.world, ctx.user_id, bot)],
    )


@router.method(functions.account.AcceptAuthorizationRequest)
def accept_authorization(ctx: Ctx, req: Any) -> bool:
    _bot(ctx, req.bot_id, req.public_key)
    stored = account_data(ctx.world, ctx.user_id).secure_values
    for value_hash in req.value_hashes:
        held = stored.get(_key(value_hash.type))
        if held is None or held.hash != value_hash.hash:
            raise RpcError(400, "SECURE_VALUE_HASH_INVALID")
    return True
