"""Logging a tenant in on its sealed session, and logging it out through the pool, against the sandbox."""

from __future__ import annotations

import asyncio

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.srp import make_password_record
from mcpgram.telegram.account import log_out, open_login
from mcpgram.telegram.login import (
    CodeSent,
    LoggedIn,
    NeedPassword,
    PollQr,
    QrPending,
    StartQr,
    SubmitCode,
    SubmitPassword,
    SubmitPhone,
)
from mcpgram.vault.vault import Vault

from .conftest import PoolFactory, login_tenant, new_tenant, telegram_config

PHONE = "9996641111"
CODE = "44444"


async def test_code_login_is_sealed_and_activates_the_tenant(sandbox: SandboxServer, vault: Vault) -> None:
    """A code login through open_login marks the tenant active and survives reopening the session."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    keys = new_tenant(vault)
    config = telegram_config(sandbox)
    async with open_login(config, vault, keys) as login:
        assert await login.current_account() is None
        assert isinstance(await login.driver.send(SubmitPhone(PHONE)), CodeSent)
        assert isinstance(await login.driver.send(SubmitCode(CODE)), LoggedIn)
    record = vault.get_tenant(keys.tenant_id)
    assert record is not None and record.status == "active"
    async with open_login(config, vault, keys) as again:
        account = await again.current_account()
    assert account is not None and account.user_id == user.id and account.phone == "+********11"


async def test_unfinished_login_leaves_the_tenant_waiting(sandbox: SandboxServer, vault: Vault) -> None:
    """Leaving open_login before the code is entered keeps the tenant login_required."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    keys = new_tenant(vault)
    async with open_login(telegram_config(sandbox), vault, keys) as login:
        await login.driver.send(SubmitPhone(PHONE))
    record = vault.get_tenant(keys.tenant_id)
    assert record is not None and record.status == "login_required"


async def test_qr_login_with_2fa_on_the_login_client(sandbox: SandboxServer, vault: Vault) -> None:
    """The login client receives the scan update, so QR login with 2FA completes through open_login."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("pw")
    keys = new_tenant(vault)
    async with open_login(telegram_config(sandbox), vault, keys) as login:
        pending = await login.driver.send(StartQr())
        assert isinstance(pending, QrPending)
        poll = asyncio.create_task(login.driver.send(PollQr()))
        await asyncio.sleep(0.05)
        sandbox.accept_login_token(pending.token, user.id)
        assert isinstance(await asyncio.wait_for(poll, 10), NeedPassword)
        assert isinstance(await login.driver.send(SubmitPassword("pw")), LoggedIn)


async def test_log_out_through_the_pool_ends_the_authorization(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """log_out run by the pool ends the authorization at Telegram and marks the tenant login_required."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, PHONE)
    user_id = sandbox.world.user_by_phone(PHONE).id  # type: ignore[union-attr]
    assert sandbox.authorizations_of(user_id)
    async with pool.client(keys) as tc:
        assert await tc.run(log_out) is True
    await pool.close()
    assert sandbox.authorizations_of(user_id) == []
    record = vault.get_tenant(keys.tenant_id)
    assert record is not None and record.status == "login_required"


async def test_log_out_of_a_never_logged_in_tenant_is_false(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A tenant that never logged in has nothing to log out: log_out answers False."""
    pool = make_pool()
    async with pool.client(new_tenant(vault)) as tc:
        assert await tc.run(log_out) is False
