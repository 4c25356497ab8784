"""Telethon objects -> the plain shapes of :mod:`.shapes`. Nothing Telethon-typed leaves this package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telethon import utils
from telethon.tl import types

from .shapes import ChatInfo, ChatKind, MediaInfo, MessageInfo, iso

__all__ = ["chat_info", "chat_kind", "message_info"]


def chat_kind(entity: Any) -> ChatKind:
    if isinstance(entity, types.User):
        return "bot" if entity.bot else "user"
    if isinstance(entity, types.Chat | types.ChatForbidden):
        return "group"
    if isinstance(entity, types.Channel):
        if entity.forum:
            return "forum"
        return "supergroup" if entity.megagroup else "channel"
    return "group"


def chat_info(entity: Any, *, unread: int | None = None, last_date: datetime | None = None) -> ChatInfo:
    members = getattr(entity, "participants_count", None)
    return ChatInfo(
        id=utils.get_peer_id(entity),
        kind=chat_kind(entity),
        name=utils.get_display_name(entity) or "(no name)",
        username=getattr(entity, "username", None),
        unread=unread or None,
        last_message_date=iso(last_date),
        members=members or None,
    )


def _media(message: Any) -> MediaInfo | None:
    if message.media is None:
        return None
    if message.photo is not None:
        return MediaInfo(kind="photo")
    document = message.document
    if document is not None:
        kind = "document"
        if message.voice:
            kind = "voice"
        elif message.video_note:
            kind = "round_video"
        elif message.video:
            kind = "video"
        elif message.audio:
            kind = "audio"
        elif message.sticker:
            kind = "sticker"
        elif message.gif:
            kind = "gif"
        duration = None
        for attribute in document.attributes:
            if isinstance(attribute, types.DocumentAttributeAudio | types.DocumentAttributeVideo):
                duration = float(attribute.duration)
        return MediaInfo(
            kind=kind,
            name=message.file.name if message.file else None,
            size=document.size,
            duration=duration,
            mime=document.mime_type,
        )
    return MediaInfo(kind=type(message.media).__name__.removeprefix("MessageMedia").lower())


def _reactions(message: Any) -> dict[str, int]:
    reactions = getattr(message, "reactions", None)
    if reactions is None:
        return {}
    summary: dict[str, int] = {}
    for count in reactions.results:
        emoticon = getattr(count.reaction, "emoticon", None) or "custom"
        summary[emoticon] = summary.get(emoticon, 0) + count.count
    return summary


def _forward_origin(message: Any) -> str | None:
    header = message.fwd_from
    if header is None:
        return None
    if header.from_name:
        return str(header.from_name)
    if header.from_id is not None:
        return str(utils.get_peer_id(header.from_id))
    return "hidden"


def message_info(message: Any) -> MessageInfo:
    """A Telethon ``Message`` (or ``MessageService``) as plain data."""
    sender = message.sender
    reply = message.reply_to
    service = None
    if isinstance(message, types.MessageService):
        service = type(message.action).__name__.removeprefix("MessageAction")
    return MessageInfo(
        id=message.id,
        date=iso(message.date),
        sender=utils.get_display_name(sender) if sender is not None else None,
        sender_id=message.sender_id,
        text=getattr(message, "message", None) or None,
        out=bool(message.out),
        reply_to=getattr(reply, "reply_to_msg_id", None),
        thread=getattr(reply, "reply_to_top_id", None),
        forwarded_from=_forward_origin(message) if not service else None,
        media=_media(message) if not service else None,
        reactions=_reactions(message),
        edited=iso(getattr(message, "edit_date", None)),
        service=service,
    )
