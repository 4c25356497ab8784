"""Deleting whole channels and histories (the denylisted ``rpc/wipe.py`` methods), with real Telethon
clients: what each member sees afterwards, and Telegram's refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import TelegramClient, events, functions, types
from telethon.password import compute_check

from mcpgram.sandbox import SandboxServer, scheduled

from .conftest import ClientFactory
from .rpcerrors import error_of
from .test_channels import channel_for, create, seen_by


async def _group_with(
    sandbox: SandboxServer, owner: TelegramClient, member: TelegramClient, **flags: Any
) -> tuple[types.Channel, types.InputChannel]:
    """A supergroup ``owner`` created with ``member`` invited; returns it and the member's handle."""
    owner_id, member_id = (await owner.get_me()).id, (await member.get_me()).id
    group = await create(owner, "Doomed", megagroup=True, **flags)
    await owner(functions.channels.InviteToChannelRequest(group, [seen_by(sandbox, owner_id, member_id)]))
    return group, channel_for(sandbox, member_id, group)


def _raw_update(client: TelegramClient, kind: type) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handler(update: Any) -> None:
        if isinstance(update, kind) and not future.done():
            future.set_result(update)

    client.add_event_handler(handler, events.Raw())
    return future


async def _texts(client: TelegramClient, peer: Any) -> list[str]:
    return [m.message for m in await client.get_messages(peer, limit=50) if m.message]


