"""The sandbox's world: accounts, chats, channels, message boxes, files and read state, as plain data.

Telegram numbers messages per *box*: every account has one id sequence shared by its private chats
and basic groups (so the two sides of a private chat see different ids for the same message), and
every channel or supergroup has its own. A logical message therefore exists once per box that holds
it; its copies share one :class:`Content`, so an edit or a reaction shows in every copy.

This module holds state and small, pure operations on it. Rendering to TL lives in ``render.py``,
the RPC methods in ``rpc/``. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .accountdata import AccountData
from .srp import PasswordRecord

PeerKind = Literal["user", "chat", "channel"]

SERVICE_USER_ID = 777000
_FIRST_USER_ID = 100_000_001
_FIRST_CHAT_ID = 400_000_001
_FIRST_CHANNEL_ID = 1_600_000_001
_FIRST_FILE_ID = 5_000_000_000_001


@dataclass(frozen=True, order=True)
class PeerKey:
    """A chat as the world knows it, independent of any viewer."""

    kind: PeerKind
    id: int


def user_peer(user_id: int) -> PeerKey:
    return PeerKey("user", user_id)


@dataclass
class Contact:
    """A saved contact in one account's address book."""

    user_id: int
    first_name: str
    last_name: str = ""


@dataclass
class User:
    id: int
    first_name: str
    last_name: str = ""
    phone: str | None = None
    username: str | None = None
    about: str = ""
    bot: bool = False
    premium: bool = False
    verified: bool = False
    deleted: bool = False
    password: PasswordRecord | None = None
    contacts: dict[int, Contact] = field(default_factory=dict)
    last_seen: int = 0
    photo_id: int | None = None
    #: Privacy: who may add this user to groups. Telegram's default is everybody.
    allow_group_invites: bool = True
    #: Users this account blocked (``contacts.block``): user id -> date blocked.
    blocked: dict[int, int] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Participant:
    user_id: int
    date: int
    inviter_id: int | None = None
    admin: bool = False
    creator: bool = False
    rank: str | None = None


@dataclass
class ForumTopic:
    id: int  # the id of the topic's creating service message
    title: str
    date: int
    creator_id: int
    icon_color: int = 0x6FB9F0
    closed: bool = False
    pinned: bool = False


@dataclass
class Content:
    """What the copies of one logical message share."""

    text: str = ""
    entities: list[Any] = field(default_factory=list)
    media_id: int | None = None  # a StoredFile id
    media_kind: str | None = None  # "photo" | "document"
    action: Any = None  # a TL MessageAction for service messages
    edit_date: int | None = None
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji -> user ids, in order
    fwd_from: Any = None  # a TL MessageFwdHeader
    grouped_id: int | None = None
    post_author: str | None = None
    views: int | None = None
    #: How often a channel post was forwarded; Telegram sends it whenever it sends ``views``.
    forwards: int = 0
    transcription: str | None = None


@dataclass
class ReplyTo:
    msg_id: int | None = None  # in the same box
    top_id: int | None = None  # thread root (forum topic or comment thread)
    forum_topic: bool = False
    quote_text: str | None = None


@dataclass
class Message:
    """One copy of a message, in one box."""

    id: int
    peer: PeerKey  # the chat it belongs to, as the box owner sees it
    from_id: int | None  # sending user; None for a channel post shown as from the channel
    date: int
    content: Content
    out: bool = False
    reply_to: ReplyTo | None = None
    pinned: bool = False
    silent: bool = False
    mentioned: bool = False
    media_unread: bool = False
    post: bool = False
    #: ``(box owner key, id)`` of every copy of this logical message, shared among the copies.
    copies: list[tuple[PeerKey, int]] = field(default_factory=list)
    #: Who really sent it, even when shown as from a channel; decides ``out`` in channel boxes.
    author_id: int | None = None
    #: For a channel post: where its comments live, as ``(discussion channel id, message id)``.
    discussion: tuple[int, int] | None = None
    #: The sender shown when it is not a user: a channel, e.g. a post auto-forwarded to its discussion group.
    from_peer: PeerKey | None = None


