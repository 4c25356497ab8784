"""Finding chats and resolving chat references: the Telegram side of ``find_chats``.

Each function takes a connected Telethon client (handed out by the pool, inside its timeout and
error translation) and returns plain data from ``convert``. Chat references are resolved strictly:
a marked id, ``me``, ``@username``, a t.me link or a phone number. A name is never guessed into a
chat here; ``find_chats`` is how an agent turns a name into an id.
"""

from __future__ import annotations

import re
from typing import Any

from telethon import TelegramClient, functions, utils

from ..errors import ChatNotFound
from .convert import chat_info
from .shapes import ChatInfo

_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
_TME = re.compile(r"^(?:https?://)?(?:t\.me|telegram\.me)/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})(?:/\d+)?/?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")
MAX_LIMIT = 100
#: Peer ids travel as TL ``long``; a bigger one would crash Telethon's serializer, not reach Telegram.
_MAX_PEER_ID = 2**63 - 1


def parse_chat_ref(ref: str | int) -> str | int:
    """Normalise a chat reference, or raise ChatNotFound with a hint on what is accepted."""
    if isinstance(ref, int):
        return _checked_id(ref)
    text = ref.strip()
    if text.lower() in ("me", "self", "saved"):
        return "me"
    if re.fullmatch(r"-?\d{1,20}", text):
        return _checked_id(int(text))
    for pattern in (_USERNAME, _TME):
        match = pattern.match(text)
        if match:
            return "@" + match.group(1)
    if _PHONE.match(text):
        return "+" + re.sub(r"\D", "", text)
    raise ChatNotFound(
        "not a chat reference",
        hint="use a chat id from find_chats, 'me', @username, a t.me link or a phone number",
    )


def _checked_id(marked_id: int) -> int:
    peer_id, _ = utils.resolve_id(marked_id)
    if not 0 < peer_id <= _MAX_PEER_ID:
        raise ChatNotFound("not a chat id", hint="use a chat id from find_chats")
    return marked_id


async def resolve_chat(client: TelegramClient, ref: str | int) -> Any:
    """The Telethon input entity for a strict reference.

    Ids resolve from the tenant's entity cache. On a miss, one ``getDialogs`` call (the recent
    chats, as Telegram's own apps load them) fills the cache before giving up: an id the account
    really has a chat with resolves without the agent having to list chats first.
    """
    target = parse_chat_ref(ref)
    try:
        return await client.get_input_entity(target)
    except ValueError:
        pass
    if isinstance(target, int):
        await client.get_dialogs(limit=MAX_LIMIT)
        try:
            return await client.get_input_entity(target)
        except ValueError:
            pass
    raise ChatNotFound(
        "chat not found",
        hint="use find_chats to get the chat's id; ids resolve once this account has seen the chat",
    )


async def find_chats(client: TelegramClient, query: str, limit: int) -> list[ChatInfo]:
    """Recent dialogs when ``query`` is empty; otherwise own chats and contacts, then public matches."""
    limit = max(1, min(limit, MAX_LIMIT))
    if not query.strip():
        dialogs = await client.get_dialogs(limit=limit)
        return [chat_info(d.entity, unread=d.unread_count, last_date=d.date) for d in dialogs]
    result = await client(functions.contacts.SearchRequest(q=query.strip(), limit=limit))
    entities = {utils.get_peer_id(e): e for e in [*result.users, *result.chats]}
    ordered = [*result.my_results, *result.results]
    found: list[ChatInfo] = []
    seen: set[int] = set()
    for peer in ordered:
        peer_id = utils.get_peer_id(peer)
        entity = entities.get(peer_id)
        if entity is not None and peer_id not in seen:
            seen.add(peer_id)
            found.append(chat_info(entity))
    return found[:limit]
