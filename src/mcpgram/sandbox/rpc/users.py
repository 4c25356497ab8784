"""``users.*``: users by input, and full profiles."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..render import resolve_input_user, user_tl
from ..router import Ctx, RpcError, Router

router = Router()


@router.method(functions.users.GetUsersRequest)
def get_users(ctx: Ctx, req: Any) -> list[Any]:
    viewer = ctx.user_id
    result = []
    for input_user in req.id:
        try:
            user = resolve_input_user(ctx.world, viewer, input_user)
        except RpcError:
            continue  # Telegram leaves out users it cannot resolve
        result.append(user_tl(ctx.world, viewer, user))
    return result


@router.method(functions.users.GetFullUserRequest)
def get_full_user(ctx: Ctx, req: Any) -> Any:
    viewer = ctx.user_id
    user = resolve_input_user(ctx.world, viewer, req.id)
    full = types.UserFull(
        id=user.id,
        settings=types.PeerSettings(),
        notify_settings=types.PeerNotifySettings(),
        common_chats_count=_common_chats(ctx, viewer, user.id),
        about=user.about or None,
        blocked=False,
        phone_calls_available=not user.bot,
    )
    return types.users.UserFull(full_user=full, chats=[], users=[user_tl(ctx.world, viewer, user)])


def _common_chats(ctx: Ctx, a: int, b: int) -> int:
    world = ctx.world
    chats = sum(1 for c in world.chats.values() if a in c.participants and b in c.participants)
    channels = sum(
        1 for c in world.channels.values() if c.megagroup and a in c.participants and b in c.participants
    )
    return chats + channels if a != b else 0
