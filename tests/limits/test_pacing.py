"""Write pacing decisions on an injected clock and sleep: short waits slept, long ones refused, holds.

Actions here name no chat, so no Telegram client is needed; per-chat and first-message pacing by
resolved chat are tested through the real path in ``tests/tools/test_limits.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mcpgram.configs import RateLimits
from mcpgram.errors import RateLimited
from mcpgram.limits.pacing import WritePacer
from mcpgram.limits.store import MemoryRateStore
from mcpgram.policy.guard import Action, reads
from mcpgram.policy.model import PROFILES

REACT = Action(("react",))
TO_PHONE = Action(("send",), sends=True, unresolved_recipient=True)
ALL = PROFILES["all"]


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(time: FakeTime, **limits: Any) -> WritePacer:
    settings = {"pace_write_seconds": 2.0, "pace_write_burst": 2, "pace_max_wait": 3.0, **limits}
    return WritePacer(MemoryRateStore(), RateLimits(**settings), clock=time.clock, sleep=time.sleep)


async def done() -> str:
    return "done"


async def test_writes_beyond_the_burst_wait_their_turn_and_long_waits_are_refused() -> None:
    """Two writes at once, the third sleeps 2 s; of two more at once the second would wait 4 s > 3:
    RATE_LIMITED with retry_after 4."""
    time = FakeTime()
    paced = pacer(time)
    for _ in range(3):
        assert await paced.run(None, "tnt_a", ALL, REACT, done) == "done"  # type: ignore[arg-type]
    assert time.slept == [pytest.approx(2.0)] and time.now == pytest.approx(2.0)
    # Two more arrive together at t=2: the first waits 2 s; the second would wait 4 s > 3.
    await paced.run(None, "tnt_a", ALL, REACT, done)  # type: ignore[arg-type]
    assert time.slept == [pytest.approx(2.0)] * 2
    time.now = 2.0
    with pytest.raises(RateLimited) as caught:
        await paced.run(None, "tnt_a", ALL, REACT, done)  # type: ignore[arg-type]
    assert caught.value.retry_after == 4 and "paced like a person's" in caught.value.message


async def test_a_refused_write_does_not_run_and_takes_nothing() -> None:
    """The call behind a refusal never runs; waiting retry_after then succeeds without another refusal."""
    time = FakeTime()
    paced = pacer(time, pace_write_burst=1, pace_write_seconds=10.0)
    ran: list[int] = []

    async def call() -> None:
        ran.append(1)

    await paced.run(None, "tnt_a", ALL, REACT, call)  # type: ignore[arg-type]
    for _ in range(3):
        with pytest.raises(RateLimited) as caught:
            await paced.run(None, "tnt_a", ALL, REACT, call)  # type: ignore[arg-type]
        assert caught.value.retry_after == 10
    time.now += 10
    await paced.run(None, "tnt_a", ALL, REACT, call)  # type: ignore[arg-type]
    assert ran == [1, 1] and time.slept == []


async def test_a_flood_wait_holds_every_write_until_telegrams_time() -> None:
    """After hold(60 s) a write is refused naming FLOOD_WAIT with retry_after 60; at 60 s it goes through."""
    time = FakeTime()
    paced = pacer(time)
    paced.hold("tnt_a", 60)
    with pytest.raises(RateLimited) as caught:
        await paced.run(None, "tnt_a", ALL, REACT, done)  # type: ignore[arg-type]
    assert caught.value.retry_after == 60 and "FLOOD_WAIT" in caught.value.message
    await paced.run(None, "tnt_b", ALL, REACT, done)  # type: ignore[arg-type]  # another tenant: not held
    time.now = 60.0
    assert await paced.run(None, "tnt_a", ALL, REACT, done) == "done"  # type: ignore[arg-type]
    # ...and the overall bucket restarts empty: the next write waits one interval.
    assert await paced.run(None, "tnt_a", ALL, REACT, done) == "done"  # type: ignore[arg-type]
    assert time.slept == [pytest.approx(2.0, abs=0.01)]


async def test_messages_to_numbers_that_are_not_contacts_draw_from_the_new_recipient_bucket() -> None:
    """send_to_phone is always a first message: after the new-recipient burst it is refused, naming that."""
    time = FakeTime()
    paced = pacer(time, pace_write_burst=100, pace_new_recipient_burst=2, pace_new_recipient_seconds=60.0)
    for _ in range(2):
        await paced.run(None, "tnt_a", ALL, TO_PHONE, done)  # type: ignore[arg-type]
    with pytest.raises(RateLimited) as caught:
        await paced.run(None, "tnt_a", ALL, TO_PHONE, done)  # type: ignore[arg-type]
    assert caught.value.retry_after == 60 and "first messages" in caught.value.message
    await paced.run(None, "tnt_a", ALL, REACT, done)  # type: ignore[arg-type]  # other writes go on


def test_only_write_verbs_are_paced() -> None:
    """Reads and downloads are not paced; each write verb is."""
    assert not WritePacer.paces(reads("me")) and not WritePacer.paces(Action(("download",)))
    for verb in ("send", "edit", "delete", "forward", "react", "mark_read"):
        assert WritePacer.paces(Action((verb,)))  # type: ignore[arg-type]


def test_the_rate_limits_defaults_are_the_settings() -> None:
    """RateLimits (what the limiter and pacer are handed) defaults to what Settings does."""
    from mcpgram.settings import Settings

    for item in dataclasses.fields(RateLimits):
        expected = Settings.model_fields[item.name].get_default(call_default_factory=False)
        assert item.default == expected, item.name
