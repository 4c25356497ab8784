"""Server-side state of the /setup pages in the data dir's ``signin.db`` (SQLite, shared by workers).

Three tables:

- ``flows``: one row per browser sign-in flow, keyed by ``SHA-256("id|" + flow id)``; the flow id
  itself lives only in the browser's cookie. The row's payload (CSRF token, login state, the new
  tenant's token) is sealed with AES-GCM under a key derived from the flow id, so the file alone
  reveals no token, phone number or login code hash. Idle and absolute timeouts end a flow.
- ``attempts``: fixed-window counters for the rate limits (per IP, per phone).
- ``sessions``: signed-in browser sessions (``signedin.py``): the same keying and sealing as
  flows, plus the tenant id in clear so "log out everywhere" can end them all.
- ``accounts``: the Telegram user id each web-created tenant logged in as (a re-login must match).
- ``invites``: single-use invitation codes, stored as SHA-256 digests with an expiry.

Every worker process opens the same file, so a flow started on one worker continues on any other.

Must not: store a flow id, an invite code or a token in clear.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...vault.schema import use_wal

Clock = Callable[[], float]

FLOW_IDLE_SECONDS = 15 * 60
FLOW_ABSOLUTE_SECONDS = 60 * 60
INVITE_BYTES = 24  # 192 bits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    id_hash BLOB PRIMARY KEY, created REAL NOT NULL, touched REAL NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT PRIMARY KEY, window_start REAL NOT NULL, count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash BLOB PRIMARY KEY, tenant_id TEXT NOT NULL, created REAL NOT NULL, touched REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_tenant ON sessions (tenant_id);
CREATE TABLE IF NOT EXISTS accounts (tenant_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS invites (
    code_hash BLOB PRIMARY KEY, created REAL NOT NULL, expires REAL NOT NULL, used REAL
);
"""


def _id_hash(flow_id: str) -> bytes:
    return hashlib.sha256(b"id|" + flow_id.encode()).digest()


def _flow_key(flow_id: str) -> bytes:
    return hashlib.sha256(b"key|" + flow_id.encode()).digest()


def new_flow_id() -> str:
    """256 random bits, url-safe."""
    return secrets.token_urlsafe(32)


