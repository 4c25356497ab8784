"""OAuth 2.1 state in the vault's SQLite file: clients, pending consents, codes and tokens.

Everything lives in the database (schema version 4, ``vault/schema.py``), so every ``--workers``
process and every restart sees the same grants. Secrets are never stored: a code, access token or
refresh token is kept as ``HMAC-SHA256(server_secret, secret)`` (the ``digest`` column), and its
row carries the tenant's data key wrapped under a key derived from that same secret
(``vault/crypto.py``), so a copied database opens no vault without a live token. A *family* is one
consent: its code, and every access and refresh token issued from it; revoking the family deletes
them all. Calls are synchronous and short; callers run them off the event loop if they must.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

GrantKind = Literal["code", "access", "refresh"]

__all__ = ["Grant", "GrantKind", "OAuthStore"]


@dataclass(frozen=True)
class Grant:
    """One stored code or token (without its secret)."""

    kind: GrantKind
    family: str
    tenant_id: str
    client_id: str
    params: dict[str, Any]
    expires: int
    used: bool
    wrapped_key: bytes


class OAuthStore:
    """The OAuth tables of the vault database (created by the vault's migrations)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: tuple[object, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # clients

    def put_client(self, client_id: str, metadata: dict[str, Any], *, source: str, now: int) -> None:
        self._run(
            "INSERT OR REPLACE INTO oauth_clients (client_id, metadata, source, fetched) VALUES (?, ?, ?, ?)",
            (client_id, json.dumps(metadata), source, now),
        )

    def get_client(self, client_id: str) -> tuple[dict[str, Any], str, int] | None:
        """``(metadata, source, fetched)`` or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT metadata, source, fetched FROM oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return None if row is None else (json.loads(row[0]), row[1], row[2])

    # pending consents

    def put_request(self, request_id: str, client_id: str, params: dict[str, Any], expires: int) -> None:
        self._run(
            "INSERT INTO oauth_requests (request_id, client_id, params, expires) VALUES (?, ?, ?, ?)",
            (request_id, client_id, json.dumps(params), expires),
        )

    def get_request(self, request_id: str, now: int) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT client_id, params FROM oauth_requests WHERE request_id = ? AND expires > ?",
                (request_id, now),
            ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def take_request(self, request_id: str, now: int) -> tuple[str, dict[str, Any]] | None:
        """The pending request, deleted in the same transaction (a consent is answered once)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT client_id, params FROM oauth_requests WHERE request_id = ? AND expires > ?",
                    (request_id, now),
                ).fetchone()
                self._db.execute(
                    "DELETE FROM oauth_requests WHERE request_id = ? OR expires <= ?", (request_id, now)
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return None if row is None else (row[0], json.loads(row[1]))

    # codes and tokens

    def put_grants(self, rows: list[tuple[bytes, Grant]]) -> None:
        """Insert several grants at once (an access + refresh pair is issued atomically)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for digest, g in rows:
                    self._db.execute(
                        "INSERT INTO oauth_grants (digest, kind, family, tenant_id, client_id, params,"
                        " expires, used, wrapped_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            digest,
                            g.kind,
                            g.family,
                            g.tenant_id,
                            g.client_id,
                            json.dumps(g.params),
                            g.expires,
                            int(g.used),
                            g.wrapped_key,
                        ),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_grant(self, digest: bytes, kind: GrantKind) -> Grant | None:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, family, tenant_id, client_id, params, expires, used, wrapped_key"
                " FROM oauth_grants WHERE digest = ? AND kind = ?",
                (digest, kind),
            ).fetchone()
        if row is None:
            return None
        return Grant(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], bool(row[6]), row[7])

    def mark_used(self, digest: bytes) -> bool:
        """Mark a code or refresh token used and drop its key copy (the row stays only to recognise a
        replay); False if it already was used (a replay) or is gone."""
        sql = "UPDATE oauth_grants SET used = 1, wrapped_key = x'' WHERE digest = ? AND used = 0"
        return self._run(sql, (digest,)) == 1

    def delete_grant(self, digest: bytes) -> None:
        self._run("DELETE FROM oauth_grants WHERE digest = ?", (digest,))

    def revoke_family(self, family: str) -> int:
        """Delete every code and token of one consent; the number of rows removed."""
        return self._run("DELETE FROM oauth_grants WHERE family = ?", (family,))

    def revoke_tenant(self, tenant_id: str) -> int:
        """Delete every OAuth grant of a tenant (its token was revoked, or the operator asked)."""
        return self._run("DELETE FROM oauth_grants WHERE tenant_id = ?", (tenant_id,))

    def purge_expired(self, now: int) -> int:
        return self._run("DELETE FROM oauth_grants WHERE expires <= ?", (now,))
