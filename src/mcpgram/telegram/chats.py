"""Finding chats and resolving chat references: the Telegram side of ``find_chats``.

Chat references are resolved strictly (:func:`resolve_chat`): a marked id, ``me``, ``@username``, a
t.me link or a phone number. A name is never guessed into a chat here; :func:`find_chats` is how an
agent turns a name into an id. It has three modes, chosen by the query (:func:`classify_query`):

- empty: the account's dialogs, newest first, walked with ``messages.getDialogs`` offsets; more
  pages are fetched only when filters leave one short (at most :data:`MAX_PAGES` per call);
- ``@username``, a t.me link or ``+phone``: one exact look-up (``contacts.resolveUsername`` /
  ``contacts.resolvePhone``); no match is an empty result, not an error;
- anything else: ``contacts.search``, own chats and contacts first, then public matches.

Every mode returns a position for the next page that continues exactly where this one ended: an
offset triple (or a count into the pinned head) in the dialog list, an index into search results.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from telethon import TelegramClient, errors, functions, utils
from telethon.tl import types

from ..errors import ChatNotFound
from .convert import chat_info, chat_kind, display_name
from .folders import FolderRule, dialog_facts, find_folder, in_folder
from .refs import Mode, classify_query, parse_chat_ref
from .shapes import ChatInfo

__all__ = ["ChatFilter", "Found", "classify_query", "find_chats", "parse_chat_ref", "resolve_chat"]

MAX_LIMIT = 100
#: Dialog pages one filtered ``find_chats`` call may read before it returns a short page and a cursor.
MAX_PAGES = 5
_NOT_FOUND_HINT = "use find_chats to get the chat's id; ids resolve once this account has seen the chat"

Kind = Literal["any", "user", "bot", "group", "channel", "forum"]
#: Which ``ChatInfo.kind`` values each filter admits: "group" is every group, forums included.
_KINDS: dict[str, frozenset[str]] = {
    "user": frozenset({"user"}),
    "bot": frozenset({"bot"}),
    "group": frozenset({"group", "supergroup", "forum"}),
    "channel": frozenset({"channel"}),
    "forum": frozenset({"forum"}),
}


#: The references resolved during one checked call (``scope.resolutions``), by client and reference:
#: the guard, the write pacer and the call itself then resolve a chat once between them.
RESOLVED: ContextVar[dict[tuple[int, str | int], Any] | None] = ContextVar(
    "mcpgram_resolved_chats", default=None
)


async def resolve_chat(client: TelegramClient, ref: str | int) -> Any:
    """The Telethon input entity for a strict reference (a link's message part is ignored).

    Ids resolve from the tenant's entity cache. On a miss, one ``getDialogs`` call (the recent
    chats, as Telegram's own apps load them) fills the cache before giving up: an id the account
    really has a chat with resolves without the agent having to list chats first. Inside
    ``scope.resolutions()`` a reference found once is not looked up again (a failure is not kept).
    """
    memo = RESOLVED.get()
    if memo is None:
        return await _resolve_chat(client, ref)
    key = (id(client), ref)
    entity = memo.get(key)
    if entity is None:
        entity = memo[key] = await _resolve_chat(client, ref)
    return entity


async def _resolve_chat(client: TelegramClient, ref: str | int) -> Any:
    target = parse_chat_ref(ref)
    try:
        entity = await client.get_input_entity(target)
    except ValueError:
        entity = None
    if entity is None and isinstance(target, int):
        await client.get_dialogs(limit=MAX_LIMIT)
        with contextlib.suppress(ValueError):
            entity = await client.get_input_entity(target)
    if entity is None:
        raise ChatNotFound("chat not found", hint=_NOT_FOUND_HINT)
    if isinstance(entity, types.InputPeerChat) and client.session.get_entity_rows_by_id(target) is None:
        await _confirm_basic_group(client, entity.chat_id)
    return entity


async def _confirm_basic_group(client: TelegramClient, chat_id: int) -> None:
    """Ask Telegram whether a basic group the cache does not know exists (one ``getChats`` call).

    A basic group needs no access hash, so Telethon turns any negative id into one without asking;
    a tool acting on it would then report success on a chat that does not exist.
    """
    try:
        found = await client(functions.messages.GetChatsRequest([chat_id]))
    except (errors.ChatIdInvalidError, errors.PeerIdInvalidError, errors.ChannelPrivateError):
        found = None
    chats = getattr(found, "chats", None) or []
    if not any(isinstance(c, types.Chat) and c.id == chat_id for c in chats):
        raise ChatNotFound("chat not found", hint=_NOT_FOUND_HINT)


# -- find_chats ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatFilter:
    """``find_chats`` filters; ``active_since`` is a unix time (0: any)."""

    kind: Kind = "any"
    folder: str = ""
    unread: bool = False
    active_since: int = 0

    @property
    def needs_dialog(self) -> bool:
        return bool(self.folder or self.unread or self.active_since)

    @property
    def active(self) -> bool:
        return self.kind != "any" or self.needs_dialog


@dataclass(frozen=True)
class Found:
    """One page of chats and the position the next page starts from (None: this was the last)."""

    chats: list[ChatInfo]
    next: dict[str, int] | None


async def find_chats(
    client: TelegramClient, query: str, flt: ChatFilter, *, limit: int, position: dict[str, int]
) -> Found:
    """A page of chats matching ``query`` and ``flt``, from ``position`` (``{}``: the first page)."""
    limit = max(1, min(limit, MAX_LIMIT))
    rule = await find_folder(client, flt.folder) if flt.folder else None
    criteria = _Criteria(flt, rule, time.time())
    mode, value = classify_query(query)
    if mode == "dialogs":
        return await _walk_dialogs(client, criteria, limit, position)
    offset = position.get("o", 0)
    if mode == "name":
        n = MAX_LIMIT if flt.active else min(MAX_LIMIT, offset + limit + 1)
        found = await client(functions.contacts.SearchRequest(q=str(value), limit=n))
        entities = {utils.get_peer_id(e): e for e in [*found.users, *found.chats]}
        candidates = [(entities.get(utils.get_peer_id(p)), False) for p in found.my_results]
        candidates += [(entities.get(utils.get_peer_id(p)), True) for p in found.results]
        if not any(entity is not None for entity, _ in candidates):
            candidates = [(entity, False) for entity in await _local_matches(client, str(value))]
    else:
        entity = await _exact(client, mode, value)
        candidates = [(entity, False)] if entity is not None else []
    unique: dict[int, tuple[Any, bool]] = {}
    for entity, public in candidates:
        if entity is not None:
            unique.setdefault(utils.get_peer_id(entity), (entity, public))
    return await _page(client, list(unique.values()), criteria, limit=limit, offset=offset)


def _matches(words: list[str], entity: Any) -> bool:
    """Every word of the query is in the chat's name or username (case-insensitive)."""
    haystack = " ".join(filter(None, (display_name(entity), getattr(entity, "username", None)))).casefold()
    return bool(words) and all(word in haystack for word in words)


async def _local_matches(client: TelegramClient, query: str) -> list[Any]:
    """The account's own recent chats and contacts whose name holds every word of ``query``.

    Telegram's ``contacts.search`` matches by word prefix and may miss a word inside a name or a
    differently cased or transliterated title; this second look is bounded: one page of dialogs
    (:data:`MAX_LIMIT`) and the contact list, two calls, made only when the search found nothing.
    """
    words = query.casefold().split()
    dialogs = await client(
        functions.messages.GetDialogsRequest(
            offset_date=None, offset_id=0, offset_peer=types.InputPeerEmpty(), limit=MAX_LIMIT, hash=0
        )
    )
    contacts = await client(functions.contacts.GetContactsRequest(hash=0))
    own = {utils.get_peer_id(d.peer) for d in dialogs.dialogs}
    mine = [e for e in [*dialogs.users, *dialogs.chats] if utils.get_peer_id(e) in own]
    pool = [*mine, *getattr(contacts, "users", [])]
    seen: dict[int, Any] = {}
    for entity in pool:
        if isinstance(entity, types.User | types.Chat | types.Channel) and _matches(words, entity):
            seen.setdefault(utils.get_peer_id(entity), entity)
    return list(seen.values())[:MAX_LIMIT]


async def _exact(client: TelegramClient, mode: Mode, value: str | int) -> Any:
    """The one chat a username, phone or private link names, or None (an empty result, not an error)."""
    try:
        if mode == "username":
            resolved = await client(functions.contacts.ResolveUsernameRequest(username=str(value)))
        elif mode == "phone":
            resolved = await client(functions.contacts.ResolvePhoneRequest(phone=str(value)))
        else:
            return await _entity_of(client, await resolve_chat(client, int(value)))
    except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError, errors.PhoneNotOccupiedError):
        return None
    except (ChatNotFound, errors.ChannelPrivateError, errors.ChannelInvalidError):
        return None
    wanted = utils.get_peer_id(resolved.peer)
    return next((e for e in [*resolved.users, *resolved.chats] if utils.get_peer_id(e) == wanted), None)


