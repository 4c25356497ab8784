"""Acting on messages: delete, mark read, react, pin and transcribe (the Telegram side of ``tools/actions``).

Each function resolves the chat strictly (``chats.resolve_chat``, a cache hit for known ids) and makes
one Telegram call, except ``delete_messages``: ``messages.deleteMessages`` takes bare ids that are
account-wide in private chats and basic groups, so an id from another chat would delete a message
there. It first reads the ids in the named chat (one ``getMessages``), deletes only those that are
there and reports the others.

Refusals specific to these actions get their own codes here, where the context is known: Telegram
says ``MESSAGE_ID_INVALID`` for a missing message, which the generic mapping can only call "chat,
user or message not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telethon import TelegramClient, functions, types, utils
from telethon import errors as tg

from ..errors import (
    MCPGramError,
    MessageNotFound,
    NotAllowed,
    NotVoice,
    PremiumRequired,
    ReactionInvalid,
)
from .chats import resolve_chat
from .errors import rpc_error_name
from .shapes import iso

__all__ = [
    "Deleted",
    "MessageNotFound",
    "NotVoice",
    "PremiumRequired",
    "ReactionInvalid",
    "Reactions",
    "Transcription",
    "delete_messages",
    "mark_read",
    "pin_message",
    "react",
    "transcribe_voice",
]


def _message_not_found() -> MCPGramError:
    return MessageNotFound("no such message in this chat", hint="take message ids from get_messages")


def _reaction_invalid() -> MCPGramError:
    return ReactionInvalid(
        "Telegram refused this reaction",
        hint="use one standard emoji such as 👍 ❤ 🔥 🎉 😁; the chat may allow only some",
    )


_MESSAGE_GONE: dict[str, Callable[[], MCPGramError]] = {
    "MESSAGE_ID_INVALID": _message_not_found,
    "MSG_ID_INVALID": _message_not_found,
}


@asynccontextmanager
async def _refusals(by_name: dict[str, Callable[[], MCPGramError]]) -> AsyncIterator[None]:
    """Turn the Telegram errors named in ``by_name`` into ours; any other passes on to the pool's mapping."""
    try:
        yield
    except tg.RPCError as exc:
        make = by_name.get(rpc_error_name(exc))
        if make is None:
            raise
        raise make() from exc


# -- delete ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    deleted: list[int]
    not_found: list[int]
    #: Whether the messages are gone for everyone; always true in channels and supergroups.
    for_everyone: bool
    #: The chat is a channel or supergroup, where Telegram deletes only for everyone.
    always_everyone: bool


def _may_revoke_others(chat: Any) -> bool:
    """In a basic group only its creator and admins delete others' messages for everyone."""
    return bool(getattr(chat, "creator", False) or getattr(chat, "admin_rights", None))


async def delete_messages(
    client: TelegramClient, ref: str | int, ids: list[int], *, for_everyone: bool
) -> Deleted:
    """Delete the messages ``ids`` of one chat; ids not in that chat are reported, not touched.

    Raises:
        NotAllowed: others' messages without the right to delete them (Telegram's refusal in channels
            and supergroups; checked before any deletion for ``for_everyone`` in basic groups, where
            Telegram would quietly delete them for this account only).
    """
    entity = await resolve_chat(client, ref)
    wanted = list(dict.fromkeys(ids))
    # Telethon drops messages of other chats from a non-channel answer (None), so only this chat's remain.
    fetched = await client.get_messages(entity, ids=wanted)
    present = {m.id: m for m in fetched if m is not None and not isinstance(m, types.MessageEmpty)}
    found = [i for i in wanted if i in present]
    missing = [i for i in wanted if i not in present]
    channel = isinstance(entity, types.InputPeerChannel)
    if found and channel:
        async with _refusals({"MESSAGE_DELETE_FORBIDDEN": _delete_forbidden}):
            await client(functions.channels.DeleteMessagesRequest(utils.get_input_channel(entity), found))
    elif found:
        if for_everyone and isinstance(entity, types.InputPeerChat):
            chat = present[found[0]].chat
            others = [i for i in found if not present[i].out]
            if others and chat is not None and not _may_revoke_others(chat):
                raise NotAllowed(
                    "only group admins delete others' messages for everyone",
                    hint="pass for_everyone=false to delete them for you only, or leave out others' ids",
                )
        await client(functions.messages.DeleteMessagesRequest(found, revoke=for_everyone))
    return Deleted(
        deleted=found, not_found=missing, for_everyone=for_everyone or channel, always_everyone=channel
    )


async def delete_scheduled(client: TelegramClient, ref: str | int, ids: list[int]) -> Deleted:
    """Cancel scheduled messages of one chat (ids as ``send_message(schedule=...)`` gave them).

    Two requests: ``messages.getScheduledMessages`` finds which ids are scheduled there (the others
    are reported, not touched), ``messages.deleteScheduledMessages`` cancels them. Only the
    account's own list changes: a scheduled message is not yet in anyone's chat.
    """
    entity = await resolve_chat(client, ref)
    wanted = list(dict.fromkeys(ids))
    listed = await client(functions.messages.GetScheduledMessagesRequest(peer=entity, id=wanted))
    present = {m.id for m in getattr(listed, "messages", []) if not isinstance(m, types.MessageEmpty)}
    found = [i for i in wanted if i in present]
    if found:
        await client(functions.messages.DeleteScheduledMessagesRequest(peer=entity, id=found))
    missing = [i for i in wanted if i not in present]
    return Deleted(deleted=found, not_found=missing, for_everyone=True, always_everyone=False)


