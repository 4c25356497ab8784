"""The demo world: one account with contacts, chats, groups, a forum and a channel, built deterministically.

``build_demo_world()`` gives the world ``mcpgram demo`` and ``python -m mcpgram.sandbox --demo``
serve: Dana Demo (phone 9996610000, login code 11111, no 2FA) with ten contacts, private chats in
English and Russian, a basic group, two supergroups, a forum with topics, a broadcast channel with a
linked discussion group, photos, documents, a voice note, two folders, and read state with some
unread chats. Every person can log in too (code 11111); Sam Patel's account has a 2FA password
(``DemoWorld.password``, with a hint). The content is in ``demo_data`` / ``demo_data_groups``;
``demo_build`` posts it.

The seed only moves timestamps by a few minutes and fixes hashes: the same ``seed`` and ``now``
always give an identical world (compare :meth:`DemoWorld.digest`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from . import demo_data as data
from . import demo_data_groups as gdata
from .demo_build import Builder
from .messaging import box_of, copy_in
from .world import Box, Message, PeerKey, World, user_peer

__all__ = ["DemoWorld", "build_demo_world"]


@dataclass
class DemoWorld:
    """The built world plus the names tests and the CLI need to find their way around it."""

    world: World
    user_id: int
    phone: str = data.MAIN_PHONE
    login_code: str = data.MAIN_CODE
    #: Person key (``"alex"``, ``"mom"``, ...) -> user id. Each can log in too (code 11111).
    users: dict[str, int] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    #: The person whose account has a 2FA password (Sam Patel), the password and its hint.
    password_person: str = data.TWO_FA_PERSON
    password: str = data.TWO_FA_PASSWORD
    password_hint: str = data.TWO_FA_HINT
    #: ``"family"``, ``"hiking"``, ``"work"``, ``"forum"``, ``"news"``, ``"news_chat"`` -> the chat.
    chats: dict[str, PeerKey] = field(default_factory=dict)
    #: Forum topic title -> topic id (the id of the topic's creating service message).
    topics: dict[str, int] = field(default_factory=dict)
    #: Data label (``"alex_sunset"``, ``"news_lake"``, ...) -> ``(chat, id)`` as the demo account sees it.
    messages: dict[str, tuple[PeerKey, int]] = field(default_factory=dict)

    @property
    def password_phone(self) -> str:
        """The phone of the account with a 2FA password (its login code is 11111 too)."""
        return self.phones[self.password_person]

    def message(self, label: str) -> Message:
        """The demo account's copy of a labelled message."""
        peer, msg_id = self.messages[label]
        box = box_of(self.world, peer) if peer.kind == "channel" else self.world.box(self.user_id)
        return box.messages[msg_id]

    def digest(self) -> str:
        """A hash of every message copy (ids, dates, text, media bytes, flags), every topic and read state."""
        world = self.world
        h = hashlib.sha256()
        boxes = [world.boxes[uid] for uid in sorted(world.boxes)]
        boxes += [world.channels[cid].box for cid in sorted(world.channels)]
        for box in boxes:
            for msg_id in sorted(box.messages):
                m = box.messages[msg_id]
                c = m.content
                media = hashlib.sha256(world.files[c.media_id].data).hexdigest() if c.media_id else None
                reply = (m.reply_to.msg_id, m.reply_to.top_id) if m.reply_to else None
                action = c.action.to_dict() if c.action is not None else None
                head = (box.owner, m.id, m.peer, m.from_id, m.date, c.text, media, c.edit_date, reply)
                tail = (m.pinned, sorted(c.reactions.items()), c.views, m.out, action, m.discussion)
                h.update(repr((head, tail)).encode())
        for cid in sorted(world.channels):
            for topic in world.channels[cid].topics.values():
                h.update(repr((cid, topic.id, topic.title, topic.date, topic.icon_color)).encode())
        for key in sorted(world.read):
            state = world.read[key]
            h.update(repr((key, state.read_inbox_max_id, state.read_outbox_max_id, state.pinned)).encode())
        return h.hexdigest()