@dataclass
class UpdateRecord:
    """One entry of a box's update log, for ``updates.getDifference`` / ``getChannelDifference``."""

    pts: int
    pts_count: int
    update: Any  # a TL Update


@dataclass
class Box:
    """A message id sequence with its pts and update log."""

    owner: PeerKey  # user_peer(account) or PeerKey("channel", id)
    next_id: int = 1
    pts: int = 1
    messages: dict[int, Message] = field(default_factory=dict)
    by_peer: dict[PeerKey, list[int]] = field(default_factory=dict)  # ascending ids per chat
    log: list[UpdateRecord] = field(default_factory=list)

    def allocate_id(self) -> int:
        msg_id = self.next_id
        self.next_id += 1
        return msg_id

    def add(self, message: Message) -> None:
        self.messages[message.id] = message
        self.by_peer.setdefault(message.peer, []).append(message.id)

    def remove(self, msg_id: int) -> Message | None:
        message = self.messages.pop(msg_id, None)
        if message is not None:
            ids = self.by_peer.get(message.peer, [])
            if msg_id in ids:
                ids.remove(msg_id)
        return message

    def history(self, peer: PeerKey) -> list[int]:
        return self.by_peer.get(peer, [])

    def record(self, update: Any, pts_count: int = 1) -> int:
        """Advance pts by ``pts_count`` and log the update; returns the new pts."""
        self.pts += pts_count
        self.log.append(UpdateRecord(self.pts, pts_count, update))
        return self.pts


@dataclass
class Chat:
    """A basic group."""

    id: int
    title: str
    creator_id: int
    date: int
    participants: dict[int, Participant] = field(default_factory=dict)
    about: str = ""
    deactivated: bool = False
    version: int = 1


@dataclass
class Channel:
    """A broadcast channel or a supergroup (``megagroup``), possibly a forum."""

    id: int
    title: str
    creator_id: int
    date: int
    broadcast: bool
    box: Box
    username: str | None = None
    about: str = ""
    forum: bool = False
    signatures: bool = False
    participants: dict[int, Participant] = field(default_factory=dict)
    linked_chat_id: int | None = None
    topics: dict[int, ForumTopic] = field(default_factory=dict)
    pinned_msg_id: int | None = None

    @property
    def megagroup(self) -> bool:
        return not self.broadcast


@dataclass
class StoredFile:
    """A photo or document, with its bytes."""

    id: int
    access_hash: int
    kind: Literal["photo", "document"]
    data: bytes
    date: int
    mime_type: str = "application/octet-stream"
    name: str | None = None
    attributes: list[Any] = field(default_factory=list)  # TL DocumentAttribute*
    width: int = 0
    height: int = 0
    #: The thumbnail a client uploaded with a document (a video's first frame, say), as sent.
    thumb: bytes | None = None
    #: Derived data made on first use (``render_media``: the photo sizes), never part of equality.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class ReadState:
    read_inbox_max_id: int = 0
    read_outbox_max_id: int = 0
    pinned: bool = False
    folder_id: int = 0


@dataclass
class DialogFilter:
    """A folder: explicit peers plus Telegram's category flags."""

    id: int
    title: str
    include_peers: list[PeerKey] = field(default_factory=list)
    exclude_peers: list[PeerKey] = field(default_factory=list)
    pinned_peers: list[PeerKey] = field(default_factory=list)
    contacts: bool = False
    non_contacts: bool = False
    groups: bool = False
    broadcasts: bool = False
    bots: bool = False
    emoticon: str | None = None
    exclude_muted: bool = False
    exclude_read: bool = False
    exclude_archived: bool = False
    color: int | None = None


@dataclass
class PendingCode:
    """A login code sent by ``auth.sendCode``."""

    phone: str
    phone_code_hash: str
    code: str
    expires: int


