"""The vault database's schema version (``PRAGMA user_version``) and its forward migrations.

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``; steps are only ever appended,
never edited, because files written by every earlier release must still upgrade. Version 1 is the
schema of the first release, which stored no version (``user_version`` 0): on such a file its
``CREATE ... IF NOT EXISTS`` statements change nothing and only the number is written; on a new,
empty file they create the tables. All pending steps and the new number commit in one transaction,
so a failed step leaves the file as it was. A file newer than this code knows is refused untouched:
an older mcpgram must not write rows a newer one cannot read.
"""

from __future__ import annotations

import sqlite3
import time

from ..errors import VaultError

Migrations = tuple[tuple[str, ...], ...]

MIGRATIONS: Migrations = (
    # 1: the first release's schema (tenants with wrapped data keys; sealed secrets).
    (
        """CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    created INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'login_required', 'revoked')),
    token_digest BLOB UNIQUE,
    token_fingerprint TEXT,
    wrapped_key BLOB,
    key_version INTEGER NOT NULL DEFAULT 1
)""",
        """CREATE TABLE IF NOT EXISTS secrets (
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('session', 'entities')),
    blob BLOB NOT NULL,
    PRIMARY KEY (tenant_id, purpose)
)""",
    ),
    # 2: a policy per tenant (JSON, ``policy/model.py``), kept with the tenant. No row: the default.
    (
        """CREATE TABLE IF NOT EXISTS policies (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    policy TEXT NOT NULL,
    updated INTEGER NOT NULL
)""",
    ),
    # 3: approvals a person gives or refuses for one exact action (``approvals/store.py``). The id is
    # stored only as its SHA-256 (the id is the approval page's capability); the preview is sealed
    # under a key derived from the id, so a copied file shows neither.
    (
        """CREATE TABLE IF NOT EXISTS approvals (
    id_hash BLOB PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    binding BLOB NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('page', 'elicit', 'saved')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused', 'used', 'expired')),
    closed INTEGER NOT NULL DEFAULT 0,
    code TEXT,
    anchor INTEGER,
    sealed BLOB,
    created REAL NOT NULL,
    expires REAL NOT NULL
)""",
        "CREATE INDEX IF NOT EXISTS approvals_by_binding ON approvals (tenant_id, binding, closed)",
    ),
    # 4: OAuth 2.1 (``vault/oauthstore.py``): clients, pending consents, codes and tokens. Every
    # grant row keeps the tenant's data key wrapped under a key derived from its own secret (the
    # code or token), which is stored only as a keyed digest.
    (
        """CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('cimd', 'dcr')),
    fetched INTEGER NOT NULL
)""",
        """CREATE TABLE IF NOT EXISTS oauth_requests (
    request_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    expires INTEGER NOT NULL
)""",
        """CREATE TABLE IF NOT EXISTS oauth_grants (
    digest BLOB PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    family TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    expires INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    wrapped_key BLOB NOT NULL
)""",
        "CREATE INDEX IF NOT EXISTS oauth_grants_family ON oauth_grants (family)",
    ),
)

#: The version this code reads and writes.
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    row: tuple[int] = db.execute("PRAGMA user_version").fetchone()
    return row[0]


def refuse_newer(db: sqlite3.Connection, known: int = SCHEMA_VERSION) -> int:
    """The file's version, or VaultError if it is newer than ``known``; reads only."""
    version = schema_version(db)
    if version > known:
        raise VaultError(
            f"the vault database has schema version {version}, newer than this mcpgram supports"
            f" ({known}); it was left unchanged",
            hint="run the mcpgram release that wrote it, or a newer one",
        )
    return version


def migrate(db: sqlite3.Connection, migrations: Migrations = MIGRATIONS) -> int:
    """Bring ``db`` (autocommit mode) up to ``len(migrations)``; a no-op when it is there already.

    The version is re-read under the write lock, so two processes opening one old file at once
    migrate it once. Returns the version the file now has.
    """
    target = len(migrations)
    if refuse_newer(db, target) == target:
        return target  # the common case: no write lock taken
    db.execute("BEGIN IMMEDIATE")
    try:
        version = refuse_newer(db, target)
        for step in migrations[version:]:
            for statement in step:
                db.execute(statement)
        if version < target:
            db.execute(f"PRAGMA user_version = {target:d}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return target


#: How long :func:`use_wal` keeps trying while another process switches the same new file.
WAL_WAIT_SECONDS = 10.0


def use_wal(db: sqlite3.Connection, *, wait_seconds: float = WAL_WAIT_SECONDS) -> None:
    """Put ``db``'s file in WAL mode, waiting out another process doing the same.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers ``database is locked``
    at once, without its busy timeout, when another connection is switching it too: two workers
    opening a fresh data dir at the same moment did exactly that (in the tests, about one
    ``serve --workers 2`` start in 70 failed so).
    A file already in WAL mode answers at once, without a lock.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)
