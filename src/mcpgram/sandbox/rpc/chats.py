"""Basic groups: ``messages.createChat``, ``getFullChat``, ``getChats``, ``addChatUser``, ``deleteChatUser``
and ``editChatTitle``.

A basic group's messages live in each member's own box (per-account ids), so its service messages go
through :func:`messaging.post` like any other message. Adding someone respects their "who can add me
to groups" privacy (``User.allow_group_invites``): Telegram answers with the user in
``missing_invitees`` instead of adding them.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish
from ..render import chat_tl, resolve_input_user, user_tl
from ..router import Ctx, Router, RpcError
from ..world import Chat, Content, Participant, PeerKey, User, World

router = Router()

MAX_TITLE = 128


def invite_blocked(world: World, inviter_id: int, user: User) -> bool:
    """Whether ``user``'s privacy keeps ``inviter_id`` from adding them to a group or channel."""
    return not user.allow_group_invites or inviter_id in user.blocked


def check_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise RpcError(400, "CHAT_TITLE_EMPTY")
    if len(title) > MAX_TITLE:
        raise RpcError(400, "CHAT_TITLE_TOO_LONG")
    return title


def _member_chat(ctx: Ctx, chat_id: int) -> Chat:
    chat = ctx.world.chats.get(chat_id)
    if chat is None or ctx.user_id not in chat.participants:
        raise RpcError(400, "CHAT_ID_INVALID")
    return chat


def _pinned_id(world: World, viewer: int, chat: Chat) -> int | None:
    box = world.box(viewer)
    pinned = [i for i in box.history(PeerKey("chat", chat.id)) if box.messages[i].pinned]
    return max(pinned) if pinned else None


def _participant_tl(chat: Chat, user_id: int) -> Any:
    member = chat.participants[user_id]
    if member.creator:
        return types.ChatParticipantCreator(user_id=user_id, rank=member.rank)
    inviter = member.inviter_id or chat.creator_id
    if member.admin:
        return types.ChatParticipantAdmin(
            user_id=user_id, inviter_id=inviter, date=member.date, rank=member.rank
        )
    return types.ChatParticipant(user_id=user_id, inviter_id=inviter, date=member.date, rank=member.rank)


def participants_tl(chat: Chat) -> Any:
    order = sorted(
        chat.participants, key=lambda uid: (not chat.participants[uid].creator, chat.participants[uid].date)
    )
    return types.ChatParticipants(
        chat_id=chat.id, participants=[_participant_tl(chat, uid) for uid in order], version=chat.version
    )


@router.method(functions.messages.CreateChatRequest)
def create_chat(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    title = check_title(req.title)
    added: list[int] = []
    missing: list[Any] = []
    for input_user in req.users:
        user = resolve_input_user(world, viewer, input_user)
        if user.id == viewer or user.id in added:
            continue
        if invite_blocked(world, viewer, user):
            missing.append(types.MissingInvitee(user_id=user.id))
            continue
        added.append(user.id)
    chat = world.add_chat(title=title, creator_id=viewer, member_ids=added)
    changes = Changes()
    action = types.MessageActionChatCreate(title=title, users=[viewer, *added])
    post(world, changes, sender_id=viewer, peer=PeerKey("chat", chat.id), content=Content(action=action))
    return types.messages.InvitedUsers(updates=publish(ctx, changes), missing_invitees=missing)


@router.method(functions.messages.GetFullChatRequest)
def get_full_chat(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    chat = world.chats.get(req.chat_id)
    if chat is None:
        raise RpcError(400, "CHAT_ID_INVALID")
    if viewer in chat.participants:
        participants: Any = participants_tl(chat)
        members = list(chat.participants)
    elif world.box(viewer).history(PeerKey("chat", chat.id)):
        # A former member still sees the group, but not who is in it.
        participants = types.ChatParticipantsForbidden(chat_id=chat.id)
        members = [viewer]
    else:
        raise RpcError(400, "CHAT_ID_INVALID")
    full = types.ChatFull(
        id=chat.id,
        about=chat.about,
        participants=participants,
        notify_settings=types.PeerNotifySettings(),
        pinned_msg_id=_pinned_id(world, viewer, chat),
        can_set_username=chat.creator_id == viewer,
    )
    users = [user_tl(world, viewer, world.users[uid]) for uid in members]
    return types.messages.ChatFull(full_chat=full, chats=[chat_tl(world, viewer, chat)], users=users)


@router.method(functions.messages.GetChatsRequest)
def get_chats(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    chats = [chat_tl(world, viewer, world.chats[cid]) for cid in req.id if cid in world.chats]
    return types.messages.Chats(chats=chats)


@router.method(functions.messages.AddChatUserRequest)
def add_chat_user(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    chat = _member_chat(ctx, req.chat_id)
    user = resolve_input_user(world, viewer, req.user_id)
    if user.id in chat.participants:
        raise RpcError(400, "USER_ALREADY_PARTICIPANT")
    if invite_blocked(world, viewer, user):
        empty = types.Updates(updates=[], users=[], chats=[], date=world.now(), seq=0)
        return types.messages.InvitedUsers(
            updates=empty, missing_invitees=[types.MissingInvitee(user_id=user.id)]
        )
    chat.participants[user.id] = _new_member(world, chat, user.id, viewer)
    changes = Changes()
    action = types.MessageActionChatAddUser(users=[user.id])
    post(world, changes, sender_id=viewer, peer=PeerKey("chat", chat.id), content=Content(action=action))
    return types.messages.InvitedUsers(updates=publish(ctx, changes), missing_invitees=[])


def _new_member(world: World, chat: Chat, user_id: int, inviter_id: int) -> Participant:
    chat.version += 1
    return Participant(user_id, world.now(), inviter_id=inviter_id)


@router.method(functions.messages.DeleteChatUserRequest)
def delete_chat_user(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    chat = _member_chat(ctx, req.chat_id)
    user = resolve_input_user(world, viewer, req.user_id)
    member = chat.participants.get(user.id)
    if member is None:
        raise RpcError(400, "USER_NOT_PARTICIPANT")
    me = chat.participants[viewer]
    if user.id != viewer and not (me.creator or me.admin or member.inviter_id == viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if member.creator and user.id != viewer:
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    changes = Changes()
    # Posted while the user is still a member, so their box gets the message too.
    action = types.MessageActionChatDeleteUser(user_id=user.id)
    post(world, changes, sender_id=viewer, peer=PeerKey("chat", chat.id), content=Content(action=action))
    del chat.participants[user.id]
    chat.version += 1
    return publish(ctx, changes)


@router.method(functions.messages.EditChatTitleRequest)
def edit_chat_title(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    chat = _member_chat(ctx, req.chat_id)
    title = check_title(req.title)
    if title == chat.title:
        raise RpcError(400, "CHAT_NOT_MODIFIED")
    chat.title = title
    changes = Changes()
    action = types.MessageActionChatEditTitle(title=title)
    post(world, changes, sender_id=viewer, peer=PeerKey("chat", chat.id), content=Content(action=action))
    return publish(ctx, changes)
