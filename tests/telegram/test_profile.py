"""What ``permissions`` grants from the rights Telegram sends with a chat (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from telethon.tl import types

from mcpgram.telegram.profile import ALL_RIGHTS, permissions


def _user(**flags: Any) -> Any:
    return types.User(id=5, access_hash=1, first_name="U", **flags)


def _chat(**flags: Any) -> Any:
    return types.Chat(
        id=7, title="G", photo=types.ChatPhotoEmpty(), participants_count=3, date=None, version=1, **flags
    )


def _channel(**flags: Any) -> Any:
    return types.Channel(id=9, title="C", photo=types.ChatPhotoEmpty(), date=None, access_hash=1, **flags)


def _banned(**flags: Any) -> Any:
    return types.ChatBannedRights(until_date=None, **flags)


def _admin(**flags: Any) -> Any:
    return types.ChatAdminRights(**flags)


MEMBER = ["send", "send_media", "pin", "invite"]
GROUP_ALL = [r for r in ALL_RIGHTS if r != "edit_others"]


@pytest.mark.parametrize(
    ("entity", "blocked", "expected"),
    [
        (_user(), False, ["send", "send_media", "pin", "delete_others"]),
        (_user(bot=True), False, ["send", "send_media", "pin", "delete_others"]),
        (_user(), True, []),
        (_user(deleted=True), False, []),
        # Basic groups.
        (_chat(), False, MEMBER),
        (_chat(creator=True), False, GROUP_ALL),
        (_chat(left=True), False, []),
        (_chat(deactivated=True), False, []),
        (_chat(default_banned_rights=_banned(send_messages=True)), False, ["pin", "invite"]),
        (_chat(default_banned_rights=_banned(send_media=True, pin_messages=True)), False, ["send", "invite"]),
        (_chat(default_banned_rights=_banned(send_plain=True)), False, ["send_media", "pin", "invite"]),
        (_chat(admin_rights=_admin(delete_messages=True)), False, ["send", "send_media", "delete_others"]),
        (types.ChatForbidden(id=7, title="G"), False, []),
        # Supergroups and forums: the member's own restriction adds to the defaults.
        (_channel(megagroup=True), False, MEMBER),
        (_channel(megagroup=True, forum=True, creator=True), False, GROUP_ALL),
        (
            _channel(megagroup=True, default_banned_rights=_banned(pin_messages=True, invite_users=True)),
            False,
            ["send", "send_media"],
        ),
        (_channel(megagroup=True, banned_rights=_banned(send_messages=True)), False, ["pin", "invite"]),
        (
            _channel(megagroup=True, admin_rights=_admin(ban_users=True, pin_messages=True)),
            False,
            ["send", "send_media", "pin", "ban"],
        ),
        (_channel(megagroup=True, left=True), False, []),
        # Broadcast channels: only admins who may post send.
        (_channel(broadcast=True), False, []),
        (_channel(broadcast=True, creator=True), False, list(ALL_RIGHTS)),
        (_channel(broadcast=True, admin_rights=_admin(post_messages=True)), False, ["send", "send_media"]),
        (
            _channel(broadcast=True, admin_rights=_admin(edit_messages=True, delete_messages=True)),
            False,
            ["pin", "delete_others", "edit_others"],
        ),
        (types.ChannelForbidden(id=9, access_hash=1, title="C", broadcast=True), False, []),
    ],
)
def test_permissions_follow_the_rights_telegram_sent(entity: Any, blocked: bool, expected: list[str]) -> None:
    """Each role (member, admin, creator, restricted, left, blocked, deleted) grants exactly its rights."""
    assert permissions(entity, blocked=blocked) == expected
