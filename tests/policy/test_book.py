"""PolicyBook on a real SQLite vault: defaults, the operator's set, the tenant's tighten-only change."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mcpgram.errors import PolicyRefused, TenantError
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES, Scope, to_json
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    store = SQLiteVault(tmp_path / "data" / "vault.db")
    yield Vault(store, server_secret=b"s" * 32)
    store.close()


def test_a_tenant_without_a_policy_has_the_default_and_others_are_unaffected(vault: Vault) -> None:
    a, _ = vault.create_tenant("a")
    b, _ = vault.create_tenant("b")
    book = PolicyBook(vault, "reader")
    assert book.get(a.tenant_id) == PROFILES["reader"] and not book.has_own(a.tenant_id)
    book.set(a.tenant_id, PROFILES["all"])
    assert book.get(a.tenant_id) == PROFILES["all"] and book.get(b.tenant_id) == PROFILES["reader"]


def test_tighten_stores_only_what_allows_less(vault: Vault) -> None:
    """A tightening is stored (marked); a loosening is refused whole, naming its rules; nothing changes."""
    tenant, _ = vault.create_tenant("t")
    book = PolicyBook(vault, "all")
    narrowed = replace(PROFILES["all"].with_rules({"delete": "deny"}), write=Scope.parse(["@alice_x"]))
    assert book.tighten(tenant.tenant_id, narrowed).tightened
    before = vault.load_policy(tenant.tenant_id)
    with pytest.raises(PolicyRefused) as caught:
        book.tighten(tenant.tenant_id, PROFILES["all"])
    assert caught.value.code == "NOT_ALLOWED" and "verbs.delete, write" in caught.value.message
    assert vault.load_policy(tenant.tenant_id) == before
    book.set(tenant.tenant_id, PROFILES["all"])  # the operator may loosen
    assert book.get(tenant.tenant_id) == PROFILES["all"] and not book.get(tenant.tenant_id).tightened


def test_a_tightening_never_overwrites_a_change_made_meanwhile(vault: Vault) -> None:
    """The swap compares with what was read: a stale expectation stores nothing."""
    tenant, _ = vault.create_tenant("t")
    assert vault.swap_policy(tenant.tenant_id, None, to_json(PROFILES["inbox"]))
    assert not vault.swap_policy(tenant.tenant_id, None, to_json(PROFILES["all"]))
    stale = to_json(PROFILES["all"])
    assert not vault.swap_policy(tenant.tenant_id, stale, to_json(PROFILES["reader"]))
    assert vault.load_policy(tenant.tenant_id) == to_json(PROFILES["inbox"])
    with pytest.raises(KeyError):
        vault.swap_policy("tnt_" + "0" * 16, None, to_json(PROFILES["reader"]))


def test_an_unknown_or_revoked_tenant_cannot_be_given_a_policy(vault: Vault) -> None:
    tenant, _ = vault.create_tenant("t")
    vault.revoke(tenant.tenant_id)
    with pytest.raises(TenantError):
        PolicyBook(vault, "all").set(tenant.tenant_id, PROFILES["reader"])


def test_an_unreadable_stored_policy_allows_nothing(vault: Vault) -> None:
    tenant, _ = vault.create_tenant("t")
    vault.store_policy(tenant.tenant_id, "{not json")
    policy = PolicyBook(vault, "all").get(tenant.tenant_id)
    assert all(rule == "deny" for rule in (policy.rule(v) for v in ("read", "send", "delete")))
    assert policy.read.empty and policy.write.empty


def test_a_policy_is_read_once_then_kept_until_any_policy_changes(tmp_path: Path, vault: Vault) -> None:
    """The book keeps a parsed policy while the vault's policies marker stands still: a row changed
    behind the store's back (no marker change) is not seen; the marker's change makes it seen."""
    tenant, _ = vault.create_tenant("t")
    book = PolicyBook(vault, "all")
    book.set(tenant.tenant_id, PROFILES["inbox"])
    assert book.get(tenant.tenant_id) == PROFILES["inbox"]
    with sqlite3.connect(tmp_path / "data" / "vault.db") as raw:  # not through the store: no marker
        raw.execute("UPDATE policies SET policy = ?", (to_json(PROFILES["reader"]),))
    raw.close()
    assert book.get(tenant.tenant_id) == PROFILES["inbox"]  # kept: the store was not read again
    other, _ = vault.create_tenant("u")
    book.set(other.tenant_id, PROFILES["all"])  # any policy write moves the marker
    assert book.get(tenant.tenant_id) == PROFILES["reader"]


def test_a_policy_set_by_another_process_is_obeyed_at_the_next_call(tmp_path: Path, vault: Vault) -> None:
    """``mcpgram policy set`` runs in a process of its own: a server's book reads the change at once."""
    tenant, _ = vault.create_tenant("t")
    book = PolicyBook(vault, "all")
    assert book.get(tenant.tenant_id) == PROFILES["all"]  # the default, now kept
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mcpgram.policy.book import PolicyBook\n"
        "from mcpgram.policy.model import PROFILES\n"
        "from mcpgram.vault.sqlite import SQLiteVault\n"
        "from mcpgram.vault.vault import Vault\n"
        "store = SQLiteVault(Path(sys.argv[1]))\n"
        "PolicyBook(Vault(store, server_secret=b's' * 32), 'all').set(sys.argv[2], PROFILES[sys.argv[3]])\n"
        "store.close()\n"
    )
    db = str(tmp_path / "data" / "vault.db")
    for profile in ("reader", "inbox"):
        done = subprocess.run(
            [sys.executable, "-c", script, db, tenant.tenant_id, profile],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert book.get(tenant.tenant_id) == PROFILES[profile]


def test_a_truncated_marker_turns_the_cache_off_instead_of_failing(tmp_path: Path, vault: Vault) -> None:
    """Someone truncates ``vault.db-policies`` under a running server: the book reads the store on
    every call from then on (a change behind its back is seen at once), nothing crashes."""
    tenant, _ = vault.create_tenant("t")
    book = PolicyBook(vault, "all")
    book.set(tenant.tenant_id, PROFILES["inbox"])
    assert book.get(tenant.tenant_id) == PROFILES["inbox"]
    (tmp_path / "data" / "vault.db-policies").write_bytes(b"")
    with sqlite3.connect(tmp_path / "data" / "vault.db") as raw:  # not through the store: no marker
        raw.execute("UPDATE policies SET policy = ?", (to_json(PROFILES["reader"]),))
    raw.close()
    assert book.get(tenant.tenant_id) == PROFILES["reader"]
