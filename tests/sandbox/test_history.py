"""Reading history and the chat list through real Telethon clients: paging exactly as Telegram pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telethon import TelegramClient, errors, functions, types

from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import Content, Participant, PeerKey, ReplyTo, user_peer

from .conftest import ClientFactory

BASE_DATE = 1_700_000_000


def user_for(world: World, viewer_id: int, user_id: int) -> types.InputPeerUser:
    """The input peer ``viewer_id`` would hold for ``user_id`` after having seen them."""
    return types.InputPeerUser(user_id, world.access_hash(viewer_id, "user", user_id))


def channel_for(world: World, viewer_id: int, channel_id: int) -> types.InputPeerChannel:
    return types.InputPeerChannel(channel_id, world.access_hash(viewer_id, "channel", channel_id))


def chat_between(
    world: World, a: int, b: int, count: int, *, start: int = 0, text: str = "message {i}"
) -> None:
    """World set-up: ``count`` messages alternating between ``a`` and ``b``, one second apart."""
    for i in range(start, start + count):
        sender, receiver = (a, b) if i % 2 == 0 else (b, a)
        post(
            world,
            Changes(),
            sender_id=sender,
            peer=user_peer(receiver),
            content=Content(text=text.format(i=i)),
            date=BASE_DATE + i,
        )


async def pair(
    make_client: ClientFactory, sandbox: SandboxServer, phones: tuple[str, str]
) -> tuple[TelegramClient, int, int]:
    """Alice signed in, and Bob registered; returns (Alice's client, Alice's id, Bob's id)."""
    alice = await make_client(phone=phones[0], first_name="Alice")
    bob_id = sandbox.world.add_user(first_name="Bob", phone=phones[1]).id
    return alice, (await alice.get_me()).id, bob_id


async def test_iter_messages_walks_a_long_chat_newest_first_and_oldest_first(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Walking 250 messages either way yields every message exactly once, in id order."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630001", "9996630002"))
    chat_between(sandbox.world, alice_id, bob_id, 250)
    truth = list(sandbox.world.box(alice_id).history(user_peer(bob_id)))
    bob = user_for(sandbox.world, alice_id, bob_id)
    newest_first = [m.id async for m in alice.iter_messages(bob, wait_time=0)]
    oldest_first = [m.id async for m in alice.iter_messages(bob, reverse=True, wait_time=0)]
    assert newest_first == truth[::-1]
    assert oldest_first == truth
    assert len(truth) == 250
    texts = [m.message async for m in alice.iter_messages(bob, limit=3)]
    assert texts == ["message 249", "message 248", "message 247"]


async def test_offset_date_splits_the_history_at_a_date(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """From an offset date, going back yields the older messages and going forward the rest."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630011", "9996630012"))
    chat_between(sandbox.world, alice_id, bob_id, 230)
    box = sandbox.world.box(alice_id)
    truth = list(box.history(user_peer(bob_id)))
    cut = BASE_DATE + 120
    older = [i for i in truth if box.messages[i].date < cut]
    newer = [i for i in truth if box.messages[i].date >= cut]
    bob = user_for(sandbox.world, alice_id, bob_id)
    when = datetime.fromtimestamp(cut, UTC)
    assert [m.id async for m in alice.iter_messages(bob, offset_date=when, wait_time=0)] == older[::-1]
    assert [
        m.id async for m in alice.iter_messages(bob, offset_date=when, reverse=True, wait_time=0)
    ] == newer
    assert len(older) == 120


async def test_min_id_and_max_id_bound_the_walk(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """min_id and max_id keep a walk strictly between them in both directions."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630021", "9996630022"))
    chat_between(sandbox.world, alice_id, bob_id, 260)
    truth = list(sandbox.world.box(alice_id).history(user_peer(bob_id)))
    bob = user_for(sandbox.world, alice_id, bob_id)
    low, high = truth[20], truth[240]
    inside = [i for i in truth if low < i < high]
    assert [m.id async for m in alice.iter_messages(bob, min_id=low, max_id=high, wait_time=0)] == inside[
        ::-1
    ]
    assert [
        m.id async for m in alice.iter_messages(bob, min_id=low, max_id=high, reverse=True, wait_time=0)
    ] == inside
    assert len(inside) == 219


