"""Editing, deleting, forwarding, reading, reacting to and pinning messages through real Telethon clients."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import Channel, Chat, Participant, user_peer

from .conftest import ClientFactory

TIMEOUT = 5


class Inbox:
    """Events of one kind a client receives, in arrival order."""

    def __init__(self, client: TelegramClient, builder: Any) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        client.add_event_handler(self._on_event, builder)

    async def _on_event(self, event: Any) -> None:
        self.queue.put_nowait(event)

    async def next(self) -> Any:
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)

    async def next_matching(self, predicate: Callable[[Any], bool]) -> Any:
        while True:
            event = await self.next()
            if predicate(event):
                return event


def raw(client: TelegramClient, *update_types: type) -> Inbox:
    return Inbox(client, events.Raw(list(update_types)))


def uid(sandbox: SandboxServer, phone: str) -> int:
    user = sandbox.world.user_by_phone(phone)
    assert user is not None
    return user.id


def user_for(sandbox: SandboxServer, viewer_id: int, user_id: int) -> types.InputPeerUser:
    """The input peer ``viewer_id`` would have after seeing ``user_id`` (its own access hash)."""
    return types.InputPeerUser(user_id, sandbox.world.access_hash(viewer_id, "user", user_id))


def channel_for(sandbox: SandboxServer, viewer_id: int, channel: Channel) -> types.InputPeerChannel:
    return types.InputPeerChannel(channel.id, sandbox.world.access_hash(viewer_id, "channel", channel.id))


async def wait_in_sync(client: TelegramClient, pts: int, channel_id: int | None = None) -> None:
    """Wait until Telethon's update state reaches ``pts`` with no gap pending (its MessageBox is private)."""
    box = client._message_box
    entry: Any = channel_id
    if entry is None:
        from telethon._updates.messagebox import ENTRY_ACCOUNT

        entry = ENTRY_ACCOUNT
    for _ in range(100):
        if (
            entry in box.map
            and box.map[entry].pts == pts
            and not box.possible_gaps
            and not box.getting_diff_for
        ):
            return
        await asyncio.sleep(0.02)
    state = box.map.get(entry)
    raise AssertionError(f"client at pts {state and state.pts}, server at {pts}; gaps {box.possible_gaps}")


async def private_pair(
    make_client: ClientFactory, sandbox: SandboxServer, base: int
) -> tuple[TelegramClient, TelegramClient, int, int]:
    alice = await make_client(phone=f"99966{base:05d}", first_name="Alice")
    bob = await make_client(phone=f"99966{base + 1:05d}", first_name="Bob")
    return alice, bob, uid(sandbox, f"99966{base:05d}"), uid(sandbox, f"99966{base + 1:05d}")


async def group_of_three(
    make_client: ClientFactory, sandbox: SandboxServer, base: int
) -> tuple[list[TelegramClient], list[int], Chat]:
    names = ["Alice", "Bob", "Carol"]
    clients = [await make_client(phone=f"99966{base + i:05d}", first_name=n) for i, n in enumerate(names)]
    ids = [uid(sandbox, f"99966{base + i:05d}") for i in range(3)]
    chat = sandbox.world.add_chat(title="Trio", creator_id=ids[0], member_ids=ids[1:])
    return clients, ids, chat


def add_channel(sandbox: SandboxServer, creator_id: int, members: list[int], *, broadcast: bool) -> Channel:
    channel = sandbox.world.add_channel(title="Room", creator_id=creator_id, broadcast=broadcast)
    for member in members:
        channel.participants[member] = Participant(member, sandbox.world.now())
    return channel


# -- edit ------------------------------------------------------------------------------------------