async def _entity_of(client: TelegramClient, peer: Any) -> Any:
    """The full entity behind an input peer (one call), or None when Telegram returns none."""
    if isinstance(peer, types.InputPeerUser | types.InputPeerSelf):
        found = await client(functions.users.GetUsersRequest([utils.get_input_user(peer)]))
    elif isinstance(peer, types.InputPeerChat):
        found = (await client(functions.messages.GetChatsRequest([peer.chat_id]))).chats
    else:
        found = (await client(functions.channels.GetChannelsRequest([utils.get_input_channel(peer)]))).chats
    return found[0] if found else None


@dataclass(frozen=True)
class _Criteria:
    """The filters with what they need at hand: the folder's rule and the time of the call."""

    flt: ChatFilter
    rule: FolderRule | None
    now: float

    def kind_ok(self, entity: Any) -> bool:
        return self.flt.kind == "any" or chat_kind(entity) in _KINDS[self.flt.kind]

    def dialog_ok(self, entity: Any, dialog: Any, date: Any) -> bool:
        flt = self.flt
        if flt.unread and not (dialog.unread_count or dialog.unread_mark):
            return False
        if flt.active_since and (date is None or date.timestamp() < flt.active_since):
            return False
        return self.rule is None or in_folder(self.rule, dialog_facts(entity, dialog, self.now))


