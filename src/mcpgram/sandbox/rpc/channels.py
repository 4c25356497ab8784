"""Supergroups and broadcast channels: creating, joining, leaving, inviting, participants, full info and
linked discussion groups (``channels.*``).

A channel has one message box shared by all members, so its service messages (created, user added,
joined, left) are posted once through :func:`messaging.post` and pushed to every member. Broadcast
channels show no join or leave messages and let only admins see their members. Threads, comments and
forum topics are in ``rpc/forums.py``.
"""

from __future__ import annotations

import re
from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish, push_changes
from ..render import (
    admin_rights,
    channel_tl,
    entities_for,
    resolve_input_channel,
    resolve_input_peer,
    resolve_input_user,
)
from ..router import Ctx, Router, RpcError
from ..threads import is_admin
from ..world import Channel, Content, Participant, PeerKey, User, World, user_peer
from .chats import check_title, invite_blocked

router = Router()

MAX_ABOUT = 255
#: Public channel links: 5-32 letters, digits and underscores, starting with a letter.
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{3,30}[a-z0-9]$", re.IGNORECASE)
MAX_PARTICIPANTS_PAGE = 200


def visible_channel(ctx: Ctx, input_channel: Any) -> Channel:
    """The channel, if the caller may look at it: a member, or anyone for a public one."""
    channel = resolve_input_channel(ctx.world, ctx.user_id, input_channel)
    if ctx.user_id not in channel.participants and channel.username is None:
        raise RpcError(406, "CHANNEL_PRIVATE")
    return channel


def member_channel(ctx: Ctx, input_channel: Any) -> Channel:
    channel = visible_channel(ctx, input_channel)
    if ctx.user_id not in channel.participants:
        raise RpcError(400, "USER_NOT_PARTICIPANT")
    return channel


def participant_tl(channel: Channel, viewer: int, member: Participant) -> Any:
    uid = member.user_id
    if member.creator:
        return types.ChannelParticipantCreator(
            user_id=uid, admin_rights=admin_rights(channel), rank=member.rank
        )
    if member.admin:
        return types.ChannelParticipantAdmin(
            user_id=uid,
            promoted_by=member.inviter_id or channel.creator_id,
            date=member.date,
            admin_rights=admin_rights(channel),
            can_edit=channel.creator_id == viewer,
            is_self=uid == viewer,
            # TL ties ``self`` and ``inviter_id`` to one flag: a self row must carry an inviter.
            inviter_id=(member.inviter_id or channel.creator_id) if uid == viewer else member.inviter_id,
            rank=member.rank,
        )
    if uid == viewer:
        return types.ChannelParticipantSelf(
            user_id=uid, inviter_id=member.inviter_id or uid, date=member.date
        )
    return types.ChannelParticipant(user_id=uid, date=member.date, rank=member.rank)


def _updates(ctx: Ctx, changes: Changes, channel: Channel) -> Any:
    """The caller's ``Updates`` for a membership change: ``updateChannel`` plus any service message."""
    changes.peers.add(PeerKey("channel", channel.id))
    return publish(ctx, changes, extra=[types.UpdateChannel(channel_id=channel.id)])


def _service(world: World, changes: Changes, channel: Channel, sender_id: int, action: Any) -> None:
    post(
        world,
        changes,
        sender_id=sender_id,
        peer=PeerKey("channel", channel.id),
        content=Content(action=action),
    )


# -- creating and describing -----------------------------------------------------------------------


@router.method(functions.channels.CreateChannelRequest)
def create_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    title = check_title(req.title)
    about = req.about or ""
    if len(about) > MAX_ABOUT:
        raise RpcError(400, "CHAT_ABOUT_TOO_LONG")
    megagroup = bool(req.megagroup or req.forum)
    channel = world.add_channel(
        title=title,
        creator_id=viewer,
        broadcast=not megagroup,
        about=about,
        forum=bool(req.forum) and megagroup,
    )
    changes = Changes()
    _service(world, changes, channel, viewer, types.MessageActionChannelCreate(title=title))
    return _updates(ctx, changes, channel)


