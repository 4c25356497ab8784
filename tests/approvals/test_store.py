"""Approvals in the vault's SQLite file: decided once, used once, expiring, shared between processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mcpgram.approvals.core import id_hash
from mcpgram.approvals.store import ApprovalStore, open_page
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def vault_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "vault.db"
    store = SQLiteVault(path)
    try:
        record, _ = Vault(store, server_secret=b"s" * 32).create_tenant("alice")
    finally:
        store.close()
    return path, record.tenant_id


def test_an_approval_is_decided_once_and_used_once(tmp_path: Path) -> None:
    """pending -> approved -> used; a second decision and a replayed use are refused."""
    path, tenant = vault_file(tmp_path)
    store = ApprovalStore(path)
    try:
        approval_id, row = store.create(tenant, b"b" * 32, "page", 60, shown={"preview": "hi"})
        assert row.status == "pending" and row.id_hash == id_hash(approval_id)
        assert not store.consume(row.id_hash)  # not approved yet
        assert store.decide(row.id_hash, True) and not store.decide(row.id_hash, False)
        assert store.consume(row.id_hash) and not store.consume(row.id_hash)
        assert (current := store.get(row.id_hash)) is not None and current.status == "used"
    finally:
        store.close()


def test_expiry_stops_decisions_and_uses(tmp_path: Path) -> None:
    """Past its expiry an approval reads expired, cannot be decided, and an approved one cannot be used."""
    path, tenant = vault_file(tmp_path)
    clock = Clock()
    store = ApprovalStore(path, clock=clock)
    try:
        _, late = store.create(tenant, b"b" * 32, "saved", 10, code="ABC123")
        _, approved = store.create(tenant, b"c" * 32, "saved", 10, code="ABC124")
        assert store.decide(approved.id_hash, True)
        clock.now += 10
        assert not store.decide(late.id_hash, True) and not store.consume(approved.id_hash)
        assert {store.get(r.id_hash).status for r in (late, approved)} == {"expired"}  # type: ignore[union-attr]
    finally:
        store.close()


def test_two_stores_on_one_file_see_one_state(tmp_path: Path) -> None:
    """As two worker processes do: an approval asked in one is decided in the other and used once."""
    path, tenant = vault_file(tmp_path)
    first, second = ApprovalStore(path), ApprovalStore(path)
    try:
        _, row = first.create(tenant, b"b" * 32, "page", 60)
        assert second.find_open(tenant, b"b" * 32, "page") == row
        assert second.decide(row.id_hash, True)
        assert first.consume(row.id_hash) and not second.consume(row.id_hash)
        assert first.find_open(tenant, b"b" * 32, "page") is None  # used: closed
    finally:
        first.close()
        second.close()


def test_the_file_holds_neither_the_id_nor_the_preview(tmp_path: Path) -> None:
    """Only the id's hash is stored, and the page's text is sealed under a key from the id."""
    path, tenant = vault_file(tmp_path)
    store = ApprovalStore(path)
    try:
        approval_id, _ = store.create(tenant, b"b" * 32, "page", 60, shown={"preview": "secret words"})
    finally:
        store.close()
    raw = b"".join(p.read_bytes() for p in path.parent.glob("vault.db*"))
    assert approval_id.encode() not in raw and b"secret words" not in raw
    db = sqlite3.connect(path)
    try:
        (sealed,) = db.execute("SELECT sealed FROM approvals").fetchone()
    finally:
        db.close()
    assert open_page(approval_id, sealed) == {"preview": "secret words"}
