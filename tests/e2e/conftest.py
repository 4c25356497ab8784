"""End-to-end fixtures: a sandbox with a small world, and mcpgram settings pointed at it.

Everything here is real: MCP client -> mcpgram (stdio subprocess or HTTP server) -> pool ->
Telethon -> MTProto over TCP -> sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.app import build_gateway, serve_http
from mcpgram.datadir import ensure_data_dir, owner_key_bytes, server_secret_bytes
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import Content, user_peer
from mcpgram.settings import Settings
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID, login_tenant, sandbox_telegram_config
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import TenantKeys, Vault

from ..tools.conftest import allow_unasked

ALICE, BOB, CAROL = "9996620001", "9996620002", "9996620003"


@dataclass
class People:
    alice: int
    bob: int
    carol: int


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(World()) as server:
        yield server


@pytest.fixture
def people(sandbox: SandboxServer) -> People:
    """Alice chats with Bob (45 messages); Carol chats with Bob; Alice and Carol never met."""
    return populate(sandbox.world)


def populate(world: World) -> People:
    """The :func:`people` world: Alice, Bob and Carol, and their chats."""
    alice = world.add_user(first_name="Alice", phone=ALICE, username="alice_e2e").id
    bob = world.add_user(first_name="Bob", phone=BOB, username="bob_e2e").id
    carol = world.add_user(first_name="Carol", phone=CAROL, username="carol_e2e").id
    for i in range(45):
        sender, peer = (alice, bob) if i % 2 == 0 else (bob, alice)
        post(world, Changes(), sender_id=sender, peer=user_peer(peer), content=Content(text=f"alice-bob {i}"))
    post(world, Changes(), sender_id=carol, peer=user_peer(bob), content=Content(text="carol to bob"))
    return People(alice, bob, carol)


def settings_for(sandbox: SandboxServer, data_dir: Path, **overrides: object) -> Settings:
    key_file = data_dir.parent / f"{data_dir.name}-sandbox-rsa.pem"
    key_file.write_text(sandbox.public_key_pem)
    return Settings.load(
        env_file=None,
        data_dir=data_dir,
        api_id=SANDBOX_API_ID,
        api_hash=SANDBOX_API_HASH,
        dc=f"{sandbox.dc_id}@{sandbox.host}:{sandbox.port}",
        rsa_key_file=key_file,
        **overrides,
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as MCPGRAM_* variables, for a subprocess."""
    assert settings.api_hash is not None and settings.rsa_key_file is not None and settings.dc is not None
    return {
        **os.environ,
        "MCPGRAM_DATA_DIR": str(settings.data_dir),
        "MCPGRAM_API_ID": str(settings.api_id),
        "MCPGRAM_API_HASH": settings.api_hash.get_secret_value(),
        "MCPGRAM_DC": settings.dc,
        "MCPGRAM_RSA_KEY_FILE": str(settings.rsa_key_file),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }


@pytest.fixture
def vault_for() -> Iterator[object]:
    """``vault_for(settings)``: the vault in the settings' data dir (closed after the test)."""
    stores: list[SQLiteVault] = []

    def factory(settings: Settings) -> Vault:
        ensure_data_dir(settings.data_dir)
        store = SQLiteVault(settings.data_dir / "vault.db")
        stores.append(store)
        return Vault(store, server_secret=server_secret_bytes(settings))

    yield factory
    for store in stores:
        store.close()


async def login_owner(
    sandbox: SandboxServer, settings: Settings, vault: Vault, phone: str, *, approvals: bool = False
) -> TenantKeys:
    keys = vault.open_owner(owner_key_bytes(settings.data_dir))
    await login_tenant(
        sandbox_telegram_config(sandbox, settings), vault, keys, phone=phone, code=phone[5] * 5
    )
    if not approvals:
        allow_unasked(vault, keys.tenant_id, settings.default_policy)
    return keys


async def login_token(
    sandbox: SandboxServer,
    settings: Settings,
    vault: Vault,
    phone: str,
    label: str,
    *,
    approvals: bool = False,
) -> str:
    """A new tenant's token, logged in as ``phone``; without ``approvals`` its policy lets first
    contacts and deletes for everyone through unasked (``tests/tools/conftest.allow_unasked``)."""
    _, token = vault.create_tenant(label)
    keys = vault.unlock_with_token(token)
    await login_tenant(
        sandbox_telegram_config(sandbox, settings), vault, keys, phone=phone, code=phone[5] * 5
    )
    if not approvals:
        allow_unasked(vault, keys.tenant_id, settings.default_policy)
    return token


class Running:
    """An HTTP gateway serving Alice and Carol (each with a bearer token) on a free port."""

    def __init__(self, base: str, gateway: Any, alice: str, carol: str) -> None:
        self.base, self.gateway, self.alice, self.carol = base, gateway, alice, carol

    def client(self, token: str) -> Client[Any]:
        return Client(
            StreamableHttpTransport(f"{self.base}/v1/mcp", headers={"Authorization": f"Bearer {token}"})
        )


@contextlib.asynccontextmanager
async def serving(
    sandbox: SandboxServer, data_dir: Path, vault_for: Any, *, approvals: bool = False, **overrides: object
) -> AsyncIterator[Running]:
    """Alice and Carol logged in with tokens, behind an HTTP gateway on a free port with ``overrides``."""
    settings = settings_for(sandbox, data_dir, transport="http", port=0, **overrides)
    vault = vault_for(settings)
    alice = await login_token(sandbox, settings, vault, ALICE, "alice", approvals=approvals)
    carol = await login_token(sandbox, settings, vault, CAROL, "carol", approvals=approvals)
    gateway = build_gateway(settings, transport="http")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    port = await asyncio.wait_for(bound, 10)
    try:
        yield Running(f"http://127.0.0.1:{port}", gateway, alice, carol)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def server(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[Running]:
    async with serving(sandbox, tmp_path / "data", vault_for) as running:
        yield running


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (0600), valid for an hour: for TLS tests."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path
