"""Tenants of abandoned /setup flows are deleted once their flow has expired (``web/setup/sweep.py``);
finished ones, and ones whose Telegram login was revoked later, stay."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2

from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.setup import SetupService, SetupStore
from mcpgram.web.setup.recovery import LABEL as RECOVERY_LABEL
from mcpgram.web.setup.sweep import SIGNUP_LABEL, sweep_abandoned
from tests.web.test_setup import PW_PHONE, post, sandbox, sign_up, site  # noqa: F401 (fixtures)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_sweep_deletes_only_abandoned_tenants_after_the_flow_timeout(tmp_path: Path) -> None:
    clock = Clock()
    store_file = SQLiteVault(tmp_path / "vault.db")
    vault = Vault(store_file, server_secret=b"w" * 32, clock=clock)
    store = SetupStore(tmp_path / "signin.db", clock=clock)
    service = SetupService(vault, None, store)  # type: ignore[arg-type]  # the sweep needs no Telegram
    try:
        abandoned, _ = vault.create_tenant(SIGNUP_LABEL)
        temporary, _ = vault.create_tenant(RECOVERY_LABEL)
        vault.set_status(temporary.tenant_id, "active")  # left at the choice, logged in
        finished, _ = vault.create_tenant(SIGNUP_LABEL)
        vault.set_status(finished.tenant_id, "active")
        store.remember_account(finished.tenant_id, 42)
        revoked_later, _ = vault.create_tenant(SIGNUP_LABEL)  # Telegram ended its login since
        store.remember_account(revoked_later.tenant_id, 42)
        operator, _ = vault.create_tenant("cli")  # `mcpgram token create`, never logged in
        everyone = {r.tenant_id for r in vault.list_tenants()}
        clock.now += store.absolute_seconds  # the flows may still be running: nothing goes
        service.maybe_sweep()
        assert {r.tenant_id for r in vault.list_tenants()} == everyone
        clock.now += 120  # past the timeout, but the last sweep was two minutes ago
        service.maybe_sweep()
        assert {r.tenant_id for r in vault.list_tenants()} == everyone
        clock.now += 600
        service.maybe_sweep()
        left = {r.tenant_id for r in vault.list_tenants()}
        assert left == everyone - {abandoned.tenant_id, temporary.tenant_id}
        assert {finished.tenant_id, revoked_later.tenant_id, operator.tenant_id} <= left
    finally:
        store.close()
        store_file.close()


async def test_a_sign_up_left_at_the_code_step_is_swept(site: httpx2.AsyncClient, tmp_path: Path) -> None:  # noqa: F811
    vault = site.gateway.vault  # type: ignore[attr-defined]
    token = await sign_up(site)
    site.cookies.clear()
    await post(site, "phone", phone=PW_PHONE)  # then the person walks away
    assert len(vault.list_tenants()) == 2
    store = SetupStore(tmp_path / "data" / "signin.db")
    try:
        assert sweep_abandoned(vault, store, now=time.time()) == 0
        assert sweep_abandoned(vault, store, now=time.time() + 2 * store.absolute_seconds) == 1
    finally:
        store.close()
    assert [r.tenant_id for r in vault.list_tenants()] == [vault.authenticate(token).tenant_id]
