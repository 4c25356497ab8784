"""Idle and absolute timeouts of /setup flows and signed-in sessions, each on its own, on a fake clock.

Idle is the time since the last use (reading counts); absolute is the time since creation, however
busy. Then the same through HTTP: a signed-in browser idle too long is signed out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mcpgram.web.setup import SetupStore
from mcpgram.web.setup.store import FLOW_ABSOLUTE_SECONDS, FLOW_IDLE_SECONDS
from tests.web.test_setup import post, sandbox, sign_up, site  # noqa: F401 (fixtures)

IDLE, ABSOLUTE = 100.0, 1000.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SetupStore]:
    setup_store = SetupStore(
        tmp_path / "signin.db", clock=clock, idle_seconds=IDLE, absolute_seconds=ABSOLUTE
    )
    yield setup_store
    setup_store.close()


def test_the_defaults() -> None:
    assert FLOW_IDLE_SECONDS == 15 * 60 and FLOW_ABSOLUTE_SECONDS == 60 * 60


def test_a_flow_read_now_and_then_stays_alive(store: SetupStore, clock: Clock) -> None:
    flow_id = store.create_flow({"csrf": "c"})
    for _ in range(5):  # only reads (page views), each within the idle timeout of the last
        clock.now += IDLE - 1
        assert store.load_flow(flow_id) == {"csrf": "c"}


def test_a_flow_idle_too_long_is_gone(store: SetupStore, clock: Clock) -> None:
    flow_id = store.create_flow({"csrf": "c"})
    clock.now += IDLE / 2
    assert store.load_flow(flow_id) is not None
    clock.now += IDLE + 1  # idle since that read
    assert store.load_flow(flow_id) is None
    clock.now -= IDLE  # gone for good, not just hidden
    assert store.load_flow(flow_id) is None


def test_a_busy_flow_ends_at_the_absolute_timeout(store: SetupStore, clock: Clock) -> None:
    flow_id = store.create_flow({"csrf": "c"})
    start = clock.now
    while clock.now + IDLE / 2 <= start + ABSOLUTE:
        clock.now += IDLE / 2
        assert store.load_flow(flow_id) is not None
        store.save_flow(flow_id, {"csrf": "c"})
    clock.now = start + ABSOLUTE + 1  # used a moment ago, but too old
    assert store.load_flow(flow_id) is None


def test_a_session_used_now_and_then_stays_alive(store: SetupStore, clock: Clock) -> None:
    session_id = store.create_session("t-1", {"token": "x"})
    for _ in range(5):
        clock.now += IDLE - 1
        assert store.load_session(session_id) == ("t-1", {"token": "x"})


def test_a_session_idle_too_long_is_gone(store: SetupStore, clock: Clock) -> None:
    session_id = store.create_session("t-1", {"token": "x"})
    clock.now += IDLE / 2
    assert store.load_session(session_id) is not None
    clock.now += IDLE + 1
    assert store.load_session(session_id) is None
    clock.now -= IDLE
    assert store.load_session(session_id) is None


def test_a_busy_session_ends_at_the_absolute_timeout(store: SetupStore, clock: Clock) -> None:
    session_id = store.create_session("t-1", {"token": "x"})
    start = clock.now
    while clock.now + IDLE / 2 <= start + ABSOLUTE:
        clock.now += IDLE / 2
        assert store.load_session(session_id) is not None
    clock.now = start + ABSOLUTE + 1
    assert store.load_session(session_id) is None


async def test_a_signed_in_browser_idle_too_long_is_signed_out(site: httpx2.AsyncClient) -> None:  # noqa: F811
    await sign_up(site)
    store: SetupStore = site.gateway.closers[0].__self__  # type: ignore[attr-defined]
    start = store.clock()
    store.clock = lambda: start + FLOW_IDLE_SECONDS - 10
    assert "Rotate the token" in (await site.get("/setup/manage")).text  # reading keeps it alive
    store.clock = lambda: start + 2 * FLOW_IDLE_SECONDS - 20
    assert "Rotate the token" in (await site.get("/setup/manage")).text
    store.clock = lambda: start + 3 * FLOW_IDLE_SECONDS
    page = await site.get("/setup/manage")
    assert "Sign in with your bearer token" in page.text and "Rotate the token" not in page.text
    assert (await post(site, "manage/rotate")).status_code == 403
