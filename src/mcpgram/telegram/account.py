"""A tenant's Telegram authorization outside the pool: open its sealed session to log in, or log it out.

:func:`open_login` gives ``mcpgram login`` (and later the web setup page) a :class:`LoginDriver` on
the tenant's own :class:`~mcpgram.telegram.session.VaultSession`, so the authorization it creates is
sealed in the vault and nowhere else; on a completed login the tenant becomes ``active``.
:func:`log_out` is the function ``token revoke`` runs through the pool to end the authorization at
Telegram before the vault shreds the keys.

Must not: write a session anywhere but the vault, or let a Telethon object or exception out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from telethon import TelegramClient

from ..settings import TelegramConfig
from ..vault.vault import TenantKeys, Vault
from .connect import check_config, client_kwargs, connect, prepare_session, trust_server_key
from .errors import translate
from .login import DEFAULT_QR_WAIT, AccountSummary, Clock, LoggedIn, LoginDriver, account_summary
from .session import Runner, VaultSession

__all__ = ["TenantLogin", "log_out", "open_login"]


class TenantLogin:
    """A connected client on one tenant's session, and the driver that logs it in."""

    def __init__(self, client: TelegramClient, driver: LoginDriver) -> None:
        self._client = client
        self.driver = driver

    async def current_account(self) -> AccountSummary | None:
        """The account this session is already logged in to, or None.

        Raises:
            TelegramError: Telegram is unreachable or failed.
        """
        async with translate():
            if not await self._client.is_user_authorized():
                return None
            me = await self._client.get_me()
        return account_summary(me) if me is not None else None

    async def log_out(self) -> bool:
        """End this session's authorization at Telegram; False if it was not logged in.

        Raises:
            TelegramError: Telegram is unreachable or failed.
        """
        async with translate():
            return await log_out(self._client)


def _login_client(session: VaultSession, config: TelegramConfig) -> TelegramClient:
    # build_client() with one difference: QR login learns of the scan from an update, so this
    # client listens for updates (the pool's clients never do).
    check_config(config)
    if config.rsa_key_pem is not None:
        trust_server_key(config.rsa_key_pem)
    prepare_session(session, config)
    kwargs: dict[str, Any] = {**client_kwargs(config), "receive_updates": True}
    return TelegramClient(session, config.api_id, config.api_hash, **kwargs)


@asynccontextmanager
async def open_login(
    config: TelegramConfig,
    vault: Vault,
    keys: TenantKeys,
    *,
    runner: Runner = anyio.to_thread.run_sync,
    clock: Clock = time.time,
    qr_wait: float = DEFAULT_QR_WAIT,
    fresh: bool = False,
) -> AsyncIterator[TenantLogin]:
    """Connect a client on the tenant's sealed session for logging in.

    On leaving the block the session is sealed in the vault, and a tenant whose driver reached
    :class:`LoggedIn` is marked ``active``.

    Example::

        async with open_login(config, vault, keys) as login:
            if await login.current_account() is None:
                await login.driver.send(SubmitPhone(phone))

    ``fresh`` drops the sealed session's auth key first (a re-login after Telegram revoked it).

    Raises:
        ConfigError: the Telegram settings cannot work.
        TelegramError: Telegram is unreachable.
        VaultError: the sealed session cannot be opened.
    """
    session = await VaultSession.load(vault, keys, runner=runner)
    if fresh:
        # Log in again after Telegram ended the authorization: its key is dead, so start a new one.
        session.auth_key = None
    client = _login_client(session, config)
    driver = LoginDriver(client, clock=clock, qr_wait=qr_wait)
    try:
        async with translate():
            await connect(client)
        yield TenantLogin(client, driver)
    finally:
        driver.close()
        with contextlib.suppress(Exception):  # a failed disconnect must not keep the session unsealed
            await client.disconnect()
        await session.flush()
    if isinstance(driver.state, LoggedIn):
        await runner(vault.set_status, keys.tenant_id, "active")


async def log_out(client: TelegramClient) -> bool:
    """End this client's authorization at Telegram (pass to ``TenantClient.run``).

    Returns:
        True if Telegram confirmed the log-out, False if the session was not logged in.
    """
    if not await client.is_user_authorized():
        return False
    return bool(await client.log_out())