async def test_add_offset_pages_around_a_message(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """offset_id with add_offset cuts the window of the offsets docs, and min_id/max_id filter it."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630031", "9996630032"))
    chat_between(sandbox.world, alice_id, bob_id, 120)
    truth = list(sandbox.world.box(alice_id).history(user_peer(bob_id)))[::-1]  # newest first
    bob = user_for(sandbox.world, alice_id, bob_id)
    pivot = truth[50]

    async def ids(**kwargs: int) -> list[int]:
        params = {"offset_id": 0, "add_offset": 0, "limit": 20, "max_id": 0, "min_id": 0, **kwargs}
        result = await alice(functions.messages.GetHistoryRequest(bob, offset_date=None, hash=0, **params))
        return [m.id for m in result.messages]

    assert await ids(offset_id=pivot) == truth[51:71]  # older than the pivot
    assert await ids(offset_id=pivot, add_offset=-20) == truth[31:51]  # newer, pivot included
    assert await ids(offset_id=pivot, add_offset=-10) == truth[41:61]  # around it
    assert await ids(offset_id=pivot, add_offset=5, limit=3) == truth[56:59]
    assert await ids(offset_id=truth[5], add_offset=-20) == truth[0:6]  # the window runs past the top
    assert await ids(offset_id=pivot, min_id=truth[60]) == truth[51:60]
    # max_id filters the window instead of moving it: the newest 20 are all above it.
    assert await ids(max_id=truth[80]) == []


async def test_small_history_is_complete_and_large_history_is_a_slice(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A history that fits is messages.messages; a longer one is a messagesSlice counting the whole chat."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630041", "9996630042"))
    carol_id = sandbox.world.add_user(first_name="Carol", phone="9996630043").id
    chat_between(sandbox.world, alice_id, bob_id, 5)
    chat_between(sandbox.world, alice_id, carol_id, 130)
    bob, carol = user_for(sandbox.world, alice_id, bob_id), user_for(sandbox.world, alice_id, carol_id)
    small = await alice(functions.messages.GetHistoryRequest(bob, 0, None, 0, 100, 0, 0, 0))
    large = await alice(functions.messages.GetHistoryRequest(carol, 0, None, 0, 100, 0, 0, 0))
    assert isinstance(small, types.messages.Messages) and len(small.messages) == 5
    assert {u.id for u in small.users} >= {alice_id, bob_id}
    assert isinstance(large, types.messages.MessagesSlice)
    assert (large.count, len(large.messages)) == (130, 100)
    assert (await alice.get_messages(carol, limit=0)).total == 130
    again = await alice(functions.messages.GetHistoryRequest(bob, 0, None, 0, 100, 0, 0, _hash(small)))
    assert isinstance(again, types.messages.MessagesNotModified) and again.count == 5


def _hash(result: types.messages.Messages) -> int:
    """The client side of Telegram's list hash, over (id, edit date) of each message."""
    value = 0
    for message in result.messages:
        for item in (message.id, int(message.edit_date.timestamp()) if message.edit_date else 0):
            value ^= value >> 21
            value ^= (value << 35) & (2**64 - 1)
            value ^= value >> 4
            value = (value + item) & (2**64 - 1)
    return value - 2**64 if value >= 2**63 else value


async def test_get_messages_by_id_keeps_order_and_marks_missing(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Messages fetched by id come back in request order, with messageEmpty for an id that does not exist."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630051", "9996630052"))
    chat_between(sandbox.world, alice_id, bob_id, 10)
    world = sandbox.world
    first = world.box(alice_id).history(user_peer(bob_id))[0]
    reply = post(
        world,
        Changes(),
        sender_id=alice_id,
        peer=user_peer(bob_id),
        content=Content(text="re"),
        reply_to=ReplyTo(msg_id=first),
        date=BASE_DATE + 50,
    )
    bob = user_for(world, alice_id, bob_id)
    got = await alice.get_messages(bob, ids=[first + 3, 999_999, first])
    assert [m.id if m else None for m in got] == [first + 3, None, first]
    assert got[2].message == "message 0"
    raw = await alice(
        functions.messages.GetMessagesRequest(
            [
                types.InputMessageID(999_999),
                types.InputMessageReplyTo(reply.id),
                types.InputMessageID(reply.id),
            ]
        )
    )
    assert isinstance(raw.messages[0], types.MessageEmpty) and raw.messages[0].id == 999_999
    assert raw.messages[1].id == first and raw.messages[2].message == "re"