async def test_a_deleted_channel_is_gone_for_every_member(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """channels.deleteChannel: a member who did not create it is refused; the creator's call answers
    channelForbidden, every member is told live (updateChannel), and the channel is CHANNEL_INVALID
    from then on, gone from dialogs, with the messages scheduled into it."""
    owner = await make_client(phone="9996681001", first_name="Olga")
    member = await make_client(phone="9996681002", first_name="Max")
    group, theirs = await _group_with(sandbox, owner, member)
    await member.send_message(theirs, "last words")
    await member.send_message(theirs, "too late", schedule=datetime.now(UTC) + timedelta(hours=1))
    member_id = (await member.get_me()).id
    assert len(scheduled.book(sandbox.world).of(member_id)) == 1
    assert await error_of(member(functions.channels.DeleteChannelRequest(theirs))) == "CHAT_ADMIN_REQUIRED"
    told = _raw_update(member, types.UpdateChannel)
    sandbox.rpc_counts.clear()
    answer = await owner(functions.channels.DeleteChannelRequest(group))
    assert sandbox.rpc_counts["channels.deleteChannel"] == 1
    assert [type(c) for c in answer.chats] == [types.ChannelForbidden] and answer.chats[0].id == group.id
    assert (await asyncio.wait_for(told, 5)).channel_id == group.id
    assert await error_of(member(functions.channels.GetFullChannelRequest(theirs))) == "CHANNEL_INVALID"
    assert await error_of(owner(functions.channels.DeleteChannelRequest(group))) == "CHANNEL_INVALID"
    assert group.id not in {d.entity.id for d in await member.get_dialogs()}
    assert scheduled.book(sandbox.world).of(member_id) == []  # nothing left to deliver into it


async def test_private_history_deleted_for_me_or_for_both(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """messages.deleteHistory: up to max_id, only the caller's copies; with revoke, both sides'."""
    alice = await make_client(phone="9996681003", first_name="Alice")
    bob = await make_client(phone="9996681004", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    to_bob, to_alice = seen_by(sandbox, alice_id, bob_id), seen_by(sandbox, bob_id, alice_id)
    first = await alice.send_message(to_bob, "one")
    await alice.send_message(to_bob, "two")
    await bob.send_message(to_alice, "three")
    peer = await alice.get_input_entity(to_bob)
    done = await alice(functions.messages.DeleteHistoryRequest(peer=peer, max_id=first.id))
    assert done.pts_count == 1 and done.offset == 0
    assert await _texts(alice, to_bob) == ["three", "two"]
    assert await _texts(bob, to_alice) == ["three", "two", "one"]
    await alice(functions.messages.DeleteHistoryRequest(peer=peer, max_id=0, revoke=True))
    assert await _texts(alice, to_bob) == [] and await _texts(bob, to_alice) == ["one"]
    group, _ = await _group_with(sandbox, alice, bob)
    channel_peer = types.InputPeerChannel(group.id, group.access_hash)
    refused = alice(functions.messages.DeleteHistoryRequest(peer=channel_peer, max_id=0))
    assert await error_of(refused) == "PEER_ID_INVALID"


async def test_supergroup_history_for_everyone_needs_an_admin(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """channels.deleteHistory for_everyone: refused to a plain member; an admin's call removes every
    message up to max_id for all members (later ones stay)."""
    owner = await make_client(phone="9996681005", first_name="Olga")
    member = await make_client(phone="9996681006", first_name="Max")
    group, theirs = await _group_with(sandbox, owner, member)
    early = await member.send_message(theirs, "early")
    await owner.send_message(group, "late")
    request = functions.channels.DeleteHistoryRequest(channel=theirs, max_id=early.id, for_everyone=True)
    assert await error_of(member(request)) == "CHAT_ADMIN_REQUIRED"
    answer = await owner(functions.channels.DeleteHistoryRequest(group, max_id=early.id, for_everyone=True))
    assert isinstance(answer.updates[0], types.UpdateChannelAvailableMessages)
    assert await _texts(member, theirs) == ["late"]


async def test_an_admin_deletes_one_members_history(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """channels.deleteParticipantHistory: only an admin, and only that member's messages go."""
    owner = await make_client(phone="9996681007", first_name="Olga")
    member = await make_client(phone="9996681008", first_name="Max")
    group, theirs = await _group_with(sandbox, owner, member)
    member_id = (await member.get_me()).id
    await member.send_message(theirs, "spam 1")
    await owner.send_message(group, "keep me")
    await member.send_message(theirs, "spam 2")
    me = types.InputPeerSelf()
    refused = member(functions.channels.DeleteParticipantHistoryRequest(theirs, me))
    assert await error_of(refused) == "CHAT_ADMIN_REQUIRED"
    owner_id = (await owner.get_me()).id
    spammer = types.InputPeerUser(member_id, sandbox.world.access_hash(owner_id, "user", member_id))
    await owner(functions.channels.DeleteParticipantHistoryRequest(group, spammer))
    assert await _texts(owner, group) == ["keep me"]


async def test_deleting_a_forum_topic_takes_its_messages(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """messages.deleteTopicHistory: not a plain member's (of another's topic); General cannot go; the
    creator's call deletes the topic and what was in it."""
    owner = await make_client(phone="9996681009", first_name="Olga")
    member = await make_client(phone="9996681010", first_name="Max")
    forum, theirs = await _group_with(sandbox, owner, member, forum=True)
    created = await owner(functions.messages.CreateForumTopicRequest(peer=forum, title="Plans", random_id=7))
    topic_id = next(u.id for u in created.updates if isinstance(u, types.UpdateMessageID))
    await owner.send_message(forum, "inside", reply_to=topic_id)
    await owner.send_message(forum, "outside")
    member_peer = types.InputPeerChannel(theirs.channel_id, theirs.access_hash)
    refused = member(functions.messages.DeleteTopicHistoryRequest(member_peer, topic_id))
    assert await error_of(refused) == "CHAT_ADMIN_REQUIRED"
    general = owner(functions.messages.DeleteTopicHistoryRequest(forum, 1))
    assert await error_of(general) == "TOPIC_ID_INVALID"
    await owner(functions.messages.DeleteTopicHistoryRequest(forum, topic_id))
    found = await owner(functions.messages.GetForumTopicsByIDRequest(forum, [topic_id]))
    assert [type(t) for t in found.topics] == [types.ForumTopicDeleted]
    assert "inside" not in await _texts(owner, forum) and "outside" in await _texts(owner, forum)


async def test_saved_history_and_call_history(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """messages.deleteSavedHistory deletes one saved dialog (what was forwarded from Bob), not the
    account's own notes; messages.deletePhoneCallHistory finds no calls to delete."""
    alice = await make_client(phone="9996681011", first_name="Alice")
    bob = await make_client(phone="9996681012", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    from_bob = await bob.send_message(seen_by(sandbox, bob_id, alice_id), "worth keeping")
    await alice.send_message("me", "my note")
    await alice.forward_messages("me", from_bob.id, seen_by(sandbox, alice_id, bob_id))
    assert await _texts(alice, "me") == ["worth keeping", "my note"]
    bob_peer = await alice.get_input_entity(seen_by(sandbox, alice_id, bob_id))
    await alice(functions.messages.DeleteSavedHistoryRequest(peer=bob_peer, max_id=0))
    assert await _texts(alice, "me") == ["my note"]
    calls = await alice(functions.messages.DeletePhoneCallHistoryRequest(revoke=True))
    assert calls.pts_count == 0 and calls.messages == []


async def test_handing_a_group_to_another_member_needs_the_password(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """messages.editChatCreator: no 2FA password is PASSWORD_MISSING, a wrong one PASSWORD_HASH_INVALID,
    a non-creator CHAT_ADMIN_REQUIRED; then the member is the creator and the old one an admin."""
    owner = await make_client(phone="9996681013", first_name="Olga")
    member = await make_client(phone="9996681014", first_name="Max")
    group, theirs = await _group_with(sandbox, owner, member)
    owner_id, member_id = (await owner.get_me()).id, (await member.get_me()).id
    heir = seen_by(sandbox, owner_id, member_id)

    async def hand_over(client: TelegramClient, peer: Any, user: Any, password: str | None) -> Any:
        state = await client(functions.account.GetPasswordRequest())
        check = compute_check(state, password) if password else types.InputCheckPasswordEmpty()
        return await client(functions.messages.EditChatCreatorRequest(peer, user, check))

    assert await error_of(hand_over(owner, group, heir, None)) == "PASSWORD_MISSING"
    assert await owner.edit_2fa(new_password="owner pw")
    assert await error_of(hand_over(owner, group, heir, "wrong")) == "PASSWORD_HASH_INVALID"
    member_peer = types.InputPeerChannel(theirs.channel_id, theirs.access_hash)
    back = seen_by(sandbox, member_id, owner_id)
    assert await error_of(hand_over(member, member_peer, back, None)) == "CHAT_ADMIN_REQUIRED"
    await hand_over(owner, group, heir, "owner pw")
    held = await member(functions.channels.GetParticipantRequest(theirs, types.InputPeerSelf()))
    assert isinstance(held.participant, types.ChannelParticipantCreator)
    was = await owner(functions.channels.GetParticipantRequest(group, types.InputPeerSelf()))
    assert isinstance(was.participant, types.ChannelParticipantAdmin)
