"""Token-bucket math on an injected clock: bursts, refill, all-or-nothing takes, holds, bounded memory."""

from __future__ import annotations

import pytest

from mcpgram.configs import RateLimits
from mcpgram.errors import RateLimited
from mcpgram.limits.pacing import CallLimiter
from mcpgram.limits.store import Bucket, Limit, MemoryRateStore

TEN_A_SECOND = Limit(rate=10.0, burst=3.0)


def test_a_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    """Three takes at once succeed; the fourth waits 0.1 s; after 0.3 s idle the burst is back."""
    store = MemoryRateStore()
    bucket = (Bucket("k", TEN_A_SECOND),)
    assert [store.take(bucket, 100.0)[0] for _ in range(3)] == [0.0, 0.0, 0.0]
    wait, index = store.take(bucket, 100.0)
    assert wait == pytest.approx(0.1) and index == 0
    assert store.take(bucket, 100.1)[0] == pytest.approx(0.0)
    assert store.take(bucket, 100.1)[0] == pytest.approx(0.1)
    assert [store.take(bucket, 100.5)[0] for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_refused_take_takes_nothing_and_a_short_wait_reserves() -> None:
    """Over max_wait nothing is taken (the refused caller does not push its own retry further);
    within it the token is reserved, so the next caller waits behind it."""
    store = MemoryRateStore()
    bucket = (Bucket("k", Limit(rate=1.0, burst=1.0)),)
    assert store.take(bucket, 0.0)[0] == 0.0
    for _ in range(5):
        assert store.take(bucket, 0.0, max_wait=0.5)[0] == pytest.approx(1.0)
    assert store.take(bucket, 0.0, max_wait=2.0)[0] == pytest.approx(1.0)  # reserved
    assert store.take(bucket, 0.0, max_wait=0.5)[0] == pytest.approx(2.0)


def test_a_take_draws_from_all_its_buckets_or_from_none() -> None:
    """The slowest bucket decides the wait and is named; refused, the others keep their tokens too."""
    store = MemoryRateStore()
    fast, slow = Bucket("fast", Limit(rate=10.0, burst=5.0)), Bucket("slow", Limit(rate=1.0, burst=1.0))
    assert store.take((fast, slow), 0.0) == (0.0, -1)
    assert store.take((fast, slow), 0.0) == (pytest.approx(1.0), 1)
    # The refused take left 'fast' alone: four more tokens are there.
    assert [store.take((fast,), 0.0)[0] for _ in range(4)] == [0.0] * 4


def test_hold_empties_a_bucket_until_a_time() -> None:
    """After hold(until=10) the bucket's next token comes one interval after 10, then the rate applies."""
    store = MemoryRateStore()
    bucket = Bucket("k", Limit(rate=2.0, burst=4.0))
    store.hold(bucket, until=10.0, now=0.0)
    assert store.take((bucket,), 0.0)[0] == pytest.approx(10.5)
    assert store.take((bucket,), 10.5)[0] == pytest.approx(0.0)
    assert store.take((bucket,), 10.5)[0] == pytest.approx(0.5)


def test_an_unlimited_bucket_never_waits_nor_is_stored() -> None:
    """rate 0 means no limit: no wait, no state."""
    store = MemoryRateStore()
    bucket = (Bucket("k", Limit.every(0, 1)),)
    assert all(store.take(bucket, 0.0)[0] == 0.0 for _ in range(100))
    assert len(store) == 0


def test_ten_thousand_tenants_buckets_are_dropped_after_idling() -> None:
    """10,000 tenants each make calls; once idle (full again) and a sweep period later, one bucket is left."""
    now = [1000.0]
    store = MemoryRateStore(sweep_seconds=30.0)
    limiter = CallLimiter(store, RateLimits(call_rate=10.0, call_burst=30), clock=lambda: now[0])
    for i in range(10_000):
        for _ in range(5):
            limiter.check(f"tnt_{i}")
    assert len(store) == 10_000
    now[0] += 3.0 + 30.0  # full again after burst/rate = 3 s; the next sweep is due
    limiter.check("tnt_new")
    assert len(store) == 1


def test_past_max_keys_the_least_recently_used_bucket_goes() -> None:
    """A store holds at most max_keys buckets, however many keys come; the oldest used goes first."""
    store = MemoryRateStore(max_keys=100)
    limit = Limit(rate=0.001, burst=1.0)  # never idle within the test
    for i in range(1000):
        store.take((Bucket(f"k{i}", limit),), 0.0)
    assert len(store) == 100
    assert store.take((Bucket("k999", limit),), 0.0)[0] > 0  # still remembered
    assert store.take((Bucket("k0", limit),), 0.0)[0] == 0.0  # forgotten: a fresh bucket


def test_one_tenants_limit_does_not_slow_another() -> None:
    """Tenant A over its call limit gets RATE_LIMITED with retry_after; tenant B is not touched."""
    store = MemoryRateStore()
    limiter = CallLimiter(store, RateLimits(call_rate=1.0, call_burst=2), clock=lambda: 0.0)
    limiter.check("tnt_a")
    limiter.check("tnt_a")
    with pytest.raises(RateLimited) as caught:
        limiter.check("tnt_a")
    assert caught.value.code == "RATE_LIMITED" and caught.value.retry_after == 1
    for _ in range(2):
        limiter.check("tnt_b")