def _delete_forbidden() -> MCPGramError:
    return NotAllowed(
        "Telegram does not allow deleting these messages",
        hint="without admin rights only your own messages can be deleted here",
    )


# -- read marks ------------------------------------------------------------------------------------


async def mark_read(client: TelegramClient, ref: str | int, *, up_to: int = 0) -> None:
    """Move the account's read mark in a chat to ``up_to`` (0: the newest message); never backwards."""
    entity = await resolve_chat(client, ref)
    if isinstance(entity, types.InputPeerChannel):
        await client(functions.channels.ReadHistoryRequest(utils.get_input_channel(entity), max_id=up_to))
    else:
        await client(functions.messages.ReadHistoryRequest(entity, max_id=up_to))


# -- reactions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reactions:
    """A message's reactions after a change: emoji -> count, and this account's own, in its order."""

    counts: dict[str, int]
    mine: list[str]
    #: Whether Telegram's answer carried the reactions (it does with ``updateMessageReactions``).
    known: bool


def _reaction_key(reaction: Any) -> str:
    if isinstance(reaction, types.ReactionEmoji):
        return str(reaction.emoticon)
    if isinstance(reaction, types.ReactionPaid):
        return "paid"
    return "custom"


def reactions_after(updates: Any, message_id: int) -> Reactions:
    """The message's reactions from the ``updateMessageReactions`` in ``updates``, if there is one."""
    for update in getattr(updates, "updates", None) or []:
        if isinstance(update, types.UpdateMessageReactions) and update.msg_id == message_id:
            counts: dict[str, int] = {}
            chosen: list[tuple[int, str]] = []
            for result in update.reactions.results or []:
                key = _reaction_key(result.reaction)
                counts[key] = counts.get(key, 0) + result.count
                if result.chosen_order is not None:
                    chosen.append((result.chosen_order, key))
            return Reactions(counts=counts, mine=[key for _, key in sorted(chosen)], known=True)
    return Reactions(counts={}, mine=[], known=False)


async def react(client: TelegramClient, ref: str | int, message_id: int, emoji: str) -> Reactions:
    """Set this account's reaction on a message to ``emoji`` (empty: remove it)."""
    entity = await resolve_chat(client, ref)
    # Telegram's reaction list spells emoji without variation selectors ("❤", not "❤️").
    emoticon = emoji.replace("\ufe0f", "").strip()
    reaction: list[Any] = [types.ReactionEmoji(emoticon=emoticon)] if emoticon else []
    refusals = {
        **_MESSAGE_GONE,
        "REACTION_INVALID": _reaction_invalid,
        "REACTION_EMPTY": _reaction_invalid,
        "REACTIONS_TOO_MANY": _reaction_invalid,
    }
    async with _refusals(refusals):
        updates = await client(
            functions.messages.SendReactionRequest(peer=entity, msg_id=message_id, reaction=reaction)
        )
    return reactions_after(updates, message_id)


# -- pins ------------------------------------------------------------------------------------------


def _pin_forbidden() -> MCPGramError:
    return NotAllowed("Telegram does not allow pinning here", hint="only admins may pin in this chat")


async def pin_message(
    client: TelegramClient, ref: str | int, message_id: int, *, unpin: bool = False, notify: bool = False
) -> None:
    """Pin or unpin a message for everyone in the chat; ``notify`` alerts the members of a group."""
    entity = await resolve_chat(client, ref)
    async with _refusals({**_MESSAGE_GONE, "CHAT_ADMIN_REQUIRED": _pin_forbidden}):
        await client(
            functions.messages.UpdatePinnedMessageRequest(
                peer=entity, id=message_id, silent=not notify, unpin=unpin
            )
        )


# -- transcription ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transcription:
    text: str
    #: Telegram is still transcribing; the same call later returns the rest.
    pending: bool
    #: Free transcriptions left this week (non-Premium accounts), and when the count resets.
    trial_left: int | None = None
    trial_resets: str | None = None


def _premium_required() -> MCPGramError:
    return PremiumRequired(
        "Telegram transcribes voice messages only for Premium accounts once the free trial is used up",
        hint="the free weekly transcriptions are used up; try again next week or with Premium",
    )


def _not_voice() -> MCPGramError:
    return NotVoice("this message is not a voice note or round video", hint="only those can be transcribed")


async def transcribe_voice(client: TelegramClient, ref: str | int, message_id: int) -> Transcription:
    """Telegram's speech-to-text of a voice note or round video (``messages.transcribeAudio``)."""
    entity = await resolve_chat(client, ref)
    refusals = {
        **_MESSAGE_GONE,
        "PREMIUM_ACCOUNT_REQUIRED": _premium_required,
        "MSG_VOICE_MISSING": _not_voice,
    }
    async with _refusals(refusals):
        result = await client(functions.messages.TranscribeAudioRequest(peer=entity, msg_id=message_id))
    until = result.trial_remains_until_date
    if isinstance(until, int):
        until = datetime.fromtimestamp(until, UTC)
    return Transcription(
        text=result.text or "",
        pending=bool(result.pending),
        trial_left=result.trial_remains_num,
        trial_resets=iso(until),
    )
