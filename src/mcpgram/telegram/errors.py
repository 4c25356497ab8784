"""Telethon's exceptions turned into mcpgram's, once, at the edge (like httpx's ``map_httpcore_exceptions``).

Every Telegram call made through the pool runs inside :func:`translate`, so nothing above
``telegram/`` ever sees a Telethon exception. The mapping keeps only what a client may see: the
kind of failure, a flood wait's seconds and, for anything unmapped, Telegram's error *name*
(``CHAT_SEND_PLAIN_FORBIDDEN``). Telethon's free text, the request that failed and anything the
server put in the message are never copied into our errors; the original stays on ``__cause__``
for the server's own logs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telethon import errors as tg

from ..errors import (
    ChatNotFound,
    FloodWait,
    LoginRequired,
    MCPGramError,
    NotAllowed,
    RPCFailed,
    TelegramError,
)

__all__ = ["UNREACHABLE", "map_telethon_error", "rpc_error_name", "translate"]

UNREACHABLE = "Telegram is unreachable; try again shortly"

_LOGIN_HINT = "log in to Telegram again with `mcpgram login` (an HTTP tenant: `mcpgram login --token-stdin`)"

# Checked in order: the most specific classes first, then the HTTP-like bases Telethon files
# unknown errors under (an unlisted 403 is still "not allowed", an unlisted 401 still "log in").
_LOGIN_GONE: tuple[type[Exception], ...] = (
    tg.AuthKeyUnregisteredError,
    tg.SessionRevokedError,
    tg.SessionExpiredError,
    tg.UserDeactivatedError,
    tg.UserDeactivatedBanError,
    tg.AuthKeyDuplicatedError,
    tg.UnauthorizedError,
)
_NOT_FOUND: tuple[type[Exception], ...] = (
    # A private channel is indistinguishable from a missing one to the caller: "not found or private".
    tg.ChannelPrivateError,
    tg.PeerIdInvalidError,
    tg.UsernameNotOccupiedError,
    tg.UsernameInvalidError,
    tg.ChannelInvalidError,
    tg.ChatIdInvalidError,
    tg.UserIdInvalidError,
    tg.PhoneNotOccupiedError,
    tg.MsgIdInvalidError,
    tg.MessageIdInvalidError,
)
_NOT_ALLOWED: tuple[type[Exception], ...] = (
    tg.ChatAdminRequiredError,
    tg.ChatWriteForbiddenError,
    tg.UserPrivacyRestrictedError,
    tg.MessageAuthorRequiredError,
    tg.ForbiddenError,
)
# Failures of the connection itself rather than answers from Telegram. ``TimeoutError`` is
# ``asyncio.TimeoutError`` since 3.11; ``ConnectionError`` is an ``OSError``.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    tg.InvalidBufferError,
    tg.SecurityError,
    tg.InvalidChecksumError,
    tg.AuthKeyNotFound,
)
_SAFE_NAME = re.compile(r"^[A-Z0-9_]{1,64}$")


def _build_names() -> dict[type[Exception], str]:
    names: dict[type[Exception], str] = {}
    for name, cls in tg.rpc_errors_dict.items():
        names.setdefault(cls, name)
    for pattern, cls in tg.rpc_errors_re:
        # 'FLOOD_WAIT_(\d+)' -> 'FLOOD_WAIT_X', the way Telegram's docs name them.
        names.setdefault(cls, re.sub(r"\(.*?\)", "X", pattern).replace("\\", ""))
    return names


_NAMES = _build_names()


def rpc_error_name(exc: tg.RPCError) -> str:
    """Telegram's error name for ``exc`` (``CHAT_WRITE_FORBIDDEN``), never its free text.

    Known errors get their name from Telethon's generated table; unknown ones carry the server's
    ``error_message``, which is used only if it looks like a name.
    """
    for cls in type(exc).__mro__:
        name = _NAMES.get(cls)
        if name is not None:
            return name
    message = exc.message if isinstance(exc.message, str) else ""
    return message if _SAFE_NAME.match(message) else "UNKNOWN"


def map_telethon_error(exc: BaseException) -> MCPGramError:
    """The mcpgram error that stands for a Telethon (or network) exception.

    Args:
        exc: what a Telethon call raised.

    Returns:
        ``FloodWait`` for flood and slow-mode waits, ``LoginRequired`` when the authorization is
        gone, ``NotAllowed`` for refusals, ``ChatNotFound`` for peers and messages that do not
        resolve, ``RPCFailed`` (named) for other Telegram errors, and ``TelegramError`` for network
        failures or anything else. An mcpgram error is returned unchanged.
    """
    if isinstance(exc, MCPGramError):
        return exc
    if isinstance(exc, tg.MultiError):
        first = next((e for e in exc.exceptions if e is not None), None)
        return map_telethon_error(first) if first is not None else RPCFailed("Telegram call failed")
    if isinstance(exc, tg.FloodError):
        seconds = getattr(exc, "seconds", None)
        if isinstance(seconds, int):
            return FloodWait(max(seconds, 1), hint="wait, then retry the same call")
        return RPCFailed(f"Telegram refused the call: {rpc_error_name(exc)}", hint="slow down")
    if isinstance(exc, _LOGIN_GONE):
        return LoginRequired("the Telegram login of this account is no longer valid", hint=_LOGIN_HINT)
    if isinstance(exc, _NOT_FOUND):
        return ChatNotFound(
            "the chat, user or message was not found or is private",
            hint="use find_chats to get a valid chat id",
        )
    if isinstance(exc, _NOT_ALLOWED):
        return NotAllowed(f"Telegram does not allow this: {rpc_error_name(exc)}")
    if isinstance(exc, tg.RPCError):
        return RPCFailed(f"Telegram refused the call: {rpc_error_name(exc)}")
    if isinstance(exc, _UNREACHABLE):
        return TelegramError(UNREACHABLE)
    return TelegramError("the Telegram call failed")


def is_telethon_error(exc: BaseException) -> bool:
    """Whether :func:`translate` converts ``exc`` (Telethon and network errors; not programming errors)."""
    return isinstance(exc, (tg.RPCError, tg.MultiError, *_UNREACHABLE))


@asynccontextmanager
async def translate() -> AsyncIterator[None]:
    """Convert Telethon and network errors raised inside the block, with ``raise ... from exc``.

    Example (also usable as a decorator, ``@translate()``)::

        async with translate():
            await client.get_dialogs(limit=10)

    mcpgram errors and programming errors (``TypeError``, ``ValueError``...) pass through unchanged,
    so a bug is not disguised as a Telegram failure.
    """
    try:
        yield
    except MCPGramError:
        raise
    except Exception as exc:
        if not is_telethon_error(exc):
            raise
        raise map_telethon_error(exc) from exc
