"""FastMCP as mcpgram runs it: the same server, with session state kept in a plain dict.

FastMCP reads "session state" on every request (per-session visibility rules for tools), through a
pydantic adapter over a key-value store from the ``py-key-value`` package. mcpgram sets no state and
no visibility rules, so each read answers nothing, yet importing that stack costs ~0.15 s of a
stdio server's first ``tools/list`` (bench/cold_start.py) and every request pays for the adapter.
:class:`SessionStateStore` gives FastMCP the three calls it makes (``get``/``put``/``delete`` with a
TTL), in memory, bounded. If FastMCP stops reading ``_state_store``, this override is simply unused.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastmcp import FastMCP

__all__ = ["MCPGramServer", "SessionStateStore"]


class SessionStateStore:
    """Values by key with an optional TTL; at most ``size`` keys (the oldest written go first)."""

    def __init__(self, *, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()

    async def get(self, key: str, *, collection: str | None = None) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and self._clock() >= expires:
            del self._entries[key]
            return None
        return value

    async def put(
        self, key: str, value: Any, *, collection: str | None = None, ttl: float | None = None
    ) -> None:
        expires = self._clock() + ttl if ttl is not None else None
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        return self._entries.pop(key, None) is not None


class MCPGramServer(FastMCP[Any]):
    """FastMCP with :class:`SessionStateStore` as its session state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_state = SessionStateStore()

    @property
    def _state_store(self) -> Any:  # FastMCP's own is a py-key-value pydantic adapter
        return self._lean_state