class SetupStore:
    """The flows, rate-limit counters and invites of /setup, in one SQLite file.

    Args:
        path: The database file (``data_dir/signin.db``).
        clock: Unix time; tests pass a fake one.
        idle_seconds: A flow untouched this long is gone.
        absolute_seconds: A flow older than this is gone, however busy.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = time.time,
        idle_seconds: float = FLOW_IDLE_SECONDS,
        absolute_seconds: float = FLOW_ABSOLUTE_SECONDS,
    ) -> None:
        self._db = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            use_wal(self._db)  # workers may open a new file at the same moment
            # One write transaction taken before any read: a second process waits its turn (busy
            # timeout) instead of failing at once on a stale read of the schema.
            self._db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        except BaseException:
            self._db.close()
            raise
        self._lock = threading.Lock()
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    def close(self) -> None:
        self._db.close()

    # -- flows ----------------------------------------------------------------------------------

    def create_flow(self, payload: dict[str, Any]) -> str:
        """Store a new flow; returns its id (for the cookie only)."""
        flow_id = new_flow_id()
        now = self.clock()
        with self._lock:
            self._db.execute(
                "DELETE FROM flows WHERE touched < ? OR created < ?",
                (now - self.idle_seconds, now - self.absolute_seconds),
            )
            self._db.execute(
                "INSERT INTO flows VALUES (?, ?, ?, ?)",
                (_id_hash(flow_id), now, now, self._seal(flow_id, payload)),
            )
        return flow_id

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """The flow's payload, or None when unknown, expired (then deleted) or tampered with."""
        if not flow_id or len(flow_id) > 100:
            return None
        now = self.clock()
        with self._lock:
            row = self._db.execute(
                "SELECT created, touched, payload FROM flows WHERE id_hash = ?", (_id_hash(flow_id),)
            ).fetchone()
            if row is None:
                return None
            created, touched, sealed = row
            if now - touched > self.idle_seconds or now - created > self.absolute_seconds:
                self._db.execute("DELETE FROM flows WHERE id_hash = ?", (_id_hash(flow_id),))
                return None
            # Reading is use: idle means time since the last request, not since the last change.
            self._db.execute("UPDATE flows SET touched = ? WHERE id_hash = ?", (now, _id_hash(flow_id)))
        return self._open(flow_id, sealed)

    def save_flow(self, flow_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE flows SET touched = ?, payload = ? WHERE id_hash = ?",
                (self.clock(), self._seal(flow_id, payload), _id_hash(flow_id)),
            )

    def delete_flow(self, flow_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM flows WHERE id_hash = ?", (_id_hash(flow_id),))

    # -- signed-in sessions -------------------------------------------------------------------------

    def create_session(self, tenant_id: str, payload: dict[str, Any]) -> str:
        session_id = new_flow_id()
        now = self.clock()
        with self._lock:
            self._db.execute(
                "DELETE FROM sessions WHERE touched < ? OR created < ?",
                (now - self.idle_seconds, now - self.absolute_seconds),
            )
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_id_hash(session_id), tenant_id, now, now, self._seal(session_id, payload)),
            )
        return session_id

    def load_session(self, session_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(tenant id, payload)`` of a live session (touching it), else None."""
        if not session_id or len(session_id) > 100:
            return None
        now = self.clock()
        key = _id_hash(session_id)
        with self._lock:
            row = self._db.execute(
                "SELECT tenant_id, created, touched, payload FROM sessions WHERE id_hash = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            tenant_id, created, touched, sealed = row
            if now - touched > self.idle_seconds or now - created > self.absolute_seconds:
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            self._db.execute("UPDATE sessions SET touched = ? WHERE id_hash = ?", (now, key))
        payload = self._open(session_id, sealed)
        return (str(tenant_id), payload) if payload is not None else None

    def save_session(self, session_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE sessions SET payload = ? WHERE id_hash = ?",
                (self._seal(session_id, payload), _id_hash(session_id)),
            )

    def end_sessions(self, *, session_id: str | None = None, tenant_id: str | None = None) -> None:
        """End one session, or every session of ``tenant_id``."""
        with self._lock:
            if session_id is not None:
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_id_hash(session_id),))
            if tenant_id is not None:
                self._db.execute("DELETE FROM sessions WHERE tenant_id = ?", (tenant_id,))

    @staticmethod
    def _open(secret_id: str, sealed: bytes) -> dict[str, Any] | None:
        try:
            plain = AESGCM(_flow_key(secret_id)).decrypt(sealed[:12], sealed[12:], _id_hash(secret_id))
        except (InvalidTag, ValueError):
            return None
        payload: dict[str, Any] = json.loads(plain)
        return payload

    @staticmethod
    def _seal(flow_id: str, payload: dict[str, Any]) -> bytes:
        nonce = secrets.token_bytes(12)
        box = AESGCM(_flow_key(flow_id)).encrypt(nonce, json.dumps(payload).encode(), _id_hash(flow_id))
        return nonce + box

    # -- rate limits ------------------------------------------------------------------------------

    def hit(self, key: str, *, limit: int, window: float) -> float:
        """Count one attempt under ``key``; 0 if allowed, else the seconds until the window ends.

        A refused attempt is not counted, so waiting out the window always helps.
        """
        now = self.clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT window_start, count FROM attempts WHERE key = ?", (key,)
                ).fetchone()
                if row is None or now - row[0] >= window:
                    self._db.execute("INSERT OR REPLACE INTO attempts VALUES (?, ?, 1)", (key, now))
                    return 0.0
                if row[1] >= limit:
                    return max(1.0, float(row[0]) + window - now)
                self._db.execute("UPDATE attempts SET count = count + 1 WHERE key = ?", (key,))
                return 0.0
            finally:
                self._db.execute("COMMIT")

    # -- accounts ---------------------------------------------------------------------------------

    def remember_account(self, tenant_id: str, user_id: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO accounts VALUES (?, ?)", (tenant_id, user_id))

    def tenants_of(self, user_id: int) -> list[str]:
        """The tenants recorded as logged in to Telegram account ``user_id`` (recovery by login)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tenant_id FROM accounts WHERE user_id = ? ORDER BY tenant_id", (user_id,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def account_of(self, tenant_id: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT user_id FROM accounts WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
        return int(row[0]) if row else None

    # -- invites ----------------------------------------------------------------------------------

    def create_invite(self, *, valid_seconds: float) -> str:
        """A new single-use invite code (192 random bits), valid for ``valid_seconds``."""
        code = secrets.token_urlsafe(INVITE_BYTES)
        now = self.clock()
        with self._lock:
            self._db.execute(
                "INSERT INTO invites VALUES (?, ?, ?, NULL)",
                (hashlib.sha256(code.encode()).digest(), now, now + valid_seconds),
            )
        return code

    def use_invite(self, code: str) -> bool:
        """Spend ``code``: True once for a valid, unexpired, unused code; False ever after."""
        if not code or len(code) > 100:
            return False
        now = self.clock()
        with self._lock:
            cursor = self._db.execute(
                "UPDATE invites SET used = ? WHERE code_hash = ? AND used IS NULL AND expires > ?",
                (now, hashlib.sha256(code.strip().encode()).digest(), now),
            )
            return cursor.rowcount == 1
