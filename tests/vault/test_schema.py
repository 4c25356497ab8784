"""The vault database carries a schema version and upgrades forward; a v1 vault still opens.

``fixtures/v1-vault.db`` was written by the first release's Vault API (``fixtures/make_v1_vault.py``)
and has no schema version; every test works on a copy, so the committed file never changes.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mcpgram.errors import VaultError
from mcpgram.vault import schema
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

FIXTURES = Path(__file__).parent / "fixtures"
V1_DB = FIXTURES / "v1-vault.db"
V1: dict[str, Any] = json.loads((FIXTURES / "v1-vault.json").read_text())
#: A made-up next step, to exercise a real upgrade past the current version.
V2_STEP = (
    "CREATE TABLE IF NOT EXISTS audit (at INTEGER NOT NULL)",
    "ALTER TABLE tenants ADD COLUMN note TEXT",  # not idempotent by itself: fails if run twice
)


def _copy_v1(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "vault.db"
    path.parent.mkdir(mode=0o700)
    shutil.copyfile(V1_DB, path)
    path.chmod(0o600)
    return path


def _contents(path: Path) -> tuple[int, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(user_version, schema rows, every row of every table) of a closed database file."""
    db = sqlite3.connect(path)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        selects = ((t, db.execute(f"SELECT * FROM {t}")) for t in tables)  # noqa: S608 (names from sqlite_master)
        rows = sorted(((t, *row) for t, cursor in selects for row in cursor), key=repr)
        master = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        return schema.schema_version(db), master, rows
    finally:
        db.close()


def _set_version(path: Path, version: int) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute(f"PRAGMA user_version = {version:d}")
        db.commit()
    finally:
        db.close()


def test_the_committed_fixture_is_unversioned_v1() -> None:
    """Guard: the fixture is still what the first release wrote (no schema version, four tenants)."""
    version, master, rows = _contents(V1_DB)
    assert version == 0 and {name for _, name, _ in master} >= {"tenants", "secrets"}
    assert sum(1 for row in rows if row[0] == "tenants") == 4


def test_a_v1_vault_opens_with_its_token_owner_key_and_server_secret(tmp_path: Path) -> None:
    """Same token -> same tenant and same session bytes; the owner key opens the owner's session."""
    store = SQLiteVault(_copy_v1(tmp_path))
    try:
        vault = Vault(store, server_secret=bytes.fromhex(V1["server_secret_hex"]))
        keys = vault.unlock_with_token(V1["token"])
        assert keys.tenant_id == V1["tenant_id"]
        assert vault.open(keys, "session") == bytes.fromhex(V1["session_hex"])
        assert vault.open(keys, "entities") == bytes.fromhex(V1["entities_hex"])
        rotated = vault.unlock_with_token(V1["rotated_token"])
        assert rotated.tenant_id == V1["rotated_tenant_id"] and vault.open(rotated, "session") is None
        revoked = vault.get_tenant(V1["revoked_tenant_id"])
        assert revoked is not None and revoked.status == "revoked"
        owner = vault.open_owner(bytes.fromhex(V1["owner_key_hex"]))
        assert owner.tenant_id == V1["owner_tenant_id"]
        assert vault.open(owner, "session") == bytes.fromhex(V1["owner_session_hex"])
        assert len(vault.list_tenants()) == 4  # open_owner found the owner; it created nothing
    finally:
        store.close()


def test_an_unversioned_vault_is_migrated_without_changing_its_data(tmp_path: Path) -> None:
    """Opening the v1 file stamps the current version, adds the later tables (empty) and leaves the v1
    tables and every row as they were."""
    path = _copy_v1(tmp_path)
    before = _contents(path)
    SQLiteVault(path).close()
    after = _contents(path)
    assert before[0] == 0 and after[0] == schema.SCHEMA_VERSION == 4
    added = ("policies", "approvals", "oauth_")
    assert [row for row in after[1] if not any(name in row[1] for name in added)] == before[1]
    assert {name for _, name, _ in after[1]} - {name for _, name, _ in before[1]} == {
        "policies",
        "sqlite_autoindex_policies_1",
        "approvals",
        "sqlite_autoindex_approvals_1",
        "approvals_by_binding",
        "oauth_clients",
        "sqlite_autoindex_oauth_clients_1",
        "oauth_requests",
        "sqlite_autoindex_oauth_requests_1",
        "oauth_grants",
        "sqlite_autoindex_oauth_grants_1",
        "oauth_grants_family",
    }
    assert after[2] == before[2]


