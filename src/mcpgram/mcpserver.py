"""FastMCP as mcpgram runs it: the same server, with session state kept in a plain dict.

FastMCP reads "session state" on every request (per-session visibility rules for tools), through a
pydantic adapter over a key-value store from the ``py-key-value`` package. mcpgram sets no state and
no visibility rules, so each read answers nothing, yet importing that stack costs ~0.15 s of a
stdio server's first ``tools/list`` (bench/cold_start.py) and every request pays for the adapter.
:class:`SessionStateStore` gives FastMCP the three calls it makes (``get``/``put``/``delete`` with a
TTL), in memory, bounded.

``_state_store`` is a private FastMCP attribute (FastMCP's public ``session_state_store=`` still
wraps the store in the pydantic adapter). So the override applies only to the FastMCP releases it
was checked against (:data:`CHECKED_FASTMCP`); on any other release FastMCP keeps its own store, and
``tests/test_mcpserver.py`` fails loudly until the override is re-checked: that the attribute still
exists and FastMCP calls nothing on it but ``get``/``put``/``delete``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import fastmcp
from fastmcp import FastMCP

__all__ = ["CHECKED_FASTMCP", "MCPGramServer", "SessionStateStore", "overrides_state_store"]

#: FastMCP (major, minor) releases whose private ``_state_store`` use this override was checked against.
CHECKED_FASTMCP = frozenset({(4, 1), (4, 2)})


def overrides_state_store(version: str = fastmcp.__version__) -> bool:
    """Whether :class:`MCPGramServer` replaces FastMCP's session state store on this release."""
    major, minor, *_ = (int(part) if part.isdigit() else -1 for part in version.split("."))
    return (major, minor) in CHECKED_FASTMCP


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
    """FastMCP with :class:`SessionStateStore` as its session state (on the checked releases)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_state = SessionStateStore()

    if overrides_state_store():

        @property
        def _state_store(self) -> Any:  # FastMCP's own is a py-key-value pydantic adapter
            return self._lean_state
