"""Basic groups: creation with per-account service messages, members, privacy, adding and leaving."""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory
from .test_channels import next_event


def seen_by(sandbox: SandboxServer, viewer: TelegramClient, viewer_id: int, user_id: int) -> types.InputUser:
    """The InputUser ``viewer`` would have after meeting ``user_id`` (access hashes are per viewer)."""
    return types.InputUser(user_id, sandbox.world.access_hash(viewer_id, "user", user_id))


async def _ids(*clients: TelegramClient) -> list[int]:
    return [(await c.get_me()).id for c in clients]


async def test_created_group_shows_service_message_to_every_member_with_own_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Creating a group posts one chat-created message into each member's box, numbered per account."""
    alice = await make_client(phone="9996630001", first_name="Alice")
    bob = await make_client(phone="9996630002", first_name="Bob")
    carol = await make_client(phone="9996630003", first_name="Carol")
    alice_id, bob_id, carol_id = await _ids(alice, bob, carol)
    await alice.send_message("me", "before the group")  # Alice's box is one message ahead
    arrived = next_event(bob, events.ChatAction())

    result = await alice(
        functions.messages.CreateChatRequest(
            users=[seen_by(sandbox, alice, alice_id, bob_id), seen_by(sandbox, alice, alice_id, carol_id)],
            title="Trio",
        )
    )

    assert result.missing_invitees == []
    chat = result.updates.chats[0]
    assert isinstance(chat, types.Chat) and chat.title == "Trio" and chat.participants_count == 3
    live = await asyncio.wait_for(arrived, 5)
    assert live.created and live.chat_id == -chat.id
    firsts = {}
    for client in (alice, bob, carol):
        [message] = await client.get_messages(types.PeerChat(chat.id), limit=5)
        assert isinstance(message.action, types.MessageActionChatCreate)
        assert message.action.title == "Trio" and message.action.users == [alice_id, bob_id, carol_id]
        assert message.sender_id == alice_id
        firsts[client] = message.id
    assert (firsts[alice], firsts[bob], firsts[carol]) == (2, 1, 1)


async def test_group_members_and_full_chat_list_creator_and_invitees(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """get_participants on a group lists the creator as creator and the others as invited by the creator."""
    alice = await make_client(phone="9996630011", first_name="Alice")
    bob = await make_client(phone="9996630012", first_name="Bob")
    alice_id, bob_id = await _ids(alice, bob)
    result = await alice(
        functions.messages.CreateChatRequest(users=[seen_by(sandbox, alice, alice_id, bob_id)], title="Pair")
    )
    chat_id = result.updates.chats[0].id

    members = await bob.get_participants(types.PeerChat(chat_id))
    full = await bob(functions.messages.GetFullChatRequest(chat_id))

    by_id = {u.id: u.participant for u in members}
    assert set(by_id) == {alice_id, bob_id} and members.total == 2
    assert isinstance(by_id[alice_id], types.ChatParticipantCreator)
    assert isinstance(by_id[bob_id], types.ChatParticipant) and by_id[bob_id].inviter_id == alice_id
    assert full.full_chat.id == chat_id and {u.id for u in full.users} == {alice_id, bob_id}


async def test_user_who_forbids_group_invites_is_returned_as_missing_invitee(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A user whose privacy forbids being added is left out and reported in missing_invitees."""
    alice = await make_client(phone="9996630021", first_name="Alice")
    bob = await make_client(phone="9996630022", first_name="Bob")
    carol = await make_client(phone="9996630023", first_name="Carol")
    alice_id, bob_id, carol_id = await _ids(alice, bob, carol)
    sandbox.world.users[carol_id].allow_group_invites = False

    result = await alice(
        functions.messages.CreateChatRequest(
            users=[seen_by(sandbox, alice, alice_id, bob_id), seen_by(sandbox, alice, alice_id, carol_id)],
            title="Almost trio",
        )
    )

    assert [m.user_id for m in result.missing_invitees] == [carol_id]
    chat = result.updates.chats[0]
    assert chat.participants_count == 2
    members = await alice.get_participants(types.PeerChat(chat.id))
    assert {u.id for u in members} == {alice_id, bob_id}
    with pytest.raises(errors.PeerIdInvalidError):
        await carol.get_messages(types.PeerChat(chat.id), limit=1)


async def test_adding_and_removing_members_posts_service_messages(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """addChatUser shows the newcomer the add message; a member leaving is told and loses the member list."""
    alice = await make_client(phone="9996630031", first_name="Alice")
    bob = await make_client(phone="9996630032", first_name="Bob")
    dave = await make_client(phone="9996630033", first_name="Dave")
    alice_id, bob_id, dave_id = await _ids(alice, bob, dave)
    result = await alice(
        functions.messages.CreateChatRequest(users=[seen_by(sandbox, alice, alice_id, bob_id)], title="Club")
    )
    chat_id = result.updates.chats[0].id

    added = await alice(
        functions.messages.AddChatUserRequest(chat_id, seen_by(sandbox, alice, alice_id, dave_id), 0)
    )
    [joined] = await dave.get_messages(types.PeerChat(chat_id), limit=5)
    await bob(functions.messages.DeleteChatUserRequest(chat_id, types.InputUserSelf()))
    [left, *_] = await alice.get_messages(types.PeerChat(chat_id), limit=1)
    full = await bob(functions.messages.GetFullChatRequest(chat_id))

    assert added.missing_invitees == []
    assert isinstance(joined.action, types.MessageActionChatAddUser) and joined.action.users == [dave_id]
    assert isinstance(left.action, types.MessageActionChatDeleteUser) and left.action.user_id == bob_id
    assert isinstance(full.full_chat.participants, types.ChatParticipantsForbidden)
    members = await alice.get_participants(types.PeerChat(chat_id))
    assert {u.id for u in members} == {alice_id, dave_id}
