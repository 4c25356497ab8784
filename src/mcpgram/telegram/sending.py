"""Writing: send (text; files are ``outgoing.py``; reply, forum topic, silent, scheduled), edit and forward.

A write is never sent twice by a retry. Each call picks its ``random_id`` once; Telethon re-sends the
same request object after a reconnect or a server error, and Telegram refuses a ``random_id`` it has
seen with ``RANDOM_ID_DUPLICATE``. Only our own re-send can have used this call's ``random_id``, so
that answer means the message WAS sent: the send then looks up the message it made (one
``getHistory``) and reports success. A connection that breaks for good during a send, or a server
error that outlasts Telethon's retries, is an error that says the message may have been sent and to
check before sending again. Nothing here ever repeats a send with a new ``random_id``.

Text is parsed only in the mode the caller names ("text" sends it verbatim: ``snake_case`` and
``*stars*`` stay), and its length is checked as Telegram counts it: UTF-16 code units after the
markup is gone. Messaging a phone number lives in ``phone.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from telethon import TelegramClient, errors, functions, types, utils
from telethon.extensions import html, markdown

from ..errors import InvalidArgument, NotAllowed, TelegramError
from . import replies
from .chats import resolve_chat
from .convert import entity_map, message_link
from .errors import rpc_error_name
from .refs import parse_ref
from .shapes import iso

__all__ = [
    "MAX_TEXT",
    "MAY_HAVE_SENT",
    "Edited",
    "Forwarded",
    "Outgoing",
    "ParseMode",
    "SendRefused",
    "Sent",
    "caption_too_long",
    "edit_message",
    "forward_messages",
    "known_chat_id",
    "parse_schedule",
    "prepare_text",
    "random_id",
    "reply_header",
    "send_message",
    "send_prepared",
]

ParseMode = Literal["text", "markdown", "html"]
#: Telegram's message length limit, in UTF-16 code units after entity parsing.
MAX_TEXT = 4096
#: Telegram accepts schedule dates up to a year ahead.
MAX_SCHEDULE_AHEAD = timedelta(days=365)
#: How far back the look-up after RANDOM_ID_DUPLICATE searches for the message it sent.
_RECOVER_LOOKBACK = 20
_RECOVER_WINDOW = timedelta(minutes=2)
MAY_HAVE_SENT = "check the chat with get_messages before sending again: a second send would duplicate it"


class SendRefused(InvalidArgument):
    """Input a message cannot go out with; ``code`` says why (``MESSAGE_TOO_LONG``, ``SCHEDULE_INVALID``)."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=code)


@dataclass(frozen=True)
class Outgoing:
    """Message text with its markup turned into Telegram entities."""

    text: str
    entities: list[Any]


@dataclass(frozen=True)
class Sent:
    chat: int
    id: int | None = None
    date: str | None = None
    link: str | None = None
    scheduled: bool = False
    #: The connection broke, the message went out once, and it could not be found again.
    id_unknown: bool = False
    #: The message it answers (given as ``reply_to``, or named by a message link as the chat).
    reply_to: int | None = None
    #: Every message of an album, in order (``id`` is the first).
    ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Edited:
    chat: int
    id: int
    edited: str | None = None
    #: False when the new text equals the old one (Telegram's MESSAGE_NOT_MODIFIED).
    changed: bool = True


@dataclass(frozen=True)
class Forwarded:
    chat: int
    #: The new messages' ids, in the order of the ids asked for.
    ids: list[int]
    #: Asked-for ids Telegram did not forward (missing, deleted, or not visible).
    not_found: list[int]
    id_unknown: bool = False


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def prepare_text(text: str, parse_mode: ParseMode, *, allow_empty: bool = False) -> Outgoing:
    """Parse ``text`` in exactly ``parse_mode`` and check it is neither empty nor over 4096 units."""
    if parse_mode == "markdown":
        body, entities = markdown.parse(text)
    elif parse_mode == "html":
        body, entities = html.parse(text)
    else:
        body, entities = text, []
    # A zero-length entity is invalid on Telegram (markup around nothing, "<b></b>").
    entities = [entity for entity in entities if entity.length]
    if not body.strip() and not allow_empty:
        raise SendRefused("MESSAGE_EMPTY", "the message text is empty", hint="give the text to send")
    length = _utf16_len(body)
    if length > MAX_TEXT:
        raise SendRefused(
            "MESSAGE_TOO_LONG",
            f"the text is {length} characters after formatting; Telegram allows {MAX_TEXT}",
            hint="split it into several messages of at most 4096 characters",
        )
    return Outgoing(body, entities)


