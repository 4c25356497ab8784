"""Telethon objects -> the plain shapes of :mod:`.shapes`. Nothing Telethon-typed leaves this package."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from telethon import utils
from telethon.tl import types

from .shapes import ChatInfo, ChatKind, MediaInfo, MessageInfo, iso

__all__ = [
    "chat_info",
    "chat_kind",
    "display_name",
    "entity_map",
    "marked_id",
    "message_info",
    "message_link",
    "sender_id_of",
]

#: ``utils.get_peer_id`` re-resolves a bare chat or channel id outside ``(0, this]``; inside, it is
#: ``-id`` for a chat and ``-(10**12 + id)`` for a channel ("-100" prefixed).
_MAX_BARE_ID = 9_999_999_999
_CHANNEL_MARK = 1_000_000_000_000


def marked_id(peer: Any) -> int:
    """``utils.get_peer_id(peer)``: a peer's or entity's marked id (users ``id``, chats ``-id``,
    channels ``-100id``).

    Every answer's peers and entities are read here, several per message, so the common TL types
    are taken directly: Telethon's general path turns a user into an input peer and then a peer
    first (1.5 us against 0.1; a peer 0.26 against 0.08). Anything else goes to Telethon, as do
    chat and channel ids outside the range Telethon takes as already bare.
    """
    kind = type(peer)
    bare: int
    if kind is types.PeerUser:
        bare = peer.user_id
        return bare
    if kind is types.User:
        bare = peer.id
        return bare
    if kind is types.PeerChannel or kind is types.Channel:
        bare = peer.channel_id if kind is types.PeerChannel else peer.id
        if 0 < bare <= _MAX_BARE_ID:
            return -(_CHANNEL_MARK + bare)
    elif kind is types.PeerChat or kind is types.Chat:
        bare = peer.chat_id if kind is types.PeerChat else peer.id
        if 0 < bare <= _MAX_BARE_ID:
            return -bare
    marked: int = utils.get_peer_id(peer)
    return marked


def display_name(entity: Any) -> str:
    """``utils.get_display_name(entity)``: a user's first and last name, a chat's title, else "".

    Users, the sender of nearly every message, are named here directly (0.16 us against 0.34 for
    Telethon's ``isinstance`` chain); anything else goes to Telethon.
    """
    if type(entity) is types.User:
        first, last = entity.first_name, entity.last_name
        if first and last:
            return f"{first} {last}"
        name: str = first or last or ""
        return name
    title: str = utils.get_display_name(entity)
    return title


def chat_kind(entity: Any) -> ChatKind:
    if isinstance(entity, types.User):
        return "bot" if entity.bot else "user"
    if isinstance(entity, types.Channel | types.ChannelForbidden):
        if getattr(entity, "forum", False):
            return "forum"
        return "supergroup" if entity.megagroup else "channel"
    return "group"


def _username(entity: Any) -> str | None:
    """The public username; accounts with collectible names carry them in ``usernames`` instead."""
    name = getattr(entity, "username", None)
    if name:
        return str(name)
    for item in getattr(entity, "usernames", None) or []:
        if item.active:
            return str(item.username)
    return None


def chat_info(
    entity: Any,
    *,
    unread: int | None = None,
    last_date: datetime | None = None,
    members: int | None = None,
    source: str | None = None,
) -> ChatInfo:
    """A user, group or channel as :class:`ChatInfo`; ``members`` overrides the entity's own count."""
    return ChatInfo(
        id=marked_id(entity),
        kind=chat_kind(entity),
        name=display_name(entity) or "(no name)",
        username=_username(entity),
        unread=unread or None,
        last_date=iso(last_date),
        members=members or getattr(entity, "participants_count", None) or None,
        source=source,
    )


# -- messages ------------------------------------------------------------------------------------

#: Who a marked id names (users and chats of the same Telegram answer), for senders and forwards.
Entities = Mapping[int, Any]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def entity_map(result: Any) -> dict[int, Any]:
    """Marked id -> user or chat, from the ``users``/``chats`` lists every message answer carries."""
    return {marked_id(e): e for e in [*getattr(result, "users", []), *getattr(result, "chats", [])]}


def _document_kind(document: Any) -> tuple[str, str | None, int | None]:
    """(kind, file name, duration) from a document's attributes, as Telegram's apps classify it."""
    kind, name, duration = "document", None, None
    for attribute in document.attributes:
        if isinstance(attribute, types.DocumentAttributeFilename):
            name = attribute.file_name
        elif isinstance(attribute, types.DocumentAttributeSticker):
            kind = "sticker"
        elif isinstance(attribute, types.DocumentAttributeAnimated) and kind != "sticker":
            kind = "gif"
        elif isinstance(attribute, types.DocumentAttributeVideo):
            duration = round(attribute.duration)
            if kind == "document":
                kind = "round_video" if attribute.round_message else "video"
        elif isinstance(attribute, types.DocumentAttributeAudio):
            duration = round(attribute.duration)
            if kind == "document":
                kind = "voice" if attribute.voice else "audio"
    return kind, name, duration


def _photo_size(photo: Any) -> int | None:
    sizes = [getattr(s, "size", 0) or max(getattr(s, "sizes", None) or [0]) for s in photo.sizes]
    return max(sizes, default=0) or None


def _media(media: Any, chat: int, message: int) -> MediaInfo | None:
    # A link preview is not an attachment: the link is in the text.
    if media is None or isinstance(media, types.MessageMediaWebPage | types.MessageMediaEmpty):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        photo = media.photo
        if not isinstance(photo, types.Photo):
            return MediaInfo(kind="photo")
        return MediaInfo(kind="photo", size=_photo_size(photo), ref=(chat, message, photo.id))
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        kind, name, duration = _document_kind(media.document)
        if media.round:
            kind = "round_video"
        elif media.voice:
            kind = "voice"
        ref = (chat, message, media.document.id)
        return MediaInfo(kind=kind, name=name, size=media.document.size, duration=duration, ref=ref)
    return MediaInfo(kind=_CAMEL.sub("_", type(media).__name__.removeprefix("MessageMedia")).lower())


def _reactions(message: Any) -> dict[str, int]:
    reactions = getattr(message, "reactions", None)
    summary: dict[str, int] = {}
    for count in getattr(reactions, "results", None) or []:
        reaction = count.reaction
        key = getattr(reaction, "emoticon", None) or (
            "⭐" if isinstance(reaction, types.ReactionPaid) else "custom"
        )
        summary[key] = summary.get(key, 0) + count.count
    return summary


def _name(entities: Entities, peer: Any) -> str | int | None:
    """A peer's display name when the answer carried it, else its marked id."""
    if peer is None:
        return None
    marked = marked_id(peer)
    entity = entities.get(marked)
    name = display_name(entity) if entity is not None else ""
    return name or marked


def _forward_origin(header: Any, entities: Entities) -> str | int | None:
    if header is None:
        return None
    if header.from_name:
        return str(header.from_name)
    return _name(entities, header.from_id) or "hidden"


def _seconds(value: int | None) -> str:
    return f" {value}s" if value else ""


def _service(action: Any, sender_id: int | None, pinned: int | None, entities: Entities) -> str:
    """A service message as a short line: ``joined``, ``pinned 12``, ``call 65s``, ``topic created: Trip``."""
    t = types
    title = getattr(action, "title", None)
    if isinstance(action, t.MessageActionChatCreate | t.MessageActionChannelCreate):
        return f"created: {title}"
    if isinstance(action, t.MessageActionChatAddUser):
        if action.users == [sender_id]:
            return "joined"
        return "added " + ", ".join(str(_name(entities, t.PeerUser(u))) for u in action.users)
    if isinstance(action, t.MessageActionChatJoinedByLink | t.MessageActionChatJoinedByRequest):
        return "joined"
    if isinstance(action, t.MessageActionChatDeleteUser):
        return (
            "left"
            if action.user_id == sender_id
            else f"removed {_name(entities, t.PeerUser(action.user_id))}"
        )
    if isinstance(action, t.MessageActionChatEditTitle):
        return f"renamed: {title}"
    if isinstance(action, t.MessageActionPinMessage):
        return f"pinned {pinned}" if pinned else "pinned"
    if isinstance(action, t.MessageActionPhoneCall):
        kind = "video call" if action.video else "call"
        missed = isinstance(action.reason, t.PhoneCallDiscardReasonMissed | t.PhoneCallDiscardReasonBusy)
        return f"missed {kind}" if missed else kind + _seconds(action.duration)
    if isinstance(action, t.MessageActionGroupCall):
        return "voice chat" + (_seconds(action.duration) if action.duration else " started")
    if isinstance(action, t.MessageActionTopicCreate):
        return f"topic created: {title}"
    if isinstance(action, t.MessageActionTopicEdit):
        if title:
            return f"topic renamed: {title}"
        return {True: "topic closed", False: "topic reopened"}.get(action.closed, "topic edited")
    if isinstance(action, t.MessageActionCustomAction):
        return str(action.message)
    if isinstance(action, t.MessageActionContactSignUp):
        return "joined Telegram"
    if isinstance(action, t.MessageActionSetMessagesTTL):
        return "auto-delete" + (_seconds(action.period) or " off")
    # Anything rarer: its constructor name in words ("chat edit photo", "gift premium").
    return _CAMEL.sub(" ", type(action).__name__.removeprefix("MessageAction")).lower()


def message_link(chat: Any, msg_id: int) -> str | None:
    """``https://t.me/<username>/<id>`` or ``https://t.me/c/<id>/<id>``; None where Telegram has no link."""
    if not isinstance(chat, types.Channel):
        return None
    username = chat.username or next((u.username for u in chat.usernames or [] if u.active), None)
    if username:
        return f"https://t.me/{username}/{msg_id}"
    return f"https://t.me/c/{chat.id}/{msg_id}"


def sender_id_of(message: Any, self_id: int | None) -> int | None:
    """Who sent it, the way Telegram leaves it implicit: a post is from its channel, a private message
    without ``from_id`` from the other side (or from us when outgoing)."""
    if message.from_id is not None:
        return marked_id(message.from_id)
    if message.out and self_id is not None:
        return self_id
    if message.post or isinstance(message.peer_id, types.PeerUser):
        return marked_id(message.peer_id)
    return None


def _replies(header: Any) -> tuple[int | None, int | None]:
    """``(reply_to, thread)``. A message in a forum topic points at the topic's first message without
    replying to it: that is its thread, not a reply."""
    if not isinstance(header, types.MessageReplyHeader):
        return None, None
    msg_id, top = header.reply_to_msg_id, header.reply_to_top_id
    if header.forum_topic:
        if top is None or top == msg_id:
            return None, msg_id
        return msg_id, top
    return msg_id, top


def message_info(
    message: Any, entities: Entities | None = None, *, self_id: int | None = None, in_chat: bool = False
) -> MessageInfo:
    """A TL ``Message``/``MessageService`` as plain data.

    Args:
        message: a message from a Telegram answer (Telethon's ``Message`` works too).
        entities: the answer's users and chats (:func:`entity_map`); names come from here.
        self_id: the account's id, the sender of outgoing messages that do not name one.
        in_chat: set ``chat`` (the chat's marked id), for results that span chats.
    """
    if entities is None:
        entities = {marked_id(e): e for e in (getattr(message, n, None) for n in ("sender", "chat")) if e}
    sender_id = sender_id_of(message, self_id)
    chat_id = marked_id(message.peer_id)
    sender = entities.get(sender_id) if sender_id is not None else None
    name = display_name(sender) if sender is not None else ""
    if sender_id == chat_id and getattr(message, "post", False):
        # A channel post is from the channel itself: say so once (the chat), not on every message.
        sender_id, name = None, getattr(message, "post_author", None) or ""
    header = getattr(message, "fwd_from", None)
    if header is not None and header.from_id is not None and marked_id(header.from_id) == sender_id:
        # A post copied into its discussion group, or a message forwarded by its own author.
        header = None
    reply_to, thread = _replies(message.reply_to)
    service = None
    if isinstance(message, types.MessageService):
        service = _service(message.action, sender_id, reply_to, entities)
        reply_to = None
    replies = getattr(message, "replies", None)
    media = getattr(message, "media", None)
    return MessageInfo(
        id=message.id,
        date=iso(message.date),
        chat=chat_id if in_chat else None,
        sender=name or None,
        sender_id=sender_id,
        out=bool(message.out),
        text=getattr(message, "message", None) or None,
        service=service,
        reply_to=reply_to,
        thread=thread,
        fwd=_forward_origin(header, entities) if header is not None else None,
        media=_media(media, chat_id, message.id) if media is not None else None,
        reactions=_reactions(message),
        comments=replies.replies if replies is not None and replies.comments else None,
        edited=iso(getattr(message, "edit_date", None)) if not getattr(message, "edit_hide", False) else None,
        link=message_link(entities.get(chat_id), message.id),
    )
