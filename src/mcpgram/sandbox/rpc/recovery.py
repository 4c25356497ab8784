"""The 2FA password's recovery email, recovery, reset and settings.

- ``account.confirmPasswordEmail`` / ``resendPasswordEmail`` / ``cancelPasswordEmail``: the recovery
  email ``account.updatePasswordSettings`` left unconfirmed (its code is in ``AccountData.email_code``).
- ``auth.requestPasswordRecovery`` sends a code to the confirmed recovery email
  (``PASSWORD_RECOVERY_NA`` without one); ``auth.checkRecoveryPassword`` checks it and
  ``auth.recoverPassword`` uses it to remove the password (or set a new one) and sign the session in.
- ``account.resetPassword`` asks for a reset without the password: the first call answers a wait of
  7 days (``account.resetPasswordRequestedWait``), a call after that removes the password;
  ``account.declinePasswordReset`` cancels a pending reset (``RESET_REQUEST_MISSING`` if none).
- ``account.getPasswordSettings`` (the recovery email) and ``account.getTmpPassword`` prove the
  password by SRP, like ``account.updatePasswordSettings``.
"""

from __future__ import annotations

import os
from typing import Any

from telethon.tl import functions, types

from .. import srp
from ..accountdata import account_data
from ..router import Ctx, Router, RpcError
from .auth import authorize
from .loginemail import check_email_code, email_pattern, new_email_code
from .password import check_srp

router = Router()

#: Telegram makes a password reset without the password wait a week.
RESET_WAIT = 7 * 86400
TMP_PASSWORD_PERIODS = range(60, 86400 + 1)


def _proven(ctx: Ctx, check: Any) -> srp.PasswordRecord:
    record = ctx.world.users[ctx.user_id].password
    if record is None:
        ctx.auth.srp_challenge = None
        raise RpcError(400, "PASSWORD_MISSING")
    check_srp(ctx, check, record)
    return record


@router.method(functions.account.GetPasswordSettingsRequest)
def get_password_settings(ctx: Ctx, req: Any) -> Any:
    _proven(ctx, req.password)
    return types.account.PasswordSettings(email=account_data(ctx.world, ctx.user_id).recovery_email)


@router.method(functions.account.GetTmpPasswordRequest)
def get_tmp_password(ctx: Ctx, req: Any) -> Any:
    if req.period not in TMP_PASSWORD_PERIODS:
        raise RpcError(400, "TMP_PASSWORD_INVALID")
    _proven(ctx, req.password)
    return types.account.TmpPassword(tmp_password=os.urandom(32), valid_until=ctx.world.now() + req.period)


# -- the recovery email ----------------------------------------------------------------------------


@router.method(functions.account.ConfirmPasswordEmailRequest)
def confirm_password_email(ctx: Ctx, req: Any) -> bool:
    data = account_data(ctx.world, ctx.user_id)
    pending = check_email_code(ctx, data.email_code, "recovery", req.code, "EMAIL_HASH_EXPIRED")
    data.email_code = None
    data.recovery_email = pending.email
    return True


@router.method(functions.account.ResendPasswordEmailRequest)
def resend_password_email(ctx: Ctx, _req: Any) -> bool:
    data = account_data(ctx.world, ctx.user_id)
    if data.email_code is None or data.email_code.purpose != "recovery":
        raise RpcError(400, "EMAIL_HASH_EXPIRED")
    data.email_code = new_email_code(ctx, data.email_code.email, "recovery")
    return True


@router.method(functions.account.CancelPasswordEmailRequest)
def cancel_password_email(ctx: Ctx, _req: Any) -> bool:
    data = account_data(ctx.world, ctx.user_id)
    if data.email_code is not None and data.email_code.purpose == "recovery":
        data.email_code = None
    return True


# -- recovering by email ---------------------------------------------------------------------------


def _recovering_user(ctx: Ctx) -> int:
    """The account a recovery is for: the one waiting for its password, or the signed-in one."""
    user_id = ctx.auth.pending_password_user or ctx.user_id
    if ctx.world.users[user_id].password is None:
        raise RpcError(400, "PASSWORD_EMPTY")
    return user_id


@router.method(functions.auth.RequestPasswordRecoveryRequest, auth=False)
def request_password_recovery(ctx: Ctx, _req: Any) -> Any:
    data = account_data(ctx.world, _recovering_user(ctx))
    if data.recovery_email is None:
        raise RpcError(400, "PASSWORD_RECOVERY_NA")
    data.recovery_code = new_email_code(ctx, data.recovery_email, "recover")
    return types.auth.PasswordRecovery(email_pattern=email_pattern(data.recovery_email))


@router.method(functions.auth.CheckRecoveryPasswordRequest, auth=False)
def check_recovery_password(ctx: Ctx, req: Any) -> bool:
    data = account_data(ctx.world, _recovering_user(ctx))
    check_email_code(ctx, data.recovery_code, "recover", req.code, "PASSWORD_RECOVERY_EXPIRED")
    return True


@router.method(functions.auth.RecoverPasswordRequest, auth=False)
def recover_password(ctx: Ctx, req: Any) -> Any:
    user_id = _recovering_user(ctx)
    data = account_data(ctx.world, user_id)
    check_email_code(ctx, data.recovery_code, "recover", req.code, "PASSWORD_RECOVERY_EXPIRED")
    record = None
    if req.new_settings is not None and req.new_settings.new_password_hash:
        offered: srp.NewSalts | None = ctx.auth.new_salts
        try:
            record = srp.record_from_settings(
                offered, req.new_settings.new_algo, req.new_settings.new_password_hash, req.new_settings.hint
            )
        except srp.PasswordSettingsError as exc:
            raise RpcError(400, exc.code) from None
    data.recovery_code = None
    ctx.auth.new_salts = None
    ctx.world.users[user_id].password = record
    if record is None:
        data.recovery_email = None
    data.password_reset_at = None
    return authorize(ctx, user_id)


# -- resetting without the password ----------------------------------------------------------------


@router.method(functions.account.ResetPasswordRequest)
def reset_password(ctx: Ctx, _req: Any) -> Any:
    user = ctx.world.users[ctx.user_id]
    data = account_data(ctx.world, user.id)
    now = ctx.world.now()
    if user.password is None:
        data.password_reset_at = None
        return types.account.ResetPasswordOk()
    if data.password_reset_at is None:
        data.password_reset_at = now + RESET_WAIT
    if data.password_reset_at > now:
        return types.account.ResetPasswordRequestedWait(until_date=data.password_reset_at)
    user.password = None
    data.password_reset_at, data.recovery_email = None, None
    return types.account.ResetPasswordOk()


@router.method(functions.account.DeclinePasswordResetRequest)
def decline_password_reset(ctx: Ctx, _req: Any) -> bool:
    data = account_data(ctx.world, ctx.user_id)
    if data.password_reset_at is None:
        raise RpcError(400, "RESET_REQUEST_MISSING")
    data.password_reset_at = None
    return True
