"""QR login: ``auth.exportLoginToken``, ``auth.acceptLoginToken`` and ``auth.importLoginToken``.

The flow of https://core.telegram.org/api/qr-login: a logged-out client exports a short-lived token
and shows it as a QR code; a logged-in session of the account scans it and accepts it; the waiting
connection is told so with ``updateLoginToken`` and exports again, which now answers
``auth.loginTokenSuccess`` and binds its key to the account (or ``SESSION_PASSWORD_NEEDED`` when the
account has 2FA). The sandbox is a single DC, so ``auth.loginTokenMigrateTo`` never occurs and
``auth.importLoginToken`` simply answers for a token of this DC.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from ..router import Ctx, Router, RpcError
from .auth import authorize

if TYPE_CHECKING:
    from ..handle import AuthRecord, ServerHandle

router = Router()

#: Telegram's QR tokens live about 30 seconds; clients re-export when they expire.
TOKEN_TTL = 30
#: How long an expired token is still recognised (answering AUTH_TOKEN_EXPIRED, not _INVALID).
_REMEMBER_EXPIRED = 300
_TOKEN_BYTES = 32


@dataclass
class LoginToken:
    """One exported token: which key waits on it, until when, and who accepted it."""

    token: bytes
    waiting_key_id: int
    expires: int
    api_id: int
    except_ids: list[int]
    accepted_by: int | None = None


def _forget_expired(server: ServerHandle) -> None:
    # An accepted token stays until its waiting key collects it, even past its expiry.
    horizon = server.world.now() - _REMEMBER_EXPIRED
    for token, record in list(server.login_tokens.items()):
        if record.accepted_by is None and record.expires < horizon:
            del server.login_tokens[token]


def _lookup(server: ServerHandle, token: bytes) -> LoginToken:
    record: LoginToken | None = server.login_tokens.get(token)
    if record is None:
        raise RpcError(400, "AUTH_TOKEN_INVALID")
    if record.accepted_by is None and record.expires < server.world.now():
        del server.login_tokens[token]
        raise RpcError(400, "AUTH_TOKEN_EXPIRED")
    return record


def _collect(ctx: Ctx, record: LoginToken) -> Any:
    """The waiting key picks up an accepted token: log it in, or ask for the 2FA password."""
    assert record.accepted_by is not None
    ctx.server.login_tokens.pop(record.token, None)
    user_id = record.accepted_by
    if ctx.world.users[user_id].password is not None:
        ctx.auth.pending_password_user = user_id
        raise RpcError(401, "SESSION_PASSWORD_NEEDED")
    return types.auth.LoginTokenSuccess(authorization=authorize(ctx, user_id))


def authorization_tl(server: ServerHandle, auth: AuthRecord, *, current: bool = False) -> Any:
    """An ``authorization`` (one row of "active sessions") describing ``auth``."""
    return types.Authorization(
        hash=0 if current else auth.hash,
        current=current or None,
        device_model=auth.device_model or "Unknown device",
        platform="",
        system_version=getattr(auth, "system_version", ""),
        api_id=auth.api_id,
        app_name=f"App {auth.api_id}" if auth.api_id else "Unknown app",
        app_version=auth.app_version,
        date_created=auth.created,
        date_active=auth.active or auth.created,
        ip=server.host,
        country="Sandbox",
        region="",
    )


def accept_token(server: ServerHandle, token: bytes, user_id: int) -> Any:
    """Accept ``token`` for ``user_id`` and wake the waiting connection; returns its authorization."""
    _forget_expired(server)
    record = _lookup(server, token)
    if record.accepted_by is not None:
        raise RpcError(400, "AUTH_TOKEN_ALREADY_ACCEPTED")
    waiting = server.auth_keys.get(record.waiting_key_id)
    if waiting is None:
        raise RpcError(400, "AUTH_TOKEN_INVALID")
    record.accepted_by = user_id
    update = types.UpdateShort(update=types.UpdateLoginToken(), date=server.world.now())
    server.push_to_auth(waiting, update)
    return authorization_tl(server, waiting)


@router.method(functions.auth.ExportLoginTokenRequest, auth=False)
def export_login_token(ctx: Ctx, req: Any) -> Any:
    if req.api_id <= 0 or not req.api_hash:
        raise RpcError(400, "API_ID_INVALID")
    server = ctx.server
    _forget_expired(server)
    for record in list(server.login_tokens.values()):
        if record.waiting_key_id == ctx.auth.key_id and record.accepted_by is not None:
            return _collect(ctx, record)
    token = secrets.token_bytes(_TOKEN_BYTES)
    expires = ctx.world.now() + TOKEN_TTL
    record = LoginToken(token, ctx.auth.key_id, expires, req.api_id, list(req.except_ids or []))
    server.login_tokens[token] = record
    return types.auth.LoginToken(expires=expires, token=token)


@router.method(functions.auth.AcceptLoginTokenRequest)
def accept_login_token(ctx: Ctx, req: Any) -> Any:
    return accept_token(ctx.server, req.token, ctx.user_id)


@router.method(functions.auth.ImportLoginTokenRequest, auth=False)
def import_login_token(ctx: Ctx, req: Any) -> Any:
    server = ctx.server
    _forget_expired(server)
    record = _lookup(server, req.token)
    if record.accepted_by is not None:
        return _collect(ctx, record)
    return types.auth.LoginToken(expires=record.expires, token=record.token)
