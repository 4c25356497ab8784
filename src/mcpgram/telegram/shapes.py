"""The plain shapes tools return: chats, messages, media. No Telethon here (``convert`` fills them).

One uniform shape per kind, pruned of empty values so results stay small in a model's context.
Dates are ISO 8601 in UTC; chat ids are Telegram's "marked" ids (users positive, basic groups
``-id``, channels and supergroups ``-100id``), the form every Telegram tool and bot API uses. Text
and names are third-party content; the tools layer marks results that carry them.

Importing this module must stay cheap: the tools layer imports it at start-up, before Telethon.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ChatKind = Literal["user", "bot", "group", "supergroup", "channel", "forum"]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in (None, "", [], {}, False)}
    return value


def pruned(obj: Any) -> dict[str, Any]:
    """``asdict`` without None, empty strings, empty collections or False flags, at every depth."""
    result: dict[str, Any] = _prune(asdict(obj))
    return result


@dataclass(frozen=True)
class ChatInfo:
    id: int
    kind: ChatKind
    name: str
    username: str | None = None
    unread: int | None = None
    last_message_date: str | None = None
    members: int | None = None


@dataclass(frozen=True)
class MediaInfo:
    kind: str
    name: str | None = None
    size: int | None = None
    duration: float | None = None
    mime: str | None = None


@dataclass(frozen=True)
class MessageInfo:
    id: int
    date: str | None
    sender: str | None = None
    sender_id: int | None = None
    text: str | None = None
    out: bool = False
    reply_to: int | None = None
    thread: int | None = None
    forwarded_from: str | None = None
    media: MediaInfo | None = None
    reactions: dict[str, int] = field(default_factory=dict)
    edited: str | None = None
    service: str | None = None
