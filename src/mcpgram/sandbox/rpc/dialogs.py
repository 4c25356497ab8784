"""The chat list: ``messages.getDialogs``, ``messages.getPeerDialogs`` and ``messages.getPinnedDialogs``.

An account's dialogs are the private chats and basic groups with messages in its box, plus every
basic group and channel it is a member of. Pinned dialogs come first, then the rest by the date of
their top message, newest first. Paging follows Telegram: the client passes the date and id of the
last top message it got and that dialog's peer, and the next page holds the dialogs strictly after
that one in the order; pinned dialogs only head the first page (Telethon asks later pages with
``exclude_pinned``). Without ``folder_id`` every dialog is listed, archived ones included (what
Telethon documents Telegram doing); ``folder_id=0`` is the main list, ``1`` the archive.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from telethon.tl import functions, types

from ..render import entities_for, message_peers, message_tl, peer_tl, resolve_input_peer
from ..router import Ctx, Router
from ..world import Box, Message, PeerKey, ReadState, World
from .history import timestamp
from .updates import get_state

router = Router()

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_LAST_PEER = ("~", 0)  # sorts after every (kind, id), so it never excludes a dialog on a tie
_NO_DATE = 2**62


@dataclass
class DialogEntry:
    """One dialog of one account, before rendering."""

    peer: PeerKey
    box: Box
    top: Message | None
    date: int  # the top message's date, or when the account joined an empty chat
    state: ReadState

    @property
    def key(self) -> tuple[int, int, tuple[str, int]]:
        return (self.date, self.top.id if self.top else 0, (self.peer.kind, self.peer.id))


def _state(world: World, viewer: int, peer: PeerKey) -> ReadState:
    # Read without inserting: listing dialogs must not grow world.read.
    return world.read.get((viewer, peer)) or ReadState()


def dialog_entry(world: World, viewer: int, peer: PeerKey) -> DialogEntry:
    """The dialog ``viewer`` has (or would have) with ``peer``."""
    if peer.kind == "channel":
        channel = world.channels[peer.id]
        box = channel.box
        member = channel.participants.get(viewer)
        joined = member.date if member else channel.date
    else:
        box = world.box(viewer)
        chat = world.chats.get(peer.id) if peer.kind == "chat" else None
        member = chat.participants.get(viewer) if chat else None
        joined = member.date if member else 0
    ids = box.history(peer)
    top = box.messages[ids[-1]] if ids else None
    return DialogEntry(peer, box, top, top.date if top else joined, _state(world, viewer, peer))


def dialog_entries(world: World, viewer: int) -> list[DialogEntry]:
    box = world.box(viewer)
    peers = dict.fromkeys(peer for peer, ids in box.by_peer.items() if ids)
    for chat in world.chats.values():
        if viewer in chat.participants:
            peers.setdefault(PeerKey("chat", chat.id))
    for channel in world.channels.values():
        if viewer in channel.participants:
            peers.setdefault(PeerKey("channel", channel.id))
    return [dialog_entry(world, viewer, peer) for peer in peers]


def _unread(entry: DialogEntry, viewer: int) -> int:
    """Incoming messages above ``read_inbox_max_id``; only the unread tail is looked at."""
    ids = entry.box.history(entry.peer)
    tail = ids[bisect_right(ids, entry.state.read_inbox_max_id) :]
    messages = entry.box.messages
    if entry.peer.kind == "channel":
        return sum(1 for msg_id in tail if messages[msg_id].author_id != viewer)
    return sum(1 for msg_id in tail if not messages[msg_id].out)


def dialog_tl(world: World, viewer: int, entry: DialogEntry) -> Any:
    state = entry.state
    return types.Dialog(
        peer=peer_tl(entry.peer),
        top_message=entry.top.id if entry.top else 0,
        read_inbox_max_id=state.read_inbox_max_id,
        read_outbox_max_id=state.read_outbox_max_id,
        unread_count=_unread(entry, viewer),
        unread_mentions_count=0,
        unread_reactions_count=0,
        unread_poll_votes_count=0,
        notify_settings=types.PeerNotifySettings(),
        pinned=state.pinned or None,
        pts=entry.box.pts if entry.peer.kind == "channel" else None,
        # Telethon reads "archived" from folder_id being present, so the main list leaves it unset.
        folder_id=state.folder_id or None,
    )


def _render(world: World, viewer: int, entries: list[DialogEntry]) -> tuple[list[Any], ...]:
    """(dialogs, top messages, chats, users) for a list of dialogs."""
    dialogs = [dialog_tl(world, viewer, e) for e in entries]
    messages = [message_tl(world, viewer, e.top) for e in entries if e.top is not None]
    peers: set[PeerKey] = {e.peer for e in entries}
    for entry in entries:
        if entry.top is not None:
            peers.update(message_peers(entry.top))
    users, chats = entities_for(world, viewer, peers)
    return dialogs, messages, chats, users


def ordered(entries: list[DialogEntry]) -> tuple[list[DialogEntry], list[DialogEntry]]:
    """(pinned, the rest), each newest first (the world keeps no pin order, so pinned go by date too)."""
    pinned = sorted((e for e in entries if e.state.pinned), key=lambda e: e.key, reverse=True)
    rest = sorted((e for e in entries if not e.state.pinned), key=lambda e: e.key, reverse=True)
    return pinned, rest


def _in_folder(entry: DialogEntry, folder_id: int | None) -> bool:
    return folder_id is None or entry.state.folder_id == folder_id


@router.method(functions.messages.GetDialogsRequest)
def get_dialogs(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    entries = [e for e in dialog_entries(world, viewer) if _in_folder(e, req.folder_id)]
    pinned, rest = ordered(entries)
    if req.exclude_pinned:
        pinned = []
    limit = min(req.limit if req.limit > 0 else DEFAULT_LIMIT, MAX_LIMIT)
    offset_date = timestamp(req.offset_date)
    has_peer = not isinstance(req.offset_peer, types.InputPeerEmpty | type(None))
    if offset_date or req.offset_id or has_peer:
        offset_peer = resolve_input_peer(world, viewer, req.offset_peer) if has_peer else None
        cursor = (
            offset_date or _NO_DATE,
            req.offset_id,
            (offset_peer.kind, offset_peer.id) if offset_peer else _LAST_PEER,
        )
        page = [e for e in rest if e.key < cursor][:limit]
        complete = False
    else:
        page = (pinned + rest)[:limit]
        complete = len(page) == len(pinned) + len(rest)
    dialogs, messages, chats, users = _render(world, viewer, page)
    if complete:
        return types.messages.Dialogs(dialogs=dialogs, messages=messages, chats=chats, users=users)
    return types.messages.DialogsSlice(
        count=len(pinned) + len(rest), dialogs=dialogs, messages=messages, chats=chats, users=users
    )


def _peer_dialogs(ctx: Ctx, entries: list[DialogEntry]) -> Any:
    dialogs, messages, chats, users = _render(ctx.world, ctx.user_id, entries)
    return types.messages.PeerDialogs(
        dialogs=dialogs, messages=messages, chats=chats, users=users, state=get_state(ctx, None)
    )


@router.method(functions.messages.GetPeerDialogsRequest)
def get_peer_dialogs(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    entries = []
    for dialog_peer in req.peers:
        if isinstance(dialog_peer, types.InputDialogPeer):
            entries.append(dialog_entry(world, viewer, resolve_input_peer(world, viewer, dialog_peer.peer)))
    return _peer_dialogs(ctx, entries)


@router.method(functions.messages.GetPinnedDialogsRequest)
def get_pinned_dialogs(ctx: Ctx, req: Any) -> Any:
    entries = [e for e in dialog_entries(ctx.world, ctx.user_id) if _in_folder(e, req.folder_id)]
    pinned, _rest = ordered(entries)
    return _peer_dialogs(ctx, pinned)
