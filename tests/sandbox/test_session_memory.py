"""A busy MTProto session keeps a small window of client msg_ids; a client whose clock lags recovers.

Under bench/tenants.py (1,000 tenants) each session's replay guard held up to 512 msg_ids in a set
of Python ints (~58 KB a session): the sandbox grew ~2 MB a minute until every session was full.
And during its 1,000 logins a load generator whose event loop stalled 30 s+ in a key exchange kept
a clock offset that made Telethon ignore every answer: the login hung.
"""

from __future__ import annotations

import asyncio
import tracemalloc

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.session import SEEN_PER_SESSION, SeenIds

from .conftest import ClientFactory

#: Bytes the sandbox's own code may keep over :data:`CALLS` more calls of one busy session. Measured:
#: ~0.9 KB; with the old 512-id set, ~55 KB.
RETAINED_BOUND = 8 * 1024
CALLS = 400


def _sandbox_bytes(snapshot: tracemalloc.Snapshot) -> int:
    return sum(
        stat.size for stat in snapshot.statistics("filename") if "mcpgram/sandbox/" in str(stat.traceback)
    )


async def test_a_busy_session_keeps_a_bounded_window_of_msg_ids(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    client = await make_client(phone="9996670401")
    for _ in range(50):
        await client.get_me()
    tracemalloc.start()
    try:
        before = _sandbox_bytes(tracemalloc.take_snapshot())
        for _ in range(CALLS):
            await client.get_me()
        grown = _sandbox_bytes(tracemalloc.take_snapshot()) - before
    finally:
        tracemalloc.stop()
    sessions = [s for auth in sandbox.auth_keys.values() for s in auth.sessions.values()]
    assert sessions and all(len(session.seen) <= SEEN_PER_SESSION for session in sessions)
    assert grown < RETAINED_BOUND, f"the sandbox kept {grown} bytes over {CALLS} calls"
    assert (await client.get_me()).phone == "9996670401"  # the window moved on; calls still answered


def test_the_window_ignores_replays_and_ids_older_than_it_remembers() -> None:
    seen = SeenIds()
    base = 1 << 62
    assert seen.add(base)
    assert not seen.add(base)  # a replay
    for step in range(1, SEEN_PER_SESSION + 10):
        assert seen.add(base + 4 * step)
    assert len(seen) == SEEN_PER_SESSION
    assert seen.floor == base + 4 * 9  # the newest id forgotten
    assert not seen.add(base)  # forgotten, but at or below the floor: never served again
    assert not seen.add(base + 4 * 9)
    assert not seen.add(base + 4 * 20)  # still remembered
    assert seen.add(base + 4 * 9 + 2)  # above the floor, never seen: new (inner ids of a container)


async def test_a_client_whose_clock_lags_is_told_and_then_answered(make_client: ClientFactory) -> None:
    """A client whose clock offset ended 45 s behind (its loop stalled in the key exchange) recovers.

    It ignores server messages more than 30 s ahead of its clock, so without a ``bad_msg_notification``
    it would wait for its answers forever; 16 ("msg_id too low") makes it take the server's time.
    """
    client = await make_client(phone="9996670402")
    # The state a 45 s stall between the server's DH answer and its reading leaves (Telethon sets its
    # clock offset there, before its first msg_id); no public API makes it, so set it as Telethon would.
    state = client._sender._state
    state.time_offset, state._last_msg_id = -45, 0
    me = await asyncio.wait_for(client.get_me(), 10)
    assert me is not None and me.phone == "9996670402"
    assert abs(client._sender._state.time_offset) <= 1