def parse_schedule(value: str, *, now: datetime) -> datetime | None:
    """An ISO date and time (UTC unless it has an offset) strictly after ``now`` and within a year."""
    if not value.strip():
        return None
    hint = "an ISO date and time in the future, e.g. 2026-05-01T09:30:00Z (UTC unless an offset is given)"
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SendRefused("SCHEDULE_INVALID", "schedule is not an ISO date and time", hint=hint) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise SendRefused("SCHEDULE_INVALID", "the schedule time is not in the future", hint=hint)
    if when > now + MAX_SCHEDULE_AHEAD:
        raise SendRefused("SCHEDULE_INVALID", "Telegram schedules at most 365 days ahead", hint=hint)
    return when


def random_id() -> int:
    return int.from_bytes(os.urandom(8), "little", signed=True)


def reply_header(reply_to: int, topic: int) -> Any:
    """A reply, a post into a forum topic (a reply to the topic's first message), or both."""
    if not reply_to and not topic:
        return None
    return types.InputReplyToMessage(reply_to_msg_id=reply_to or topic, top_msg_id=topic or None)


def known_chat_id(entity: Any) -> int | None:
    """The marked id of a resolved chat; None for "me", whose id the answer tells."""
    if isinstance(entity, types.InputPeerSelf):
        return None
    return int(utils.get_peer_id(entity))


def caption_too_long() -> SendRefused:
    """Telegram refused a file's caption as too long (sent alone or in an album)."""
    return SendRefused(
        "CAPTION_TOO_LONG",
        "the caption is too long for a file",
        hint="captions hold 1024 characters (4096 with Premium); send the text as its own message",
    )


async def send_message(
    client: TelegramClient,
    ref: str | int,
    text: str,
    *,
    parse_mode: ParseMode = "text",
    reply_to: int = 0,
    topic: int = 0,
    silent: bool = False,
    schedule: str = "",
) -> Sent:
    """Send text to a strictly resolved chat (files: ``outgoing.send_files``).

    Everything the caller gave is checked before the first Telegram call: the text and the schedule
    (an ISO time, see :func:`parse_schedule`).
    """
    outgoing = prepare_text(text, parse_mode)
    when = parse_schedule(schedule, now=datetime.now(UTC))
    link = parse_ref(ref)
    if link.message and not reply_to:
        # A message link as the chat: the send replies to that message (in its topic, if named).
        reply_to, topic = link.message, topic or link.topic
    entity = await resolve_chat(client, ref)
    return await send_prepared(
        client, entity, outgoing, reply_to=reply_to, topic=topic, silent=silent, schedule=when
    )


async def send_prepared(
    client: TelegramClient,
    entity: Any,
    outgoing: Outgoing,
    *,
    reply_to: int = 0,
    topic: int = 0,
    silent: bool = False,
    schedule: datetime | None = None,
    media: Any = None,
    comments: bool = True,
) -> Sent:
    """One send request with one ``random_id``; see the module docstring for what a lost answer gives.

    ``topic`` in a channel the account may not post in names a post: the message becomes a comment
    on it, sent to the channel's discussion group (``replies.py``; ``comments=False`` stops there).
    """
    rid = random_id()
    common: dict[str, Any] = {
        "peer": entity,
        "message": outgoing.text,
        "entities": outgoing.entities or None,
        "reply_to": reply_header(reply_to, topic),
        "silent": silent or None,
        "schedule_date": schedule,
        "random_id": rid,
    }
    if media is None:
        request: Any = functions.messages.SendMessageRequest(**common)
    else:
        request = functions.messages.SendMediaRequest(media=media, **common)
    started = datetime.now(UTC)
    try:
        result = await client(request)
    except errors.RandomIdDuplicateError:
        # Our own re-send after a lost answer: the first one went through.
        return await _recover(client, entity, outgoing.text, scheduled=schedule is not None, since=started)
    except errors.MediaCaptionTooLongError:
        raise caption_too_long() from None
    except (errors.ServerError, OSError) as exc:
        raise TelegramError(
            "the send was interrupted; the message may have been sent", hint=MAY_HAVE_SENT
        ) from exc
    except errors.RPCError as exc:
        name = rpc_error_name(exc)
        thread = None
        if comments and topic and name in replies.NOT_A_POSTER and isinstance(entity, types.InputPeerChannel):
            # Not a poster in a channel, with a post as the thread: a comment, made where comments live.
            thread = await replies.discussion_thread(client, entity, topic)
        if thread is not None:
            group, root = thread
            return await send_prepared(
                client, group, outgoing, reply_to=reply_to or root, silent=silent, schedule=schedule,
                media=media, comments=False,
            )  # fmt: skip
        refused = await replies.refusal_for(client, entity, name, reply_to=reply_to, topic=topic)
        if refused is None:
            raise
        raise refused from exc
    return replace(_sent_from(result, rid, known_chat_id(entity)), reply_to=reply_to or None)


