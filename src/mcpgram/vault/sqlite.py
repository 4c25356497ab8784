"""The default vault backend: one SQLite file in the data directory.

The file is created 0600 inside a 0700 directory. WAL journaling with ``synchronous=FULL`` makes
every committed write durable and every write atomic, so a process killed mid-write leaves the
previous value intact. Calls are synchronous and short; the async layers run them through one
thread-offloading helper. A store instance is used from one thread at a time (the pool serialises
per tenant, and SQLite serialises writers).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ..errors import VaultError
from .marker import ChangeMarker
from .schema import migrate, refuse_newer, use_wal
from .store import SecretPurpose, TenantRecord, TenantStatus

_SELECT_TENANT = "SELECT tenant_id, label, created, status, token_fingerprint, key_version FROM tenants"


def _row_to_record(row: tuple[str, str, int, TenantStatus, str | None, int] | None) -> TenantRecord | None:
    if row is None:
        return None
    return TenantRecord(*row)


class SQLiteVault:
    """A :class:`~mcpgram.vault.store.VaultStore` on a SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            # Create the file with owner-only permissions before SQLite opens it.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            refuse_newer(self._db)  # before the journal-mode change, the first write
            use_wal(self._db)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            migrate(self._db)
        except BaseException:
            self._db.close()
            raise
        # Token lookups and key unwraps get a read-only connection of their own: in WAL mode it never
        # waits for the writer (a session seal's fsync), so they can run without a thread hop.
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        #: Changed after every committed policy write, by whichever process made it (``marker.py``).
        self._policies_marker = ChangeMarker(path.with_name(path.name + "-policies"))

    def _write(self, sql: str, params: tuple[object, ...]) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return cursor.rowcount

    def _one(self, sql: str, params: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._db.execute(sql, params).fetchone()
            return row

    def create_tenant(self, record: TenantRecord, *, token_digest: bytes, wrapped_key: bytes) -> None:
        self._write(
            "INSERT INTO tenants (tenant_id, label, created, status, token_digest, token_fingerprint,"
            " wrapped_key, key_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.tenant_id,
                record.label,
                record.created,
                record.status,
                token_digest,
                record.token_fingerprint,
                wrapped_key,
                record.key_version,
            ),
        )

    def tenant_by_digest(self, token_digest: bytes) -> TenantRecord | None:
        """The live tenant with this token digest; on the read-only connection (never waits on writes)."""
        sql = _SELECT_TENANT + " WHERE token_digest = ? AND status != 'revoked'"
        with self._read_lock:
            row = self._reader.execute(sql, (token_digest,)).fetchone()
        return _row_to_record(row)

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = self._one(_SELECT_TENANT + " WHERE tenant_id = ?", (tenant_id,))
        return _row_to_record(row)  # type: ignore[arg-type]

    def list_tenants(self) -> list[TenantRecord]:
        with self._lock:
            rows = self._db.execute(_SELECT_TENANT + " ORDER BY created, tenant_id").fetchall()
        return [TenantRecord(*row) for row in rows]

    def wrapped_key(self, tenant_id: str) -> bytes | None:
        """The tenant's wrapped data key; on the read-only connection, like token lookups: unwrapping
        a key for a verified token never waits for a session seal's fsync."""
        with self._read_lock:
            row = self._reader.execute("SELECT wrapped_key FROM tenants WHERE tenant_id = ?", (tenant_id,))
            found: tuple[bytes | None] | None = row.fetchone()
        return None if found is None else found[0]

    def replace_token(
        self, tenant_id: str, *, token_digest: bytes, fingerprint: str, wrapped_key: bytes
    ) -> None:
        changed = self._write(
            "UPDATE tenants SET token_digest = ?, token_fingerprint = ?, wrapped_key = ?,"
            " key_version = key_version + 1 WHERE tenant_id = ? AND status != 'revoked'",
            (token_digest, fingerprint, wrapped_key, tenant_id),
        )
        if changed != 1:
            raise KeyError(tenant_id)

    def revoke(self, tenant_id: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE tenants SET status = 'revoked', token_digest = NULL, token_fingerprint = NULL,"
                " wrapped_key = NULL WHERE tenant_id = ?",
                (tenant_id,),
            )
            self._db.execute("DELETE FROM secrets WHERE tenant_id = ?", (tenant_id,))
            # OAuth grants hold wrapped copies of the data key (vault/oauthstore.py): shredded too.
            self._db.execute("DELETE FROM oauth_grants WHERE tenant_id = ?", (tenant_id,))
            self._db.execute("COMMIT")

    def rekey(
        self,
        tenant_id: str,
        *,
        token_digest: bytes,
        fingerprint: str,
        wrapped_key: bytes,
        secrets: dict[SecretPurpose, bytes],
        status: TenantStatus,
        discard: str | None = None,
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = self._db.execute(
                    "UPDATE tenants SET token_digest = ?, token_fingerprint = ?, wrapped_key = ?,"
                    " key_version = key_version + 1, status = ? WHERE tenant_id = ? AND status != 'revoked'",
                    (token_digest, fingerprint, wrapped_key, status, tenant_id),
                ).rowcount
                if changed != 1:
                    raise KeyError(tenant_id)
                self._db.execute("DELETE FROM secrets WHERE tenant_id = ?", (tenant_id,))
                self._db.executemany(
                    "INSERT INTO secrets (tenant_id, purpose, blob) VALUES (?, ?, ?)",
                    [(tenant_id, purpose, blob) for purpose, blob in secrets.items()],
                )
                # Grants hold wrapped copies of the old data key: every OAuth token of the tenant ends.
                self._db.execute("DELETE FROM oauth_grants WHERE tenant_id = ?", (tenant_id,))
                if discard is not None:
                    self._db.execute("DELETE FROM tenants WHERE tenant_id = ?", (discard,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def discard(self, tenant_id: str) -> None:
        """Delete the tenant's row and, by cascade, everything stored for it."""
        self._write("DELETE FROM tenants WHERE tenant_id = ?", (tenant_id,))
        self._policies_changed()  # its policy went with it

    def set_status(self, tenant_id: str, status: TenantStatus) -> None:
        self._write(
            "UPDATE tenants SET status = ? WHERE tenant_id = ? AND status != 'revoked'", (status, tenant_id)
        )

    def load_secret(self, tenant_id: str, purpose: SecretPurpose) -> bytes | None:
        row = self._one("SELECT blob FROM secrets WHERE tenant_id = ? AND purpose = ?", (tenant_id, purpose))
        return None if row is None else row[0]  # type: ignore[return-value]

    def store_secret(self, tenant_id: str, purpose: SecretPurpose, blob: bytes) -> None:
        # The tenant check is part of the same statement: a seal racing a revoke (another process,
        # or a flush already in a worker thread) must not resurrect a shredded secret.
        changed = self._write(
            "INSERT INTO secrets (tenant_id, purpose, blob)"
            " SELECT ?, ?, ? FROM tenants WHERE tenant_id = ? AND status != 'revoked'"
            " ON CONFLICT (tenant_id, purpose) DO UPDATE SET blob = excluded.blob",
            (tenant_id, purpose, blob, tenant_id),
        )
        if changed != 1:
            raise VaultError("tenant is revoked or unknown; nothing stored")

    def policies_version(self) -> bytes | None:
        """Changes whenever any process commits a policy write; None: unknown, read every time."""
        return self._policies_marker.read()

    def _policies_changed(self) -> None:
        try:
            self._policies_marker.change()
        except OSError:
            raise VaultError(
                "the policy was stored, but running servers could not be told: restart them"
            ) from None

    def load_policy(self, tenant_id: str) -> str | None:
        """On the read-only connection: every tool call reads it, and must never wait for a write."""
        with self._read_lock:
            row = self._reader.execute("SELECT policy FROM policies WHERE tenant_id = ?", (tenant_id,))
            found: tuple[str] | None = row.fetchone()
        return None if found is None else found[0]

    def store_policy(self, tenant_id: str, policy: str, *, updated: int) -> None:
        changed = self._write(
            "INSERT INTO policies (tenant_id, policy, updated)"
            " SELECT ?, ?, ? FROM tenants WHERE tenant_id = ? AND status != 'revoked'"
            " ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated = excluded.updated",
            (tenant_id, policy, updated, tenant_id),
        )
        self._policies_changed()
        if changed != 1:
            raise KeyError(tenant_id)

    def swap_policy(self, tenant_id: str, expected: str | None, policy: str, *, updated: int) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT policy FROM policies WHERE tenant_id = ?", (tenant_id,))
                found: tuple[str] | None = row.fetchone()
                if (None if found is None else found[0]) != expected:
                    self._db.execute("ROLLBACK")
                    return False
                changed = self._db.execute(
                    "INSERT INTO policies (tenant_id, policy, updated)"
                    " SELECT ?, ?, ? FROM tenants WHERE tenant_id = ? AND status != 'revoked'"
                    " ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy,"
                    " updated = excluded.updated",
                    (tenant_id, policy, updated, tenant_id),
                ).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._policies_changed()
        if changed != 1:
            raise KeyError(tenant_id)
        return True

    def close(self) -> None:
        self._policies_marker.close()
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._db.close()
