"""The plain shapes tools return: chats, messages, media. No Telethon here (``convert`` fills them).

One uniform shape per kind, pruned of empty values so results stay small in a model's context.
Dates are ISO 8601 in UTC; chat ids are Telegram's "marked" ids (users positive, basic groups
``-id``, channels and supergroups ``-100id``), the form every Telegram tool and bot API uses. Text
and names are third-party content; the tools layer marks results that carry them.

Importing this module must stay cheap: the tools layer imports it at start-up, before Telethon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ChatKind = Literal["user", "bot", "group", "supergroup", "channel", "forum"]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC and value.year >= 1000:
        # Telethon's dates are already in UTC: formatting the fields takes 0.6 us against 1.9 for
        # astimezone + strftime, and every message has one or two. (strftime does not pad a year
        # below 1000; no Telegram date is one, but those keep the exact old form.)
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 - the fastest of the forms
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
        )
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Values a result leaves out (``0 == False``: a zero count is left out too).
_EMPTY: tuple[Any, ...] = (None, "", [], {}, False)


#: Types :func:`_plain` returns as they are: checked before calling it, as most fields are these
#: (a 20-message page prunes in 24 us instead of 66; the values themselves are unchanged).
_LEAVES = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    """Dataclasses as dicts (pruned), lists and dicts walked, anything else as is."""
    if hasattr(value, "__dataclass_fields__"):
        items = vars(value).items()
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        return [v if type(v) in _LEAVES else _plain(v) for v in value]
    else:
        return value
    return {k: v if type(v) in _LEAVES else _plain(v) for k, v in items if v not in _EMPTY}


def pruned(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict without None, empty strings, empty collections or False, at every depth.

    What ``dataclasses.asdict`` and a pruning pass would give, without ``asdict``'s deep copies,
    which cost 1.6 ms of a 50-message page (bench/tools.py). The dataclasses here have no slots,
    so ``vars()`` holds exactly their fields.
    """
    result: dict[str, Any] = _plain(obj)
    return result


@dataclass(frozen=True)
class ChatInfo:
    """A chat as every tool lists it. ``unread`` and ``last_date`` come from the dialog list, so only
    results that read it carry them; ``source="global"`` marks a match from Telegram's public search
    (not one of the account's chats or contacts)."""

    id: int
    kind: ChatKind
    name: str
    username: str | None = None
    unread: int | None = None
    last_date: str | None = None
    members: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class TopicInfo:
    """A forum topic: its id is the ``thread`` to read or post in."""

    id: int
    title: str
    last_date: str | None = None
    unread: int | None = None
    pinned: bool = False
    closed: bool = False


@dataclass(frozen=True)
class ChatDetails:
    """``get_chat``'s view of one chat, beyond :class:`ChatInfo` (pinned message and topics ride along)."""

    chat: ChatInfo
    about: str | None = None
    #: What the account may do here (see ``telegram.profile.permissions``).
    can: list[str] = field(default_factory=list)
    #: The linked discussion group of a channel, or the channel a discussion group belongs to.
    linked: ChatInfo | None = None
    #: Groups shared with a user.
    common_chats: int | None = None
    blocked: bool = False
    #: The account is not (or no longer) a member.
    left: bool = False
    pinned_id: int | None = None


#: Media kinds ``get_messages``/``search_messages`` filter by (Telegram's ``InputMessagesFilter*``).
MediaFilter = Literal["", "photo", "video", "document", "voice", "round_video", "audio", "gif", "link"]


@dataclass(frozen=True)
class MediaInfo:
    """What is attached, without fetching it; ``handle`` re-sends it (``send_message`` files)."""

    kind: str
    name: str | None = None
    size: int | None = None
    #: Seconds, for audio and video.
    duration: int | None = None
    #: ``(chat, message id, photo/document id)``: the tools layer signs it into ``handle`` for the
    #: calling tenant (``tools/handles.py``) and never shows it as is.
    ref: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class MessageInfo:
    """One message, flat and pruned: every key an agent needs, none it has to skip over.

    ``chat`` is set only where results span chats (``search_messages``). ``service`` is a short
    readable line ("joined", "pinned 12", "call 65s") for service messages, which have no ``text``.
    ``fwd`` is the forward origin: a name when Telegram sent it, else a chat id. ``link`` exists only
    where Telegram has message links (channels and supergroups).
    """

    id: int
    date: str | None
    chat: int | None = None
    sender: str | None = None
    sender_id: int | None = None
    out: bool = False
    text: str | None = None
    service: str | None = None
    reply_to: int | None = None
    thread: int | None = None
    fwd: str | int | None = None
    media: MediaInfo | None = None
    reactions: dict[str, int] = field(default_factory=dict)
    #: Comment count of a channel post (read them with ``thread=<post id>``).
    comments: int | None = None
    edited: str | None = None
    link: str | None = None