def _sent_from(result: Any, random_id: int, chat: int | None) -> Sent:
    """The message a send answer announces: ``updateMessageID`` names it, a new-message update holds it."""
    if isinstance(result, types.UpdateShortSentMessage):
        assert chat is not None  # Telegram answers this only for a private chat with another user
        return Sent(chat=chat, id=result.id, date=iso(result.date))
    updates = list(getattr(result, "updates", None) or [])
    msg_id = next(
        (u.id for u in updates if isinstance(u, types.UpdateMessageID) and u.random_id == random_id), None
    )
    for update in updates:
        scheduled = isinstance(update, types.UpdateNewScheduledMessage)
        if not scheduled and not isinstance(update, types.UpdateNewMessage | types.UpdateNewChannelMessage):
            continue
        message = update.message
        peer_id = int(utils.get_peer_id(message.peer_id))
        # A channel post and its copy in the discussion group may share an id: the chat decides.
        if message.id != msg_id or (chat is not None and peer_id != chat):
            continue
        link = None if scheduled else message_link(entity_map(result).get(peer_id), message.id)
        return Sent(chat=peer_id, id=message.id, date=iso(message.date), link=link, scheduled=scheduled)
    if chat is None:
        raise TelegramError("Telegram's answer did not name the sent message", hint=MAY_HAVE_SENT)
    return Sent(chat=chat, id=msg_id, id_unknown=msg_id is None)


async def _recover(
    client: TelegramClient, entity: Any, text: str, *, scheduled: bool, since: datetime
) -> Sent:
    """Find the message a lost answer was about: our newest outgoing one with this text, sent just now."""
    chat = known_chat_id(entity) or int(await client.get_peer_id(entity))
    recent = await client.get_messages(entity, limit=_RECOVER_LOOKBACK, scheduled=scheduled)
    for message in recent:
        if not message.out or (message.message or "") != text:
            continue
        if not scheduled and message.date is not None and message.date < since - _RECOVER_WINDOW:
            continue
        link = None if scheduled else message_link(message.chat, message.id)
        return Sent(chat=chat, id=message.id, date=iso(message.date), link=link, scheduled=scheduled)
    return Sent(chat=chat, scheduled=scheduled, id_unknown=True)


async def edit_message(
    client: TelegramClient, ref: str | int, message_id: int, text: str, *, parse_mode: ParseMode = "text"
) -> Edited:
    """Replace the text (or caption) of one of the account's own messages."""
    outgoing = prepare_text(text, parse_mode)
    entity = await resolve_chat(client, ref)
    # entities=[] clears old formatting; None would keep it under the new text.
    request = functions.messages.EditMessageRequest(
        peer=entity, id=message_id, message=outgoing.text, entities=outgoing.entities
    )
    chat = known_chat_id(entity) or int(await client.get_peer_id(entity))
    try:
        result = await client(request)
    except errors.MessageNotModifiedError:
        return Edited(chat=chat, id=message_id, changed=False)
    except errors.MessageAuthorRequiredError:
        raise NotAllowed("only your own messages can be edited", hint="send a new message instead") from None
    except errors.MessageEditTimeExpiredError:
        raise NotAllowed("this message is too old to edit", hint="send a new message instead") from None
    except errors.MediaCaptionTooLongError:
        raise SendRefused(
            "CAPTION_TOO_LONG",
            "the caption is too long",
            hint="captions hold 1024 characters (4096 with Premium)",
        ) from None
    edited = None
    for update in getattr(result, "updates", None) or []:
        is_edit = isinstance(update, types.UpdateEditMessage | types.UpdateEditChannelMessage)
        if is_edit and update.message.id == message_id:
            edited = iso(update.message.edit_date)
    return Edited(chat=chat, id=message_id, edited=edited)


async def forward_messages(
    client: TelegramClient, from_ref: str | int, ids: list[int], to_ref: str | int, *, silent: bool = False
) -> Forwarded:
    """Forward messages (in the order given) with one ``random_id`` each; reports the new ids."""
    source = await resolve_chat(client, from_ref)
    target = await resolve_chat(client, to_ref)
    random_ids = [random_id() for _ in ids]
    request = functions.messages.ForwardMessagesRequest(
        from_peer=source, id=list(ids), to_peer=target, random_id=random_ids, silent=silent or None
    )
    chat = known_chat_id(target) or int(await client.get_peer_id(target))
    try:
        result = await client(request)
    except errors.RandomIdDuplicateError:
        # Our own re-send after a lost answer: the forward went through, its ids went with the answer.
        return Forwarded(chat=chat, ids=[], not_found=[], id_unknown=True)
    except (errors.ServerError, OSError) as exc:
        raise TelegramError(
            "the forward was interrupted; the messages may have been forwarded", hint=MAY_HAVE_SENT
        ) from exc
    new_ids = {
        u.random_id: u.id
        for u in getattr(result, "updates", None) or []
        if isinstance(u, types.UpdateMessageID)
    }
    found = [(msg_id, new_ids.get(random_id)) for msg_id, random_id in zip(ids, random_ids, strict=True)]
    return Forwarded(
        chat=chat,
        ids=[new for _, new in found if new is not None],
        not_found=[old for old, new in found if new is None],
    )