async def test_edit_in_private_chat_reaches_both_sides_and_other_sessions(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """An edit shows live to the recipient under their id and to the author's other session as outgoing."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30001)
    alice_tablet = await make_client(phone="9996630001")
    await bob.send_message("me", "shifts Bob's ids")
    bob_edits, tablet_edits = Inbox(bob, events.MessageEdited()), Inbox(alice_tablet, events.MessageEdited())
    sent = await alice.send_message(user_for(sandbox, alice_id, bob_id), "helo")
    edited = await sent.edit("hello **world**")
    assert edited.text == "hello **world**" and edited.edit_date is not None
    seen_by_bob, seen_by_tablet = await bob_edits.next(), await tablet_edits.next()
    assert (seen_by_bob.message.id, seen_by_bob.message.out, seen_by_bob.message.text) == (
        2,
        False,
        "hello **world**",
    )
    assert (seen_by_tablet.message.id, seen_by_tablet.message.out) == (sent.id, True)
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)
    await wait_in_sync(alice, sandbox.world.box(alice_id).pts)


async def test_edit_refuses_other_authors_unchanged_text_and_unknown_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Only the author edits (MESSAGE_AUTHOR_REQUIRED), a no-op is MESSAGE_NOT_MODIFIED, ids must exist."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30011)
    received = Inbox(bob, events.NewMessage(incoming=True))
    sent = await alice.send_message(user_for(sandbox, alice_id, bob_id), "mine")
    bobs_copy = (await received.next()).message
    with pytest.raises(errors.MessageAuthorRequiredError):
        await bob.edit_message(user_for(sandbox, bob_id, alice_id), bobs_copy.id, "hijacked")
    with pytest.raises(errors.MessageNotModifiedError):
        await sent.edit("mine")
    with pytest.raises(errors.MessageIdInvalidError):
        await alice.edit_message(user_for(sandbox, alice_id, bob_id), 999, "nothing there")


async def test_edit_in_supergroup_and_channel_follows_admin_rights(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Supergroup members edit only their own messages; a channel admin edits any post, seen live."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30021)
    group = add_channel(sandbox, alice_id, [bob_id], broadcast=False)
    in_group = await alice.send_message(channel_for(sandbox, alice_id, group), "group text")
    with pytest.raises(errors.MessageAuthorRequiredError):
        await bob.edit_message(channel_for(sandbox, bob_id, group), in_group.id, "not yours")
    channel = add_channel(sandbox, bob_id, [alice_id], broadcast=True)
    channel.participants[alice_id].admin = True
    post = await bob.send_message(channel_for(sandbox, bob_id, channel), "post")
    bob_edits = Inbox(bob, events.MessageEdited())
    edited = await alice.edit_message(channel_for(sandbox, alice_id, channel), post.id, "post, corrected")
    assert edited.text == "post, corrected" and edited.post
    event = await bob_edits.next()
    assert (event.message.id, event.chat_id, event.message.text) == (
        post.id,
        edited.chat_id,
        "post, corrected",
    )
    await wait_in_sync(bob, channel.box.pts, channel.id)


async def test_basic_group_edit_pin_and_reaction_reach_every_member(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """In a basic group an edit, a pin and a reaction reach each member under that member's own id."""
    (alice, bob, carol), ids, chat = await group_of_three(make_client, sandbox, 30171)
    await bob.send_message("me", "shifts Bob's ids")
    group = types.InputPeerChat(chat.id)
    bob_edits, bob_pins = Inbox(bob, events.MessageEdited()), raw(bob, types.UpdatePinnedMessages)
    alice_reactions = raw(alice, types.UpdateMessageReactions)
    sent = await carol.send_message(group, "agenda")
    await sent.edit("agenda v2")
    edited = await bob_edits.next()
    assert (edited.message.id, edited.message.out, edited.message.text) == (2, False, "agenda v2")
    service = await carol.pin_message(group, sent, notify=False)
    assert service.silent and service.reply_to.reply_to_msg_id == sent.id
    assert (await bob_pins.next()).messages == [2]
    await bob(functions.messages.SendReactionRequest(group, 2, reaction=[types.ReactionEmoji("🔥")]))
    seen = await alice_reactions.next()
    assert (seen.msg_id, seen.reactions.results[0].count) == (1, 1)
    for client, user_id in zip((alice, bob, carol), ids, strict=True):
        await wait_in_sync(client, sandbox.world.box(user_id).pts)


# -- delete ----------------------------------------------------------------------------------------


async def test_delete_for_me_keeps_the_other_copy_and_revoke_removes_both(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """revoke=False deletes only the caller's copy; revoke=True also the recipient's, under their id."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30031)
    await bob.send_message("me", "shifts Bob's ids")
    deletions = Inbox(bob, events.MessageDeleted())
    to_bob = user_for(sandbox, alice_id, bob_id)
    first, second = await alice.send_message(to_bob, "one"), await alice.send_message(to_bob, "two")
    mine_only = await alice.delete_messages(to_bob, [first.id], revoke=False)
    both = await alice.delete_messages(to_bob, [second.id, 12345], revoke=True)
    assert [r.pts_count for r in mine_only + both] == [1, 1]
    event = await deletions.next()
    assert event.deleted_ids == [3]  # "two" in Bob's box; his "one" (id 2) was not touched
    assert 2 in sandbox.world.box(bob_id).messages
    await wait_in_sync(alice, sandbox.world.box(alice_id).pts)
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)


async def test_basic_group_revoke_needs_authorship_or_admin(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """In a basic group a member's revoke of another's message stays local; the creator's reaches everyone."""
    (alice, bob, carol), ids, chat = await group_of_three(make_client, sandbox, 30041)
    group = types.InputPeerChat(chat.id)
    carol_new = Inbox(carol, events.NewMessage(incoming=True))
    bob_deletions = Inbox(bob, events.MessageDeleted())
    sent = await bob.send_message(group, "from bob")
    carols_copy = (await carol_new.next()).message
    await carol.delete_messages(group, [carols_copy.id], revoke=True)
    alices_copy_id = next(
        m.id for m in sandbox.world.box(ids[0]).messages.values() if m.content.text == "from bob"
    )
    await alice.delete_messages(group, [alices_copy_id], revoke=True)
    event = await bob_deletions.next()
    assert event.deleted_ids == [sent.id]
    assert carols_copy.id not in sandbox.world.box(ids[2]).messages
    await wait_in_sync(bob, sandbox.world.box(ids[1]).pts)


async def test_channel_delete_needs_rights_for_other_peoples_messages(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A supergroup member deletes their own messages but gets MESSAGE_DELETE_FORBIDDEN for others'."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30051)
    group = add_channel(sandbox, alice_id, [bob_id], broadcast=False)
    by_alice = await alice.send_message(channel_for(sandbox, alice_id, group), "admin text")
    by_bob = await bob.send_message(channel_for(sandbox, bob_id, group), "member text")
    with pytest.raises(errors.MessageDeleteForbiddenError):
        await bob.delete_messages(channel_for(sandbox, bob_id, group), [by_alice.id])
    alice_deletions = Inbox(alice, events.MessageDeleted())
    [affected] = await bob.delete_messages(channel_for(sandbox, bob_id, group), [by_bob.id])
    assert affected.pts_count == 0  # see delete_channel_messages: the account's pts, not the channel's
    event = await alice_deletions.next()
    assert (event.deleted_ids, event.chat_id) == ([by_bob.id], by_alice.chat_id)
    await alice.delete_messages(channel_for(sandbox, alice_id, group), [by_alice.id])
    assert group.box.messages == {}
    await wait_in_sync(alice, group.box.pts, group.id)


# -- forward ---------------------------------------------------------------------------------------


async def test_forward_from_private_chat_to_group_carries_the_original_sender(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A forward arrives with a header naming the original sender and date; drop_author omits it."""
    (alice, bob, carol), ids, chat = await group_of_three(make_client, sandbox, 30061)
    alice_new = Inbox(alice, events.NewMessage(incoming=True))
    original = await bob.send_message(user_for(sandbox, ids[1], ids[0]), "worth sharing")
    in_alices_box = (await alice_new.next()).message
    carol_new = Inbox(carol, events.NewMessage(incoming=True))
    group = types.InputPeerChat(chat.id)
    forwarded = await alice.forward_messages(group, [in_alices_box.id], user_for(sandbox, ids[0], ids[1]))
    plain = await alice.forward_messages(
        group, in_alices_box.id, user_for(sandbox, ids[0], ids[1]), drop_author=True
    )
    first, second = await carol_new.next(), await carol_new.next()
    assert forwarded[0].fwd_from.from_id == types.PeerUser(ids[1])
    assert first.message.fwd_from.from_id == types.PeerUser(ids[1])
    assert first.message.fwd_from.date == original.date and first.message.text == "worth sharing"
    assert first.message.sender_id == ids[0] and first.chat_id == forwarded[0].chat_id
    assert (
        plain.fwd_from is None and second.message.fwd_from is None and second.message.text == "worth sharing"
    )
    await wait_in_sync(carol, sandbox.world.box(ids[2]).pts)


async def test_forward_channel_post_to_saved_messages_names_the_channel(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A forwarded post names the channel and post id; in Saved Messages also where it was saved from."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30071)
    channel = add_channel(sandbox, alice_id, [bob_id], broadcast=True)
    post = await alice.send_message(channel_for(sandbox, alice_id, channel), "news")
    [saved] = await bob.forward_messages("me", [post.id], channel_for(sandbox, bob_id, channel))
    header = saved.fwd_from
    assert (header.from_id, header.channel_post) == (types.PeerChannel(channel.id), post.id)
    assert (header.saved_from_peer, header.saved_from_msg_id) == (types.PeerChannel(channel.id), post.id)
    again = await bob.forward_messages(user_for(sandbox, bob_id, alice_id), saved)
    assert again.fwd_from.from_id == types.PeerChannel(channel.id) and again.fwd_from.saved_from_peer is None


async def test_forward_refuses_unknown_ids_and_mismatched_random_ids(make_client: ClientFactory) -> None:
    """Forwarding an id that does not exist is MESSAGE_ID_INVALID; random_id must pair with every id."""
    alice = await make_client(phone="9996630081", first_name="Alice")
    note = await alice.send_message("me", "note")
    with pytest.raises(errors.MessageIdInvalidError):
        await alice.forward_messages("me", [404], "me")
    with pytest.raises(errors.RandomIdInvalidError):
        await alice(
            functions.messages.ForwardMessagesRequest(
                from_peer=types.InputPeerSelf(), id=[note.id], to_peer=types.InputPeerSelf(), random_id=[1, 2]
            )
        )


# -- read ------------------------------------------------------------------------------------------


async def test_read_history_moves_both_read_marks_in_each_sides_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Reading a private chat tells the sender (outbox, their ids) and the reader's other session (inbox)."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30091)
    bob_phone = await make_client(phone="9996630092")
    await alice.send_message("me", "shifts Alice's ids")
    alice_reads, phone_reads = (
        Inbox(alice, events.MessageRead()),
        Inbox(bob_phone, events.MessageRead(inbox=True)),
    )
    bob_new = Inbox(bob, events.NewMessage(incoming=True))
    to_bob = user_for(sandbox, alice_id, bob_id)
    await alice.send_message(to_bob, "one")
    last = await alice.send_message(to_bob, "two")
    await bob_new.next()
    latest = (await bob_new.next()).message
    assert await bob.send_read_acknowledge(user_for(sandbox, bob_id, alice_id), latest)
    outbox, inbox = await alice_reads.next(), await phone_reads.next()
    assert (outbox.max_id, outbox.outbox, outbox.chat_id) == (last.id, True, bob_id)
    assert (inbox.max_id, inbox.outbox) == (latest.id, False)
    assert last.id != latest.id
    assert sandbox.world.read_state(alice_id, user_peer(bob_id)).read_outbox_max_id == last.id
    await wait_in_sync(alice, sandbox.world.box(alice_id).pts)
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)
    await wait_in_sync(bob_phone, sandbox.world.box(bob_id).pts)


async def test_group_reads_move_authors_outbox_in_their_own_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A basic-group read reaches the author in their ids; a supergroup read sends channel read marks."""
    (alice, bob, _carol), ids, chat = await group_of_three(make_client, sandbox, 30101)
    bob_tablet = await make_client(phone="9996630102")
    await alice.send_message("me", "shifts Alice's ids")
    bob_new, alice_reads = Inbox(bob, events.NewMessage(incoming=True)), Inbox(alice, events.MessageRead())
    sent = await alice.send_message(types.InputPeerChat(chat.id), "hi all")
    bobs_copy = (await bob_new.next()).message
    assert await bob.send_read_acknowledge(types.InputPeerChat(chat.id), bobs_copy)
    read = await alice_reads.next()
    assert (read.max_id, read.chat_id, bobs_copy.id) == (sent.id, -chat.id, sent.id - 1)
    group = add_channel(sandbox, ids[0], [ids[1]], broadcast=False)
    in_group = await alice.send_message(channel_for(sandbox, ids[0], group), "supergroup hello")
    tablet_reads = Inbox(bob_tablet, events.MessageRead(inbox=True))
    assert await bob.send_read_acknowledge(channel_for(sandbox, ids[1], group), max_id=0)
    outbox, inbox = await alice_reads.next(), await tablet_reads.next()
    assert (outbox.max_id, outbox.chat_id) == (in_group.id, in_group.chat_id)
    assert (inbox.max_id, inbox.outbox, inbox.chat_id) == (in_group.id, False, in_group.chat_id)
    await wait_in_sync(alice, sandbox.world.box(ids[0]).pts)


# -- reactions -------------------------------------------------------------------------------------


async def test_reaction_is_replaced_removed_and_seen_by_both_sides(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """One reaction per user: a new emoji replaces the old, an empty list removes it; both sides see it."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30111)
    await bob.send_message("me", "shifts Bob's ids")
    sent = await alice.send_message(user_for(sandbox, alice_id, bob_id), "react to me")
    alice_sees = raw(alice, types.UpdateMessageReactions)
    to_alice = user_for(sandbox, bob_id, alice_id)

    async def react(*emoji: str) -> Any:
        reaction = [types.ReactionEmoji(e) for e in emoji]
        return await bob(functions.messages.SendReactionRequest(to_alice, 2, reaction=reaction))

    def counts(reactions: Any) -> list[tuple[str, int, bool]]:
        return [(r.reaction.emoticon, r.count, r.chosen_order is not None) for r in reactions.results]

    mine = (await react("👍")).updates[0]
    assert (mine.msg_id, counts(mine.reactions)) == (2, [("👍", 1, True)])
    first = await alice_sees.next()
    assert (first.msg_id, counts(first.reactions)) == (sent.id, [("👍", 1, False)])
    await react("❤️")
    assert counts((await alice_sees.next()).reactions) == [("❤", 1, False)]
    await react()
    assert counts((await alice_sees.next()).reactions) == []
    with pytest.raises(errors.ReactionInvalidError):
        await react("🦆")
    with pytest.raises(errors.ReactionsTooManyError):
        await react("👍", "🔥")


# -- pin -------------------------------------------------------------------------------------------


async def test_pin_in_private_chat_pins_both_sides_with_a_service_message(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A pin reaches both sides with a pin service message; pm_oneside and re-pinning post none."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30121)
    await bob.send_message("me", "shifts Bob's ids")
    to_bob = user_for(sandbox, alice_id, bob_id)
    sent = await alice.send_message(to_bob, "pin me")
    bob_pins, bob_actions = raw(bob, types.UpdatePinnedMessages), Inbox(bob, events.ChatAction())
    service = await alice.pin_message(to_bob, sent, notify=True)
    assert (
        isinstance(service.action, types.MessageActionPinMessage)
        and service.reply_to.reply_to_msg_id == sent.id
    )
    pin = await bob_pins.next()
    assert (pin.pinned, pin.messages) == (True, [2])
    action = await bob_actions.next()
    assert action.new_pin and action.action_message.reply_to.reply_to_msg_id == 2
    other = await alice.send_message(to_bob, "only pinned for Alice")
    assert await alice.pin_message(to_bob, other, pm_oneside=True) is None
    assert await alice.pin_message(to_bob, sent) is None  # already pinned: nothing to announce
    await alice.unpin_message(to_bob, sent)
    unpin = await bob_pins.next()  # the one-sided pin never reached Bob
    assert (unpin.pinned, unpin.messages) == (False, [2])
    await alice.unpin_message(to_bob)  # unpinAllMessages: only Alice's one-sided pin is left
    assert not any(m.pinned for m in sandbox.world.box(alice_id).messages.values())
    await wait_in_sync(alice, sandbox.world.box(alice_id).pts)
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)


async def test_pin_in_channel_needs_admin_and_reaches_subscribers(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Only a channel admin pins; subscribers get the pin live, and reactions to the post reach the admin."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30131)
    channel = add_channel(sandbox, alice_id, [bob_id], broadcast=True)
    post = await alice.send_message(channel_for(sandbox, alice_id, channel), "read this first")
    with pytest.raises(errors.ChatAdminRequiredError):
        await bob.pin_message(channel_for(sandbox, bob_id, channel), post.id)
    bob_pins = raw(bob, types.UpdatePinnedChannelMessages)
    service = await alice.pin_message(channel_for(sandbox, alice_id, channel), post)
    assert isinstance(service.action, types.MessageActionPinMessage) and service.post
    assert service.reply_to.reply_to_msg_id == post.id
    pin = await bob_pins.next()
    assert (pin.channel_id, pin.messages, pin.pinned) == (channel.id, [post.id], True)
    await wait_in_sync(bob, channel.box.pts, channel.id)
    alice_reactions = raw(alice, types.UpdateMessageReactions)
    reaction = [types.ReactionEmoji("👍")]
    await bob(
        functions.messages.SendReactionRequest(
            channel_for(sandbox, bob_id, channel), post.id, reaction=reaction
        )
    )
    seen = await alice_reactions.next()
    assert (seen.peer, seen.msg_id, seen.reactions.results[0].count) == (
        types.PeerChannel(channel.id),
        post.id,
        1,
    )


# -- send options ----------------------------------------------------------------------------------


async def test_schedule_date_sends_when_due_and_refuses_beyond_a_year(make_client: ClientFactory) -> None:
    """A due schedule_date sends at once; beyond a year: SCHEDULE_DATE_TOO_LATE (more: test_scheduled.py)."""
    alice = await make_client(phone="9996630141", first_name="Alice")
    now = datetime.datetime.now(datetime.UTC)
    sent = await alice.send_message("me", "due", schedule=now - datetime.timedelta(seconds=5))
    assert sent.text == "due" and sent.id == 1
    with pytest.raises(errors.ScheduleDateTooLateError):
        await alice.send_message("me", "much later", schedule=now + datetime.timedelta(days=400))


async def test_replies_and_forwards_land_in_a_forum_topic(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """top_msg_id files a reply (and a forward) under the forum topic, with forum_topic set."""
    alice = await make_client(phone="9996630151", first_name="Alice")
    alice_id = uid(sandbox, "9996630151")
    forum = sandbox.world.add_channel(title="Forum", creator_id=alice_id, broadcast=False, forum=True)
    peer = channel_for(sandbox, alice_id, forum)
    await alice.send_message(peer, "welcome")  # id 1, as a real forum's creation message; General is 1
    created = await alice(functions.messages.CreateForumTopicRequest(peer, "Ideas"))
    topic = next(u.id for u in created.updates if isinstance(u, types.UpdateMessageID))
    first = await alice.send_message(peer, "in the topic", reply_to=topic)
    reply = await alice(
        functions.messages.SendMessageRequest(
            peer, "a reply", reply_to=types.InputReplyToMessage(first.id, top_msg_id=topic)
        )
    )
    header = next(u.message.reply_to for u in reply.updates if isinstance(u, types.UpdateNewChannelMessage))
    assert (header.forum_topic, header.reply_to_msg_id, header.reply_to_top_id) == (True, first.id, topic)
    note = await alice.send_message("me", "forward me")
    forwarded = await alice(
        functions.messages.ForwardMessagesRequest(
            types.InputPeerSelf(), [note.id], peer, random_id=[7], top_msg_id=topic
        )
    )
    header = next(
        u.message.reply_to for u in forwarded.updates if isinstance(u, types.UpdateNewChannelMessage)
    )
    assert (header.forum_topic, header.reply_to_msg_id) == (True, topic)


# -- catching up -----------------------------------------------------------------------------------


async def test_reconnecting_client_catches_up_on_edits_and_deletions(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Offline changes are in getDifference (messages as they are now); after catch_up updates flow live."""
    alice, bob, alice_id, bob_id = await private_pair(make_client, sandbox, 30161)
    to_bob = user_for(sandbox, alice_id, bob_id)
    kept = await alice.send_message(to_bob, "first draft")
    gone = await alice.send_message(to_bob, "to be deleted")
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)
    offline_pts = sandbox.world.box(bob_id).pts
    await bob.disconnect()
    await kept.edit("final text")
    await alice.delete_messages(to_bob, [gone.id])
    late = await alice.send_message(to_bob, "while you were away")
    await late.edit("while you were away (edited)")
    await bob.connect()
    diff = await bob(
        functions.updates.GetDifferenceRequest(pts=offline_pts, date=datetime.datetime.now(), qts=0)
    )
    assert [type(u).__name__ for u in diff.other_updates] == [
        "UpdateEditMessage",
        "UpdateDeleteMessages",
        "UpdateEditMessage",
    ]
    assert [m.message for m in diff.new_messages] == ["while you were away (edited)"]
    assert diff.state.pts == sandbox.world.box(bob_id).pts
    bob_new = Inbox(bob, events.NewMessage(incoming=True))
    await bob.catch_up()
    assert (await bob_new.next()).message.text == "while you were away (edited)"
    await wait_in_sync(bob, sandbox.world.box(bob_id).pts)
    bob_edits = Inbox(bob, events.MessageEdited())
    await kept.edit("final text, really")
    assert (await bob_edits.next()).message.text == "final text, really"
