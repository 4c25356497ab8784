"""Helpers shipped for tests and the demo: point mcpgram at a sandbox and log tenants into it.

Like structlog's ``testing.py`` this ships in the package; it is the one place besides the CLI that
starts the embedded sandbox. Nothing in the gateway proper imports it.
"""

from __future__ import annotations

from typing import Any

from .settings import DcAddress, Settings, TelegramConfig
from .telegram.account import open_login
from .telegram.login import LoggedIn, NeedPassword, SubmitCode, SubmitPassword, SubmitPhone
from .vault.vault import TenantKeys, Vault

#: Any id and 32-hex hash work against the sandbox; real Telegram needs your own from my.telegram.org.
SANDBOX_API_ID = 1
SANDBOX_API_HASH = "5a9d6bc1e2f3a4b5c6d7e8f9a0b1c2d3"


def sandbox_telegram_config(server: Any, settings: Settings | None = None, **changes: Any) -> TelegramConfig:
    """A Telegram config that connects to ``server`` (a running ``SandboxServer``) and trusts its key."""
    dc = DcAddress(dc_id=server.dc_id, host=server.host, port=server.port)
    if settings is not None:
        return settings.telegram_config(
            api_id=SANDBOX_API_ID, api_hash=SANDBOX_API_HASH, dc=dc, rsa_key_pem=server.public_key_pem
        )
    fields: dict[str, Any] = {
        "api_id": SANDBOX_API_ID,
        "api_hash": SANDBOX_API_HASH,
        "dc": dc,
        "rsa_key_pem": server.public_key_pem,
        "timeout": 10.0,
        "flood_sleep_threshold": 5,
    }
    fields.update(changes)
    return TelegramConfig(**fields)


async def login_tenant(
    config: TelegramConfig,
    vault: Vault,
    keys: TenantKeys,
    *,
    phone: str,
    code: str,
    password: str | None = None,
) -> None:
    """Log a tenant's sealed session into Telegram (or the sandbox) by code, and 2FA if asked.

    Raises:
        RuntimeError: the login did not complete (wrong code or password).
    """
    async with open_login(config, vault, keys) as login:
        if await login.current_account() is not None:
            return
        state = await login.driver.send(SubmitPhone(phone))
        state = await login.driver.send(SubmitCode(code))
        if isinstance(state, NeedPassword) and password is not None:
            state = await login.driver.send(SubmitPassword(password))
        if not isinstance(state, LoggedIn):
            raise RuntimeError(f"login stopped at {type(state).__name__}")
