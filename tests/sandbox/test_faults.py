"""Fault injection as Telethon sees it: flood waits, errors, latency, dropped connections, revocation."""

from __future__ import annotations

import asyncio
import time

import pytest
from telethon import TelegramClient, errors, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory

_GET_SELF = functions.users.GetUsersRequest


async def _call_self(client: TelegramClient) -> types.User:
    users = await client(_GET_SELF([types.InputUserSelf()]))
    return users[0]


async def _me_id(client: TelegramClient) -> int:
    return (await _call_self(client)).id


async def test_flood_wait_is_raised_exactly_k_times(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """FLOOD_WAIT_3 for two calls reaches Telethon as FloodWaitError(seconds=3) twice, then calls succeed."""
    client = await make_client(phone="9996660001")
    sandbox.faults.flood_wait(_GET_SELF, 3, calls=2)
    for _ in range(2):
        with pytest.raises(errors.FloodWaitError) as caught:
            await _call_self(client)
        assert caught.value.seconds == 3
    assert sandbox.faults.pending() == 0
    assert (await _call_self(client)).is_self


async def test_flood_wait_below_threshold_is_slept_through(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A client whose flood_sleep_threshold covers FLOOD_WAIT_1 sleeps a second and then succeeds."""
    client = await make_client(phone="9996660002", flood_sleep_threshold=5)
    sandbox.faults.flood_wait(_GET_SELF, 1)
    started = time.monotonic()
    assert (await _call_self(client)).is_self
    assert time.monotonic() - started >= 0.9
    assert sandbox.faults.pending() == 0


async def test_flood_wait_can_target_one_user(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A flood rule for one user leaves another user's identical calls alone."""
    alice = await make_client(phone="9996660003")
    bob = await make_client(phone="9996660004")
    sandbox.faults.flood_wait(_GET_SELF, 3, user_id=await _me_id(alice))
    assert (await _call_self(bob)).is_self
    with pytest.raises(errors.FloodWaitError):
        await _call_self(alice)


async def test_injected_error_reaches_the_client(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An injected rpc_error is raised as Telethon's matching error class, once per configured call."""
    client = await make_client(phone="9996660005")
    sandbox.faults.error(functions.contacts.ResolveUsernameRequest, 400, "USERNAME_INVALID")
    sandbox.faults.error("GetUsersRequest", 403, "CHAT_WRITE_FORBIDDEN")
    with pytest.raises(errors.ChatWriteForbiddenError):
        await _call_self(client)
    assert (await _call_self(client)).is_self
    sandbox.faults.clear()
    assert sandbox.faults.pending() == 0


async def test_latency_is_observed(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Added latency on one method delays its answers by at least that much, and only that method's."""
    client = await make_client(phone="9996660006")
    sandbox.faults.latency(0.4, _GET_SELF)
    started = time.monotonic()
    await _call_self(client)
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    await client(functions.help.GetNearestDcRequest())
    assert time.monotonic() - started < 0.3
    sandbox.faults.latency(0, _GET_SELF)
    started = time.monotonic()
    await _call_self(client)
    assert time.monotonic() - started < 0.3


async def test_dropped_connection_reconnects(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """After the server drops every connection, Telethon reconnects by itself and the next call succeeds."""
    client = await make_client(phone="9996660007")
    me_id = await _me_id(client)
    assert sandbox.drop_connections() >= 1
    assert await _me_id(client) == me_id
    assert client.is_connected()


async def test_call_in_flight_survives_a_drop(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A call whose delayed answer is lost with its connection is re-sent after the reconnect and answered."""
    client = await make_client(phone="9996660008")
    sandbox.faults.latency(0.3, _GET_SELF)
    call = asyncio.create_task(_call_self(client))
    await asyncio.sleep(0.1)
    assert sandbox.drop_connections() == 1
    assert (await asyncio.wait_for(call, 5)).is_self


async def test_drop_connections_of_one_user(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Dropping one user's connections leaves other users' connections open."""
    alice = await make_client(phone="9996660009")
    bob = await make_client(phone="9996660010")
    alice_id = await _me_id(alice)
    await _me_id(bob)
    before = len(sandbox.connections)
    assert sandbox.drop_connections(alice_id) == 1
    assert len(sandbox.connections) == before - 1
    assert await _me_id(alice) == alice_id


async def test_revoke_raises_session_revoked(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """After revoke, the user's next call raises SessionRevokedError and other users are unaffected."""
    client = await make_client(phone="9996660011")
    other = await make_client(phone="9996660012")
    assert sandbox.revoke(await _me_id(client)) == 1
    with pytest.raises(errors.SessionRevokedError):
        await _call_self(client)
    assert (await _call_self(other)).is_self


async def test_revoke_with_auth_key_unregistered(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Revoking with AUTH_KEY_UNREGISTERED makes the next call raise AuthKeyUnregisteredError."""
    client = await make_client(phone="9996660013")
    sandbox.revoke(await _me_id(client), reason="AUTH_KEY_UNREGISTERED")
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await _call_self(client)
    assert await client.get_me() is None


async def test_lose_answer_processes_the_call_but_never_answers_it(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """lose_answer stores the message and drops the connection; Telethon's re-send (same random_id) then
    meets RANDOM_ID_DUPLICATE, and the chat holds exactly one message."""
    client = await make_client(phone="9996660051", raise_last_call_error=True)
    me = await _me_id(client)
    sandbox.faults.lose_answer(functions.messages.SendMessageRequest)
    with pytest.raises(errors.RandomIdDuplicateError):
        await client.send_message("me", "exactly once")
    assert sandbox.faults.pending() == 0
    texts = [m.content.text for m in sandbox.world.box(me).messages.values()]
    assert texts.count("exactly once") == 1
    # The connection came back: later calls are answered normally.
    assert (await client.send_message("me", "next")).message == "next"
