"""What approvals need from Telegram: a chat's title, and asking and hearing back in Saved Messages.

A person answers an approval in the account's own Saved Messages (``yes CODE`` / ``no CODE``), from
any of their Telegram apps; :func:`answer_in_saved` reads the messages after the request for it.
Only a message typed there counts: a forwarded message or one sent via an inline bot is not an
answer (an agent could get either into Saved Messages without writing the text itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from telethon import TelegramClient, utils

from ..approvals.core import parse_answer
from .scope import resolve_target

__all__ = ["answer_among", "answer_in_saved", "ask_in_saved", "describe_chat"]

#: How many Saved Messages after the request are looked through for the answer.
ANSWER_WINDOW = 50


async def describe_chat(client: TelegramClient, ref: str | int) -> tuple[int, str]:
    """A chat reference's marked id and its title (a person's name; ``Saved Messages`` for me)."""
    chat_id, peer = await resolve_target(client, ref)
    me = await client.get_me(input_peer=True)
    if chat_id == utils.get_peer_id(me):
        return chat_id, "Saved Messages"
    entity = await client.get_entity(peer)
    title = utils.get_display_name(entity) or str(chat_id)
    username = getattr(entity, "username", None)
    return chat_id, f"{title} (@{username})" if username else title


async def ask_in_saved(client: TelegramClient, text: str) -> int:
    """Post ``text`` to the account's Saved Messages, as plain text; its message id."""
    sent = await client.send_message("me", text, parse_mode=None, link_preview=False)
    return int(sent.id)


async def answer_in_saved(client: TelegramClient, code: str, after: int) -> bool | None:
    """The person's answer to ``code`` in Saved Messages after message ``after``; None: none yet."""
    return answer_among(await client.get_messages("me", limit=ANSWER_WINDOW, min_id=after), code)


def answer_among(messages: Iterable[Any], code: str) -> bool | None:
    """The newest answer to ``code`` among ``messages`` (newest first) the person typed themselves:
    a forwarded message or one sent via an inline bot does not count. Pure."""
    for message in messages:  # newest first: a later answer replaces an earlier one
        if getattr(message, "fwd_from", None) is not None or getattr(message, "via_bot_id", None):
            continue  # forwarded, or via an inline bot: not the person's own answer
        text = getattr(message, "message", None)
        if isinstance(text, str) and (answer := parse_answer(text, code)) is not None:
            return answer
    return None
