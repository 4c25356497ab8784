"""The destructive methods the gateway's denylist names act in the sandbox as Telegram would."""

from __future__ import annotations

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory
from .test_groups import seen_by


async def test_deleting_the_account_ends_every_session_and_frees_its_names(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """account.deleteAccount: the account is marked deleted, its phone is free, every session of it
    (this one and the others) is refused from then on, and it counts as one RPC."""
    phone = "9996680001"
    first = await make_client(phone=phone, first_name="Dora")
    second = await make_client(phone=phone, first_name="Dora")
    me = await first.get_me()
    sandbox.rpc_counts.clear()
    assert await first(functions.account.DeleteAccountRequest(reason="test")) is True
    assert sandbox.rpc_counts["account.deleteAccount"] == 1
    assert sandbox.world.users[me.id].deleted and sandbox.world.user_by_phone(phone) is None
    for client in (first, second):
        with pytest.raises(errors.RPCError) as caught:
            await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
        assert caught.value.code == 401


async def test_deleting_a_basic_group_needs_its_creator(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """messages.deleteChat: a member who did not create it is refused; the creator deletes it."""
    owner = await make_client(phone="9996680002", first_name="Olga")
    member = await make_client(phone="9996680003", first_name="Max")
    owner_id, member_id = (await owner.get_me()).id, (await member.get_me()).id
    invitee = seen_by(sandbox, owner, owner_id, member_id)
    created = await owner(functions.messages.CreateChatRequest(users=[invitee], title="Doomed"))
    chat_id = created.updates.chats[0].id
    with pytest.raises(errors.ChatAdminRequiredError):
        await member(functions.messages.DeleteChatRequest(chat_id=chat_id))
    assert await owner(functions.messages.DeleteChatRequest(chat_id=chat_id)) is True
    with pytest.raises(errors.ChatIdInvalidError):
        await owner(functions.messages.DeleteChatRequest(chat_id=chat_id))


async def test_exporting_an_authorization_answers_bytes_for_another_dc(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """auth.exportAuthorization: bytes for another DC; the sandbox's own DC is refused."""
    client = await make_client(phone="9996680004", first_name="Eve")
    exported = await client(functions.auth.ExportAuthorizationRequest(dc_id=sandbox.dc_id + 1))
    assert len(exported.bytes) == 32
    with pytest.raises(errors.DcIdInvalidError):
        await client(functions.auth.ExportAuthorizationRequest(dc_id=sandbox.dc_id))
