"""Sessions: ``account.getAuthorizations``, ``account.resetAuthorization``, ``auth.resetAuthorizations``.

A session is an authorization key signed in to the account. The calling one is listed first with
``current`` set and hash 0, as Telegram lists it, then the others, most recently active first.
Terminating one by its hash unbinds that key, so its next call gets ``401 AUTH_KEY_UNREGISTERED``;
terminating all the others at once answers them ``401 SESSION_REVOKED``. Telegram also refuses both
from a session younger than a day (``FRESH_RESET_AUTHORISATION_FORBIDDEN``); the sandbox does not, so
tests need not age their sessions.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..accountdata import account_data
from ..router import Ctx, Router, RpcError
from .qr import authorization_tl

router = Router()


@router.method(functions.account.GetAuthorizationsRequest)
def get_authorizations(ctx: Ctx, _req: Any) -> Any:
    others = [a for a in ctx.server.authorizations_of(ctx.user_id) if a is not ctx.auth]
    rows = [authorization_tl(ctx.server, ctx.auth, current=True)]
    others.sort(key=lambda a: (-(a.active or a.created), -a.created))
    rows += [authorization_tl(ctx.server, auth) for auth in others]
    data = account_data(ctx.world, ctx.user_id)
    for row, auth in zip(rows, [ctx.auth, *others], strict=True):
        # Flags set by account.changeAuthorizationSettings (rpc/security.py).
        for name, value in data.session_settings.get(auth.hash, {}).items():
            if name != "confirmed":
                setattr(row, name, value or None)
    return types.account.Authorizations(
        authorization_ttl_days=data.authorization_ttl_days, authorizations=rows
    )


@router.method(functions.account.ResetAuthorizationRequest)
def reset_authorization(ctx: Ctx, req: Any) -> bool:
    """Terminate one other session of the account; hash 0 (the current one) or an unknown hash is refused."""
    target = next(
        (
            auth
            for auth in ctx.server.authorizations_of(ctx.user_id)
            if auth is not ctx.auth and req.hash != 0 and auth.hash == req.hash
        ),
        None,
    )
    if target is None:
        raise RpcError(400, "HASH_INVALID")
    target.revoked = "AUTH_KEY_UNREGISTERED"
    return True


@router.method(functions.auth.ResetAuthorizationsRequest)
def reset_authorizations(ctx: Ctx, _req: Any) -> bool:
    """Terminate every session of the account except the calling one."""
    for auth in ctx.server.authorizations_of(ctx.user_id):
        if auth is not ctx.auth:
            auth.revoked = "SESSION_REVOKED"
    return True
