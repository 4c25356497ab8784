"""Approvals in the vault's SQLite file (table ``approvals``, schema version 3), shared by processes.

Every process serving the data dir (``serve --workers N``) and a restarted one see the same rows:
an approval asked by one worker can be answered on the page another serves, and used by the next
call wherever it lands. Each change is one statement under SQLite's write lock, so the two
decisions that must happen once do: :meth:`ApprovalStore.decide` moves ``pending`` to ``approved``
or ``refused`` only while it is pending and not expired, and :meth:`ApprovalStore.consume` moves
``approved`` to ``used`` exactly once (a replay finds it used).

A row holds the SHA-256 of its id, never the id; what the approval page shows (chat title, the
content preview) is sealed with AES-256-GCM under a key derived from the id, so the database alone
reveals no message text. Rows are deleted a day after they expire.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigError
from ..vault.schema import migrate
from .core import Channel, id_hash, new_approval_id

__all__ = ["ApprovalRow", "ApprovalStore", "Status"]

Status = Literal["pending", "approved", "refused", "used", "expired"]
#: Rows are kept this long past their expiry (for the retry that reports EXPIRED), then deleted.
KEEP_AFTER_EXPIRY_SECONDS = 24 * 3600
_COLUMNS = "id_hash, tenant_id, binding, channel, status, closed, code, anchor, sealed, created, expires"


@dataclass(frozen=True)
class ApprovalRow:
    id_hash: bytes
    tenant: str
    binding: bytes
    channel: Channel
    #: As stored, except that a pending or approved row past ``expires`` reads ``expired``.
    status: Status
    #: Its outcome was reported to the agent (or it was used): a new call asks again.
    closed: bool
    code: str | None
    #: Saved Messages: the id of the request message (answers come after it).
    anchor: int | None
    sealed: bytes | None
    created: float
    expires: float


def _page_key(approval_id: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcpgram/approval-page/v1")
    return hkdf.derive(approval_id.encode())


def seal_page(approval_id: str, shown: dict[str, Any]) -> bytes:
    nonce = os.urandom(12)
    data = json.dumps(shown, ensure_ascii=False).encode()
    return nonce + AESGCM(_page_key(approval_id)).encrypt(nonce, data, id_hash(approval_id))


def open_page(approval_id: str, sealed: bytes) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(
        AESGCM(_page_key(approval_id)).decrypt(sealed[:12], sealed[12:], id_hash(approval_id))
    )
    return shown


class ApprovalStore:
    """The approvals table of the SQLite file at ``path`` (the vault's); ``clock`` in seconds."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        if not path.exists():
            raise ConfigError("the vault database does not exist yet", hint="create a tenant first")
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            self._db.execute("PRAGMA foreign_keys=ON")
            migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, found: tuple[Any, ...] | None) -> ApprovalRow | None:
        if found is None:
            return None
        row = ApprovalRow(*found[:5], bool(found[5]), *found[6:])  # type: ignore[call-arg]
        if row.status in ("pending", "approved") and self._clock() >= row.expires:
            return replace(row, status="expired")
        return row

    def _execute(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def create(  # one argument per column
        self,
        tenant: str,
        binding: bytes,
        channel: Channel,
        ttl: float,
        *,
        shown: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> tuple[str, ApprovalRow]:
        """A new pending approval; returns its id (only ever here) and its row."""
        approval_id = new_approval_id()
        now = self._clock()
        sealed = None if shown is None else seal_page(approval_id, shown)
        key = id_hash(approval_id)
        with self._lock:
            self._db.execute("DELETE FROM approvals WHERE expires < ?", (now - KEEP_AFTER_EXPIRY_SECONDS,))
            self._db.execute(
                f"INSERT INTO approvals ({_COLUMNS}) VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, ?, ?, ?)",  # noqa: S608
                (key, tenant, binding, channel, code, sealed, now, now + ttl),
            )
        row = self.get(key)
        assert row is not None
        return approval_id, row

    def get(self, key: bytes) -> ApprovalRow | None:
        found = self._execute(f"SELECT {_COLUMNS} FROM approvals WHERE id_hash = ?", (key,)).fetchone()  # noqa: S608
        return self._row(found)

    def find_open(self, tenant: str, binding: bytes, channel: Channel) -> ApprovalRow | None:
        """The newest approval of this exact action through ``channel`` not yet closed."""
        found = self._execute(
            f"SELECT {_COLUMNS} FROM approvals WHERE tenant_id = ? AND binding = ? AND channel = ?"  # noqa: S608
            " AND closed = 0 ORDER BY created DESC LIMIT 1",
            (tenant, binding, channel),
        ).fetchone()
        return self._row(found)

    def set_anchor(self, key: bytes, anchor: int) -> None:
        self._execute("UPDATE approvals SET anchor = ? WHERE id_hash = ?", (anchor, key))

    def decide(self, key: bytes, approve: bool) -> bool:
        """Approve or refuse a pending, unexpired approval; False if it was not (any more) pending."""
        cursor = self._execute(
            "UPDATE approvals SET status = ? WHERE id_hash = ? AND status = 'pending' AND expires > ?",
            ("approved" if approve else "refused", key, self._clock()),
        )
        return cursor.rowcount == 1

    def consume(self, key: bytes) -> bool:
        """Use an approved, unexpired approval once; False for a replay, an expired or another state."""
        cursor = self._execute(
            "UPDATE approvals SET status = 'used', closed = 1"
            " WHERE id_hash = ? AND status = 'approved' AND expires > ?",
            (key, self._clock()),
        )
        return cursor.rowcount == 1

    def close_row(self, key: bytes, status: Status | None = None) -> None:
        """Mark an outcome reported (a new identical call asks again); optionally store ``status``."""
        if status is None:
            self._execute("UPDATE approvals SET closed = 1 WHERE id_hash = ?", (key,))
        else:
            self._execute("UPDATE approvals SET closed = 1, status = ? WHERE id_hash = ?", (status, key))

    def expire_now(self, key: bytes) -> None:
        """Move an approval's expiry to now (tests, and an operator clearing one)."""
        self._execute("UPDATE approvals SET expires = ? WHERE id_hash = ?", (self._clock(), key))