@router.method(functions.channels.GetChannelsRequest)
def get_channels(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    return types.messages.Chats(
        chats=[channel_tl(world, viewer, resolve_input_channel(world, viewer, c)) for c in req.id]
    )


@router.method(functions.channels.GetFullChannelRequest)
def get_full_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = visible_channel(ctx, req.channel)
    box = channel.box
    state = world.read_state(viewer, PeerKey("channel", channel.id))
    member = viewer in channel.participants
    unread = (
        sum(1 for i, m in box.messages.items() if i > state.read_inbox_max_id and m.author_id != viewer)
        if member
        else 0
    )
    pinned = [i for i, m in box.messages.items() if m.pinned]
    admin = is_admin(channel, viewer)
    full = types.ChannelFull(
        id=channel.id,
        about=channel.about,
        read_inbox_max_id=state.read_inbox_max_id,
        read_outbox_max_id=state.read_outbox_max_id,
        unread_count=unread,
        chat_photo=types.PhotoEmpty(id=0),
        notify_settings=types.PeerNotifySettings(),
        bot_info=[],
        pts=box.pts,
        can_view_participants=channel.megagroup or admin,
        can_set_username=channel.creator_id == viewer,
        can_delete_channel=channel.creator_id == viewer,
        can_view_stats=admin and channel.broadcast,
        participants_count=len(channel.participants),
        admins_count=sum(1 for p in channel.participants.values() if p.admin or p.creator),
        kicked_count=0 if admin else None,
        banned_count=0 if admin else None,
        linked_chat_id=channel.linked_chat_id,
        pinned_msg_id=max(pinned) if pinned else channel.pinned_msg_id,
        available_min_id=None,
    )
    peers = [PeerKey("channel", channel.id)]
    if channel.linked_chat_id is not None:
        peers.append(PeerKey("channel", channel.linked_chat_id))
    users, chats = entities_for(world, viewer, [*peers, user_peer(viewer)])
    return types.messages.ChatFull(full_chat=full, chats=chats, users=users)


@router.method(functions.channels.EditTitleRequest)
def edit_title(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = member_channel(ctx, req.channel)
    if not is_admin(channel, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    title = check_title(req.title)
    if title == channel.title:
        raise RpcError(400, "CHAT_NOT_MODIFIED")
    channel.title = title
    changes = Changes()
    _service(world, changes, channel, viewer, types.MessageActionChatEditTitle(title=title))
    return _updates(ctx, changes, channel)


def _check_channel_username(world: World, channel: Channel, username: str) -> str:
    if not _USERNAME.match(username):
        raise RpcError(400, "USERNAME_INVALID")
    taken = world.resolve_username(username)
    if taken is not None and taken != PeerKey("channel", channel.id):
        raise RpcError(400, "USERNAME_OCCUPIED")
    return username


@router.method(functions.channels.CheckUsernameRequest)
def check_username(ctx: Ctx, req: Any) -> bool:
    channel = member_channel(ctx, req.channel)
    if not is_admin(channel, ctx.user_id):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    try:
        _check_channel_username(ctx.world, channel, req.username or "")
    except RpcError as error:
        if error.message == "USERNAME_OCCUPIED":
            return False
        raise
    return True


@router.method(functions.channels.UpdateUsernameRequest)
def update_username(ctx: Ctx, req: Any) -> bool:
    """Make a channel public under ``username``, or private again with an empty one."""
    world, viewer = ctx.world, ctx.user_id
    channel = member_channel(ctx, req.channel)
    if channel.creator_id != viewer:
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    username = req.username or None
    if username is not None:
        _check_channel_username(world, channel, username)
    if username == channel.username:
        raise RpcError(400, "USERNAME_NOT_MODIFIED")
    channel.username = username
    changes = Changes()
    for member in channel.participants:
        changes.add(member, types.UpdateChannel(channel_id=channel.id), PeerKey("channel", channel.id))
    push_changes(ctx.server, changes, exclude=ctx.auth)
    return True


# -- participants ----------------------------------------------------------------------------------


def _matches(user: User, query: str) -> bool:
    query = query.casefold()
    return not query or any(query in (text or "").casefold() for text in (user.full_name, user.username))


def _filtered(world: World, viewer: int, channel: Channel, flt: Any) -> list[Participant]:
    members = list(channel.participants.values())
    if isinstance(flt, types.ChannelParticipantsAdmins):
        return [m for m in members if m.admin or m.creator]
    if isinstance(flt, types.ChannelParticipantsBots):
        return [m for m in members if world.users[m.user_id].bot]
    if isinstance(flt, types.ChannelParticipantsContacts):
        contacts = world.users[viewer].contacts
        return [m for m in members if m.user_id in contacts and _matches(world.users[m.user_id], flt.q)]
    if isinstance(flt, types.ChannelParticipantsSearch | types.ChannelParticipantsMentions):
        return [m for m in members if _matches(world.users[m.user_id], flt.q or "")]
    if isinstance(flt, types.ChannelParticipantsRecent):
        # Most recently joined first.
        return sorted(members, key=lambda m: m.date, reverse=True)
    return []  # kicked, banned: the sandbox bans nobody


@router.method(functions.channels.GetParticipantsRequest)
def get_participants(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = visible_channel(ctx, req.channel)
    if channel.broadcast and not is_admin(channel, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    matching = _filtered(world, viewer, channel, req.filter)
    offset, limit = max(0, req.offset), max(0, min(req.limit, MAX_PARTICIPANTS_PAGE))
    chosen = matching[offset : offset + limit]
    users, chats = entities_for(world, viewer, [user_peer(m.user_id) for m in chosen])
    return types.channels.ChannelParticipants(
        count=len(matching),
        participants=[participant_tl(channel, viewer, m) for m in chosen],
        chats=chats,
        users=users,
    )


@router.method(functions.channels.GetParticipantRequest)
def get_participant(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = visible_channel(ctx, req.channel)
    peer = resolve_input_peer(world, viewer, req.participant)
    member = channel.participants.get(peer.id) if peer.kind == "user" else None
    if member is None:
        raise RpcError(400, "USER_NOT_PARTICIPANT")
    users, chats = entities_for(world, viewer, [peer, PeerKey("channel", channel.id)])
    return types.channels.ChannelParticipant(
        participant=participant_tl(channel, viewer, member), chats=chats, users=users
    )


@router.method(functions.channels.InviteToChannelRequest)
def invite_to_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = member_channel(ctx, req.channel)
    if channel.broadcast and not is_admin(channel, viewer):
        raise RpcError(403, "CHAT_ADMIN_REQUIRED")
    added: list[int] = []
    missing: list[Any] = []
    for input_user in req.users:
        user = resolve_input_user_or_invalid(world, viewer, input_user)
        if user.id in channel.participants or user.id in added:
            continue
        if user.bot and channel.broadcast:
            raise RpcError(400, "USER_BOT")
        if invite_blocked(world, viewer, user):
            missing.append(types.MissingInvitee(user_id=user.id))
            continue
        added.append(user.id)
    changes = Changes()
    for uid in added:
        channel.participants[uid] = Participant(uid, world.now(), inviter_id=viewer)
        changes.add(uid, types.UpdateChannel(channel_id=channel.id), PeerKey("channel", channel.id))
    if added and channel.megagroup:
        _service(world, changes, channel, viewer, types.MessageActionChatAddUser(users=added))
    changes.peers.update(user_peer(uid) for uid in added)
    return types.messages.InvitedUsers(updates=_updates(ctx, changes, channel), missing_invitees=missing)


def resolve_input_user_or_invalid(world: World, viewer: int, input_user: Any) -> User:
    user = resolve_input_user(world, viewer, input_user)
    if user.deleted:
        raise RpcError(400, "INPUT_USER_DEACTIVATED")
    return user


@router.method(functions.channels.JoinChannelRequest)
def join_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = resolve_input_channel(world, viewer, req.channel)
    changes = Changes()
    if viewer in channel.participants:
        return _updates(ctx, changes, channel)
    if channel.username is None:
        # Private channels are joined through an invite link, which the sandbox does not model.
        raise RpcError(406, "CHANNEL_PRIVATE")
    channel.participants[viewer] = Participant(viewer, world.now())
    if channel.megagroup:
        # A public supergroup shows "X joined the group" as an add-user action by the joiner.
        _service(world, changes, channel, viewer, types.MessageActionChatAddUser(users=[viewer]))
    return _updates(ctx, changes, channel)


@router.method(functions.channels.LeaveChannelRequest)
def leave_channel(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = member_channel(ctx, req.channel)
    if channel.creator_id == viewer:
        raise RpcError(400, "USER_CREATOR")
    changes = Changes()
    if channel.megagroup:
        _service(world, changes, channel, viewer, types.MessageActionChatDeleteUser(user_id=viewer))
    del channel.participants[viewer]
    return _updates(ctx, changes, channel)


# -- discussion groups -----------------------------------------------------------------------------


@router.method(functions.channels.SetDiscussionGroupRequest)
def set_discussion_group(ctx: Ctx, req: Any) -> bool:
    world, viewer = ctx.world, ctx.user_id
    broadcast = member_channel(ctx, req.broadcast)
    if not broadcast.broadcast:
        raise RpcError(400, "BROADCAST_ID_INVALID")
    if not is_admin(broadcast, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if isinstance(req.group, types.InputChannelEmpty):
        if broadcast.linked_chat_id is None:
            raise RpcError(400, "LINK_NOT_MODIFIED")
        world.link_discussion(broadcast.id, None)
        return True
    group = member_channel(ctx, req.group)
    if not group.megagroup or group.forum:
        raise RpcError(400, "MEGAGROUP_ID_INVALID")
    if not is_admin(group, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if broadcast.linked_chat_id == group.id:
        raise RpcError(400, "LINK_NOT_MODIFIED")
    world.link_discussion(broadcast.id, group.id)
    return True


@router.method(functions.channels.GetGroupsForDiscussionRequest)
def get_groups_for_discussion(ctx: Ctx, _req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    groups = [c for c in world.channels.values() if c.megagroup and not c.forum and is_admin(c, viewer)]
    return types.messages.Chats(chats=[channel_tl(world, viewer, c) for c in groups])