async def _page(
    client: TelegramClient,
    candidates: list[tuple[Any, bool]],
    criteria: _Criteria,
    *,
    limit: int,
    offset: int,
) -> Found:
    """Filter search candidates from ``offset``; dialog filters read the candidates' dialogs (one call)."""
    dialogs: dict[int, Any] = {}
    needs_dialog = criteria.flt.needs_dialog
    if needs_dialog:
        mine = [e for e, public in candidates[offset:] if not public and criteria.kind_ok(e)][:MAX_LIMIT]
        dialogs = await _peer_dialogs(client, mine)
    page: list[ChatInfo] = []
    for index in range(offset, len(candidates)):
        entity, public = candidates[index]
        if not criteria.kind_ok(entity):
            continue
        dialog = dialogs.get(utils.get_peer_id(entity))
        if needs_dialog:
            if public or dialog is None or not criteria.dialog_ok(entity, *dialog):
                continue
            page.append(chat_info(entity, unread=dialog[0].unread_count, last_date=dialog[1]))
        else:
            page.append(chat_info(entity, source="global" if public else None))
        if len(page) == limit + 1:
            return Found(page[:limit], {"o": index})
    return Found(page, None)


async def _peer_dialogs(client: TelegramClient, entities: list[Any]) -> dict[int, tuple[Any, Any]]:
    """Marked id -> (dialog, top message date) for chats the account has, in one call."""
    if not entities:
        return {}
    peers = [types.InputDialogPeer(utils.get_input_peer(e)) for e in entities]
    try:
        result = await client(functions.messages.GetPeerDialogsRequest(peers=peers))
    except (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.PeerIdInvalidError):
        return {}
    dates = {(utils.get_peer_id(m.peer_id), m.id): m.date for m in result.messages}
    return {
        utils.get_peer_id(d.peer): (d, dates.get((utils.get_peer_id(d.peer), d.top_message)))
        for d in result.dialogs
        if isinstance(d, types.Dialog) and d.top_message
    }


# -- the dialog walk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    dialog: Any
    entity: Any
    date: Any  # the top message's datetime, or None
    position: dict[str, int]  # where the walk continues after this row


