"""Reading one chat's messages: the Telegram side of ``get_messages``."""

from __future__ import annotations

from dataclasses import dataclass

from telethon import TelegramClient

from .chats import MAX_LIMIT, resolve_chat
from .convert import message_info
from .shapes import MessageInfo


@dataclass(frozen=True)
class Page:
    """One page of messages and where the next one starts (None when there is no more)."""

    messages: list[MessageInfo]
    next_before_id: int | None


async def get_messages(
    client: TelegramClient, ref: str | int, *, limit: int, before_id: int | None = None
) -> Page:
    """Newest-first page of a chat's history, ``limit`` messages before ``before_id``."""
    limit = max(1, min(limit, MAX_LIMIT))
    entity = await resolve_chat(client, ref)
    # One message more than asked tells whether another page exists without a second call.
    batch = await client.get_messages(entity, limit=limit + 1, offset_id=before_id or 0)
    messages = [message_info(m) for m in batch[:limit]]
    next_before = messages[-1].id if len(batch) > limit and messages else None
    return Page(messages=messages, next_before_id=next_before)
