"""The demo world: deterministic, and complete as a real Telethon client sees it through the sandbox."""

from __future__ import annotations

import io
import re
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from telethon import TelegramClient, errors, functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import DemoWorld, build_demo_world
from mcpgram.sandbox.demo_media import picture
from mcpgram.sandbox.render import peer_tl

from .conftest import login, new_client

NOW = 1_760_000_000  # a fixed "now" so two builds can be compared
CYRILLIC = re.compile("[\u0430-\u044f\u0451]")


@pytest.fixture
async def demo() -> AsyncIterator[tuple[SandboxServer, DemoWorld]]:
    built = build_demo_world()
    async with SandboxServer(built.world) as server:
        yield server, built


@pytest.fixture
async def dana(demo: tuple[SandboxServer, DemoWorld]) -> AsyncIterator[TelegramClient]:
    server, built = demo
    client = new_client(server)
    await login(client, server, built.phone)
    await client.get_dialogs()  # as an app would on start; it also teaches Telethon the access hashes
    yield client
    await client.disconnect()


def test_same_seed_builds_an_identical_world() -> None:
    """Two builds with one seed and one "now" agree on every message, and another seed moves the dates."""
    first, second = build_demo_world(seed=7, now=NOW), build_demo_world(seed=7, now=NOW)
    assert first.digest() == second.digest()
    assert build_demo_world(seed=8, now=NOW).digest() != first.digest()


def test_world_has_two_languages_over_a_month() -> None:
    """The demo holds a couple of hundred messages in English and Russian from the last month, none later."""
    world = build_demo_world(now=NOW).world
    boxes = [*world.boxes.values(), *(c.box for c in world.channels.values())]
    messages = {id(m.content): m for box in boxes for m in box.messages.values()}.values()
    texts = [m.content.text for m in messages if m.content.text]
    assert len(messages) >= 200
    assert sum(bool(CYRILLIC.search(t)) for t in texts) >= 50
    assert sum(bool(re.search("[a-z]", t)) and not CYRILLIC.search(t) for t in texts) >= 80
    dates = [m.date for m in messages]
    assert min(dates) >= NOW - 32 * 86400
    assert max(dates) < NOW


async def test_dialogs_show_chats_unread_counts_and_folders(dana: TelegramClient) -> None:
    """Dana's dialog list has her contacts, groups and channel, with pinned chats first and unread counts."""
    dialogs = await dana.get_dialogs()
    by_name = {d.name: d for d in dialogs}
    expected = {
        "Family 🏡",
        "Hiking Club ⛰",
        "Lighthouse Team",
        "Autumn Trip 🍁",
        "Demo News",
        "Мама",
        "Alex Carter",
    }
    assert expected <= set(by_name)
    assert [d.name for d in dialogs[:2]] == ["Hiking Club ⛰", "Family 🏡"]
    assert by_name["Мария Иванова"].unread_count == 2
    assert by_name["Tom Becker"].unread_count == 3
    assert by_name["Demo News"].unread_count == 3
    assert by_name["Alex Carter"].unread_count == 0
    tops = [d.message.date for d in dialogs[2:]]
    assert tops == sorted(tops, reverse=True)
    filters = await dana(functions.messages.GetDialogFiltersRequest())
    titles = [f.title.text for f in filters.filters if isinstance(f, types.DialogFilter)]
    assert titles == ["Work", "Friends"]


async def test_forum_topics_and_their_messages(
    dana: TelegramClient, demo: tuple[SandboxServer, DemoWorld]
) -> None:
    """The forum lists its four topics, and a topic's history holds the messages posted in it."""
    _, built = demo
    forum = await dana.get_entity(peer_tl(built.chats["forum"]))
    assert forum.forum
    result = await dana(
        functions.messages.GetForumTopicsRequest(
            forum, offset_date=None, offset_id=0, offset_topic=0, limit=20
        )
    )
    titles = {t.title for t in result.topics if isinstance(t, types.ForumTopic)}
    assert {"✈️ Flights", "🏠 Accommodation", "🗺 Itinerary", "💰 Budget"} <= titles
    flights = built.topics["✈️ Flights"]
    texts = [m.message async for m in dana.iter_messages(forum, reply_to=flights) if m.message]
    assert "Booked mine ✅" in texts
    assert not any("домик" in t for t in texts)  # that belongs to the Accommodation topic


