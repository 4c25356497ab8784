"""Account-wide security settings: self-destruct and session TTLs, websites signed in with Telegram,
per-session settings, the phone number, push devices, data export, login URLs and SMS jobs.

- ``account.getAccountTTL`` / ``setAccountTTL``: days away before the account deletes itself,
  30-730 (``TTL_DAYS_INVALID``), 365 by default.
- ``account.setAuthorizationTTL``: days an unused session lives, 1-366; ``account.getAuthorizations``
  reports it. ``account.changeAuthorizationSettings`` sets one session's flags (hash 0: this one;
  another hash must be one of the account's sessions, else ``HASH_INVALID``), shown there too.
- ``account.getWebAuthorizations`` / ``resetWebAuthorization`` / ``resetWebAuthorizations``: the
  websites in ``AccountData.web_authorizations`` (tests add them with :func:`add_web_authorization`:
  the sandbox has no login widget).
- ``account.sendChangePhoneCode`` / ``changePhone``: a code to the new number, as at sign-in (the
  test-DC rule applies), then the account moves to it.
- ``account.registerDevice``, ``account.initTakeoutSession``, ``messages.acceptUrlAuth`` and
  ``smsjobs.join`` answer as Telegram does for an ordinary account with nothing special set up.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from telethon.tl import functions, types

from ..accountdata import WebAuthorization, account_data
from ..render import resolve_input_peer, user_tl
from ..router import Ctx, Router, RpcError
from ..world import PendingCode, World
from .auth import code_for, normalize_phone

router = Router()

ACCOUNT_TTL_DAYS = range(30, 730 + 1)
AUTHORIZATION_TTL_DAYS = range(1, 366 + 1)
#: Push token types Telegram knows (APNS, FCM, MPNS, ... web push, ... huawei): 1-16.
TOKEN_TYPES = range(1, 16 + 1)
_CODE_TTL = 300


def add_web_authorization(world: World, user_id: int, bot_id: int, domain: str) -> WebAuthorization:
    """Record that ``user_id`` signed in to ``domain`` through bot ``bot_id`` (Telegram Login Widget)."""
    now = world.now()
    entry = WebAuthorization(
        hash=int.from_bytes(os.urandom(8), "little", signed=True),
        bot_id=bot_id,
        domain=domain,
        date_created=now,
        date_active=now,
    )
    account_data(world, user_id).web_authorizations.append(entry)
    return entry


# -- time to live ----------------------------------------------------------------------------------


@router.method(functions.account.GetAccountTTLRequest)
def get_account_ttl(ctx: Ctx, _req: Any) -> Any:
    return types.AccountDaysTTL(days=account_data(ctx.world, ctx.user_id).account_ttl_days)


@router.method(functions.account.SetAccountTTLRequest)
def set_account_ttl(ctx: Ctx, req: Any) -> bool:
    if req.ttl.days not in ACCOUNT_TTL_DAYS:
        raise RpcError(400, "TTL_DAYS_INVALID")
    account_data(ctx.world, ctx.user_id).account_ttl_days = req.ttl.days
    return True


@router.method(functions.account.SetAuthorizationTTLRequest)
def set_authorization_ttl(ctx: Ctx, req: Any) -> bool:
    if req.authorization_ttl_days not in AUTHORIZATION_TTL_DAYS:
        raise RpcError(400, "TTL_DAYS_INVALID")
    account_data(ctx.world, ctx.user_id).authorization_ttl_days = req.authorization_ttl_days
    return True


@router.method(functions.account.ChangeAuthorizationSettingsRequest)
def change_authorization_settings(ctx: Ctx, req: Any) -> bool:
    user_id = ctx.user_id
    if req.hash == 0:
        target = ctx.auth
    else:
        found = [a for a in ctx.server.authorizations_of(user_id) if a is not ctx.auth and a.hash == req.hash]
        if not found:
            raise RpcError(400, "HASH_INVALID")
        target = found[0]
    flags = account_data(ctx.world, user_id).session_settings.setdefault(target.hash, {})
    for name in ("encrypted_requests_disabled", "call_requests_disabled"):
        if getattr(req, name) is not None:
            flags[name] = bool(getattr(req, name))
    if req.confirmed:
        flags["confirmed"] = True
    return True


# -- websites --------------------------------------------------------------------------------------


@router.method(functions.account.GetWebAuthorizationsRequest)
def get_web_authorizations(ctx: Ctx, _req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    entries = account_data(world, viewer).web_authorizations
    rows = [
        types.WebAuthorization(
            hash=e.hash,
            bot_id=e.bot_id,
            domain=e.domain,
            browser=e.browser,
            platform=e.platform,
            date_created=e.date_created,
            date_active=e.date_active,
            ip=ctx.server.host,
            region="Sandbox",
        )
        for e in entries
    ]
    bots = {e.bot_id for e in entries if e.bot_id in world.users}
    users = [user_tl(world, viewer, world.users[b]) for b in sorted(bots)]
    return types.account.WebAuthorizations(authorizations=rows, users=users)


@router.method(functions.account.ResetWebAuthorizationRequest)
def reset_web_authorization(ctx: Ctx, req: Any) -> bool:
    data = account_data(ctx.world, ctx.user_id)
    kept = [e for e in data.web_authorizations if e.hash != req.hash]
    if len(kept) == len(data.web_authorizations):
        raise RpcError(400, "HASH_INVALID")
    data.web_authorizations = kept
    return True


@router.method(functions.account.ResetWebAuthorizationsRequest)
def reset_web_authorizations(ctx: Ctx, _req: Any) -> bool:
    account_data(ctx.world, ctx.user_id).web_authorizations.clear()
    return True


# -- the phone number ------------------------------------------------------------------------------


@router.method(functions.account.SendChangePhoneCodeRequest)
def send_change_phone_code(ctx: Ctx, req: Any) -> Any:
    phone = normalize_phone(req.phone_number)
    if ctx.world.user_by_phone(phone) is not None:
        raise RpcError(400, "PHONE_NUMBER_OCCUPIED")
    phone_code_hash = secrets.token_hex(9)
    code = PendingCode(phone, phone_code_hash, code_for(phone), ctx.world.now() + _CODE_TTL)
    ctx.world.codes[phone_code_hash] = code
    account_data(ctx.world, ctx.user_id).phone_change = (phone, phone_code_hash)
    return types.auth.SentCode(type=types.auth.SentCodeTypeSms(length=5), phone_code_hash=phone_code_hash)


@router.method(functions.account.ChangePhoneRequest)
def change_phone(ctx: Ctx, req: Any) -> Any:
    world, user = ctx.world, ctx.world.users[ctx.user_id]
    phone = normalize_phone(req.phone_number)
    data = account_data(world, user.id)
    pending = world.codes.get(req.phone_code_hash)
    if pending is None or data.phone_change != (phone, req.phone_code_hash) or pending.expires < world.now():
        raise RpcError(400, "PHONE_CODE_EXPIRED")
    if not req.phone_code:
        raise RpcError(400, "PHONE_CODE_EMPTY")
    if not secrets.compare_digest(req.phone_code, pending.code):
        raise RpcError(400, "PHONE_CODE_INVALID")
    if world.user_by_phone(phone) is not None:
        raise RpcError(400, "PHONE_NUMBER_OCCUPIED")
    del world.codes[req.phone_code_hash]
    data.phone_change = None
    user.phone = phone
    return user_tl(world, user.id, user)


# -- devices, exports, login URLs, SMS jobs --------------------------------------------------------


@router.method(functions.account.RegisterDeviceRequest)
def register_device(ctx: Ctx, req: Any) -> bool:
    if req.token_type not in TOKEN_TYPES:
        raise RpcError(400, "TOKEN_TYPE_INVALID")
    if not req.token:
        raise RpcError(400, "TOKEN_EMPTY")
    devices = account_data(ctx.world, ctx.user_id).devices
    if (req.token_type, req.token) not in devices:
        devices.append((req.token_type, req.token))
    return True


@router.method(functions.account.InitTakeoutSessionRequest)
def init_takeout_session(ctx: Ctx, _req: Any) -> Any:
    takeout_id = int.from_bytes(os.urandom(8), "little", signed=True)
    account_data(ctx.world, ctx.user_id).takeout_ids.append(takeout_id)
    return types.account.Takeout(id=takeout_id)


@router.method(functions.messages.AcceptUrlAuthRequest)
def accept_url_auth(ctx: Ctx, req: Any) -> Any:
    """No bot in the sandbox has a login domain: a URL opens as a plain link; a button does not exist."""
    if req.url is not None:
        return types.UrlAuthResultDefault()
    if req.peer is None or req.msg_id is None:
        raise RpcError(400, "URL_INVALID")
    peer = resolve_input_peer(ctx.world, ctx.user_id, req.peer)
    box = ctx.world.channels[peer.id].box if peer.kind == "channel" else ctx.world.box(ctx.user_id)
    message = box.messages.get(req.msg_id)
    if message is None or message.peer != peer:
        raise RpcError(400, "MESSAGE_ID_INVALID")
    raise RpcError(400, "BUTTON_ID_INVALID")  # sandbox messages carry no inline keyboards


@router.method(functions.smsjobs.JoinRequest)
def smsjobs_join(ctx: Ctx, _req: Any) -> bool:
    """Only accounts Telegram invited may send SMS for it (``smsjobs.isEligibleToJoin``); none here."""
    _ = ctx.user_id
    raise RpcError(400, "NOT_ELIGIBLE")