def build_demo_world(*, seed: int = 7, now: int | None = None) -> DemoWorld:
    """Build the demo world; the same ``seed`` and ``now`` always give an identical world.

    ``now`` (default: the current time) is the moment the newest messages lead up to. Afterwards the
    world's clock is the real one, so a server runs on it normally.
    """
    builder = Builder(seed, int(time.time()) if now is None else now)
    builder.run()
    world = builder.world
    demo = DemoWorld(
        world=world, user_id=builder.main, users=dict(builder.ids), phones=dict(builder.phones),
        chats=dict(builder.chats), topics=dict(builder.topics),
    )  # fmt: skip
    del demo.users["me"]
    main_box = world.box(demo.user_id)
    for label, message in builder.labels.items():
        own = message if message.peer.kind == "channel" else copy_in(world, message, main_box.owner)
        assert own is not None, label
        demo.messages[label] = (own.peer, own.id)
    _mark_read(demo)
    _add_folders(demo)
    world.clock = time.time
    return demo


# -- read state ----------------------------------------------------------------------------------


def _read_upto(ids: list[int], candidates: list[int], unread: int) -> int:
    """The highest id read when the last ``unread`` of ``candidates`` (a subset of ``ids``) are not."""
    if not ids:
        return 0
    if unread <= 0 or not candidates:
        return ids[-1]
    first_unread = candidates[-min(unread, len(candidates))]
    return max((i for i in ids if i < first_unread), default=0)


def _copy_id(world: World, box: Box, msg_id: int, owner: int) -> int:
    message = box.messages.get(msg_id)
    copy = copy_in(world, message, user_peer(owner)) if message is not None else None
    return copy.id if copy is not None else 0


def _mark_read(demo: DemoWorld) -> None:
    """Everyone has read everything, except what the data tables leave unread (or unseen) for Dana."""
    world, main = demo.world, demo.user_id
    box = world.box(main)
    for conv in [*data.PRIVATE_CHATS, data.Conversation("service", [])]:
        other = main if conv.peer == "me" else demo.users.get(conv.peer, 777000)
        peer = user_peer(other)
        ids = box.history(peer)
        inbox = _read_upto(ids, [i for i in ids if not box.messages[i].out], conv.unread)
        outs = [i for i in ids if box.messages[i].out]
        outbox = (outs[-1] if conv.seen else _read_upto(ids, outs, 1)) if outs else 0
        mine = world.read_state(main, peer)
        mine.read_inbox_max_id, mine.read_outbox_max_id = inbox, outbox
        if other != main:
            theirs = world.read_state(other, user_peer(main))
            theirs.read_inbox_max_id = _copy_id(world, box, outbox, other)
            theirs.read_outbox_max_id = _copy_id(world, box, inbox, other)
    for group in gdata.GROUPS:
        _mark_group_read(demo, demo.chats[group.key], group.unread, group.pinned_dialog)
    _mark_group_read(demo, demo.chats["news"], gdata.NEWS_UNREAD, False)
    _mark_group_read(demo, demo.chats["news_chat"], 0, False)


def _mark_group_read(demo: DemoWorld, peer: PeerKey, unread: int, pinned: bool) -> None:
    world, main = demo.world, demo.user_id
    holder = world.chats[peer.id] if peer.kind == "chat" else world.channels[peer.id]
    for uid in holder.participants:
        box = box_of(world, peer) if peer.kind == "channel" else world.box(uid)
        ids = box.history(peer)
        state = world.read_state(uid, peer)
        state.read_inbox_max_id = state.read_outbox_max_id = ids[-1] if ids else 0
        if uid == main:
            incoming = [i for i in ids if box.messages[i].author_id != main]
            state.read_inbox_max_id = _read_upto(ids, incoming, unread)
            state.pinned = pinned


def _add_folders(demo: DemoWorld) -> None:
    tagged: dict[str, list[PeerKey]] = {"work": [], "friends": []}
    for conv in data.PRIVATE_CHATS:
        for tag in conv.tags:
            tagged[tag].append(user_peer(demo.users[conv.peer]))
    for group in gdata.GROUPS:
        for tag in group.tags:
            tagged[tag].append(demo.chats[group.key])
    demo.world.add_dialog_filter(demo.user_id, title="Work", include_peers=tagged["work"], emoticon="💼")
    demo.world.add_dialog_filter(
        demo.user_id, title="Friends", include_peers=tagged["friends"], emoticon="👥"
    )
