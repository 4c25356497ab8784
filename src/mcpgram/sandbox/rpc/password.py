"""Two-step verification: ``account.getPassword``, ``auth.checkPassword``, ``account.updatePasswordSettings``.

SRP runs exactly as Telegram runs it (``srp.py``): every ``account.getPassword`` opens one single-use
challenge for the current password and offers fresh salts for a new one; ``auth.checkPassword`` (to
finish a login) and ``account.updatePasswordSettings`` (to set, change or remove the password) each
consume that challenge. A recovery email given in the new settings waits for its code
(``EMAIL_UNCONFIRMED_<length>``, the password is set all the same); ``rpc/recovery.py`` confirms it
and recovers with it.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from .. import srp
from ..accountdata import account_data
from ..router import Ctx, Router, RpcError
from .auth import authorize
from .loginemail import EMAIL_CODE_LENGTH, EMAIL_RE, email_pattern, new_email_code

router = Router()


@router.method(functions.account.GetPasswordRequest, auth=False)
def get_password(ctx: Ctx, _req: Any) -> Any:
    # Between SESSION_PASSWORD_NEEDED and auth.checkPassword the key is not signed in yet.
    user_id = ctx.auth.pending_password_user or ctx.user_id
    record = ctx.world.users[user_id].password
    salts = ctx.auth.new_salts = srp.NewSalts.generate()
    if record is None:
        ctx.auth.srp_challenge = None
        return srp.no_password(salts)
    challenge = srp.new_challenge(record)
    ctx.auth.srp_challenge = challenge
    answer = challenge.to_tl(salts)
    data = account_data(ctx.world, user_id)
    answer.has_recovery = data.recovery_email is not None
    if data.email_code is not None and data.email_code.purpose == "recovery":
        answer.email_unconfirmed_pattern = email_pattern(data.email_code.email)
    if data.password_reset_at is not None:
        answer.pending_reset_date = data.password_reset_at
    return answer


def check_srp(ctx: Ctx, check: Any, record: srp.PasswordRecord | None) -> None:
    """Verify ``check`` against the open challenge, which is consumed whatever happens (one proof each)."""
    challenge: srp.SrpChallenge | None = ctx.auth.srp_challenge
    ctx.auth.srp_challenge = None
    if (
        not isinstance(check, types.InputCheckPasswordSRP)
        or challenge is None
        or check.srp_id != challenge.srp_id
    ):
        raise RpcError(400, "SRP_ID_INVALID")
    if challenge.record is not record:  # set, changed or removed since this account.getPassword
        raise RpcError(400, "SRP_PASSWORD_CHANGED")
    if record is None or not srp.verify(challenge, record, check.A, check.M1):
        raise RpcError(400, "PASSWORD_HASH_INVALID")


@router.method(functions.auth.CheckPasswordRequest, auth=False)
def check_password(ctx: Ctx, req: Any) -> Any:
    user_id = ctx.auth.pending_password_user
    if user_id is None:
        raise RpcError(400, "PASSWORD_HASH_INVALID" if ctx.auth.user_id else "AUTH_KEY_UNREGISTERED")
    check_srp(ctx, req.password, ctx.world.users[user_id].password)
    return authorize(ctx, user_id)


@router.method(functions.account.UpdatePasswordSettingsRequest)
def update_password_settings(ctx: Ctx, req: Any) -> bool:
    """Set, change or remove the 2FA password; the current one (if any) is proven by SRP first."""
    user = ctx.world.users[ctx.user_id]
    offered: srp.NewSalts | None = ctx.auth.new_salts
    ctx.auth.new_salts = None
    if user.password is None:
        ctx.auth.srp_challenge = None
        if not isinstance(req.password, types.InputCheckPasswordEmpty):
            raise RpcError(400, "PASSWORD_HASH_INVALID")
    else:
        if isinstance(req.password, types.InputCheckPasswordEmpty):
            ctx.auth.srp_challenge = None
            raise RpcError(400, "PASSWORD_HASH_INVALID")
        check_srp(ctx, req.password, user.password)
    settings = req.new_settings
    email = settings.email
    if email and not EMAIL_RE.match(email):
        raise RpcError(400, "EMAIL_INVALID")
    if settings.new_password_hash is None and email and user.password is not None:
        record: srp.PasswordRecord | None = user.password  # only the recovery email changes
    else:
        try:
            record = srp.record_from_settings(
                offered, settings.new_algo, settings.new_password_hash, settings.hint
            )
        except srp.PasswordSettingsError as exc:
            raise RpcError(400, exc.code) from None
    user.password = record
    data = account_data(ctx.world, user.id)
    if record is None:
        data.recovery_email, data.password_reset_at = None, None
    elif email:
        data.email_code = new_email_code(ctx, email, "recovery")
        raise RpcError(400, f"EMAIL_UNCONFIRMED_{EMAIL_CODE_LENGTH}")
    return True
