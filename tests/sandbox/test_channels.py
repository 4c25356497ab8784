"""Supergroups and broadcast channels: live chat, admin-only posting, joining by username, members,
privacy, and comments through a linked discussion group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory


def seen_by(sandbox: SandboxServer, viewer_id: int, user_id: int) -> types.InputUser:
    """The InputUser the viewer would hold after meeting ``user_id`` (access hashes are per viewer)."""
    return types.InputUser(user_id, sandbox.world.access_hash(viewer_id, "user", user_id))


def channel_for(sandbox: SandboxServer, viewer_id: int, channel: types.Channel) -> types.InputChannel:
    """The InputChannel the viewer would hold after seeing ``channel``."""
    return types.InputChannel(channel.id, sandbox.world.access_hash(viewer_id, "channel", channel.id))


async def create(client: TelegramClient, title: str, **flags: Any) -> types.Channel:
    result = await client(functions.channels.CreateChannelRequest(title=title, about="", **flags))
    return next(c for c in result.chats if isinstance(c, types.Channel))


def next_event(client: TelegramClient, builder: Any) -> asyncio.Future[Any]:
    """A future resolved by the first event ``builder`` matches on ``client``."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handler(event: Any) -> None:
        if not future.done():
            future.set_result(event)

    client.add_event_handler(handler, builder)
    return future


