"""Token buckets behind one small interface: :class:`RateStore`, and :class:`MemoryRateStore` in memory.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; taking ``cost``
tokens either succeeds now, or after a wait. The math is GCRA (the "generic cell rate algorithm"):
a bucket is one number, its *theoretical arrival time* ``tat``, the moment it would be full again.
Taking ``cost`` moves ``tat`` on by ``cost / rate``; the take may happen once ``tat`` is at most
``burst / rate`` ahead of now. So a bucket whose ``tat`` has passed is full, which is exactly what
a bucket that was never used is: dropping it loses nothing. That is how :class:`MemoryRateStore`
stays bounded (idle buckets are swept, every ``sweep_seconds``) without ever granting a tenant more
than its limits allow.

Time is a parameter (``now``): this module reads no clock, sleeps never and does no I/O, so every
test runs on an injected clock. A shared store (Redis, SQL) implements the same three methods,
atomically per call (a Lua script in Redis). A tenant's calls all reach one process (over HTTP
with ``--workers``, the front routes by token), so the in-memory store is exact for one host; a
shared store is for several hosts serving the same tenants.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["DEFAULT_MAX_KEYS", "Bucket", "Limit", "MemoryRateStore", "RateStore"]

#: Buckets a store holds at most; past it the least recently used go first (see MemoryRateStore).
DEFAULT_MAX_KEYS = 200_000
#: How often idle buckets are dropped, in seconds of the callers' clock.
DEFAULT_SWEEP_SECONDS = 30.0


@dataclass(frozen=True)
class Limit:
    """``burst`` at once, then ``rate`` a second. ``rate`` 0 means unlimited."""

    rate: float
    burst: float

    @classmethod
    def every(cls, seconds: float, burst: float) -> Limit:
        """One every ``seconds`` (0: unlimited) after a burst of ``burst``."""
        return cls(rate=1.0 / seconds if seconds > 0 else 0.0, burst=burst)

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0


class Bucket(NamedTuple):
    """One bucket a take draws from: its key, the tokens it costs, the limit it is held to.

    A bucket of cost 0 is a gate: a take only checks it, and it is closed only by a hold.
    """

    key: str
    limit: Limit
    cost: float = 1.0


class RateStore(Protocol):
    """Where buckets live. Every method is atomic: a take draws from all its buckets or from none."""

    def take(self, buckets: Sequence[Bucket], now: float, max_wait: float = 0.0) -> tuple[float, int]:
        """Draw from every bucket if each has its tokens within ``max_wait`` seconds.

        Returns:
            ``(wait, index)``: the seconds until the last of them has its tokens (0.0: now) and the
            index of that bucket in ``buckets`` (-1 if none had to wait). When ``wait`` is at most
            ``max_wait`` the tokens are taken (the caller waits ``wait`` seconds and then acts);
            otherwise nothing is taken, so a refused caller does not push its own retry further.
        """
        ...

    def hold(self, bucket: Bucket, until: float, now: float) -> None:
        """Empty ``bucket`` until ``until``: the next token comes one interval after it."""
        ...

    def __len__(self) -> int:
        """Buckets currently held (idle ones may still be counted until the next sweep)."""
        ...


class MemoryRateStore:
    """:class:`RateStore` in a dict: one float per bucket, idle buckets swept, at most ``max_keys``.

    Memory is bounded twice: a bucket is dropped once idle (full again, at most ``burst / rate``
    seconds after its last take), at the first take after each ``sweep_seconds``; and past
    ``max_keys`` buckets the least recently used is dropped (which can only ever give that one
    bucket a fresh burst: a safety net, not the normal path).

    Args:
        max_keys: Buckets held at most.
        sweep_seconds: How often idle buckets are looked for.
    """

    def __init__(
        self, *, max_keys: int = DEFAULT_MAX_KEYS, sweep_seconds: float = DEFAULT_SWEEP_SECONDS
    ) -> None:
        if max_keys < 1 or sweep_seconds <= 0:
            raise ValueError("max_keys must be at least 1 and sweep_seconds positive")
        self.max_keys = max_keys
        self.sweep_seconds = sweep_seconds
        self._tat: dict[str, float] = {}
        self._next_sweep = -math.inf

    def __len__(self) -> int:
        return len(self._tat)

    def take(self, buckets: Sequence[Bucket], now: float, max_wait: float = 0.0) -> tuple[float, int]:
        if now >= self._next_sweep:
            self.sweep(now)
        tats = self._tat
        wait, worst = 0.0, -1
        for index, bucket in enumerate(buckets):
            limit = bucket.limit
            if limit.rate <= 0:
                continue
            tat = tats.get(bucket.key, now)
            # The take may happen once the new tat is at most burst/rate ahead of ``at``.
            needed = max(tat, now) + (bucket.cost - limit.burst) / limit.rate - now
            if needed > wait:
                wait, worst = needed, index
        if wait > max_wait:
            return wait, worst
        for bucket in buckets:
            limit = bucket.limit
            if limit.rate <= 0 or bucket.cost == 0:  # cost 0: a gate only :meth:`hold` closes
                continue
            key = bucket.key
            tat = tats.pop(key, now)
            tats[key] = max(tat, now) + bucket.cost / limit.rate  # re-inserted: most recently used last
        if len(tats) > self.max_keys:
            self._evict()
        return wait, worst

    def hold(self, bucket: Bucket, until: float, now: float) -> None:
        limit = bucket.limit
        if limit.rate <= 0:
            return
        tat = self._tat.pop(bucket.key, now)
        self._tat[bucket.key] = max(tat, until + limit.burst / limit.rate)
        if len(self._tat) > self.max_keys:
            self._evict()

    def sweep(self, now: float) -> int:
        """Drop every idle bucket (full again by ``now``); returns how many were dropped."""
        idle = [key for key, tat in self._tat.items() if tat <= now]
        for key in idle:
            del self._tat[key]
        self._next_sweep = now + self.sweep_seconds
        return len(idle)

    def _evict(self) -> None:
        excess = len(self._tat) - self.max_keys
        # Dicts keep insertion order, and a take re-inserts its keys: least recently used first.
        for key in list(itertools.islice(self._tat, excess)):
            del self._tat[key]
