"""Server state of one MTProto session: its msg_ids and seq_no, and the client msg_ids it has seen.

See https://core.telegram.org/mtproto/description (msg_id, seq_no) and ``mtproto.py``, which uses it.
"""

from __future__ import annotations

import array
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .handle import AuthRecord

__all__ = ["SEEN_PER_SESSION", "MsgIds", "SeenIds", "Session"]

#: Client msg_ids a session remembers to ignore replays (:class:`SeenIds`).
SEEN_PER_SESSION = 128


class MsgIds:
    """Server msg_ids: time-based, strictly increasing, ``% 4 == 1`` for answers and ``3`` otherwise."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, *, answer: bool) -> int:
        now = time.time()
        msg_id = (int(now) << 32) | (int((now % 1) * (1 << 32)) & 0xFFFFFFFC)
        msg_id = max(msg_id, (self._last | 3) + 1)
        self._last = msg_id | (1 if answer else 3)
        return self._last


class SeenIds:
    """The client msg_ids a session has seen lately, to ignore replays: at most :data:`SEEN_PER_SESSION`.

    Held in an ``array`` (8 bytes an id; a set of 512 Python ints took ~58 KB a session, which 1,000
    busy tenants' sessions filled at ~2 MB a minute). Like Telegram, a session does not remember ids
    forever: one at or below the newest it has forgotten is "too low" (``bad_msg_notification``
    16, which makes the client resend it under a new id), never served a second time.
    """

    __slots__ = ("_ids", "floor")

    def __init__(self) -> None:
        self._ids = array.array("q")
        #: The newest msg_id forgotten: anything at or below it is too low.
        self.floor = 0

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, msg_id: int) -> bool:
        """Record ``msg_id``; False if it was seen, or is too old to tell (see :attr:`floor`)."""
        if msg_id <= self.floor or msg_id in self._ids:
            return False
        if len(self._ids) >= SEEN_PER_SESSION:
            oldest = min(self._ids)
            self._ids.remove(oldest)
            self.floor = oldest
        self._ids.append(msg_id)
        return True


class Session:
    """Server state of one MTProto session (one ``session_id`` under one auth key)."""

    __slots__ = ("auth", "layer", "msg_ids", "no_updates", "seen", "seq", "session_id")

    def __init__(self, auth: AuthRecord, session_id: int) -> None:
        self.auth = auth
        self.session_id = session_id
        self.msg_ids = MsgIds()
        self.seq = 0
        self.seen = SeenIds()
        self.no_updates = False
        self.layer = 0

    def next_seq(self, content_related: bool) -> int:
        if content_related:
            self.seq += 1
            return self.seq * 2 - 1
        return self.seq * 2

    def remember(self, msg_id: int) -> bool:
        """Record a client msg_id; False if it was already seen (a replay to ignore) or is too low."""
        return self.seen.add(msg_id)
