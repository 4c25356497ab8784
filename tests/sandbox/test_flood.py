"""Sandbox flood control through plain Telethon: a write storm trips FLOOD_WAIT_X; X s later writes work."""

from __future__ import annotations

import asyncio
import time

import pytest
from telethon import errors

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory


async def test_a_write_storm_trips_flood_wait_and_recovers_after_the_wait(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Past max_writes sends: FLOOD_WAIT_3, every write refused until 3 s pass, then sends work."""
    client = await make_client(phone="9996670001")
    control = sandbox.faults.flood_control(max_writes=5, window=30, seconds=3)
    sent = [await client.send_message("me", f"storm {i}") for i in range(5)]
    with pytest.raises(errors.FloodWaitError) as caught:
        await client.send_message("me", "one too many")
    tripped_at = time.monotonic()
    assert caught.value.seconds == 3
    # Another kind of write is held too (Telethon only remembers the waited request's own type).
    with pytest.raises(errors.FloodWaitError):
        await client.edit_message("me", sent[0].id, "edited")
    assert control.tripped == 2
    await asyncio.sleep(max(0.0, 3.05 - (time.monotonic() - tripped_at)))
    again = await client.send_message("me", "after the wait")
    assert again.id > sent[-1].id


async def test_reads_are_never_counted(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Reads at any rate do not trip flood control; the first write after them goes through."""
    client = await make_client(phone="9996670002")
    control = sandbox.faults.flood_control(max_writes=1, window=30, seconds=5)
    for _ in range(10):
        await client.get_messages("me", limit=1)
    await client.send_message("me", "the one write")
    assert control.tripped == 0


async def test_per_chat_limit_and_one_user_only(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """per_chat trips on the third write to one chat; flood control for one user leaves another alone."""
    alice = await make_client(phone="9996670003")
    bob = await make_client(phone="9996670004")
    alice_id = (await alice.get_me()).id
    sandbox.faults.flood_control(max_writes=100, window=30, seconds=3, per_chat=2, user_id=alice_id)
    await alice.send_message("me", "one")
    await alice.send_message("me", "two")
    with pytest.raises(errors.FloodWaitError) as caught:
        await alice.send_message("me", "three")
    assert caught.value.seconds == 3
    for i in range(5):
        await bob.send_message("me", f"bob {i}")


async def test_clear_turns_flood_control_off(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """After faults.clear() a blocked user writes again at once."""
    client = await make_client(phone="9996670005")
    sandbox.faults.flood_control(max_writes=1, window=30, seconds=60)
    await client.send_message("me", "one")
    with pytest.raises(errors.FloodWaitError):
        await client.send_message("me", "two")
    sandbox.faults.clear()
    await client.delete_messages("me", [1])