def _rows(result: Any, skip: int, first_page: bool) -> list[_Row]:
    entities = {utils.get_peer_id(e): e for e in [*result.users, *result.chats]}
    messages = {(utils.get_peer_id(m.peer_id), m.id): m for m in result.messages}
    rows = []
    for index, dialog in enumerate(result.dialogs):
        if index < skip:
            continue
        peer_id = utils.get_peer_id(dialog.peer)
        top = messages.get((peer_id, dialog.top_message))
        date = top.date if top is not None else None
        if first_page and dialog.pinned:
            # Pinned dialogs only head the first page: continue by counting into that head.
            position = {"s": index + 1}
        else:
            # An empty dialog sorts by when the account joined: the chat's own date.
            when = date if date is not None else getattr(entities.get(peer_id), "date", None)
            stamp = int(when.timestamp()) if when is not None else 0
            position = {"d": stamp, "i": dialog.top_message, "p": peer_id}
        rows.append(_Row(dialog, entities.get(peer_id), date, position))
    return rows


async def _offset_peer(client: TelegramClient, peer_id: int) -> Any:
    try:
        return await client.get_input_entity(peer_id)
    except ValueError:
        # Not cached (evicted): Telegram then pages by date and message id alone.
        return types.InputPeerEmpty()


async def _walk_dialogs(
    client: TelegramClient, criteria: _Criteria, limit: int, position: dict[str, int]
) -> Found:
    flt = criteria.flt
    wanted = limit + 1
    batch = MAX_LIMIT if flt.active else wanted
    found: list[tuple[ChatInfo, dict[str, int]]] = []
    last = position
    seen: set[int] = set()
    for _ in range(MAX_PAGES):
        first_page = "d" not in last
        skip = last.get("s", 0) if first_page else 0
        if first_page:
            request = functions.messages.GetDialogsRequest(
                offset_date=None, offset_id=0, offset_peer=types.InputPeerEmpty(),
                limit=min(MAX_LIMIT, skip + batch), hash=0,
            )  # fmt: skip
        else:
            request = functions.messages.GetDialogsRequest(
                offset_date=last["d"], offset_id=last["i"], offset_peer=await _offset_peer(client, last["p"]),
                limit=batch, hash=0, exclude_pinned=True,
            )  # fmt: skip
        result = await client(request)
        ended = not isinstance(result, types.messages.DialogsSlice) or len(result.dialogs) < request.limit
        rows = [row for row in _rows(result, skip, first_page) if _beyond(row, last, seen)]
        seen.update(utils.get_peer_id(row.dialog.peer) for row in rows)
        for row in rows:
            last = row.position
            pinned = bool(getattr(row.dialog, "pinned", False))
            if flt.active_since and not pinned and row.date and row.date.timestamp() < flt.active_since:
                # Past the pinned head dialogs come newest first: nothing older can match.
                return Found([info for info, _ in found], None)
            if not _row_ok(criteria, row):
                continue
            info = chat_info(row.entity, unread=row.dialog.unread_count, last_date=row.date)
            found.append((info, row.position))
            if len(found) == wanted:
                return Found([info for info, _ in found[:limit]], found[limit - 1][1])
        if ended or not rows or last.get("s", 0) >= MAX_LIMIT:
            return Found([info for info, _ in found], None)
    # Out of page budget: a short page, continued from the last dialog read.
    return Found([info for info, _ in found], last)


def _beyond(row: _Row, last: dict[str, int], seen: set[int]) -> bool:
    """Whether a dialog lies past the walk's position: not read before in this call, and not newer
    than the dialog the position names. A server that ignores the offsets serves the newest
    dialogs again; without this a walk would list them again, and hand out the same cursor forever.
    """
    if utils.get_peer_id(row.dialog.peer) in seen:
        return False
    if "d" not in last or "d" not in row.position:
        return True
    date, peer = row.position["d"], row.position["p"]
    return date < last["d"] or (date == last["d"] and peer != last["p"])


def _row_ok(criteria: _Criteria, row: _Row) -> bool:
    if row.entity is None or not isinstance(row.dialog, types.Dialog) or not criteria.kind_ok(row.entity):
        return False
    return criteria.dialog_ok(row.entity, row.dialog, row.date)
