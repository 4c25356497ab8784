"""Policy scopes against the account: chats by resolved id, scope membership, and "written to before".

A scope (``policy/model.py``) names chats by marked id, ``@username`` or folder. Membership is
always decided on the *resolved* chat id: a reference (a username, a t.me link, a phone number) is
resolved first (:func:`resolve_target`, the same strict resolution every tool uses), and a scope's
usernames are resolved to ids too, so a link or a second username for a chat outside the scope
never gets in. A folder admits what Telegram's apps show in it (``folders.in_folder``). A username
or folder that no longer resolves admits nothing: scopes fail closed.

:func:`has_written_to` is how "only people I have written to before" is known: the chat holds a
message from this account (one ``messages.search`` with ``from_id`` = self, limit 1).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from telethon import TelegramClient, errors, functions, utils
from telethon.tl import types

from ..errors import FolderNotFound
from ..policy.model import Scope
from .chats import RESOLVED, resolve_chat
from .folders import DialogFacts, FolderRule, category_of, dialog_facts, find_folder, in_folder

__all__ = ["admitted", "has_written_to", "resolve_target"]


@contextlib.contextmanager
def resolutions() -> Iterator[None]:
    """Inside, :func:`resolve_target` and ``chats.resolve_chat`` resolve each reference once: the
    guard, the write pacer and the call itself meet a call's chat in turn, and each after the first
    gets the first's answer (the same chat, checked, paced and acted on) instead of looking it up
    again."""
    entities = RESOLVED.set({})
    try:
        yield
    finally:
        RESOLVED.reset(entities)


async def resolve_target(client: TelegramClient, ref: str | int) -> tuple[int, Any]:
    """``(marked id, input peer)`` of a strict chat reference (ChatNotFound as every tool answers)."""
    peer = await resolve_chat(client, ref)  # inside resolutions(): looked up once per call
    if isinstance(peer, types.InputPeerSelf):
        return utils.get_peer_id(await client.get_me(input_peer=True)), peer
    return utils.get_peer_id(peer), peer


async def _username_ids(client: TelegramClient, names: Iterable[str]) -> set[int]:
    found: set[int] = set()
    for name in names:
        # From the entity cache when known; else one contacts.resolveUsername. Gone: admits nothing.
        with contextlib.suppress(ValueError, errors.RPCError):
            found.add(utils.get_peer_id(await client.get_input_entity(name)))
    return found


async def _folder_rules(client: TelegramClient, names: Iterable[str]) -> list[FolderRule]:
    rules = []
    for name in names:
        with contextlib.suppress(FolderNotFound):
            rules.append(await find_folder(client, name))
    return rules


async def _facts(client: TelegramClient, ids: Iterable[int]) -> dict[int, DialogFacts]:
    """What folder rules look at, for chats the entity cache knows (one getPeerDialogs call)."""
    peers = []
    for peer_id in ids:
        with contextlib.suppress(ValueError):
            peers.append(await client.get_input_entity(peer_id))
    if not peers:
        return {}
    try:
        result = await client(
            functions.messages.GetPeerDialogsRequest(peers=[types.InputDialogPeer(p) for p in peers])
        )
    except (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.PeerIdInvalidError):
        return {}
    entities = {utils.get_peer_id(e): e for e in [*result.users, *result.chats]}
    facts = {pid: DialogFacts(peer_id=pid, category=category_of(e)) for pid, e in entities.items()}
    now = time.time()
    for dialog in result.dialogs:
        peer_id = utils.get_peer_id(dialog.peer)
        if isinstance(dialog, types.Dialog) and peer_id in entities:
            facts[peer_id] = dialog_facts(entities[peer_id], dialog, now)
    return facts


async def admitted(client: TelegramClient, scope: Scope, ids: Iterable[int]) -> set[int]:
    """The marked chat ids among ``ids`` that ``scope`` admits."""
    wanted = set(ids)
    if scope.everything or not wanted:
        return wanted
    inside = wanted & scope.ids
    rest = wanted - inside
    if rest and scope.usernames:
        inside |= rest & await _username_ids(client, scope.usernames)
        rest -= inside
    if rest and scope.folders:
        rules = await _folder_rules(client, scope.folders)
        if rules:
            facts = await _facts(client, rest)
            inside |= {pid for pid, fact in facts.items() if any(in_folder(rule, fact) for rule in rules)}
    return inside


async def has_written_to(client: TelegramClient, peer: Any) -> bool:
    """Whether the chat holds a message this account sent (Saved Messages: always)."""
    if isinstance(peer, types.InputPeerSelf):
        return True
    result = await client(
        functions.messages.SearchRequest(
            peer=peer,
            q="",
            filter=types.InputMessagesFilterEmpty(),
            min_date=None,
            max_date=None,
            offset_id=0,
            add_offset=0,
            limit=1,
            max_id=0,
            min_id=0,
            hash=0,
            from_id=types.InputPeerSelf(),
        )
    )
    return bool(getattr(result, "messages", None))
