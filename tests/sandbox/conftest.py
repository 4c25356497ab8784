"""Fixtures for sandbox tests: a server per test, and Telethon clients wired to it through public API only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import telethon
from telethon import TelegramClient
from telethon.sessions import MemorySession

from mcpgram.sandbox import SandboxServer, World

API_ID = 12345
API_HASH = "0123456789abcdef0123456789abcdef"

ClientFactory = Callable[..., Awaitable[TelegramClient]]


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(World()) as server:
        yield server


def new_client(server: SandboxServer, **kwargs: object) -> TelegramClient:
    """A Telethon client that trusts the sandbox key and points at its address, nothing more."""
    telethon.crypto.rsa.add_key(server.public_key_pem, old=False)
    session = MemorySession()
    session.set_dc(server.dc_id, server.host, server.port)
    kwargs.setdefault("flood_sleep_threshold", 0)
    kwargs.setdefault("request_retries", 2)
    kwargs.setdefault("connection_retries", 2)
    kwargs.setdefault("retry_delay", 0)
    return TelegramClient(session, API_ID, API_HASH, **kwargs)  # type: ignore[arg-type]


async def login(client: TelegramClient, server: SandboxServer, phone: str, first_name: str = "Test") -> None:
    """Sign in with the deterministic test-DC code for ``phone``, registering the account first if new.

    Telethon refuses ``sign_up`` for third-party apps, so new accounts are added through the world
    (``test_login`` covers ``auth.signUp`` itself with a raw request).
    """
    if server.world.user_by_phone(phone) is None:
        server.world.add_user(first_name=first_name, phone=phone)
    await client.connect()
    sent = await client.send_code_request(phone)
    code = server.login_code(phone)
    assert code is not None
    await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)


@pytest.fixture
async def make_client(sandbox: SandboxServer) -> AsyncIterator[ClientFactory]:
    """``await make_client(phone=...)``: a connected client, logged in when a phone is given."""
    clients: list[TelegramClient] = []

    async def factory(phone: str | None = None, first_name: str = "Test", **kwargs: object) -> TelegramClient:
        client = new_client(sandbox, **kwargs)
        clients.append(client)
        if phone is None:
            await client.connect()
        else:
            await login(client, sandbox, phone, first_name)
        return client

    yield factory
    for client in clients:
        with contextlib.suppress(Exception):
            await client.disconnect()


def documented_hash(ids: list[int]) -> int:
    """core.telegram.org/api/offsets "hash generation", written out independently of the server."""
    value = 0
    for item in ids:
        value ^= value >> 21
        value ^= (value << 35) % 2**64
        value ^= value >> 4
        value = (value + item) % 2**64
    return value - 2**64 if value >= 2**63 else value
