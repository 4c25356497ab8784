"""Chat folders (Telegram's dialog filters): which dialogs a folder holds, decided by a pure rule.

Telegram sends a folder as a definition, not a list: explicit include, exclude and pinned peers plus
category flags (contacts, non-contacts, groups, channels, bots) and exclusions (muted, read,
archived). Its apps decide membership themselves, and so does :func:`in_folder`, the way Telegram
Desktop does: an excluded chat is never in; an included or pinned one always is; any other chat is in
when its category is ticked and no exclusion flag rules it out. The one I/O function,
:func:`find_folder`, fetches the definitions (one call) and picks one by title or id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from telethon import TelegramClient, functions, utils
from telethon.tl import types

from ..errors import FolderNotFound

Category = Literal["contacts", "non_contacts", "groups", "broadcasts", "bots"]
#: Telegram's peer folder 1 holds archived chats; ``folder="archive"`` lists them.
ARCHIVE = "archive"
_ARCHIVE_FOLDER_ID = 1
_FLAGS = ("contacts", "non_contacts", "groups", "broadcasts", "bots")
_EXCLUSIONS = ("exclude_muted", "exclude_read", "exclude_archived")


@dataclass(frozen=True)
class FolderRule:
    """A folder's definition as plain data: marked peer ids and flags."""

    id: int
    title: str
    include: frozenset[int] = frozenset()
    exclude: frozenset[int] = frozenset()
    categories: frozenset[Category] = frozenset()
    exclude_muted: bool = False
    exclude_read: bool = False
    exclude_archived: bool = False
    #: The archive (peer folder 1) rather than a dialog filter.
    archive: bool = False


@dataclass(frozen=True)
class DialogFacts:
    """What a folder rule looks at in one dialog."""

    peer_id: int
    category: Category
    muted: bool = False
    unread: bool = False
    archived: bool = False


def in_folder(rule: FolderRule, facts: DialogFacts) -> bool:
    """Whether the dialog belongs to the folder ``rule`` describes (pure)."""
    if rule.archive:
        return facts.archived
    if facts.peer_id in rule.exclude:
        return False
    if facts.peer_id in rule.include:
        return True
    if facts.category not in rule.categories:
        return False
    if rule.exclude_muted and facts.muted:
        return False
    if rule.exclude_read and not facts.unread:
        return False
    return not (rule.exclude_archived and facts.archived)


def category_of(entity: Any) -> Category:
    """The folder category Telegram files a chat under (Saved Messages counts as a contact)."""
    if isinstance(entity, types.User):
        if entity.bot:
            return "bots"
        return "contacts" if entity.contact or entity.is_self else "non_contacts"
    if isinstance(entity, types.Channel | types.ChannelForbidden) and entity.broadcast:
        return "broadcasts"
    return "groups"


def dialog_facts(entity: Any, dialog: Any, now: float) -> DialogFacts:
    """The facts :func:`in_folder` needs, from a TL ``Dialog`` and its chat."""
    settings = getattr(dialog, "notify_settings", None)
    mute_until = getattr(settings, "mute_until", None)
    muted = mute_until is not None and _timestamp(mute_until) > now
    unread = bool(dialog.unread_count or dialog.unread_mark or dialog.unread_mentions_count)
    return DialogFacts(
        peer_id=utils.get_peer_id(entity),
        category=category_of(entity),
        muted=muted,
        unread=unread,
        archived=getattr(dialog, "folder_id", None) == _ARCHIVE_FOLDER_ID,
    )


def _timestamp(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)


def _title(folder: Any) -> str:
    title = folder.title
    return str(getattr(title, "text", title) or "")


def folder_rule(folder: Any, self_id: int | None) -> FolderRule:
    """A TL ``DialogFilter`` (or shared ``DialogFilterChatlist``) as a :class:`FolderRule`."""

    def ids(peers: list[Any] | None) -> frozenset[int]:
        found = set()
        for peer in peers or []:
            if isinstance(peer, types.InputPeerSelf):
                if self_id is not None:
                    found.add(self_id)
            elif not isinstance(peer, types.InputPeerEmpty):
                found.add(utils.get_peer_id(peer))
        return frozenset(found)

    flags = frozenset(name for name in _FLAGS if getattr(folder, name, False))
    return FolderRule(
        id=folder.id,
        title=_title(folder),
        include=ids(folder.include_peers) | ids(folder.pinned_peers),
        exclude=ids(getattr(folder, "exclude_peers", None)),
        categories=flags,  # type: ignore[arg-type]  # the names are Category literals
        **{name: bool(getattr(folder, name, False)) for name in _EXCLUSIONS},
    )


def _needs_self(folder: Any) -> bool:
    peers = [*folder.include_peers, *folder.pinned_peers, *(getattr(folder, "exclude_peers", None) or [])]
    return any(isinstance(p, types.InputPeerSelf) for p in peers)


def _printable(text: str) -> str:
    return re.sub(r"[^\w .,&+-]", "", text)[:24]


async def find_folder(client: TelegramClient, name: str) -> FolderRule:
    """The folder titled ``name`` (case-insensitive) or with id ``name``; ``archive`` needs no call."""
    wanted = name.strip()
    if wanted.casefold() == ARCHIVE:
        return FolderRule(id=_ARCHIVE_FOLDER_ID, title="Archive", archive=True)
    result = await client(functions.messages.GetDialogFiltersRequest())
    folders = [f for f in result.filters if isinstance(f, types.DialogFilter | types.DialogFilterChatlist)]
    chosen = next((f for f in folders if wanted.isascii() and wanted.isdigit() and f.id == int(wanted)), None)
    if chosen is None:
        chosen = next((f for f in folders if _title(f).strip().casefold() == wanted.casefold()), None)
    if chosen is None:
        known = ", ".join(f"{f.id} {_printable(_title(f))}" for f in folders) or "none"
        hint = f"pass a folder's title or id (this account's folders: {known}; also 'archive')"
        raise FolderNotFound("no such chat folder", hint=hint)
    self_id = (await client.get_me(input_peer=True)).user_id if _needs_self(chosen) else None
    return folder_rule(chosen, self_id)
