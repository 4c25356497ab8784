"""Scheduled messages as Telethon sees them: the scheduled list, its limits, and delivery when due."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer, scheduled

from .conftest import ClientFactory, documented_hash


async def _pair(make_client: ClientFactory, sandbox: SandboxServer) -> tuple[Any, Any, Any]:
    """Alice, Bob, and Bob as Alice addresses him (each side resolves the other by username)."""
    alice = await make_client(phone="9996661001", first_name="Alice")
    bob = await make_client(phone="9996661002", first_name="Bob")
    world = sandbox.world
    world.users[(await alice.get_me()).id].username = "alice_sched"
    world.users[(await bob.get_me()).id].username = "bob_sched"
    await bob.get_input_entity("@alice_sched")
    return alice, bob, await alice.get_input_entity("@bob_sched")


async def test_a_scheduled_send_waits_in_the_senders_list_only(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Telethon gets a message with the scheduled id and date; history on both sides stays empty."""
    alice, bob, bob_id = await _pair(make_client, sandbox)
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    sent = await alice.send_message(bob_id, "see you", schedule=when)
    assert sent.date == when and sent.out
    listed = await alice.get_messages(bob_id, scheduled=True)
    assert [(m.id, m.message) for m in listed] == [(sent.id, "see you")]
    assert await alice.get_messages(bob_id, limit=5) == []
    assert await bob.get_messages("@alice_sched", limit=5) == []


async def test_due_messages_are_delivered_in_order(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Once the clock passes their dates, scheduled messages reach the chat and leave the list."""
    alice, bob, bob_id = await _pair(make_client, sandbox)
    now = datetime.now(UTC).replace(microsecond=0)
    await alice.send_message(bob_id, "second", schedule=now + timedelta(minutes=20))
    await alice.send_message(bob_id, "first", schedule=now + timedelta(minutes=10))
    sandbox.world.clock = lambda: now.timestamp() + 15 * 60
    assert scheduled.deliver_due(sandbox) == 1
    sandbox.world.clock = lambda: now.timestamp() + 25 * 60
    # The next request that touches the scheduled list delivers what is due by then.
    assert await alice.get_messages(bob_id, scheduled=True) == []
    received = await bob.get_messages("@alice_sched", limit=5)
    assert [m.message for m in reversed(received)] == ["first", "second"]


async def test_delete_and_send_now(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """deleteScheduledMessages drops one; sendScheduledMessages posts one at once."""
    alice, _, bob_id = await _pair(make_client, sandbox)
    when = datetime.now(UTC) + timedelta(days=2)
    drop = await alice.send_message(bob_id, "drop me", schedule=when)
    keep = await alice.send_message(bob_id, "send now", schedule=when)
    await alice(functions.messages.DeleteScheduledMessagesRequest(bob_id, [drop.id]))
    await alice(functions.messages.SendScheduledMessagesRequest(bob_id, [keep.id]))
    assert await alice.get_messages(bob_id, scheduled=True) == []
    history = await alice.get_messages(bob_id, limit=5)
    assert [m.message for m in history] == ["send now"]


async def test_schedule_limits(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Over a year ahead is SCHEDULE_DATE_TOO_LATE; a past date sends at once; forwards refuse a schedule."""
    alice, _, bob_id = await _pair(make_client, sandbox)
    with pytest.raises(errors.ScheduleDateTooLateError):
        await alice.send_message(bob_id, "x", schedule=datetime.now(UTC) + timedelta(days=400))
    past = await alice.send_message(bob_id, "now", schedule=datetime.now(UTC) - timedelta(minutes=1))
    assert [m.id for m in await alice.get_messages(bob_id, limit=1)] == [past.id]
    with pytest.raises(errors.ScheduleDateInvalidError):
        await alice.forward_messages(bob_id, past.id, bob_id, schedule=datetime.now(UTC) + timedelta(hours=1))


async def test_scheduled_file(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """sendMedia schedules too: the file waits in the list and is delivered with its caption."""
    alice, _, bob_id = await _pair(make_client, sandbox)
    when = datetime.now(UTC) + timedelta(hours=3)
    sent = await alice.send_file(bob_id, b"data bytes", caption="file later", schedule=when)
    assert await alice.get_messages(bob_id, limit=5) == []
    sandbox.world.clock = lambda: time.time() + 4 * 3600
    assert scheduled.deliver_due(sandbox) == 1
    (delivered,) = await alice.get_messages(bob_id, limit=5)
    assert delivered.message == "file later" and delivered.file is not None and delivered.id != 0
    assert sent.id > 0


async def test_scheduled_list_through_telethon(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """get_messages(scheduled=True) lists every one (highest id first, whatever the dates), marked
    from_scheduled; the list hash answers messagesNotModified; DeleteScheduledMessagesRequest removes
    only the named ids of that chat."""
    alice, _, bob_id = await _pair(make_client, sandbox)
    carol = await make_client(phone="9996661003", first_name="Carol")
    sandbox.world.users[(await carol.get_me()).id].username = "carol_sched"
    carol_id = await alice.get_input_entity("@carol_sched")
    now = datetime.now(UTC).replace(microsecond=0)
    late = await alice.send_message(bob_id, "late", schedule=now + timedelta(hours=3))
    early = await alice.send_message(bob_id, "early", schedule=now + timedelta(hours=1))
    elsewhere = await alice.send_message(carol_id, "for carol", schedule=now + timedelta(hours=2))

    listed = await alice.get_messages(bob_id, scheduled=True, limit=None)
    assert [(m.id, m.message, m.date) for m in listed] == [
        (early.id, "early", now + timedelta(hours=1)),
        (late.id, "late", now + timedelta(hours=3)),
    ]
    assert all(m.from_scheduled and m.out for m in listed)

    stamps = [n for m in listed for n in (m.id, 0, int(m.date.timestamp()))]
    same = await alice(functions.messages.GetScheduledHistoryRequest(bob_id, hash=documented_hash(stamps)))
    assert isinstance(same, types.messages.MessagesNotModified) and same.count == 2
    stale = documented_hash(stamps[3:])
    changed = await alice(functions.messages.GetScheduledHistoryRequest(bob_id, hash=stale))
    assert len(changed.messages) == 2

    result = await alice(
        functions.messages.DeleteScheduledMessagesRequest(bob_id, [early.id, elsewhere.id, 999])
    )
    deleted = [u for u in result.updates if isinstance(u, types.UpdateDeleteScheduledMessages)]
    assert [u.messages for u in deleted] == [[early.id]]
    assert [m.id for m in await alice.get_messages(bob_id, scheduled=True, limit=None)] == [late.id]
    assert [m.id for m in await alice.get_messages(carol_id, scheduled=True)] == [elsewhere.id]
