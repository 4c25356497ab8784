"""Runs one parsed raw MTProto call (``rawtl.py``) with a tenant's client, and shapes its answer.

Chat references in peer fields are resolved the strict way every tool resolves them
(``chats.resolve_chat``), then turned into the ``InputUser``/``InputChannel`` a field may need. The
request is serialised once before it is sent, so a number too big for its TL type is the caller's
``INVALID_ARGUMENT``, not a crash. Telegram's refusals keep Telegram's own code and error name
(``RPCFailed.rpc_code``/``rpc_name``; flood waits and lost logins map as for every tool).

Must not: decide whether the call is allowed (``policy/guard.py`` does, before this runs), or log
parameters or results (they hold message text).
"""

from __future__ import annotations

import struct
from typing import Any

from telethon import TelegramClient, utils
from telethon import errors as tg
from telethon.tl.tlobject import TLObject

from ..errors import FloodWait, InvalidArgument, LoginRequired, RPCFailed
from .chats import resolve_chat
from .errors import map_telethon_error, rpc_error_name
from .rawresult import from_tl
from .rawtl import PeerRef, RawCall, fields_of

__all__ = ["invoke"]


async def _resolve(client: TelegramClient, ref: PeerRef) -> Any:
    peer = await resolve_chat(client, ref.ref)
    try:
        if ref.kind == "InputUser":
            return utils.get_input_user(peer)
        if ref.kind == "InputChannel":
            return utils.get_input_channel(peer)
    except TypeError:
        what = "a user" if ref.kind == "InputUser" else "a channel or supergroup"
        raise InvalidArgument(f"{ref.path}: that chat is not {what}") from None
    return peer


def _substitute(value: Any, resolved: dict[int, Any]) -> Any:
    """``value`` with every placeholder replaced by its resolved peer (TL objects changed in place)."""
    if isinstance(value, PeerRef):
        return resolved[id(value)]
    if isinstance(value, list):
        return [_substitute(item, resolved) for item in value]
    if isinstance(value, TLObject):
        for param in fields_of(type(value)):
            current = getattr(value, param.name, None)
            if current is not None:
                setattr(value, param.name, _substitute(current, resolved))
    return value


async def invoke(client: TelegramClient, call: RawCall) -> dict[str, Any]:
    """Send ``call`` for the tenant and return ``{"method", "result"[, "truncated"]}``.

    Raises:
        InvalidArgument: a peer field names the wrong kind of chat, or a number does not fit.
        ChatNotFound: a chat reference does not resolve.
        RPCFailed: Telegram refused the call (its code and name kept); FloodWait, LoginRequired.
    """
    resolved = {id(ref): await _resolve(client, ref) for ref in call.refs}
    request = _substitute(call.request, resolved)
    try:
        bytes(request)
    except (struct.error, OverflowError, TypeError, ValueError, AttributeError):
        raise InvalidArgument(
            "params: a value does not fit its TL type",
            hint="TL int is 32-bit and long 64-bit; check numbers and object types",
        ) from None
    try:
        result = await client(request)
    except tg.RPCError as exc:
        mapped = map_telethon_error(exc)
        if isinstance(mapped, (FloodWait, LoginRequired)):
            raise mapped from exc
        name = rpc_error_name(exc)
        code = exc.code if isinstance(exc.code, int) else None
        raise RPCFailed(
            f"Telegram refused the call: {name}" + (f" ({code})" if code else ""),
            hint="Telegram's error; see core.telegram.org/api/errors",
            rpc_code=code,
            rpc_name=name,
        ) from exc
    data, truncated = from_tl(result)
    answer: dict[str, Any] = {"method": call.method, "result": data}
    if truncated:
        answer["truncated"] = True
    return answer
