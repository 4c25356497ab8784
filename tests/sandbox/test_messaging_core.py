"""The shared messaging core: private chat delivery with per-account ids and live updates."""

from __future__ import annotations

import asyncio

import pytest
from telethon import errors, events, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory


async def test_private_message_arrives_live_with_per_account_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A message between two accounts arrives as a live NewMessage and each side has its own id."""
    alice = await make_client(phone="9996620101", first_name="Alice")
    bob = await make_client(phone="9996620102", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    await alice.send_message("me", "note to self")  # advances Alice's id sequence only
    received: asyncio.Future[events.NewMessage.Event] = asyncio.get_running_loop().create_future()

    def on_message(event: events.NewMessage.Event) -> None:
        if not received.done():
            received.set_result(event)

    bob.add_event_handler(on_message, events.NewMessage(incoming=True))
    # Alice "has seen" Bob: the access hash is the one the sandbox mints for her view of him.
    bob_for_alice = types.InputPeerUser(bob_id, sandbox.world.access_hash(alice_id, "user", bob_id))
    sent = await alice.send_message(bob_for_alice, "hello bob")
    event = await asyncio.wait_for(received, 5)
    assert event.message.message == "hello bob"
    assert event.message.sender_id == alice_id
    assert sent.id == 2 and event.message.id == 1  # Alice's 2nd message, Bob's 1st


async def test_random_id_reuse_is_refused(make_client: ClientFactory) -> None:
    """Sending twice with the same random_id answers RANDOM_ID_DUPLICATE, so a retry never double-sends."""
    alice = await make_client(
        phone="9996620103", first_name="Alice", request_retries=1, raise_last_call_error=True
    )
    await alice(functions.messages.SendMessageRequest(types.InputPeerSelf(), "once", random_id=42))
    with pytest.raises(errors.RandomIdDuplicateError):
        await alice(functions.messages.SendMessageRequest(types.InputPeerSelf(), "twice", random_id=42))
