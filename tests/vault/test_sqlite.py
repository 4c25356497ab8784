"""The SQLite vault via the Vault API: isolation, rotation, revocation, durability, nothing plain on disk."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgram.auth import token_secret_bytes
from mcpgram.errors import DecryptFailed, NotAuthenticated, VaultError
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

SERVER_SECRET = b"S" * 32
SESSION = b"telethon-session:auth-key-bytes-" + bytes(range(64))


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    store = SQLiteVault(tmp_path / "data" / "vault.db")
    yield Vault(store, server_secret=SERVER_SECRET)
    store.close()


def test_a_session_round_trips_for_its_own_token(vault: Vault) -> None:
    """A tenant seals its session and reads it back after authenticating with its token."""
    record, token = vault.create_tenant("alice")
    keys = vault.unlock_with_token(token)
    assert keys.tenant_id == record.tenant_id and "data_key" not in repr(keys)
    vault.seal(keys, "session", SESSION)
    assert vault.open(vault.unlock_with_token(token), "session") == SESSION


@pytest.mark.parametrize("bad", ["", "mcpg_" + "A" * 43, "../vault.db", "alice", None])
def test_unknown_or_malformed_tokens_are_refused(vault: Vault, bad: object) -> None:
    """Tokens the vault never issued are refused with NotAuthenticated."""
    vault.create_tenant("alice")
    with pytest.raises(NotAuthenticated):
        vault.authenticate(bad)


def test_rotation_invalidates_the_old_token_and_keeps_the_session(vault: Vault) -> None:
    """After rotation the old token is refused at once and the new one opens the same session."""
    _, token = vault.create_tenant("alice")
    vault.seal(vault.unlock_with_token(token), "session", SESSION)
    new_token = vault.rotate(token)
    with pytest.raises(NotAuthenticated):
        vault.authenticate(token)
    assert vault.open(vault.unlock_with_token(new_token), "session") == SESSION
    assert vault.list_tenants()[0].key_version == 2


def test_revocation_refuses_the_token_and_shreds_the_session(vault: Vault, tmp_path: Path) -> None:
    """A revoked tenant's token is refused and its sealed session is gone from the database."""
    record, token = vault.create_tenant("alice")
    vault.seal(vault.unlock_with_token(token), "session", SESSION)
    vault.revoke(record.tenant_id)
    with pytest.raises(NotAuthenticated):
        vault.authenticate(token)
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "vault.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM secrets").fetchone() == (0,)
    assert vault.list_tenants()[0].status == "revoked"


def test_swapped_rows_fail_closed(vault: Vault, tmp_path: Path) -> None:
    """Bob's sealed session copied into Alice's row does not open under Alice's key."""
    alice, alice_token = vault.create_tenant("alice")
    bob, bob_token = vault.create_tenant("bob")
    vault.seal(vault.unlock_with_token(alice_token), "session", b"alice session")
    vault.seal(vault.unlock_with_token(bob_token), "session", b"bob session")
    db = sqlite3.connect(tmp_path / "data" / "vault.db", isolation_level=None)
    (bob_blob,) = db.execute("SELECT blob FROM secrets WHERE tenant_id = ?", (bob.tenant_id,)).fetchone()
    db.execute("UPDATE secrets SET blob = ? WHERE tenant_id = ?", (bob_blob, alice.tenant_id))
    (bob_key,) = db.execute(
        "SELECT wrapped_key FROM tenants WHERE tenant_id = ?", (bob.tenant_id,)
    ).fetchone()
    with pytest.raises(DecryptFailed):
        vault.open(vault.unlock_with_token(alice_token), "session")
    db.execute("UPDATE tenants SET wrapped_key = ? WHERE tenant_id = ?", (bob_key, alice.tenant_id))
    with pytest.raises(DecryptFailed):
        vault.unlock_with_token(alice_token)
    db.close()