async def test_supergroup_members_see_each_others_messages_live(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Invited supergroup members receive each other's messages live, with the channel's shared ids."""
    alice = await make_client(phone="9996640001", first_name="Alice")
    bob = await make_client(phone="9996640002", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    group = await create(alice, "Team", megagroup=True)
    told = next_event(bob, events.ChatAction())
    invited = await alice(
        functions.channels.InviteToChannelRequest(group, [seen_by(sandbox, alice_id, bob_id)])
    )
    assert invited.missing_invitees == []
    assert (await asyncio.wait_for(told, 5)).user_added
    bob_group = types.PeerChannel(group.id)  # known to Bob from the live update
    [added, created] = await bob.get_messages(bob_group, limit=5)
    assert isinstance(created.action, types.MessageActionChannelCreate) and created.id == 1
    assert isinstance(added.action, types.MessageActionChatAddUser) and added.action.users == [bob_id]

    to_bob = next_event(bob, events.NewMessage(incoming=True))
    sent = await alice.send_message(group, "hello team")
    got = await asyncio.wait_for(to_bob, 5)
    to_alice = next_event(alice, events.NewMessage(incoming=True))
    await bob.send_message(bob_group, "hi alice", reply_to=got.message.id)
    answer = await asyncio.wait_for(to_alice, 5)

    assert (
        got.message.text == "hello team" and got.message.id == sent.id and got.message.sender_id == alice_id
    )
    assert answer.message.sender_id == bob_id and answer.message.reply_to.reply_to_msg_id == sent.id
    members = await bob.get_participants(bob_group)
    assert {u.id for u in members} == {alice_id, bob_id}
    assert isinstance(
        next(u for u in members if u.id == alice_id).participant, types.ChannelParticipantCreator
    )


async def test_broadcast_subscribers_joined_by_username_get_posts_live_but_cannot_post(
    make_client: ClientFactory,
) -> None:
    """A subscriber joined by username gets posts live from the channel; posting and listing need admin."""
    alice = await make_client(phone="9996640011", first_name="Alice")
    bob = await make_client(phone="9996640012", first_name="Bob", request_retries=1)
    channel = await create(alice, "News", broadcast=True)
    assert await alice(functions.channels.UpdateUsernameRequest(channel, "sandbox_news"))

    public = await bob.get_entity("sandbox_news")
    await bob(functions.channels.JoinChannelRequest(public))
    to_bob = next_event(bob, events.NewMessage())
    await alice.send_message(channel, "breaking")
    post = (await asyncio.wait_for(to_bob, 5)).message

    assert post.text == "breaking" and post.post and post.from_id is None
    assert post.peer_id.channel_id == channel.id
    # Broadcasts announce no joins: the history is the creation message and the post.
    assert [m.id for m in await bob.get_messages(public, limit=10)] == [post.id, 1]
    with pytest.raises(errors.ChatAdminRequiredError):
        await bob.send_message(public, "can I post?")
    with pytest.raises(errors.ChatAdminRequiredError):
        await bob.get_participants(public)
    full = await bob(functions.channels.GetFullChannelRequest(public))
    assert full.full_chat.participants_count == 2 and full.full_chat.admins_count == 1
    assert not full.full_chat.can_view_participants


async def test_participants_filter_search_and_paging(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """getParticipants filters admins, searches names and pages by offset/limit with the full count."""
    alice = await make_client(phone="9996640021", first_name="Alice")
    ids = []
    for index, name in enumerate(["Bob", "Bobby", "Carol"]):
        client = await make_client(phone=f"99966400{22 + index}", first_name=name)
        ids.append((await client.get_me()).id)
    alice_id = (await alice.get_me()).id
    group = await create(alice, "Crowd", megagroup=True)
    await alice(
        functions.channels.InviteToChannelRequest(group, [seen_by(sandbox, alice_id, i) for i in ids])
    )

    def page(flt: Any, offset: int = 0, limit: int = 10) -> Any:
        return alice(functions.channels.GetParticipantsRequest(group, flt, offset, limit, hash=0))

    admins = await page(types.ChannelParticipantsAdmins())
    bobs = await page(types.ChannelParticipantsSearch("bob"))
    first, second = (
        await page(types.ChannelParticipantsRecent(), 0, 2),
        await page(types.ChannelParticipantsRecent(), 2, 2),
    )

    assert [p.user_id for p in admins.participants] == [alice_id]
    assert {u.first_name for u in bobs.users} == {"Bob", "Bobby"} and bobs.count == 2
    assert first.count == second.count == 4
    assert len(first.participants) == 2 and len(second.participants) == 2
    assert {p.user_id for p in first.participants + second.participants} == {alice_id, *ids}


async def test_privacy_and_admin_rules_of_inviting(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A user forbidding invites is in missing_invitees; a subscriber cannot invite into a broadcast."""
    alice = await make_client(phone="9996640031", first_name="Alice")
    bob = await make_client(phone="9996640032", first_name="Bob", request_retries=1)
    carol = await make_client(phone="9996640033", first_name="Carol")
    alice_id, bob_id, carol_id = [(await c.get_me()).id for c in (alice, bob, carol)]
    sandbox.world.users[carol_id].allow_group_invites = False
    group = await create(alice, "Private club", megagroup=True)
    channel = await create(alice, "Announcements", broadcast=True)

    result = await alice(
        functions.channels.InviteToChannelRequest(group, [seen_by(sandbox, alice_id, carol_id)])
    )
    await alice(functions.channels.InviteToChannelRequest(channel, [seen_by(sandbox, alice_id, bob_id)]))
    bob_channel = channel_for(sandbox, bob_id, channel)

    assert [m.user_id for m in result.missing_invitees] == [carol_id]
    assert {u.id for u in await alice.get_participants(group)} == {alice_id}
    with pytest.raises(errors.ChatAdminRequiredError):
        await bob(
            functions.channels.InviteToChannelRequest(bob_channel, [seen_by(sandbox, bob_id, alice_id)])
        )


async def test_leaving_a_supergroup_posts_a_service_message(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A member leaving a supergroup is announced to those who stay and drops out of the member list."""
    alice = await make_client(phone="9996640041", first_name="Alice")
    bob = await make_client(phone="9996640042", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    group = await create(alice, "Drop-in", megagroup=True)
    await alice(functions.channels.InviteToChannelRequest(group, [seen_by(sandbox, alice_id, bob_id)]))
    told = next_event(alice, events.ChatAction())

    await bob(functions.channels.LeaveChannelRequest(channel_for(sandbox, bob_id, group)))
    event = await asyncio.wait_for(told, 5)

    assert event.user_left and event.user_id == bob_id
    assert {u.id for u in await alice.get_participants(group)} == {alice_id}


async def test_comments_on_a_post_live_in_the_linked_discussion_group(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A post in a channel with a discussion group takes comments by comment_to, read back by reply_to."""
    alice = await make_client(phone="9996640051", first_name="Alice")
    bob = await make_client(phone="9996640052", first_name="Bob")
    bob_id = (await bob.get_me()).id
    channel = await create(alice, "Blog", broadcast=True)
    group = await create(alice, "Blog chat", megagroup=True)
    assert await alice(functions.channels.SetDiscussionGroupRequest(channel, group))
    await alice(functions.channels.UpdateUsernameRequest(channel, "sandbox_blog"))
    await bob(functions.channels.JoinChannelRequest(await bob.get_entity("sandbox_blog")))

    post = await alice.send_message(channel, "first post")
    comment = await bob.send_message(await bob.get_entity("sandbox_blog"), "great post", comment_to=post)
    comments = [m async for m in alice.iter_messages(channel, reply_to=post.id)]
    [again] = await alice.get_messages(channel, ids=[post.id])
    full = await alice(functions.channels.GetFullChannelRequest(channel))
    [copy] = (await alice(functions.messages.GetDiscussionMessageRequest(channel, post.id))).messages

    assert post.replies.comments and post.replies.channel_id == group.id and post.replies.replies == 0
    assert comment.peer_id.channel_id == group.id and comment.reply_to.reply_to_msg_id == copy.id
    assert [(m.text, m.sender_id) for m in comments] == [("great post", bob_id)]
    assert again.replies.replies == 1
    assert full.full_chat.linked_chat_id == group.id
    assert copy.peer_id.channel_id == group.id and copy.from_id == types.PeerChannel(channel.id)
    assert copy.fwd_from.channel_post == post.id and copy.fwd_from.saved_from_msg_id == post.id
