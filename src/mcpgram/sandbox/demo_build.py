"""Turns the demo data tables into world state: people, files, chats, the forum and the channel.

Every message goes through ``messaging.post``, the core the RPC methods use, so ids, pts and the
update logs are what live traffic would have produced. Messages are first *scheduled* with their
dates and then posted in date order, because an account's private chats and basic groups share one
id sequence and Telegram's ids grow with time across all of them. See ``demo.py`` for the public API.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from telethon.tl import types

from . import demo_data as data
from . import demo_data_groups as gdata
from .demo_media import pdf, picture, voice_note, waveform
from .messaging import Changes, box_of, copy_in, post
from .srp import PasswordRecord, make_password_record
from .world import (
    SERVICE_USER_ID,
    Contact,
    Content,
    ForumTopic,
    Message,
    Participant,
    PeerKey,
    ReplyTo,
    StoredFile,
    World,
    user_peer,
)  # fmt: skip

DAY = 86400


@functools.cache
def demo_password(seed: int) -> PasswordRecord:
    """The 2FA record of the demo's password account; salts from the seed, derived once per process."""
    salts = random.Random(f"mcpgram-demo-2fa/{seed}")  # noqa: S311 - a demo's fixed salts, not secrets
    return make_password_record(data.TWO_FA_PASSWORD, data.TWO_FA_HINT, rng=salts.randbytes)


@dataclass
class Thread:
    """Where a conversation's lines go: a chat, a forum topic or a post's comment thread."""

    peer_for: Callable[[int], PeerKey]  # sender id -> the peer the sender posts to
    top_id: int | None = None  # the topic / discussion message every line replies under
    forum_topic: bool = False
    posted: list[Message] = field(default_factory=list)


def _opts(line: data.Line) -> data.Opts:
    return line[2] if len(line) == 3 else {}


