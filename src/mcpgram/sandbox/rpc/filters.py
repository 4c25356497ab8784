"""Dialog filters (folders): ``messages.getDialogFilters``, ``.updateDialogFilter`` and friends.

Folders are per account (``world.filters``) and hold world peer keys; they are rendered back as input
peers carrying the *viewer's* access hashes. Like Telegram, the list always contains
``dialogFilterDefault`` (the "All chats" tab), custom folders use ids 2..255, and other sessions of
the account hear about changes through ``updateDialogFilter`` / ``updateDialogFilterOrder``.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..render import resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import DialogFilter, PeerKey, World

router = Router()

_MIN_ID, _MAX_ID = 2, 255
#: help.getAppConfig's dialog_filters_limit_* and dialog_filters_chats_limit_* (free / Premium).
_FOLDERS_LIMIT = (10, 30)
_CHATS_LIMIT = (100, 200)
_FLAGS = (
    "contacts",
    "non_contacts",
    "groups",
    "broadcasts",
    "bots",
    "exclude_muted",
    "exclude_read",
    "exclude_archived",
)


def input_peer_tl(world: World, viewer: int, peer: PeerKey) -> Any:
    """A world peer as an ``InputPeer`` the viewer may use (its own access hash)."""
    if peer.kind == "user":
        if peer.id == viewer:
            return types.InputPeerSelf()
        return types.InputPeerUser(peer.id, world.access_hash(viewer, "user", peer.id))
    if peer.kind == "chat":
        return types.InputPeerChat(peer.id)
    return types.InputPeerChannel(peer.id, world.access_hash(viewer, "channel", peer.id))


def filter_tl(world: World, viewer: int, folder: DialogFilter) -> Any:
    def peers(keys: list[PeerKey]) -> list[Any]:
        return [input_peer_tl(world, viewer, key) for key in keys]

    flags = {name: getattr(folder, name) or None for name in _FLAGS}
    return types.DialogFilter(
        id=folder.id,
        title=types.TextWithEntities(text=folder.title, entities=[]),
        pinned_peers=peers(folder.pinned_peers),
        include_peers=peers(folder.include_peers),
        exclude_peers=peers(folder.exclude_peers),
        emoticon=folder.emoticon,
        color=folder.color,
        **flags,
    )


def _push(ctx: Ctx, update: Any) -> None:
    updates = types.Updates(updates=[update], users=[], chats=[], date=ctx.world.now(), seq=0)
    ctx.server.push(ctx.user_id, updates, exclude=ctx.auth)


@router.method(functions.messages.GetDialogFiltersRequest)
def get_dialog_filters(ctx: Ctx, _req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    folders = [filter_tl(world, viewer, f) for f in world.filters.get(viewer, [])]
    return types.messages.DialogFilters(filters=[types.DialogFilterDefault(), *folders], tags_enabled=False)


@router.method(functions.messages.GetSuggestedDialogFiltersRequest)
def get_suggested_dialog_filters(_ctx: Ctx, _req: Any) -> list[Any]:
    return []


def _peer_keys(ctx: Ctx, input_peers: list[Any]) -> list[PeerKey]:
    keys: list[PeerKey] = []
    for input_peer in input_peers:
        key = resolve_input_peer(ctx.world, ctx.user_id, input_peer)
        if key not in keys:
            keys.append(key)
    return keys


@router.method(functions.messages.UpdateDialogFilterRequest)
def update_dialog_filter(ctx: Ctx, req: Any) -> bool:
    world, viewer = ctx.world, ctx.user_id
    if not _MIN_ID <= req.id <= _MAX_ID:
        raise RpcError(400, "FILTER_ID_INVALID")
    folders = world.filters.setdefault(viewer, [])
    existing = next((f for f in folders if f.id == req.id), None)
    if req.filter is None:
        if existing is not None:
            folders.remove(existing)
            _push(ctx, types.UpdateDialogFilter(id=req.id))
        return True
    new = req.filter
    if not isinstance(new, types.DialogFilter):
        raise RpcError(400, "FILTER_ID_INVALID")
    title = new.title.text if isinstance(new.title, types.TextWithEntities) else str(new.title or "")
    if not title.strip():
        raise RpcError(400, "FILTER_TITLE_EMPTY")
    pinned = _peer_keys(ctx, new.pinned_peers)
    include = [key for key in _peer_keys(ctx, new.include_peers) if key not in pinned]
    exclude = _peer_keys(ctx, new.exclude_peers)
    categories = any(
        getattr(new, name) for name in ("contacts", "non_contacts", "groups", "broadcasts", "bots")
    )
    if not pinned and not include and not categories:
        raise RpcError(400, "FILTER_INCLUDE_EMPTY")
    premium = world.users[viewer].premium
    if len(pinned) + len(include) > _CHATS_LIMIT[premium]:
        raise RpcError(400, "FILTER_INCLUDE_TOO_MUCH")
    if existing is None and len(folders) >= _FOLDERS_LIMIT[premium]:
        raise RpcError(400, "DIALOG_FILTERS_TOO_MUCH")
    folder = world.add_dialog_filter(
        viewer,
        title=title,
        filter_id=req.id,
        pinned_peers=pinned,
        include_peers=include,
        exclude_peers=exclude,
        emoticon=new.emoticon,
        color=new.color,
        **{name: bool(getattr(new, name)) for name in _FLAGS},
    )
    _push(ctx, types.UpdateDialogFilter(id=folder.id, filter=filter_tl(world, viewer, folder)))
    return True


@router.method(functions.messages.UpdateDialogFiltersOrderRequest)
def update_dialog_filters_order(ctx: Ctx, req: Any) -> bool:
    folders = ctx.world.filters.setdefault(ctx.user_id, [])
    # 0 is the "All chats" tab (movable with Premium); the sandbox always lists it first.
    position = {folder_id: index for index, folder_id in enumerate(i for i in req.order if i != 0)}
    folders.sort(key=lambda f: position.get(f.id, len(position)))
    _push(ctx, types.UpdateDialogFilterOrder(order=list(req.order)))
    return True
