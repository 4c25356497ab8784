"""A busy MTProto session keeps a small, fixed window of client msg_ids, and still ignores replays.

Under bench/tenants.py (1,000 tenants) each session's replay guard held up to 512 msg_ids in a set
of Python ints (~58 KB a session): the sandbox grew ~2 MB a minute until every session was full.
"""

from __future__ import annotations

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