class World:
    """All state of one sandbox. Handlers mutate it; the server pushes the resulting updates."""

    def __init__(self, *, secret: bytes | None = None, clock: Any = time.time) -> None:
        self.secret = secret or os.urandom(32)
        self.clock = clock
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.channels: dict[int, Channel] = {}
        self.boxes: dict[int, Box] = {}  # per user id
        self.files: dict[int, StoredFile] = {}
        #: Pending uploads by ``(user id, file_id)`` (``files.PendingUpload``), least recently saved first.
        self.uploads: dict[tuple[int, int], Any] = {}
        self.upload_cap = 256 * 1024 * 1024  # pending upload bytes one user may hold
        #: Seconds a file reference stays current (None: until :meth:`expire_file_references`).
        self.file_reference_ttl: int | None = None
        self._reference_epochs: dict[int, int] = {}  # file id -> times its reference was expired
        self._reference_epoch = 0  # times every reference was expired
        self.read: dict[tuple[int, PeerKey], ReadState] = {}
        self.filters: dict[int, list[DialogFilter]] = {}
        self.codes: dict[str, PendingCode] = {}  # by phone_code_hash
        self.random_ids: set[tuple[int, int]] = set()  # (user id, random_id) of every send
        #: Security and payment settings per user id (``accountdata.account_data``).
        self.accounts: dict[int, AccountData] = {}
        #: Free (non-Premium) voice transcriptions: user id -> {media file id: date used}.
        self.transcription_trials: dict[int, dict[int, int]] = {}
        self._next_user = _FIRST_USER_ID
        self._next_chat = _FIRST_CHAT_ID
        self._next_channel = _FIRST_CHANNEL_ID
        self._next_file = _FIRST_FILE_ID
        self.add_user(first_name="Telegram", phone="42777", user_id=SERVICE_USER_ID, verified=True)

    def now(self) -> int:
        return int(self.clock())

    # -- identity ----------------------------------------------------------------------------

    def access_hash(self, viewer_id: int, kind: PeerKind | str, peer_id: int) -> int:
        """Telegram's access hashes are per viewer: a hash one account saw is useless to another."""
        mac = hmac.new(self.secret, f"{viewer_id}:{kind}:{peer_id}".encode(), hashlib.sha256).digest()
        return int.from_bytes(mac[:8], "little", signed=True)

    def add_user(
        self,
        *,
        first_name: str,
        last_name: str = "",
        phone: str | None = None,
        username: str | None = None,
        user_id: int | None = None,
        **extra: Any,
    ) -> User:
        if user_id is None:
            user_id = self._next_user
            self._next_user += 1
        if phone is not None and self.user_by_phone(phone) is not None:
            raise ValueError("phone number already registered")
        if username is not None and self.resolve_username(username) is not None:
            raise ValueError("username already taken")
        user = User(
            id=user_id, first_name=first_name, last_name=last_name, phone=phone, username=username, **extra
        )
        self.users[user_id] = user
        self.boxes[user_id] = Box(owner=user_peer(user_id))
        return user

    def user_by_phone(self, phone: str) -> User | None:
        digits = "".join(ch for ch in phone if ch.isdigit())
        return next((u for u in self.users.values() if u.phone == digits), None)

    def resolve_username(self, username: str) -> PeerKey | None:
        name = username.lstrip("@").lower()
        for user in self.users.values():
            if user.username and user.username.lower() == name:
                return user_peer(user.id)
        for channel in self.channels.values():
            if channel.username and channel.username.lower() == name:
                return PeerKey("channel", channel.id)
        return None

    def box(self, user_id: int) -> Box:
        return self.boxes[user_id]

    def read_state(self, user_id: int, peer: PeerKey) -> ReadState:
        key = (user_id, peer)
        state = self.read.get(key)
        if state is None:
            state = self.read[key] = ReadState()
        return state

    # -- chats -------------------------------------------------------------------------------

    def add_chat(self, *, title: str, creator_id: int, member_ids: list[int]) -> Chat:
        now = self.now()
        chat = Chat(id=self._next_chat, title=title, creator_id=creator_id, date=now)
        self._next_chat += 1
        chat.participants[creator_id] = Participant(creator_id, now, creator=True, admin=True)
        for uid in member_ids:
            chat.participants.setdefault(uid, Participant(uid, now, inviter_id=creator_id))
        self.chats[chat.id] = chat
        return chat

    def add_channel(
        self,
        *,
        title: str,
        creator_id: int,
        broadcast: bool,
        username: str | None = None,
        about: str = "",
        forum: bool = False,
    ) -> Channel:
        if username is not None and self.resolve_username(username) is not None:
            raise ValueError("username already taken")
        now = self.now()
        channel_id = self._next_channel
        self._next_channel += 1
        channel = Channel(
            id=channel_id,
            title=title,
            creator_id=creator_id,
            date=now,
            broadcast=broadcast,
            box=Box(owner=PeerKey("channel", channel_id)),
            username=username,
            about=about,
            forum=forum,
        )
        channel.participants[creator_id] = Participant(creator_id, now, creator=True, admin=True)
        self.channels[channel.id] = channel
        return channel

    def link_discussion(self, channel_id: int, group_id: int | None) -> None:
        """Link broadcast ``channel_id`` to megagroup ``group_id`` for comments (None unlinks).

        Telegram keeps the link on both sides: each one's ``linked_chat_id`` names the other.
        """
        channel = self.channels[channel_id]
        if channel.linked_chat_id is not None and channel.linked_chat_id in self.channels:
            self.channels[channel.linked_chat_id].linked_chat_id = None
        channel.linked_chat_id = group_id
        if group_id is not None:
            group = self.channels[group_id]
            if group.linked_chat_id is not None and group.linked_chat_id in self.channels:
                self.channels[group.linked_chat_id].linked_chat_id = None
            group.linked_chat_id = channel_id

    # -- folders -----------------------------------------------------------------------------

    def add_dialog_filter(
        self, user_id: int, *, title: str, filter_id: int | None = None, **extra: Any
    ) -> DialogFilter:
        """Create (or replace) a folder of ``user_id``; without ``filter_id`` the lowest free id from 2.

        Ids 0 and 1 are Telegram's "All chats" and archive, so custom folders start at 2.
        """
        folders = self.filters.setdefault(user_id, [])
        if filter_id is None:
            taken = {f.id for f in folders}
            filter_id = next(i for i in range(2, 3 + len(taken)) if i not in taken)
        folder = DialogFilter(id=filter_id, title=title, **extra)
        for index, existing in enumerate(folders):
            if existing.id == filter_id:
                folders[index] = folder
                break
        else:
            folders.append(folder)
        return folder

    # -- files -------------------------------------------------------------------------------

    def add_file(self, kind: Literal["photo", "document"], data: bytes, **extra: Any) -> StoredFile:
        stored = StoredFile(
            id=self._next_file,
            access_hash=int.from_bytes(os.urandom(8), "little", signed=True),
            kind=kind,
            data=data,
            date=self.now(),
            **extra,
        )
        self._next_file += 1
        self.files[stored.id] = stored
        return stored

    def file_reference(self, stored: StoredFile) -> bytes:
        """The reference that names ``stored`` now; an older one is ``FILE_REFERENCE_EXPIRED``.

        It changes when :meth:`expire_file_references` is called, and every ``file_reference_ttl``
        seconds of the world's clock; it is the same for every viewer, so a message fetched again
        carries the current one.
        """
        period = self.now() // self.file_reference_ttl if self.file_reference_ttl else 0
        epoch = f"{stored.id}:{self._reference_epoch}:{self._reference_epochs.get(stored.id, 0)}:{period}"
        mac = hmac.new(self.secret, f"file-reference:{epoch}".encode(), hashlib.sha256).digest()
        return b"\x02" + mac[:19]

    def expire_file_references(self, file_id: int | None = None) -> None:
        """Make the current reference of one stored file (or of every file) stale, as Telegram may."""
        if file_id is None:
            self._reference_epoch += 1
        else:
            self._reference_epochs[file_id] = self._reference_epochs.get(file_id, 0) + 1