def test_one_token_never_unlocks_another_tenant(vault: Vault) -> None:
    """Alice's token cannot unwrap Bob's data key even when aimed at Bob's id directly."""
    _, alice_token = vault.create_tenant("alice")
    bob, _ = vault.create_tenant("bob")
    with pytest.raises(DecryptFailed):
        vault.unlock(bob.tenant_id, alice_token.encode())


def test_database_holds_no_token_or_plaintext(vault: Vault, tmp_path: Path) -> None:
    """Neither the token nor the session bytes appear anywhere in the database files, which are 0600."""
    _, token = vault.create_tenant("alice")
    vault.seal(vault.unlock_with_token(token), "session", SESSION)
    files = list((tmp_path / "data").iterdir())
    blob = b"".join(f.read_bytes() for f in files)
    assert token.encode() not in blob and SESSION not in blob and b"auth-key-bytes" not in blob
    db_file = tmp_path / "data" / "vault.db"
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mcpgram.vault.sqlite import SQLiteVault
    from mcpgram.vault.vault import Vault
    vault = Vault(SQLiteVault(Path(sys.argv[1])), server_secret=b"S" * 32)
    keys = vault.unlock_with_token(sys.argv[2])
    i = 0
    while True:
        i += 1
        vault.seal(keys, "session", b"generation-%d-" % i + b"x" * 4096)
        if i == 20:
            print("writing", flush=True)
    """
)


def test_kill_9_during_writes_loses_no_session(vault: Vault, tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-stream leaves the last committed session readable."""
    _, token = vault.create_tenant("alice")
    vault.seal(vault.unlock_with_token(token), "session", b"generation-0-")
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path / "data" / "vault.db"), token],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    store = SQLiteVault(tmp_path / "data" / "vault.db")
    reopened = Vault(store, server_secret=SERVER_SECRET)
    session = reopened.open(reopened.unlock_with_token(token), "session")
    store.close()
    assert session is not None and session.startswith(b"generation-")
    assert int(session.split(b"-")[1]) >= 20


def test_a_revoked_tenant_cannot_be_written_again(vault: Vault) -> None:
    """Sealing for a revoked tenant (a flush racing the revoke) is refused and stores nothing."""
    record, token = vault.create_tenant("alice")
    keys = vault.unlock_with_token(token)
    vault.revoke(record.tenant_id)
    with pytest.raises(VaultError):
        vault.seal(keys, "session", SESSION)
    assert vault.open(keys, "session") is None


def test_token_lookups_do_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    """tenant_by_digest and wrapped_key read on their own connection: a writer holding the store (a
    seal's fsync) and an open write transaction delay them not at all, and a committed rotation or
    revocation shows at once."""
    store = SQLiteVault(tmp_path / "vault.db")
    vault = Vault(store, server_secret=b"s" * 32)
    record, token = vault.create_tenant("alice")
    other = sqlite3.connect(tmp_path / "vault.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer mid-transaction
        with store._lock:  # and this store's own writer busy
            started = time.monotonic()
            assert vault.authenticate(token).tenant_id == record.tenant_id
            assert vault.unlock_with_token(token).tenant_id == record.tenant_id
            assert time.monotonic() - started < 0.5
        other.execute("ROLLBACK")
        new_token = vault.rotate(token)
        with pytest.raises(NotAuthenticated):
            vault.authenticate(token)
        with pytest.raises(DecryptFailed):  # the old token no longer unwraps the re-wrapped key
            vault.unlock(record.tenant_id, token_secret_bytes(token))
        assert vault.unlock_with_token(new_token).tenant_id == record.tenant_id
        vault.revoke(record.tenant_id)
        with pytest.raises(NotAuthenticated):
            vault.authenticate(new_token)
        with pytest.raises(NotAuthenticated):  # the wrapped key is shredded
            vault.unlock(record.tenant_id, token_secret_bytes(new_token))
    finally:
        other.close()
        store.close()