class Builder:
    """Builds the demo world step by step; ``run()`` leaves the results in its public attributes."""

    def __init__(self, seed: int, now: int) -> None:
        self.seed = seed
        self.now = now
        self.rng = random.Random(seed)  # noqa: S311 - timestamps jitter, not secrets
        self._clock = float(now - 31 * DAY)
        secret = hashlib.sha256(f"mcpgram-demo/{seed}".encode()).digest()
        # While building, the world's clock is the date of the message being posted.
        self.world = World(secret=secret, clock=lambda: self._clock)
        self.changes = Changes()  # nobody is connected while the world is built
        self.events: list[tuple[int, int, Callable[[], object]]] = []
        self.labels: dict[str, Message] = {}
        self.pictures: dict[str, StoredFile] = {}
        self.ids: dict[str, int] = {}
        self.phones: dict[str, str] = {}
        self.chats: dict[str, PeerKey] = {}
        self.topics: dict[str, int] = {}
        me = data.MAIN
        self.main = self.world.add_user(
            first_name=me.first_name, last_name=me.last_name, phone=data.MAIN_PHONE, username=me.username,
            about=me.about,
        ).id  # fmt: skip
        self.ids["me"] = self.main

    def run(self) -> None:
        self.add_people()
        self.private_chats()
        self.groups()
        self.channel()
        for _date, _seq, action in sorted(self.events, key=lambda event: event[:2]):
            action()

    # -- people and files ------------------------------------------------------------------------

    def add_people(self) -> None:
        main = self.world.users[self.main]
        main.last_seen = self.now
        for index, person in enumerate(data.PEOPLE, start=1):
            phone = f"99966100{index:02d}"
            user = self.world.add_user(
                first_name=person.first_name, last_name=person.last_name, phone=phone,
                username=person.username, about=person.about,
            )  # fmt: skip
            user.last_seen = self.now - person.seen_hours_ago * 3600
            if person.avatar:
                user.photo_id = self.picture(person.avatar).id
            if person.key == data.TWO_FA_PERSON:
                user.password = demo_password(self.seed)
            self.ids[person.key], self.phones[person.key] = user.id, phone
            if person.contact:
                first, last = person.saved_as or (person.first_name, person.last_name)
                main.contacts[user.id] = Contact(user.id, first, last)
                user.contacts[self.main] = Contact(self.main, main.first_name, main.last_name)

    def _file(self, kind: Any, payload: bytes, **extra: Any) -> StoredFile:
        stored = self.world.add_file(kind, payload, **extra)
        mac = hashlib.sha256(f"{self.seed}:{stored.id}".encode()).digest()
        stored.access_hash = int.from_bytes(mac[:8], "little", signed=True)
        return stored

    def picture(self, name: str) -> StoredFile:
        if name not in self.pictures:
            png = picture(name)
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            self.pictures[name] = self._file("photo", png, mime_type="image/png", width=width, height=height)
        return self.pictures[name]

    def attach(self, content: Content, opts: data.Opts) -> None:
        stored: StoredFile | None = None
        if "photo" in opts:
            stored = self.picture(opts["photo"])
        elif "file" in opts:
            doc = data.DOCUMENTS[opts["file"]]
            payload = pdf(*doc.pdf) if doc.pdf else doc.text.encode()
            stored = self._file("document", payload, mime_type=doc.mime_type, name=doc.name)
        elif "voice" in opts:
            voice = data.VOICES[opts["voice"]]
            audio = types.DocumentAttributeAudio(
                voice.duration, voice=True, waveform=waveform(voice.duration)
            )
            stored = self._file(
                "document", voice_note(voice.duration), mime_type="audio/ogg", attributes=[audio]
            )
            content.transcription = voice.transcription
        if stored is not None:
            content.media_id, content.media_kind = stored.id, stored.kind

    # -- scheduling and posting ------------------------------------------------------------------

    def at(self, date: int, action: Callable[[], object]) -> None:
        self.events.append((date, len(self.events), action))

    def dates(self, days: int, hours: int, lines: list[data.Line], start: int | None = None) -> list[int]:
        """When each line of a session was sent: minutes apart, and never later than a minute ago."""
        date = self.now - days * DAY - hours * 3600 - self.rng.randint(0, 2400) if start is None else start
        out = []
        for index, line in enumerate(lines):
            gap = _opts(line).get("gap")
            if index:
                date += gap * 60 if gap else self.rng.randint(25, 280)
            out.append(min(date, self.now - 60))
        return out

    def schedule(self, thread: Thread, lines: list[data.Line], dates: list[int]) -> None:
        for line, date in zip(lines, dates, strict=True):
            self.at(date, partial(self.say, thread, line, date))

    def say(self, thread: Thread, line: data.Line, date: int) -> Message:
        opts = _opts(line)
        sender = self.ids[line[0]]
        peer = thread.peer_for(sender)
        self._clock = date
        content = Content(text=line[1])
        self.attach(content, opts)
        reply_to = None
        ref = opts.get("reply")
        target = None if ref is None else thread.posted[ref] if isinstance(ref, int) else self.labels[ref]
        if target is not None or thread.top_id is not None:
            sender_box = peer if peer.kind == "channel" else user_peer(sender)
            own = copy_in(self.world, target, sender_box) if target is not None else None
            msg_id = own.id if own is not None else thread.top_id
            reply_to = ReplyTo(msg_id=msg_id, top_id=thread.top_id, forum_topic=thread.forum_topic)
        message = post(
            self.world,
            self.changes,
            sender_id=sender,
            peer=peer,
            content=content,
            reply_to=reply_to,
            date=date,
        )
        thread.posted.append(message)
        self.decorate(message, opts, date)
        return message

    def service(
        self, sender: int, peer: PeerKey, date: int, *, action: Any = None, text: str = ""
    ) -> Message:
        self._clock = date
        content = Content(text=text, action=action)
        return post(self.world, self.changes, sender_id=sender, peer=peer, content=content, date=date)

    def decorate(self, message: Message, opts: data.Opts, date: int) -> None:
        """Apply what happened to a message after it was sent: edits, reactions, pins; and its label."""
        content = message.content
        if "edit" in opts:
            content.edit_date = min(date + opts["edit"] * 60, self.now - 30)
        for emoji, speakers in opts.get("react", {}).items():
            content.reactions[emoji] = [self.ids[s] for s in speakers]
        for owner, msg_id in message.copies:
            copy = box_of(self.world, owner).messages[msg_id]
            if "voice" in opts:
                copy.media_unread = True  # not listened to yet, on either side
            if opts.get("pin"):
                copy.pinned = True
                if owner.kind == "channel":
                    self.world.channels[owner.id].pinned_msg_id = msg_id
        if "id" in opts:
            self.labels[opts["id"]] = message

    # -- chats -----------------------------------------------------------------------------------

    def private_chats(self) -> None:
        for conv in data.PRIVATE_CHATS:
            other = self.ids[conv.peer]
            thread = Thread(partial(_private_peer, self.main, other))
            for days, hours, lines in conv.sessions:
                self.schedule(thread, lines, self.dates(days, hours, lines))
        date = self.now - 30 * DAY - 3 * 3600
        self.at(date, partial(self.service, SERVICE_USER_ID, user_peer(self.main), date, text=data.WELCOME))

    def groups(self) -> None:
        for group in gdata.GROUPS:
            creator = self.ids[group.creator]
            members = [self.ids[k] for k in group.members if k != group.creator]
            days, hours, _ = group.sessions[0]
            created = self.now - days * DAY - hours * 3600 - 3600
            self._clock = created
            action: Any
            if group.kind == "chat":
                chat = self.world.add_chat(title=group.title, creator_id=creator, member_ids=members)
                peer = PeerKey("chat", chat.id)
                action = types.MessageActionChatCreate(group.title, [creator, *members])
            else:
                channel = self.world.add_channel(
                    title=group.title, creator_id=creator, broadcast=False, username=group.username,
                    about=group.about, forum=group.forum,
                )  # fmt: skip
                peer = PeerKey("channel", channel.id)
                self.join(channel.id, members, creator, created)
                action = types.MessageActionChannelCreate(group.title)
            self.chats[group.key] = peer
            self.at(created, partial(self.service, creator, peer, created, action=action))
            thread = Thread(partial(_fixed_peer, peer))
            for days, hours, lines in group.sessions:
                self.schedule(thread, lines, self.dates(days, hours, lines))
        for topic in gdata.FORUM_TOPICS:
            created = self.now - topic.days * DAY - topic.hours * 3600
            thread = Thread(partial(_fixed_peer, self.chats["forum"]), forum_topic=True)
            self.at(created, partial(self.open_topic, topic, thread, created))
            self.schedule(thread, topic.lines, self.dates(0, 0, topic.lines, start=created + 120))

    def join(self, channel_id: int, members: list[int], inviter: int, date: int) -> None:
        channel = self.world.channels[channel_id]
        for uid in members:
            channel.participants.setdefault(uid, Participant(uid, date, inviter_id=inviter))

    def open_topic(self, topic: gdata.Topic, thread: Thread, date: int) -> None:
        creator = self.ids[topic.creator]
        action = types.MessageActionTopicCreate(topic.title, topic.icon_color)
        message = self.service(creator, self.chats["forum"], date, action=action)
        channel = self.world.channels[message.peer.id]
        channel.topics[message.id] = ForumTopic(
            message.id, topic.title, date, creator, icon_color=topic.icon_color
        )
        thread.top_id = message.id
        self.topics[topic.title] = message.id

    # -- the channel and its discussion group ----------------------------------------------------

    def channel(self) -> None:
        creator = self.ids[gdata.NEWS_CREATOR]
        created = self.now - 31 * DAY
        self._clock = created
        news = self.world.add_channel(
            title=gdata.NEWS_TITLE, creator_id=creator, broadcast=True, username=gdata.NEWS_USERNAME,
            about=gdata.NEWS_ABOUT,
        )  # fmt: skip
        chat = self.world.add_channel(title=gdata.NEWS_CHAT_TITLE, creator_id=creator, broadcast=False)
        news.linked_chat_id, chat.linked_chat_id = chat.id, news.id
        subscribers = [self.ids[k] for k in gdata.NEWS_SUBSCRIBERS]
        for channel in (news, chat):
            self.join(channel.id, subscribers, creator, created)
            peer = PeerKey("channel", channel.id)
            action = types.MessageActionChannelCreate(channel.title)
            self.at(created, partial(self.service, creator, peer, created, action=action))
        self.chats.update(news=PeerKey("channel", news.id), news_chat=PeerKey("channel", chat.id))
        for item in gdata.NEWS_POSTS:
            date = self.dates(item.days, item.hours, [("emma", item.text)])[0]
            views = 150 + 45 * item.days + self.rng.randint(0, 120) + 20 * len(item.comments)
            thread = Thread(partial(_fixed_peer, self.chats["news_chat"]))
            self.at(date, partial(self.news_post, item, date, views, thread))
            if item.comments:
                self.schedule(thread, item.comments, self.dates(0, 0, item.comments, start=date + 600))

    def news_post(self, item: gdata.Post, date: int, views: int, thread: Thread) -> None:
        """Post to the channel; ``messaging.post`` forwards it to the discussion group, where comments go."""
        self._clock = date
        content = Content(text=item.text, views=views)
        self.attach(content, item.opts)
        sender = self.ids[gdata.NEWS_CREATOR]
        message = post(
            self.world, self.changes, sender_id=sender, peer=self.chats["news"], content=content, date=date
        )
        self.decorate(message, item.opts, date)
        assert message.discussion is not None, "the channel is linked before anything is posted"
        thread.top_id = message.discussion[1]


def _private_peer(main: int, other: int, sender: int) -> PeerKey:
    """The peer a line of the chat between ``main`` and ``other`` is sent to (Saved Messages: main)."""
    return user_peer(other if sender == main else main)


def _fixed_peer(peer: PeerKey, _sender: int) -> PeerKey:
    return peer
