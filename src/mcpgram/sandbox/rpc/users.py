"""``users.*``: users by input, and full profiles (about, profile photo, common chats, blocked)."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..render import resolve_input_user, user_tl
from ..render_media import photo_tl
from ..router import Ctx, Router, RpcError
from ..world import World

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
    world, viewer = ctx.world, ctx.user_id
    user = resolve_input_user(world, viewer, req.id)
    stored = world.files.get(user.photo_id) if user.photo_id is not None else None
    # Someone who blocked the viewer shows them no profile photo.
    if viewer in user.blocked:
        stored = None
    bot_info = (
        types.BotInfo(user_id=user.id, description=user.about or None, commands=[]) if user.bot else None
    )
    full = types.UserFull(
        id=user.id,
        settings=types.PeerSettings(),
        notify_settings=types.PeerNotifySettings(),
        common_chats_count=common_chats_count(world, viewer, user.id),
        about=user.about or None,
        blocked=user.id in world.users[viewer].blocked,
        phone_calls_available=not user.bot,
        video_calls_available=not user.bot,
        profile_photo=photo_tl(world, stored) if stored is not None and stored.kind == "photo" else None,
        bot_info=bot_info,
    )
    return types.users.UserFull(full_user=full, chats=[], users=[user_tl(world, viewer, user)])


def common_chats_count(world: World, a: int, b: int) -> int:
    """Groups both users are in: live basic groups and supergroups (broadcast channels don't count)."""
    if a == b:
        return 0
    chats = sum(
        1 for c in world.chats.values() if not c.deactivated and a in c.participants and b in c.participants
    )
    channels = sum(
        1 for c in world.channels.values() if c.megagroup and a in c.participants and b in c.participants
    )
    return chats + channels
