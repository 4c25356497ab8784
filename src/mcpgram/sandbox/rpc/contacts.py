"""``contacts.*``: the address book, usernames, phone look-ups, people search and blocking.

A contact lives in its owner's address book under the name the owner saved; ``render.user_tl``
shows it that way and decides phone visibility. ``contacts.getContacts`` answers
``contacts.contactsNotModified`` when the client sends the hash of the contact ids it already has
(Telegram's "hash generation", core.telegram.org/api/offsets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from telethon.tl import functions, types

from ..render import entities_for, peer_tl, resolve_input_peer, resolve_input_user, user_tl
from ..router import Ctx, Router, RpcError
from ..world import Contact, PeerKey, User, World, user_peer

router = Router()

#: Letters, digits and underscores, starting with a letter and not ending with an underscore;
#: 4 characters is the shortest (collectible) username Telegram resolves.
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,30}[a-z0-9]$", re.IGNORECASE)
#: Telegram only searches public users and chats for queries at least this long (TDLib's
#: ``MIN_SEARCH_PUBLIC_DIALOG_PREFIX_LEN``, a server-side limit); shorter ones still match contacts.
_MIN_GLOBAL_QUERY = 4
_MAX_SEARCH = 100
_MASK64 = (1 << 64) - 1


def telegram_hash(ids: Iterable[int]) -> int:
    """Telegram's cache hash of a list of ids: a 64-bit unsigned fold, sent as a signed long."""
    acc = 0
    for value in ids:
        acc ^= acc >> 21
        acc ^= (acc << 35) & _MASK64
        acc ^= acc >> 4
        acc = (acc + value) & _MASK64
    return acc - (1 << 64) if acc >> 63 else acc


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _updates(ctx: Ctx, updates: list[Any], user_ids: Iterable[int]) -> Any:
    """The caller's ``Updates`` for an address-book change; the caller's other sessions get it too."""
    world, viewer = ctx.world, ctx.user_id
    users, chats = entities_for(world, viewer, [user_peer(uid) for uid in user_ids])
    result = types.Updates(updates=updates, users=users, chats=chats, date=world.now(), seq=0)
    ctx.server.push(viewer, result, exclude=ctx.auth)
    return result


# -- usernames and phones ------------------------------------------------------------------------


