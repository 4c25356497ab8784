"""The login email: ``account.sendVerifyEmailCode``, ``account.verifyEmail``, ``auth.resetLoginEmail``.

An email is set or changed only with the code sent to it: the sandbox keeps that code in
``AccountData.email_code`` (tests read it there, as a person would read their inbox), one at a time,
for 10 minutes. ``emailVerifyPurposeLoginSetup`` belongs to a sign-in in progress (its phone and
``phone_code_hash``); the verified address becomes the login email and the sign-in goes on with the
same code (``account.emailVerifiedLogin``). ``emailVerifyPurposeLoginChange`` needs a login email
already (``EMAIL_NOT_SETUP``). Google and Apple sign-in tokens are not accepted (``EMAIL_NOT_ALLOWED``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from telethon.tl import functions, types

from ..accountdata import AccountData, EmailCode, account_data
from ..router import Ctx, Router, RpcError
from .auth import normalize_phone

router = Router()

EMAIL_CODE_TTL = 600
EMAIL_CODE_LENGTH = 6
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


def email_pattern(email: str) -> str:
    """How Telegram shows an address it sent a code to: ``a***@example.com``."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def new_email_code(ctx: Ctx, email: str, purpose: str, phone_code_hash: str | None = None) -> EmailCode:
    code = "".join(secrets.choice("0123456789") for _ in range(EMAIL_CODE_LENGTH))
    return EmailCode(email, code, ctx.world.now() + EMAIL_CODE_TTL, purpose, phone_code_hash)


def check_email_code(ctx: Ctx, pending: EmailCode | None, purpose: str, code: str, expired: str) -> EmailCode:
    """The pending code if ``code`` matches it; ``expired`` (Telegram's name for "no such code") else."""
    if pending is None or pending.purpose != purpose or pending.expires < ctx.world.now():
        raise RpcError(400, expired)
    if not code:
        raise RpcError(400, "CODE_EMPTY")
    if not secrets.compare_digest(code, pending.code):
        raise RpcError(400, "CODE_INVALID")
    return pending


def _purpose(ctx: Ctx, purpose: Any) -> tuple[int, str]:
    """The account a purpose concerns and its short name; a sign-in's phone and hash must match."""
    if isinstance(purpose, types.EmailVerifyPurposeLoginSetup):
        phone = normalize_phone(purpose.phone_number)
        pending = ctx.world.codes.get(purpose.phone_code_hash)
        if pending is None or pending.phone != phone or pending.expires < ctx.world.now():
            raise RpcError(400, "PHONE_HASH_EXPIRED")
        user = ctx.world.user_by_phone(phone)
        if user is None:
            raise RpcError(400, "PHONE_NUMBER_INVALID")
        return user.id, "login"
    if isinstance(purpose, types.EmailVerifyPurposeLoginChange):
        return ctx.user_id, "login"
    return ctx.user_id, "passport"


def _data_for(ctx: Ctx, purpose: Any) -> tuple[AccountData, str]:
    user_id, name = _purpose(ctx, purpose)
    return account_data(ctx.world, user_id), name


@router.method(functions.account.SendVerifyEmailCodeRequest, auth=False)
def send_verify_email_code(ctx: Ctx, req: Any) -> Any:
    email = (req.email or "").strip()
    if not EMAIL_RE.match(email):
        raise RpcError(400, "EMAIL_INVALID")
    data, name = _data_for(ctx, req.purpose)
    if isinstance(req.purpose, types.EmailVerifyPurposeLoginChange) and data.login_email is None:
        raise RpcError(400, "EMAIL_NOT_SETUP")
    hash_ = getattr(req.purpose, "phone_code_hash", None)
    data.email_code = new_email_code(ctx, email, name, hash_)
    return types.account.SentEmailCode(email_pattern=email_pattern(email), length=EMAIL_CODE_LENGTH)


@router.method(functions.account.VerifyEmailRequest, auth=False)
def verify_email(ctx: Ctx, req: Any) -> Any:
    if not isinstance(req.verification, types.EmailVerificationCode):
        raise RpcError(400, "EMAIL_NOT_ALLOWED")  # Google / Apple sign-in: not in the sandbox
    data, name = _data_for(ctx, req.purpose)
    pending = check_email_code(ctx, data.email_code, name, req.verification.code, "EMAIL_VERIFY_EXPIRED")
    data.email_code = None
    if name == "passport":
        return types.account.EmailVerified(email=pending.email)
    data.login_email = pending.email
    if isinstance(req.purpose, types.EmailVerifyPurposeLoginSetup):
        # The sign-in goes on: its code now counts as sent to the new login email.
        sent = types.auth.SentCode(
            type=types.auth.SentCodeTypeEmailCode(email_pattern=email_pattern(pending.email), length=5),
            phone_code_hash=req.purpose.phone_code_hash,
        )
        return types.account.EmailVerifiedLogin(email=pending.email, sent_code=sent)
    return types.account.EmailVerified(email=pending.email)


@router.method(functions.auth.ResetLoginEmailRequest, auth=False)
def reset_login_email(ctx: Ctx, req: Any) -> Any:
    """A sign-in that cannot reach the login email drops it and gets its code by SMS instead."""
    phone = normalize_phone(req.phone_number)
    pending = ctx.world.codes.get(req.phone_code_hash)
    if pending is None or pending.phone != phone or pending.expires < ctx.world.now():
        raise RpcError(400, "PHONE_CODE_EXPIRED")
    user = ctx.world.user_by_phone(phone)
    data = account_data(ctx.world, user.id) if user is not None else None
    if data is None or data.login_email is None:
        raise RpcError(400, "EMAIL_NOT_SETUP")
    data.login_email = None
    return types.auth.SentCode(
        type=types.auth.SentCodeTypeSms(length=5), phone_code_hash=pending.phone_code_hash
    )
