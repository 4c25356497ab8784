"""The account's own profile: ``account.updateUsername``, ``checkUsername`` and ``updateProfile``.

Telegram's rules: a username is 5-32 characters of ``a-z``, ``0-9`` and ``_``, starts with a letter
and does not end with ``_``; it is unique across users and channels ignoring case. A first name is
1-64 characters, a last name at most 64, a bio at most 70 (140 with Premium). A change is pushed to
the account's other sessions as ``updateUserName``.
"""

from __future__ import annotations

import re
from typing import Any

from telethon.tl import functions, types

from ..render import user_tl
from ..router import Ctx, Router, RpcError
from ..world import User, user_peer

router = Router()

_USERNAME = re.compile(r"^[a-z][a-z0-9_]{3,30}[a-z0-9]$", re.IGNORECASE)
MAX_NAME = 64
MAX_ABOUT = 70
MAX_ABOUT_PREMIUM = 140


def _check_free(ctx: Ctx, username: str) -> None:
    if not _USERNAME.match(username):
        raise RpcError(400, "USERNAME_INVALID")
    taken = ctx.world.resolve_username(username)
    if taken is not None and taken != user_peer(ctx.user_id):
        raise RpcError(400, "USERNAME_OCCUPIED")


def _push_name(ctx: Ctx, user: User) -> None:
    usernames = [types.Username(user.username, editable=True, active=True)] if user.username else []
    update = types.UpdateUserName(user.id, user.first_name, user.last_name, usernames)
    users = [user_tl(ctx.world, user.id, user)]
    pushed = types.Updates(updates=[update], users=users, chats=[], date=ctx.world.now(), seq=0)
    ctx.server.push(user.id, pushed, exclude=ctx.auth)


@router.method(functions.account.CheckUsernameRequest)
def check_username(ctx: Ctx, req: Any) -> bool:
    """True if the account may take ``username`` (its own counts as free), False if someone has it."""
    try:
        _check_free(ctx, req.username or "")
    except RpcError as error:
        if error.message == "USERNAME_OCCUPIED":
            return False
        raise
    return True


@router.method(functions.account.UpdateUsernameRequest)
def update_username(ctx: Ctx, req: Any) -> Any:
    """Take ``username``, or drop the current one with an empty string; answers the updated user."""
    user = ctx.world.users[ctx.user_id]
    username = req.username or None
    if username is not None:
        _check_free(ctx, username)
    if username == user.username:
        raise RpcError(400, "USERNAME_NOT_MODIFIED")
    user.username = username
    _push_name(ctx, user)
    return user_tl(ctx.world, user.id, user)


@router.method(functions.account.UpdateProfileRequest)
def update_profile(ctx: Ctx, req: Any) -> Any:
    """Change any of first name, last name and bio (None leaves one as it is); answers the updated user."""
    user = ctx.world.users[ctx.user_id]
    first = req.first_name.strip() if req.first_name is not None else user.first_name
    last = req.last_name.strip() if req.last_name is not None else user.last_name
    if not first or len(first) > MAX_NAME:
        raise RpcError(400, "FIRSTNAME_INVALID")
    if len(last) > MAX_NAME:
        raise RpcError(400, "LASTNAME_INVALID")
    if req.about is not None:
        if len(req.about) > (MAX_ABOUT_PREMIUM if user.premium else MAX_ABOUT):
            raise RpcError(400, "ABOUT_TOO_LONG")
        user.about = req.about
    if (first, last) != (user.first_name, user.last_name):
        user.first_name, user.last_name = first, last
        _push_name(ctx, user)
    return user_tl(ctx.world, user.id, user)
