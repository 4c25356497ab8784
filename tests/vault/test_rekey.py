"""``Vault.rekey``: a tenant recovered by Telegram login gets a new data key and token in one SQLite
transaction; the old token, sealed session and OAuth grants end, the policy and id stay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgram.errors import DecryptFailed, NotAuthenticated, VaultError
from mcpgram.vault.oauthstore import Grant, OAuthStore
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

SERVER_SECRET = b"R" * 32
OLD_SESSION, NEW_SESSION = b"old-session-" + bytes(40), b"fresh-session-" + bytes(range(40))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteVault]:
    inner = SQLiteVault(tmp_path / "vault.db")
    yield inner
    inner.close()


@pytest.fixture
def vault(store: SQLiteVault) -> Vault:
    return Vault(store, server_secret=SERVER_SECRET)


def grant(tenant_id: str) -> Grant:
    return Grant("refresh", "fam", tenant_id, "client", {}, 2**40, False, b"wrapped-old-key")


def test_rekey_replaces_keys_token_and_session_and_keeps_the_policy(vault: Vault, store: SQLiteVault) -> None:
    record, old_token = vault.create_tenant("web sign-in")
    old_keys = vault.unlock_with_token(old_token)
    vault.seal(old_keys, "session", OLD_SESSION)
    vault.seal(old_keys, "entities", b"old entities")
    vault.store_policy(record.tenant_id, '{"profile": "reader"}')
    oauth = OAuthStore(store.path)
    try:
        oauth.put_grants([(b"d" * 32, grant(record.tenant_id))])
        keys, token = vault.rekey(record.tenant_id, {"session": NEW_SESSION})
        assert oauth.get_grant(b"d" * 32, "refresh") is None
    finally:
        oauth.close()
    assert token != old_token and keys.tenant_id == record.tenant_id
    with pytest.raises(NotAuthenticated):
        vault.authenticate(old_token)
    after = vault.authenticate(token)
    assert after.tenant_id == record.tenant_id and after.status == "active"
    assert after.key_version == record.key_version + 1
    assert after.created == record.created
    fresh = vault.unlock_with_token(token)
    assert fresh.data_key == keys.data_key != old_keys.data_key
    assert vault.open(fresh, "session") == NEW_SESSION
    assert vault.open(fresh, "entities") is None  # the old secrets are shredded, not carried over
    with pytest.raises(DecryptFailed):
        vault.open(old_keys, "session")  # the old key opens nothing that is stored now
    assert vault.load_policy(record.tenant_id) == '{"profile": "reader"}'


def test_rekey_discards_the_temporary_tenant_in_the_same_transaction(vault: Vault) -> None:
    record, _ = vault.create_tenant("web sign-in")
    temp, temp_token = vault.create_tenant("web recovery")
    vault.seal(vault.unlock_with_token(temp_token), "session", NEW_SESSION)
    vault.rekey(record.tenant_id, {"session": NEW_SESSION}, discard=temp.tenant_id)
    assert vault.get_tenant(temp.tenant_id) is None
    with pytest.raises(NotAuthenticated):
        vault.authenticate(temp_token)
    assert [r.tenant_id for r in vault.list_tenants()] == [record.tenant_id]


def test_a_revoked_or_unknown_tenant_is_not_rekeyed_and_nothing_changes(vault: Vault) -> None:
    record, _ = vault.create_tenant("web sign-in")
    temp, temp_token = vault.create_tenant("web recovery")
    vault.revoke(record.tenant_id)
    with pytest.raises(KeyError):
        vault.rekey(record.tenant_id, {"session": NEW_SESSION}, discard=temp.tenant_id)
    with pytest.raises(KeyError):
        vault.rekey("tnt_nobody", {"session": NEW_SESSION}, discard=temp.tenant_id)
    revoked = vault.get_tenant(record.tenant_id)
    assert revoked is not None and revoked.status == "revoked" and revoked.key_version == 1
    assert vault.authenticate(temp_token).tenant_id == temp.tenant_id  # the rollback kept it


def test_a_failing_step_rolls_the_whole_rekey_back(vault: Vault, store: SQLiteVault) -> None:
    """An invalid secret purpose fails the INSERT after the UPDATE ran: the old token still works."""
    record, old_token = vault.create_tenant("web sign-in")
    old_keys = vault.unlock_with_token(old_token)
    vault.seal(old_keys, "session", OLD_SESSION)
    with pytest.raises(Exception, match="CHECK"):
        vault.rekey(record.tenant_id, {"session": NEW_SESSION, "bogus": b"x"})  # type: ignore[dict-item]
    assert vault.authenticate(old_token).key_version == 1
    assert vault.open(vault.unlock_with_token(old_token), "session") == OLD_SESSION


def test_discard_deletes_a_tenant_and_all_it_holds(vault: Vault) -> None:
    record, token = vault.create_tenant("web sign-in")
    vault.seal(vault.unlock_with_token(token), "session", OLD_SESSION)
    vault.discard(record.tenant_id)
    assert vault.get_tenant(record.tenant_id) is None and vault.list_tenants() == []


def test_a_seal_under_the_old_key_cannot_overwrite_the_new_session(vault: Vault) -> None:
    """A client opened before the re-key (another worker's, or one the pool had not dropped yet)
    flushing its state must not replace the new session with one sealed under the shredded key."""
    record, old_token = vault.create_tenant("web sign-in")
    old_keys = vault.unlock_with_token(old_token)
    vault.seal(old_keys, "session", OLD_SESSION)
    keys, _ = vault.rekey(record.tenant_id, {"session": NEW_SESSION})
    for purpose in ("session", "entities"):
        with pytest.raises(VaultError, match="re-keyed"):
            vault.seal(old_keys, purpose, b"stale")  # type: ignore[arg-type]
    assert vault.open(keys, "session") == NEW_SESSION
    vault.seal(keys, "entities", b"new entities")  # the new keys still write
    assert vault.open(keys, "entities") == b"new entities"
