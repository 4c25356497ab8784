"""One chat in full: the Telegram side of ``get_chat``.

One full-info call per chat (``users.getFullUser``, ``messages.getFullChat`` or
``channels.getFullChannel``) gives the profile, counts, the linked discussion chat and the pinned
message's id; the pinned message itself costs one more call only when there is one, and a forum's
topics one more (``messages.getForumTopics``). What the account may do there is derived from the
rights Telegram already sent, by the pure :func:`permissions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telethon import TelegramClient, functions, utils
from telethon.tl import types

from .chats import resolve_chat
from .convert import chat_info, entity_map, message_info
from .shapes import ChatDetails, MessageInfo, TopicInfo, iso

#: Topics per page: one more than this is asked for, within Telegram's limit of 100, to know if more exist.
MAX_TOPICS = 99
#: Everything :func:`permissions` may grant, in the order it lists them.
ALL_RIGHTS = ("send", "send_media", "pin", "invite", "delete_others", "edit_others", "ban")


@dataclass(frozen=True)
class TopicPage:
    topics: list[TopicInfo]
    #: Where the next page starts (None: this was the last).
    next: dict[str, int] | None


@dataclass(frozen=True)
class ChatView:
    details: ChatDetails
    pinned: MessageInfo | None
    topics: TopicPage | None


# -- permissions ---------------------------------------------------------------------------------


def _granted(names: dict[str, bool]) -> list[str]:
    return [name for name in ALL_RIGHTS if names.get(name)]


def _member_rights(entity: Any) -> dict[str, bool]:
    """A plain member's rights: everything the group's defaults and the member's own ban allow."""
    banned = [r for r in (entity.default_banned_rights, getattr(entity, "banned_rights", None)) if r]

    def denied(*names: str) -> bool:
        return any(getattr(rights, name, False) for rights in banned for name in names)

    return {
        "send": not denied("send_messages", "send_plain"),
        "send_media": not denied("send_messages", "send_media"),
        "pin": not denied("pin_messages"),
        "invite": not denied("invite_users"),
    }


def _admin_rights(rights: Any, *, broadcast: bool) -> dict[str, bool]:
    if broadcast:
        # In a channel only admins post; editing others' posts is the "edit_messages" right.
        return {
            "send": bool(rights.post_messages),
            "send_media": bool(rights.post_messages),
            "pin": bool(rights.edit_messages),
            "invite": bool(rights.invite_users),
            "delete_others": bool(rights.delete_messages),
            "edit_others": bool(rights.edit_messages),
            "ban": bool(rights.ban_users),
        }
    return {
        "send": True,
        "send_media": True,
        "pin": bool(rights.pin_messages),
        "invite": bool(rights.invite_users),
        "delete_others": bool(rights.delete_messages),
        "ban": bool(rights.ban_users),
    }


def permissions(entity: Any, *, blocked: bool = False) -> list[str]:
    """What the account may do in a chat, from the rights Telegram sent with the chat (pure).

    Users: send, send media, pin and delete for both sides, unless the user is deleted or blocked.
    Groups: a creator may do everything; an admin what its rights say (admins are never muted); a
    member what the group's default rights and the member's own restriction leave. Channels: only
    creators and admins with the right to post may send. Left, kicked or deactivated: nothing.
    """
    if isinstance(entity, types.User):
        if entity.deleted or blocked:
            return []
        return ["send", "send_media", "pin", "delete_others"]
    if not isinstance(entity, types.Chat | types.Channel):
        return []  # ChatForbidden, ChannelForbidden, ChatEmpty
    if entity.left or getattr(entity, "deactivated", False):
        return []
    broadcast = isinstance(entity, types.Channel) and bool(entity.broadcast)
    if entity.creator:
        return [r for r in ALL_RIGHTS if broadcast or r != "edit_others"]
    if entity.admin_rights is not None:
        return _granted(_admin_rights(entity.admin_rights, broadcast=broadcast))
    if broadcast:
        return []
    return _granted(_member_rights(entity))


# -- get_chat ------------------------------------------------------------------------------------


def _find(entities: list[Any], marked_id: int) -> Any:
    return next((e for e in entities if utils.get_peer_id(e) == marked_id), None)