async def test_channel_post_comments(dana: TelegramClient, demo: tuple[SandboxServer, DemoWorld]) -> None:
    """A channel post shows its comment count, and its comments come from the linked discussion group."""
    _, built = demo
    peer, post_id = built.messages["news_bike"]
    news = await dana.get_entity(peer_tl(peer))
    post = await dana.get_messages(news, ids=post_id)
    assert post.replies is not None and post.replies.comments and post.replies.replies == 4
    comments = [m async for m in dana.iter_messages(news, reply_to=post_id)]
    assert [m.message for m in reversed(comments)][:2] == [
        "Tried it this morning, super smooth!",
        "Наконец-то! Буду ездить на работу на велосипеде",
    ]
    answer = next(m for m in comments if m.message.startswith("Yes, with solar lamps"))
    assert answer.reply_to.reply_to_msg_id == built.messages["news_bike_q"][1]


async def test_photo_and_document_download(
    dana: TelegramClient, demo: tuple[SandboxServer, DemoWorld]
) -> None:
    """The demo's photo downloads as Telegram serves it (a JPEG of the picture's size), the CSV byte for
    byte, and the voice note carries its audio attributes."""
    _, built = demo
    peer, msg_id = built.messages["alex_sunset"]
    alex = await dana.get_entity(peer_tl(peer))
    photo = await dana.get_messages(alex, ids=msg_id)
    with Image.open(io.BytesIO(await dana.download_media(photo, file=bytes))) as image:
        assert (image.format, image.size) == ("JPEG", (320, 200))
    with Image.open(io.BytesIO(picture("sunset"))) as original:
        assert image.size == original.size
    peer, msg_id = built.messages["budget_csv"]
    csv = await dana.get_messages(await dana.get_entity(peer_tl(peer)), ids=msg_id)
    assert csv.file.name == "conference_budget.csv"
    data = await dana.download_media(csv, file=bytes)
    assert data.startswith(b"item,category,amount_eur,paid\n")
    peer, msg_id = built.messages["maria_voice"]
    voice = await dana.get_messages(await dana.get_entity(peer_tl(peer)), ids=msg_id)
    assert voice.voice is not None and voice.file.duration == 9 and voice.media_unread


async def test_contacts_can_log_in_too(demo: tuple[SandboxServer, DemoWorld]) -> None:
    """Every demo person has a test-DC phone, so a second client can play Alex and message Dana live."""
    server, built = demo
    alex = new_client(server)
    await login(alex, server, built.phones["alex"])
    try:
        dialogs = await alex.get_dialogs()
        dana = next(d for d in dialogs if d.name == "Dana Demo")
        assert dana.message.message == "Good point, ordering the wider ones tonight"
        sent = await alex.send_message(dana.entity, f"ping {time.time()}")
        assert sent.id > dana.message.id
    finally:
        await alex.disconnect()


async def test_the_2fa_account_logs_in_with_its_password(demo: tuple[SandboxServer, DemoWorld]) -> None:
    """Sam's account asks for a password after the code; the documented one (and only it) signs in."""
    server, built = demo
    assert (built.password_phone, built.password) == ("9996610003", "lighthouse-keeper")
    sam = new_client(server)
    try:
        await sam.connect()
        sent = await sam.send_code_request(built.password_phone)
        with pytest.raises(errors.SessionPasswordNeededError):
            await sam.sign_in(built.password_phone, "11111", phone_code_hash=sent.phone_code_hash)
        state = await sam(functions.account.GetPasswordRequest())
        assert state.has_password and state.hint == built.password_hint
        with pytest.raises(errors.PasswordHashInvalidError):
            await sam.sign_in(password="lighthouse")
        me = await sam.sign_in(password=built.password)
        assert (me.id, me.first_name) == (built.users["sam"], "Sam")
        assert "Dana Demo" in {dialog.name for dialog in await sam.get_dialogs()}
    finally:
        await sam.disconnect()


def test_the_2fa_record_is_deterministic() -> None:
    """The same seed gives the same salts, so two builds of the demo world agree on the password too."""
    first, second = build_demo_world(seed=3, now=NOW), build_demo_world(seed=3, now=NOW)
    sam = first.world.users[first.users["sam"]]
    assert sam.password is not None and sam.password.hint == first.password_hint
    assert sam.password == second.world.users[second.users["sam"]].password
    assert build_demo_world(seed=4, now=NOW).world.users[first.users["sam"]].password != sam.password