async def test_channel_history_is_channel_messages_with_pts(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A channel history pages as channelMessages with its pts; outsiders of a private one are refused."""
    alice = await make_client(phone="9996630061", first_name="Alice")
    bob = await make_client(phone="9996630062", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    world = sandbox.world
    channel = world.add_channel(title="News", creator_id=alice_id, broadcast=True)
    for i in range(150):
        post(
            world,
            Changes(),
            sender_id=alice_id,
            peer=PeerKey("channel", channel.id),
            content=Content(text=f"post {i}"),
            date=BASE_DATE + i,
        )
    world.channels[channel.id].box.messages[40].pinned = True
    peer = channel_for(world, alice_id, channel.id)
    walked = [m.id async for m in alice.iter_messages(peer, wait_time=0)]
    assert walked == list(range(150, 0, -1))
    first = await alice(functions.messages.GetHistoryRequest(peer, 0, None, 0, 10, 0, 0, 0))
    assert isinstance(first, types.messages.ChannelMessages)
    assert (first.pts, first.count, first.messages[0].id) == (channel.box.pts, 150, 150)
    pinned = await alice(
        functions.channels.GetMessagesRequest(
            types.InputChannel(channel.id, peer.access_hash),
            [types.InputMessagePinned(), types.InputMessageID(7)],
        )
    )
    assert [m.id for m in pinned.messages] == [40, 7]
    with pytest.raises(errors.ChannelPrivateError):
        await bob(
            functions.messages.GetHistoryRequest(
                channel_for(world, bob_id, channel.id), 0, None, 0, 10, 0, 0, 0
            )
        )


async def test_dialogs_order_by_top_message_with_pinned_first(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Dialogs list pinned ones first, then by their last message's date, with pts for channels."""
    alice, alice_id, bob_id = await pair(make_client, sandbox, ("9996630071", "9996630072"))
    world = sandbox.world
    carol_id = world.add_user(first_name="Carol", phone="9996630073").id
    group = world.add_chat(title="Group", creator_id=bob_id, member_ids=[alice_id, carol_id])
    channel = world.add_channel(title="Feed", creator_id=carol_id, broadcast=True)
    channel.participants[alice_id] = Participant(alice_id, BASE_DATE)
    now = world.now()
    post(
        world, Changes(), sender_id=bob_id, peer=user_peer(alice_id), content=Content(text="b"), date=now + 10
    )
    post(
        world,
        Changes(),
        sender_id=carol_id,
        peer=PeerKey("channel", channel.id),
        content=Content(text="c"),
        date=now + 30,
    )
    post(
        world,
        Changes(),
        sender_id=carol_id,
        peer=PeerKey("chat", group.id),
        content=Content(text="g"),
        date=now + 20,
    )
    post(
        world,
        Changes(),
        sender_id=carol_id,
        peer=user_peer(alice_id),
        content=Content(text="x"),
        date=now + 5,
    )
    world.read_state(alice_id, user_peer(carol_id)).pinned = True
    dialogs = await alice.get_dialogs()
    assert [d.id for d in dialogs] == [carol_id, -1000000000000 - channel.id, -group.id, bob_id]
    assert dialogs[0].pinned and not dialogs[1].pinned
    assert dialogs.total == 4
    assert dialogs[1].dialog.pts == channel.box.pts and dialogs[3].dialog.pts is None
    assert dialogs[2].message.message == "g" and dialogs[1].message.message == "c"


async def test_dialog_unread_counts_follow_read_state(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Unread counts are incoming messages above the read mark; the sender sees the outbox mark move."""
    alice = await make_client(phone="9996630081", first_name="Alice")
    bob = await make_client(phone="9996630082", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    world = sandbox.world
    for text in ("one", "two", "three"):
        await bob.send_message(user_for(world, bob_id, alice_id), text)
    await alice.send_message(user_for(world, alice_id, bob_id), "mine")  # outgoing never counts
    dialog = next(d for d in await alice.get_dialogs() if d.id == bob_id)
    assert (dialog.unread_count, dialog.dialog.read_inbox_max_id) == (3, 0)
    second = world.box(alice_id).history(user_peer(bob_id))[1]
    await alice.send_read_acknowledge(user_for(world, alice_id, bob_id), max_id=second)
    peer_dialogs = await alice(
        functions.messages.GetPeerDialogsRequest(
            [
                types.InputDialogPeer(user_for(world, alice_id, bob_id)),
            ]
        )
    )
    assert peer_dialogs.dialogs[0].unread_count == 1
    assert peer_dialogs.dialogs[0].read_inbox_max_id == second
    assert peer_dialogs.messages[0].message == "mine"
    assert peer_dialogs.state.pts == world.box(alice_id).pts
    seen_by_bob = next(d for d in await bob.get_dialogs() if d.id == alice_id)
    assert seen_by_bob.dialog.read_outbox_max_id == world.box(bob_id).history(user_peer(alice_id))[1]
    assert seen_by_bob.unread_count == 1  # Alice's "mine"


async def test_dialogs_page_through_many_chats(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Paging 131 dialogs returns each exactly once, newest first, with a dialogsSlice count."""
    alice = await make_client(phone="9996630091", first_name="Alice")
    alice_id = (await alice.get_me()).id
    world = sandbox.world
    senders = [world.add_user(first_name=f"User{i}").id for i in range(131)]
    for i, sender in enumerate(senders):
        # Pairs share a date and a pair straddles the page boundary: ties must break the same way each page.
        post(
            world,
            Changes(),
            sender_id=sender,
            peer=user_peer(alice_id),
            content=Content(text=f"hi {i}"),
            date=world.now() + 10 + i // 2,
        )
    dialogs = await alice.get_dialogs()
    ids = [d.id for d in dialogs]
    assert len(ids) == len(set(ids)) == 131
    assert ids == sorted(senders, key=lambda s: (senders.index(s) // 2, s), reverse=True)
    page = await alice(functions.messages.GetDialogsRequest(None, 0, types.InputPeerEmpty(), 50, 0))
    assert isinstance(page, types.messages.DialogsSlice) and (page.count, len(page.dialogs)) == (131, 50)
