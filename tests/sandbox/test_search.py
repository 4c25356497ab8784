"""Searching messages through real Telethon clients: one chat, counters, global search and transcription."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.messaging import Changes, copy_in, post
from mcpgram.sandbox.world import Content, Message, Participant, PeerKey, user_peer

from .conftest import ClientFactory

BASE_DATE = 1_700_000_000


def user_for(world: World, viewer_id: int, user_id: int) -> types.InputPeerUser:
    """The input peer ``viewer_id`` would hold for ``user_id`` after having seen them."""
    return types.InputPeerUser(user_id, world.access_hash(viewer_id, "user", user_id))


def say(
    world: World, sender: int, peer: PeerKey, text: str, date: int, *, media_id: int | None = None
) -> Message:
    """World set-up: one message, returned as the sender's copy."""
    kind = world.files[media_id].kind if media_id is not None else None
    content = Content(text=text, media_id=media_id, media_kind=kind)
    return post(world, Changes(), sender_id=sender, peer=peer, content=content, date=date)


async def test_search_in_one_chat_pages_through_every_hit(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A text search in one chat matches case-insensitively and pages through every hit exactly once."""
    alice = await make_client(phone="9996640001", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640002").id
    for i in range(400):
        text = f"the {'NeedLe' if i % 3 else 'hay'} number {i}" if i % 2 == 0 else f"chatter {i}"
        sender, receiver = (alice_id, bob_id) if i % 4 < 2 else (bob_id, alice_id)
        say(world, sender, user_peer(receiver), text, BASE_DATE + i)
    box = world.box(alice_id)
    truth = [i for i in box.history(user_peer(bob_id)) if "needle" in box.messages[i].content.text.lower()]
    bob = user_for(world, alice_id, bob_id)
    found = await alice.get_messages(bob, search="needle", limit=None, wait_time=0)
    assert [m.id for m in found] == truth[::-1]
    assert found.total == len(truth) == 133
    cut = datetime.fromtimestamp(BASE_DATE + 200, UTC)
    before = [m.id async for m in alice.iter_messages(bob, search="needle", offset_date=cut, wait_time=0)]
    assert before == [i for i in truth if box.messages[i].date < BASE_DATE + 200][::-1]


async def test_search_filters_media_and_counts_them(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Photo and document filters select by media kind, captions are searchable, and counters agree."""
    alice = await make_client(phone="9996640011", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640012").id
    peer = user_peer(bob_id)
    photos, documents = [], []
    for i in range(12):
        say(
            world,
            bob_id,
            user_peer(alice_id),
            f"text {i} https://example.org" if i % 4 == 0 else f"text {i}",
            BASE_DATE + 3 * i,
        )
        photo = world.add_file("photo", b"\xff\xd8jpeg" + bytes([i]), mime_type="image/jpeg")
        photos.append(
            say(world, alice_id, peer, f"photo caption {i}", BASE_DATE + 3 * i + 1, media_id=photo.id).id
        )
        if i % 2 == 0:
            doc = world.add_file(
                "document", b"%PDF" + bytes([i]), mime_type="application/pdf", name=f"r{i}.pdf"
            )
            documents.append(say(world, alice_id, peer, "", BASE_DATE + 3 * i + 2, media_id=doc.id).id)
    voice = world.add_file(
        "document",
        b"OggS",
        mime_type="audio/ogg",
        attributes=[types.DocumentAttributeAudio(duration=3, voice=True)],
    )
    say(world, bob_id, user_peer(alice_id), "", BASE_DATE + 100, media_id=voice.id)
    bob = user_for(world, alice_id, bob_id)
    got_photos = await alice.get_messages(bob, filter=types.InputMessagesFilterPhotos, limit=None)
    got_docs = await alice.get_messages(bob, filter=types.InputMessagesFilterDocument, limit=None)
    assert [m.id for m in got_photos] == photos[::-1] and all(m.photo for m in got_photos)
    assert [m.id for m in got_docs] == documents[::-1] and got_docs[0].file.name == "r10.pdf"
    captioned = await alice.get_messages(
        bob, search="CAPTION 1", filter=types.InputMessagesFilterPhotos, limit=None
    )
    assert [m.message for m in captioned] == ["photo caption 11", "photo caption 10", "photo caption 1"]
    counters = await alice(
        functions.messages.GetSearchCountersRequest(
            bob,
            [
                types.InputMessagesFilterPhotos(),
                types.InputMessagesFilterDocument(),
                types.InputMessagesFilterVoice(),
                types.InputMessagesFilterUrl(),
                types.InputMessagesFilterRoundVideo(),
            ],
        )
    )
    assert [c.count for c in counters] == [12, 6, 1, 3, 0]
    assert isinstance(counters[0].filter, types.InputMessagesFilterPhotos) and not counters[0].inexact


async def test_search_by_sender_dates_and_add_offset(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """from_id, min_date/max_date and offset_id/add_offset narrow a group search as documented."""
    alice = await make_client(phone="9996640021", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640022").id
    group = world.add_chat(title="Team", creator_id=alice_id, member_ids=[bob_id])
    peer = PeerKey("chat", group.id)
    for i in range(60):
        say(world, bob_id if i % 3 == 0 else alice_id, peer, f"report {i}", BASE_DATE + i)
    box = world.box(alice_id)
    ids = box.history(peer)
    from_bob = [i for i in ids if box.messages[i].from_id == bob_id]
    by_bob = await alice.get_messages(
        types.InputPeerChat(group.id),
        search="report",
        from_user=user_for(world, alice_id, bob_id),
        limit=None,
    )
    assert [m.id for m in by_bob] == from_bob[::-1] and len(from_bob) == 20

    def request(**kwargs: Any) -> functions.messages.SearchRequest:
        params: dict[str, Any] = {
            "min_date": None,
            "max_date": None,
            "offset_id": 0,
            "add_offset": 0,
            "limit": 100,
            "max_id": 0,
            "min_id": 0,
            "hash": 0,
            **kwargs,
        }
        return functions.messages.SearchRequest(
            types.InputPeerChat(group.id), "report", types.InputMessagesFilterEmpty(), **params
        )

    dated = await alice(request(min_date=BASE_DATE + 10, max_date=BASE_DATE + 20))
    assert [m.message for m in dated.messages] == [f"report {i}" for i in range(19, 10, -1)]
    newer = await alice(request(offset_id=ids[30], add_offset=-5, limit=5))
    assert [m.id for m in newer.messages] == ids[30:35][::-1]  # offset_id itself included
    counted = await alice(request(limit=0))
    assert isinstance(counted, types.messages.MessagesSlice) and (counted.count, counted.messages) == (60, [])


async def test_global_search_pages_every_hit_once_in_date_order(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """searchGlobal across a private chat, a group and a channel pages by next_rate over every hit once."""
    alice = await make_client(phone="9996640031", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640032").id
    carol_id = world.add_user(first_name="Carol", phone="9996640033").id
    group = world.add_chat(title="Trio", creator_id=bob_id, member_ids=[alice_id, carol_id])
    channel = world.add_channel(title="Wire", creator_id=carol_id, broadcast=True)
    channel.participants[alice_id] = Participant(alice_id, BASE_DATE)
    outsider = world.add_channel(title="Elsewhere", creator_id=carol_id, broadcast=True)
    chats = [user_peer(bob_id), PeerKey("chat", group.id), PeerKey("channel", channel.id)]
    for i in range(150):  # older filler, so every box's ids run well past one page
        say(world, bob_id, user_peer(alice_id), f"filler {i}", BASE_DATE + i)
        say(world, carol_id, chats[2], f"filler {i}", BASE_DATE + i)
    for i in range(330):
        chat = chats[i % 3]
        if chat.kind == "user":  # Alice and Bob take turns; each addresses the other
            sender, chat = (alice_id, chat) if i % 5 == 0 else (bob_id, user_peer(alice_id))
        else:  # Carol, the channel's creator, is the only one who may post there
            sender = alice_id if i % 5 == 0 and chat.kind == "chat" else carol_id
        # Four messages per second: hits in different chats tie on the date.
        say(
            world,
            sender,
            chat,
            f"Deploy {'DONE' if i % 2 == 0 else 'pending'} #{i}",
            BASE_DATE + 500 + i // 4,
        )
        say(
            world,
            carol_id,
            PeerKey("channel", outsider.id),
            "deploy done elsewhere",
            BASE_DATE + 500 + i // 4,
        )
    found = await alice.get_messages(None, search="deploy done", limit=None, wait_time=0)
    keys = [(m.chat_id, m.id) for m in found]
    assert len(keys) == len(set(keys)) == found.total == 165
    assert all(a.date >= b.date for a, b in itertools.pairwise(found))
    expected = set()
    for chat in chats:
        box = world.channels[chat.id].box if chat.kind == "channel" else world.box(alice_id)
        marked = {"user": chat.id, "chat": -chat.id, "channel": -1_000_000_000_000 - chat.id}[chat.kind]
        expected |= {
            (marked, i) for i in box.history(chat) if "deploy done" in box.messages[i].content.text.lower()
        }
    assert set(keys) == expected
    first = await alice(
        functions.messages.SearchGlobalRequest(
            "deploy done", types.InputMessagesFilterEmpty(), None, None, 0, types.InputPeerEmpty(), 0, 100
        )
    )
    assert isinstance(first, types.messages.MessagesSlice) and first.count == 165 and not first.inexact
    assert first.next_rate == int(found[99].date.timestamp())


async def test_global_search_flags_narrow_the_chats(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """users_only, groups_only and broadcasts_only each keep one kind of chat; an empty query is refused."""
    alice = await make_client(phone="9996640041", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640042").id
    group = world.add_chat(title="G", creator_id=bob_id, member_ids=[alice_id])
    supergroup = world.add_channel(title="S", creator_id=bob_id, broadcast=False)
    broadcast = world.add_channel(title="B", creator_id=bob_id, broadcast=True)
    for channel in (supergroup, broadcast):
        channel.participants[alice_id] = Participant(alice_id, BASE_DATE)
    for n, peer in enumerate(
        [
            user_peer(alice_id),
            PeerKey("chat", group.id),
            PeerKey("channel", supergroup.id),
            PeerKey("channel", broadcast.id),
        ]
    ):
        say(world, bob_id, peer, f"ping {n}", BASE_DATE + n)

    async def texts(**flags: bool) -> list[str]:
        result = await alice(
            functions.messages.SearchGlobalRequest(
                "PING",
                types.InputMessagesFilterEmpty(),
                None,
                None,
                0,
                types.InputPeerEmpty(),
                0,
                10,
                **flags,
            )
        )
        return [m.message for m in result.messages]

    assert await texts() == ["ping 3", "ping 2", "ping 1", "ping 0"]
    assert await texts(users_only=True) == ["ping 0"]
    assert await texts(groups_only=True) == ["ping 2", "ping 1"]
    assert await texts(broadcasts_only=True) == ["ping 3"]
    with pytest.raises(errors.SearchQueryEmptyError):
        await alice(
            functions.messages.SearchGlobalRequest(
                " ", types.InputMessagesFilterEmpty(), None, None, 0, types.InputPeerEmpty(), 0, 10
            )
        )


def _voice_note(world: World, sender: int, receiver: int, *, duration: int, round_video: bool = False) -> int:
    """World set-up: a voice note (or round video) from ``sender``; returns the receiver's message id."""
    if round_video:
        attribute: object = types.DocumentAttributeVideo(duration=duration, w=240, h=240, round_message=True)
        mime = "video/mp4"
    else:
        attribute = types.DocumentAttributeAudio(duration=duration, voice=True)
        mime = "audio/ogg"
    stored = world.add_file("document", b"media", mime_type=mime, attributes=[attribute])
    message = say(world, sender, user_peer(receiver), "", world.now(), media_id=stored.id)
    copy = copy_in(world, message, user_peer(receiver))
    assert copy is not None
    return copy.id


async def test_transcribe_audio_for_premium_accounts(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A Premium account transcribes voice notes and round videos, but not other messages."""
    alice = await make_client(phone="9996640051", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    world.users[alice_id].premium = True
    bob_id = world.add_user(first_name="Bob", phone="9996640052").id
    voice = _voice_note(world, bob_id, alice_id, duration=1200)
    world.box(alice_id).messages[voice].content.transcription = "ship it on friday"
    round_id = _voice_note(world, bob_id, alice_id, duration=9, round_video=True)
    text_id = say(world, alice_id, user_peer(bob_id), "plain", world.now()).id
    bob = user_for(world, alice_id, bob_id)
    first = await alice(functions.messages.TranscribeAudioRequest(bob, voice))
    assert (first.text, bool(first.pending), first.trial_remains_num) == ("ship it on friday", False, None)
    again = await alice(functions.messages.TranscribeAudioRequest(bob, voice))
    assert again.transcription_id == first.transcription_id
    assert "9 seconds" in (await alice(functions.messages.TranscribeAudioRequest(bob, round_id))).text
    with pytest.raises(errors.BadRequestError, match="MSG_VOICE_MISSING"):
        await alice(functions.messages.TranscribeAudioRequest(bob, text_id))
    with pytest.raises(errors.MsgIdInvalidError):
        await alice(functions.messages.TranscribeAudioRequest(bob, 999_999))


async def test_transcribe_audio_trial_then_premium_required(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Without Premium two notes a week are transcribed (counting down), then PREMIUM_ACCOUNT_REQUIRED."""
    alice = await make_client(phone="9996640061", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    bob_id = world.add_user(first_name="Bob", phone="9996640062").id
    notes = [_voice_note(world, bob_id, alice_id, duration=5) for _ in range(3)]
    long_note = _voice_note(world, bob_id, alice_id, duration=301)
    bob = user_for(world, alice_id, bob_id)
    with pytest.raises(errors.BadRequestError, match="MSG_VOICE_TOO_LONG"):
        await alice(functions.messages.TranscribeAudioRequest(bob, long_note))
    first = await alice(functions.messages.TranscribeAudioRequest(bob, notes[0]))
    second = await alice(functions.messages.TranscribeAudioRequest(bob, notes[1]))
    assert (first.trial_remains_num, second.trial_remains_num) == (1, 0)
    assert second.trial_remains_until_date is not None
    with pytest.raises(errors.PremiumAccountRequiredError):
        await alice(functions.messages.TranscribeAudioRequest(bob, notes[2]))
    repeat = await alice(functions.messages.TranscribeAudioRequest(bob, notes[0]))  # already transcribed
    assert repeat.text == first.text
