"""Fixtures for telegram/ tests: a sandbox, a SQLite vault in tmp_path, pools on both, and code login."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from telethon import functions, types

from mcpgram.sandbox import SandboxServer, World
from mcpgram.settings import DcAddress, PoolLimits, TelegramConfig
from mcpgram.telegram.pool import Backoff, ClientPool
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import TenantKeys, Vault

API_ID = 12345
API_HASH = "0123456789abcdef0123456789abcdef"
SERVER_SECRET = b"telegram-tests-server-secret-0123456789"
#: Fast reconnects for tests: Telethon's own delay and the pool's backoff both start here.
FAST_BACKOFF = Backoff(first=0.05, maximum=0.2, tries=4)

PoolFactory = Callable[..., ClientPool]


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(World()) as server:
        yield server


def telegram_config(server: SandboxServer, **overrides: Any) -> TelegramConfig:
    """The config that points Telethon at ``server`` and trusts its key."""
    fields: dict[str, Any] = {
        "api_id": API_ID,
        "api_hash": API_HASH,
        "dc": DcAddress(server.dc_id, server.host, server.port),
        "rsa_key_pem": server.public_key_pem,
        "timeout": 10.0,
        "flood_sleep_threshold": 5,
    }
    fields.update(overrides)
    return TelegramConfig(**fields)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault.db"


@pytest.fixture
def vault(vault_path: Path) -> Iterator[Vault]:
    store = SQLiteVault(vault_path)
    yield Vault(store, server_secret=SERVER_SECRET)
    store.close()


@pytest.fixture
async def make_pool(sandbox: SandboxServer, vault: Vault) -> AsyncIterator[PoolFactory]:
    """``make_pool(max_clients=..., **config_overrides)``: a started pool, closed at teardown."""
    pools: list[ClientPool] = []

    def factory(*, max_clients: int = 50, idle_seconds: float = 600.0, **overrides: Any) -> ClientPool:
        pool = ClientPool(
            telegram_config(sandbox, **overrides),
            vault,
            PoolLimits(max_clients=max_clients, idle_seconds=idle_seconds),
            backoff=FAST_BACKOFF,
        )
        pools.append(pool)
        return pool

    yield factory
    for pool in pools:
        with contextlib.suppress(Exception):
            await pool.close()


def new_tenant(vault: Vault, label: str = "test") -> TenantKeys:
    """A fresh tenant (status ``login_required``), unlocked with its token."""
    _, token = vault.create_tenant(label)
    return vault.unlock_with_token(token)


def phone_for(index: int) -> str:
    """A distinct test-DC number ``99966XYYYY`` (its login code is ``XXXXX``)."""
    return f"99966{index % 10}{1000 + index:04d}"


async def login_tenant(
    pool: ClientPool, vault: Vault, server: SandboxServer, phone: str, first_name: str = "Test"
) -> TenantKeys:
    """Create a tenant and log it in with the code flow, entirely through ``TenantClient.run``."""
    if server.world.user_by_phone(phone) is None:
        server.world.add_user(first_name=first_name, phone=phone)
    keys = new_tenant(vault, first_name)
    async with pool.client(keys) as tc:
        sent = await tc.run(lambda c: c.send_code_request(phone))
        code = server.login_code(phone)
        assert code is not None
        await tc.run(lambda c: c.sign_in(phone, code, phone_code_hash=sent.phone_code_hash))
    vault.set_status(keys.tenant_id, "active")
    return keys


async def whoami(client: Any) -> int:
    """The logged-in user's id, asked of Telegram (``get_me()`` would swallow a 401 into ``None``)."""
    users = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    return int(users[0].id)


def user_id_of(server: SandboxServer, phone: str) -> int:
    user = server.world.user_by_phone(phone)
    assert user is not None
    return int(user.id)