@router.method(functions.contacts.ResolveUsernameRequest)
def resolve_username(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    if not _USERNAME.match(req.username or ""):
        raise RpcError(400, "USERNAME_INVALID")
    peer = world.resolve_username(req.username)
    if peer is None or (peer.kind == "user" and world.users[peer.id].deleted):
        raise RpcError(400, "USERNAME_NOT_OCCUPIED")
    users, chats = entities_for(world, viewer, [peer])
    return types.contacts.ResolvedPeer(peer=peer_tl(peer), chats=chats, users=users)


@router.method(functions.contacts.ResolvePhoneRequest)
def resolve_phone(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    digits = _digits(req.phone or "")
    user = world.user_by_phone(digits) if digits else None
    if user is None or user.deleted:
        raise RpcError(400, "PHONE_NOT_OCCUPIED")
    return types.contacts.ResolvedPeer(
        peer=types.PeerUser(user.id), chats=[], users=[user_tl(world, viewer, user)]
    )


# -- the address book ----------------------------------------------------------------------------


@router.method(functions.contacts.GetContactsRequest)
def get_contacts(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    ids = sorted(world.users[viewer].contacts)
    # hash 0 means "I have nothing cached": always answer in full, even for an empty book.
    if req.hash and req.hash == telegram_hash(ids):
        return types.contacts.ContactsNotModified()
    contacts = [types.Contact(user_id=uid, mutual=viewer in world.users[uid].contacts) for uid in ids]
    users = [user_tl(world, viewer, world.users[uid]) for uid in ids]
    return types.contacts.Contacts(contacts=contacts, saved_count=0, users=users)


@router.method(functions.contacts.ImportContactsRequest)
def import_contacts(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    book = world.users[viewer].contacts
    imported: list[Any] = []
    matched: list[int] = []
    for entry in req.contacts:
        if not isinstance(entry, types.InputPhoneContact):
            continue
        user = world.user_by_phone(_digits(entry.phone))
        # A number nobody registered (or one's own) is simply not imported.
        if user is None or user.deleted or user.id == viewer:
            continue
        first, last = (entry.first_name or "").strip(), (entry.last_name or "").strip()
        if not first and not last:
            first, last = user.first_name, user.last_name
        book[user.id] = Contact(user_id=user.id, first_name=first, last_name=last)
        imported.append(types.ImportedContact(user_id=user.id, client_id=entry.client_id))
        if user.id not in matched:
            matched.append(user.id)
    users = [user_tl(world, viewer, world.users[uid]) for uid in matched]
    return types.contacts.ImportedContacts(
        imported=imported, popular_invites=[], retry_contacts=[], users=users
    )


@router.method(functions.contacts.AddContactRequest)
def add_contact(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    user = _contact_target(world, viewer, req.id)
    first, last = (req.first_name or "").strip(), (req.last_name or "").strip()
    if not first and not last:
        raise RpcError(400, "CONTACT_NAME_EMPTY")
    world.users[viewer].contacts[user.id] = Contact(user_id=user.id, first_name=first, last_name=last)
    update = types.UpdatePeerSettings(peer=types.PeerUser(user.id), settings=types.PeerSettings())
    return _updates(ctx, [update], [user.id])


@router.method(functions.contacts.DeleteContactsRequest)
def delete_contacts(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    book = world.users[viewer].contacts
    targets = [_contact_target(world, viewer, input_user) for input_user in req.id]
    removed = [user.id for user in targets if book.pop(user.id, None) is not None]
    # The chat with a former contact offers "add contact" / "block" again.
    settings = types.PeerSettings(add_contact=True, block_contact=True)
    updates = [types.UpdatePeerSettings(peer=types.PeerUser(uid), settings=settings) for uid in removed]
    return _updates(ctx, updates, removed)


def _contact_target(world: World, viewer: int, input_user: Any) -> User:
    try:
        user = resolve_input_user(world, viewer, input_user)
    except RpcError:
        raise RpcError(400, "CONTACT_ID_INVALID") from None
    if user.id == viewer:
        raise RpcError(400, "CONTACT_ID_INVALID")
    return user


# -- search --------------------------------------------------------------------------------------


def _matches(query: str, *texts: str | None) -> bool:
    """Every word of the query starts some word of the texts, in any order and case (Telegram's rule).

    "stone rob" finds a contact saved as "Robert Stone"; "rob" finds "Robert" and "@robonews".
    """
    words = [word for text in texts if text for word in text.lower().split()]
    return all(any(word.startswith(part) for word in words) for part in query.split())


@router.method(functions.contacts.SearchRequest)
def search(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    query = (req.q or "").strip().lstrip("@").lower()
    if not query:
        raise RpcError(400, "SEARCH_QUERY_EMPTY")
    limit = max(0, min(req.limit, _MAX_SEARCH))
    me = world.users[viewer]
    mine: list[PeerKey] = []
    public: list[PeerKey] = []
    for user in world.users.values():
        if user.id == viewer or user.deleted:
            continue
        saved = me.contacts.get(user.id)
        if saved is not None:
            # A contact is found by the name it was saved under and by its own name and username.
            if _matches(query, saved.first_name, saved.last_name, user.full_name, user.username):
                mine.append(user_peer(user.id))
        elif user.username and _matches(query, user.full_name, user.username):
            public.append(user_peer(user.id))
    for chat in world.chats.values():
        if viewer in chat.participants and not chat.deactivated and _matches(query, chat.title):
            mine.append(PeerKey("chat", chat.id))
    for channel in world.channels.values():
        if not _matches(query, channel.title, channel.username):
            continue
        if viewer in channel.participants:
            mine.append(PeerKey("channel", channel.id))
        elif channel.username:
            public.append(PeerKey("channel", channel.id))
    if len(query) < _MIN_GLOBAL_QUERY:
        public = []
    mine = sorted(mine, key=lambda p: _rank(world, p, query))[:limit]
    public = sorted(public, key=lambda p: _rank(world, p, query))[:limit]
    users, chats = entities_for(world, viewer, mine + public)
    return types.contacts.Found(
        my_results=[peer_tl(p) for p in mine], results=[peer_tl(p) for p in public], chats=chats, users=users
    )


def _rank(world: World, peer: PeerKey, query: str) -> tuple[bool, int]:
    """Exact username hits first, then the oldest accounts and chats (a stable, explainable order)."""
    if peer.kind == "user":
        username = world.users[peer.id].username
    elif peer.kind == "channel":
        username = world.channels[peer.id].username
    else:
        username = None
    return ((username or "").lower() != query, peer.id)


# -- blocking ------------------------------------------------------------------------------------


def _blockable(ctx: Ctx, input_peer: Any) -> int:
    peer = resolve_input_peer(ctx.world, ctx.user_id, input_peer)
    if peer.kind != "user":
        raise RpcError(400, "PEER_ID_INVALID")
    if peer.id == ctx.user_id:
        raise RpcError(400, "CONTACT_ID_INVALID")
    return peer.id


def _push_blocked(ctx: Ctx, user_id: int, blocked: bool) -> None:
    update = types.UpdatePeerBlocked(peer_id=types.PeerUser(user_id), blocked=blocked)
    users, chats = entities_for(ctx.world, ctx.user_id, [user_peer(user_id)])
    updates = types.Updates(updates=[update], users=users, chats=chats, date=ctx.world.now(), seq=0)
    ctx.server.push(ctx.user_id, updates, exclude=ctx.auth)


@router.method(functions.contacts.BlockRequest)
def block(ctx: Ctx, req: Any) -> bool:
    user_id = _blockable(ctx, req.id)
    blocked = ctx.world.users[ctx.user_id].blocked
    if user_id not in blocked:
        blocked[user_id] = ctx.world.now()
        _push_blocked(ctx, user_id, True)
    return True


@router.method(functions.contacts.UnblockRequest)
def unblock(ctx: Ctx, req: Any) -> bool:
    user_id = _blockable(ctx, req.id)
    if ctx.world.users[ctx.user_id].blocked.pop(user_id, None) is not None:
        _push_blocked(ctx, user_id, False)
    return True


@router.method(functions.contacts.GetBlockedRequest)
def get_blocked(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    # Newest first, as Telegram lists the block list.
    entries = sorted(world.users[viewer].blocked.items(), key=lambda item: (-item[1], item[0]))
    page = entries[max(0, req.offset) :][: max(0, min(req.limit, _MAX_SEARCH))]
    blocked = [types.PeerBlocked(peer_id=types.PeerUser(uid), date=date) for uid, date in page]
    users, chats = entities_for(world, viewer, [user_peer(uid) for uid, _ in page])
    if len(page) < len(entries):
        return types.contacts.BlockedSlice(count=len(entries), blocked=blocked, chats=chats, users=users)
    return types.contacts.Blocked(blocked=blocked, chats=chats, users=users)