async def get_chat(client: TelegramClient, ref: str | int, *, topics: int) -> ChatView:
    """The chat's profile and rights, its pinned message and the first ``topics`` forum topics."""
    peer = await resolve_chat(client, ref)
    if isinstance(peer, types.InputPeerUser | types.InputPeerSelf):
        result = await client(functions.users.GetFullUserRequest(utils.get_input_user(peer)))
        full = result.full_user
        entity = _find(result.users, full.id)
        bot_about = full.bot_info.description if full.bot_info else None
        details = ChatDetails(
            chat=chat_info(entity),
            about=full.about or bot_about,
            can=permissions(entity, blocked=bool(full.blocked)),
            common_chats=full.common_chats_count or None,
            blocked=bool(full.blocked),
            pinned_id=full.pinned_msg_id,
        )
    else:
        if isinstance(peer, types.InputPeerChat):
            result = await client(functions.messages.GetFullChatRequest(peer.chat_id))
        else:
            result = await client(functions.channels.GetFullChannelRequest(utils.get_input_channel(peer)))
        full = result.full_chat
        entity = _find(result.chats, utils.get_peer_id(peer))
        members = getattr(full, "participants_count", None)
        if members is None and isinstance(full.participants, types.ChatParticipants):
            members = len(full.participants.participants)
        linked_id = getattr(full, "linked_chat_id", None)
        linked = _find(result.chats, utils.get_peer_id(types.PeerChannel(linked_id))) if linked_id else None
        details = ChatDetails(
            chat=chat_info(entity, members=members),
            about=full.about or None,
            can=permissions(entity),
            linked=chat_info(linked) if linked is not None else None,
            left=bool(getattr(entity, "left", False)),
            pinned_id=full.pinned_msg_id,
        )
    pinned = await _pinned(client, peer, details.pinned_id) if details.pinned_id else None
    page = None
    if topics > 0 and getattr(entity, "forum", False):
        page = await _topics(client, peer, limit=topics, position={})
    return ChatView(details=details, pinned=pinned, topics=page)


async def _pinned(client: TelegramClient, peer: Any, msg_id: int) -> MessageInfo | None:
    ids = [types.InputMessageID(msg_id)]
    if isinstance(peer, types.InputPeerChannel):
        result = await client(functions.channels.GetMessagesRequest(utils.get_input_channel(peer), ids))
    else:
        result = await client(functions.messages.GetMessagesRequest(ids))
    found = [m for m in result.messages if not isinstance(m, types.MessageEmpty)]
    return message_info(found[0], entity_map(result)) if found else None


async def get_topics(
    client: TelegramClient, ref: str | int, *, limit: int, position: dict[str, int]
) -> TopicPage:
    """A page of a forum's topics (pinned first, then by last activity), from ``position``."""
    return await _topics(client, await resolve_chat(client, ref), limit=limit, position=position)


async def _topics(client: TelegramClient, peer: Any, *, limit: int, position: dict[str, int]) -> TopicPage:
    limit = max(1, min(limit, MAX_TOPICS))
    result = await client(
        functions.messages.GetForumTopicsRequest(
            peer=peer,
            offset_date=position.get("d", 0),
            offset_id=position.get("i", 0),
            offset_topic=position.get("t", 0),
            limit=limit + 1,
        )
    )
    chat_id = utils.get_peer_id(peer)
    dates = {m.id: m.date for m in result.messages if utils.get_peer_id(m.peer_id) == chat_id}
    topics: list[TopicInfo] = []
    positions: list[dict[str, int]] = []
    for topic in result.topics:
        if not isinstance(topic, types.ForumTopic):
            continue
        date = dates.get(topic.top_message)
        topics.append(
            TopicInfo(
                id=topic.id,
                title=topic.title,
                last_date=iso(date),
                unread=topic.unread_count or None,
                pinned=bool(topic.pinned),
                closed=bool(topic.closed),
            )
        )
        stamp = int(date.timestamp()) if date is not None else 0
        positions.append({"d": stamp, "i": topic.top_message, "t": topic.id})
    if position in positions:
        # The server served the topic the page continues from again (it ignored the offset):
        # only what follows it is new.
        start = positions.index(position) + 1
        topics, positions = topics[start:], positions[start:]
    if len(topics) > limit and positions[limit - 1] != position:
        return TopicPage(topics[:limit], positions[limit - 1])
    # The last page, or a server that ignored the offset and served the same page again.
    return TopicPage(topics[:limit], None)
