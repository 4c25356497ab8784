"""Flood control for writes, played the way Telegram plays it: write too fast and wait ``FLOOD_WAIT_X``.

Telegram does not publish its limits, but it answers an account that sends, edits, forwards,
deletes, reacts or marks read too fast with ``420 FLOOD_WAIT_X`` and refuses its writes until X
seconds have passed. :class:`FloodControl` does that per user: more than ``max_writes`` writes in
any ``window`` seconds (or more than ``per_chat`` to one chat, if set) trips it, and then every write
of that user answers ``FLOOD_WAIT_<seconds left>`` until ``seconds`` have passed. Reads are never
counted. It is off unless a test (or the demo) turns it on with ``server.faults.flood_control(...)``,
so ordinary tests never meet it. The clock is a parameter (the world's clock is fixed in tests).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .router import RpcError

#: The write methods flood control counts, by TL class name (``messages.*`` and ``channels.*``).
WRITE_METHODS = frozenset(
    {
        "SendMessageRequest",
        "SendMediaRequest",
        "SendMultiMediaRequest",
        "EditMessageRequest",
        "ForwardMessagesRequest",
        "DeleteMessagesRequest",
        "SendReactionRequest",
        "ReadHistoryRequest",
        "UpdatePinnedMessageRequest",
    }
)


def _chat_key(request: Any) -> tuple[str, int] | None:
    """The chat a write goes to, as (peer kind, id), from the request's peer fields."""
    peer = (
        getattr(request, "to_peer", None)
        or getattr(request, "peer", None)
        or getattr(request, "channel", None)
    )
    if peer is None:
        return None
    for name in ("user_id", "chat_id", "channel_id"):
        value = getattr(peer, name, None)
        if isinstance(value, int):
            return name, value
    return type(peer).__name__, 0  # InputPeerSelf: Saved Messages


@dataclass
class FloodControl:
    """Per-user write limits; see the module doc.

    Args:
        max_writes: Writes one user may make in any ``window`` seconds.
        window: The sliding window, in seconds.
        seconds: X in the ``FLOOD_WAIT_X`` a user gets on tripping it, and how long it lasts.
        per_chat: Writes one user may make to one chat in ``window`` seconds (None: no such rule).
        user_id: Only this user's writes are limited (None: everyone's).
        clock: Seconds; only differences matter.
    """

    max_writes: int
    window: float
    seconds: int
    per_chat: int | None = None
    user_id: int | None = None
    clock: Callable[[], float] = time.monotonic
    #: FLOOD_WAITs answered so far (tests read it).
    tripped: int = 0
    #: Per user: the times of its recent writes under key None, and per chat under the chat's key.
    _writes: dict[int, dict[Any, deque[float]]] = field(default_factory=dict)
    _blocked: dict[int, float] = field(default_factory=dict)

    def check(self, user_id: int | None, request: Any) -> None:
        """Count a write of ``user_id``, or raise ``FLOOD_WAIT_X`` if it is one too many or blocked."""
        if user_id is None or type(request).__name__ not in WRITE_METHODS:
            return
        if self.user_id is not None and user_id != self.user_id:
            return
        now = self.clock()
        until = self._blocked.get(user_id)
        if until is not None:
            if now < until:
                self.tripped += 1
                raise RpcError(420, f"FLOOD_WAIT_{max(1, math.ceil(until - now))}")
            del self._blocked[user_id]
        mine = self._writes.setdefault(user_id, {})
        keys: list[Any] = [None]
        limits = [self.max_writes]
        chat = _chat_key(request)
        if self.per_chat is not None and chat is not None:
            keys.append(chat)
            limits.append(self.per_chat)
        logs = [self._recent(mine, key, now) for key in keys]
        if any(len(log) >= limit for log, limit in zip(logs, limits, strict=True)):
            # Blocked for the whole wait; afterwards the user starts afresh, as after Telegram's.
            self._blocked[user_id] = now + self.seconds
            del self._writes[user_id]
            self.tripped += 1
            raise RpcError(420, f"FLOOD_WAIT_{self.seconds}")
        for log in logs:
            log.append(now)

    def _recent(self, mine: dict[Any, deque[float]], key: Any, now: float) -> deque[float]:
        log = mine.setdefault(key, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        return log
