"""``auth.*``: sign-up, sign-in by code and log-out (2FA is in ``password.py``, QR login in ``qr.py``).

Login codes follow Telegram's test-DC convention: a phone ``99966XYYYY`` always gets the code
``XXXXX`` (X is its fifth digit repeated), so tests are deterministic. Any other number gets a random
code, readable through ``SandboxServer.login_code`` and sent as a message from 777000 to the
account's other sessions (see ``rpc/qr.py`` for QR login).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from telethon.tl import functions, types

from ..render import user_tl
from ..router import Ctx, Router, RpcError
from ..world import PendingCode

router = Router()

_CODE_TTL = 300
_TEST_PHONE = re.compile(r"^99966(\d)\d{4}$")


def normalize_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not 5 <= len(digits) <= 15:
        raise RpcError(400, "PHONE_NUMBER_INVALID")
    return digits


def fixed_login_code(phone: str) -> str | None:
    """The code Telegram's test-DC convention fixes for ``phone`` (``99966XYYYY`` -> ``XXXXX``), else None."""
    match = _TEST_PHONE.match("".join(ch for ch in phone if ch.isdigit()))
    return match.group(1) * 5 if match else None


def code_for(phone: str) -> str:
    return fixed_login_code(phone) or f"{secrets.randbelow(100000):05d}"


def authorize(ctx: Ctx, user_id: int) -> Any:
    """Bind the calling auth key to ``user_id`` and answer ``auth.authorization``."""
    auth = ctx.auth
    auth.user_id = user_id
    auth.revoked = None
    auth.pending_password_user = None
    auth.srp_challenge = None
    return types.auth.Authorization(user=user_tl(ctx.world, user_id, ctx.world.users[user_id]))


@router.method(functions.auth.SendCodeRequest, auth=False)
def send_code(ctx: Ctx, req: Any) -> Any:
    phone = normalize_phone(req.phone_number)
    code = code_for(phone)
    phone_code_hash = secrets.token_hex(9)
    ctx.world.codes[phone_code_hash] = PendingCode(phone, phone_code_hash, code, ctx.world.now() + _CODE_TTL)
    user = ctx.world.user_by_phone(phone)
    delivered_in_app = user is not None and ctx.server.deliver_login_code(user.id, code)
    code_type = (
        types.auth.SentCodeTypeApp(length=5) if delivered_in_app else types.auth.SentCodeTypeSms(length=5)
    )
    return types.auth.SentCode(type=code_type, phone_code_hash=phone_code_hash, timeout=None)


def _check_code(ctx: Ctx, phone: str, phone_code_hash: str, code: str | None) -> PendingCode:
    pending = ctx.world.codes.get(phone_code_hash)
    if pending is None or pending.phone != phone:
        raise RpcError(400, "PHONE_CODE_EXPIRED" if pending is None else "PHONE_NUMBER_INVALID")
    if pending.expires < ctx.world.now():
        raise RpcError(400, "PHONE_CODE_EXPIRED")
    if not code:
        raise RpcError(400, "PHONE_CODE_EMPTY")
    if not secrets.compare_digest(code, pending.code):
        raise RpcError(400, "PHONE_CODE_INVALID")
    return pending


@router.method(functions.auth.SignInRequest, auth=False)
def sign_in(ctx: Ctx, req: Any) -> Any:
    phone = normalize_phone(req.phone_number)
    pending = _check_code(ctx, phone, req.phone_code_hash, req.phone_code)
    user = ctx.world.user_by_phone(phone)
    if user is None:
        return types.auth.AuthorizationSignUpRequired()
    del ctx.world.codes[pending.phone_code_hash]
    if user.password is not None:
        ctx.auth.pending_password_user = user.id
        raise RpcError(401, "SESSION_PASSWORD_NEEDED")
    return authorize(ctx, user.id)


@router.method(functions.auth.SignUpRequest, auth=False)
def sign_up(ctx: Ctx, req: Any) -> Any:
    phone = normalize_phone(req.phone_number)
    pending = ctx.world.codes.get(req.phone_code_hash)
    if pending is None or pending.phone != phone:
        raise RpcError(400, "PHONE_CODE_EXPIRED")
    first_name = (req.first_name or "").strip()
    if not first_name or len(first_name) > 64:
        raise RpcError(400, "FIRSTNAME_INVALID")
    if ctx.world.user_by_phone(phone) is not None:
        raise RpcError(400, "PHONE_NUMBER_OCCUPIED")
    del ctx.world.codes[pending.phone_code_hash]
    user = ctx.world.add_user(
        first_name=first_name, last_name=(req.last_name or "").strip()[:64], phone=phone
    )
    return authorize(ctx, user.id)


@router.method(functions.auth.LogOutRequest, auth=False)
def log_out(ctx: Ctx, _req: Any) -> Any:
    ctx.auth.user_id = None
    ctx.auth.pending_password_user = None
    return types.auth.LoggedOut()