def test_a_new_vault_gets_the_current_version_and_the_upgraded_v1_schema(tmp_path: Path) -> None:
    """A fresh file is created at the current version with exactly the schema an upgraded v1 file has."""
    path = tmp_path / "data" / "vault.db"
    SQLiteVault(path).close()
    (tmp_path / "old").mkdir()
    upgraded = _copy_v1(tmp_path / "old")
    SQLiteVault(upgraded).close()
    version, master, _ = _contents(path)
    assert version == schema.SCHEMA_VERSION and master == _contents(upgraded)[1]


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    """Reopening or migrating again changes nothing; a later step runs once, from the file's version."""
    path = _copy_v1(tmp_path)
    SQLiteVault(path).close()
    once = _contents(path)
    SQLiteVault(path).close()
    assert _contents(path) == once
    db = sqlite3.connect(path, isolation_level=None)
    try:
        assert schema.migrate(db) == schema.SCHEMA_VERSION
        assert schema.migrate(db, (*schema.MIGRATIONS, V2_STEP)) == schema.SCHEMA_VERSION + 1
        assert schema.migrate(db, (*schema.MIGRATIONS, V2_STEP)) == schema.SCHEMA_VERSION + 1
    finally:
        db.close()
    version, master, rows = _contents(path)
    assert version == schema.SCHEMA_VERSION + 1 and "audit" in {name for _, name, _ in master}
    assert rows == sorted(((*row, None) if row[0] == "tenants" else row for row in once[2]), key=repr)


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """All pending steps and the version commit together: a broken step rolls everything back."""
    path = _copy_v1(tmp_path)
    SQLiteVault(path).close()
    before = _contents(path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            schema.migrate(db, (*schema.MIGRATIONS, V2_STEP, ("ALTER TABLE nowhere ADD COLUMN x",)))
    finally:
        db.close()
    assert _contents(path) == before


def test_a_newer_vault_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A file from a future release raises VaultError naming both versions, and not one byte changes."""
    path = _copy_v1(tmp_path)
    SQLiteVault(path).close()
    _set_version(path, schema.SCHEMA_VERSION + 1)
    raw = path.read_bytes()
    newer, known = schema.SCHEMA_VERSION + 1, schema.SCHEMA_VERSION
    with pytest.raises(
        VaultError, match=rf"schema version {newer}, newer than this mcpgram supports \({known}\)"
    ) as info:
        SQLiteVault(path)
    assert info.value.code == "VAULT" and info.value.hint and str(path) not in str(info.value)
    assert path.read_bytes() == raw
    assert sorted(p.name for p in path.parent.iterdir()) == ["vault.db"]  # no WAL left open behind
    db = sqlite3.connect(path, isolation_level=None)
    try:  # migrate() checks again under the write lock (another process may have upgraded the file)
        with pytest.raises(VaultError, match="newer than this mcpgram supports"):
            schema.migrate(db)
    finally:
        db.close()
    assert path.read_bytes() == raw
    _set_version(path, schema.SCHEMA_VERSION)  # what the newer release would still read: all there
    store = SQLiteVault(path)
    try:
        vault = Vault(store, server_secret=bytes.fromhex(V1["server_secret_hex"]))
        keys = vault.unlock_with_token(V1["token"])
        assert vault.open(keys, "session") == bytes.fromhex(V1["session_hex"])
    finally:
        store.close()


def test_a_v1_tenant_has_no_policy_until_one_is_set_and_keeps_it(tmp_path: Path) -> None:
    """Upgraded tenants start with no stored policy (the default applies); a set one survives reopening."""
    path = _copy_v1(tmp_path)
    store = SQLiteVault(path)
    try:
        assert store.load_policy(V1["tenant_id"]) is None
        store.store_policy(V1["tenant_id"], '{"v":1}', updated=1)
        with pytest.raises(KeyError):
            store.store_policy(V1["revoked_tenant_id"], '{"v":1}', updated=1)
    finally:
        store.close()
    store = SQLiteVault(path)
    try:
        assert store.load_policy(V1["tenant_id"]) == '{"v":1}'
        assert store.load_policy(V1["revoked_tenant_id"]) is None
    finally:
        store.close()
