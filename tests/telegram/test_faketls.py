"""Fake-TLS (and plain/dd) MTProto proxies end to end: mcpgram's clients through the sandbox's proxy port."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import io
import logging
import os
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telethon import functions

from mcpgram.errors import TelegramError
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.mtproxy import FakeTlsCodec, ProxySecret
from mcpgram.sandbox.transport import obfuscated_codec
from mcpgram.settings import PoolLimits, parse_proxy
from mcpgram.telegram.errors import UNREACHABLE
from mcpgram.telegram.faketls import (
    RANDOM_AT,
    ConnectionTcpMTProxyFakeTls,
    FakeTlsError,
    client_hello,
    fake_tls_secret,
    obfuscation_header,
    parse_fake_tls_secret,
)
from mcpgram.telegram.pool import ClientPool
from mcpgram.vault.vault import Vault

from .conftest import FAST_BACKOFF, login_tenant, new_tenant, telegram_config, whoami

KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
DOMAIN = "www.example.com"
SECRETS = {
    "ee": ProxySecret(KEY, "ee", DOMAIN),
    "dd": ProxySecret(KEY, "dd"),
    "plain": ProxySecret(KEY),
}
CODECS = {
    "ee": "faketls-obfuscated-padded-intermediate",
    "dd": "obfuscated-padded-intermediate",
    "plain": "obfuscated-abridged",
}


@contextlib.asynccontextmanager
async def proxied_pool(
    vault: Vault, secret: ProxySecret, *, client_secret: ProxySecret | None = None
) -> AsyncIterator[tuple[SandboxServer, ClientPool]]:
    """A sandbox with a proxy port for ``secret``, and a pool whose config reaches it only through it."""
    async with SandboxServer(World(), proxy_secret=secret) as server:
        link = (client_secret or secret).link(server.host, server.proxy_port)
        pool = ClientPool(
            telegram_config(server, proxy=parse_proxy(link), timeout=8.0),
            vault,
            PoolLimits(max_clients=10),
            backoff=FAST_BACKOFF,
        )
        try:
            yield server, pool
        finally:
            await pool.close()


def _codecs(server: SandboxServer) -> list[str]:
    return [c.codec.name for c in server.connections if c.codec is not None]


@pytest.mark.parametrize("mode", ["ee", "dd", "plain"])
async def test_a_pool_client_logs_in_through_the_proxy(vault: Vault, mode: str) -> None:
    """build_client's client signs in and calls Telegram through the proxy port, in the secret's mode."""
    async with proxied_pool(vault, SECRETS[mode]) as (server, pool):
        keys = await login_tenant(pool, vault, server, "9996650001", "Proxied")
        async with pool.client(keys) as tc:
            me = await tc.run(whoami)
            config = await tc.run(lambda c: c(functions.help.GetConfigRequest()))
        assert server.world.users[me].first_name == "Proxied"
        assert config.this_dc == server.dc_id
        assert _codecs(server) == [CODECS[mode]]


@pytest.mark.parametrize("mode", ["ee", "dd", "plain"])
async def test_a_wrong_secret_is_unreachable_not_a_hang(vault: Vault, mode: str) -> None:
    """With another key, the proxy hangs up; the pool retries, then says Telegram is unreachable."""
    wrong = ProxySecret(bytes(16), SECRETS[mode].mode, SECRETS[mode].domain)
    async with proxied_pool(vault, SECRETS[mode], client_secret=wrong) as (server, pool):
        started = time.monotonic()
        async with pool.client(new_tenant(vault)) as tc:
            with pytest.raises(TelegramError) as info:
                await tc.run(whoami)
        assert info.value.message == UNREACHABLE
        assert time.monotonic() - started < 8
        assert not server.connections


async def test_a_megabyte_upload_travels_in_records(vault: Vault) -> None:
    """A 1 MB file goes up and comes back through fake-TLS, split into records of at most 16 KiB."""
    data = os.urandom(1024 * 1024)
    async with proxied_pool(vault, SECRETS["ee"]) as (server, pool):
        keys = await login_tenant(pool, vault, server, "9996650002", "Uploader")
        async with pool.client(keys) as tc:

            async def round_trip(client: Any) -> bytes:
                file = io.BytesIO(data)
                file.name = "blob.bin"
                message = await client.send_file("me", file, force_document=True)
                return bytes(await client.download_media(message, bytes))

            assert await tc.run(round_trip) == data
        (connection,) = server.connections
        assert isinstance(connection.codec, FakeTlsCodec)
        assert connection.codec.records.records >= len(data) // 16384


# -- the client's checks, against servers that are not our proxy ------------------------------------


@contextlib.asynccontextmanager
async def fake_proxy(answer: bytes | None) -> AsyncIterator[int]:
    """A server that reads a ClientHello and answers ``answer``; ``b""`` hangs up, ``None`` stays silent."""

    handlers: list[asyncio.Task[Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readexactly(5)
            await reader.readexactly(struct.unpack(">H", head[3:])[0])
            if answer is None:
                await reader.read()  # silent until the client gives up
            elif answer:
                writer.write(answer)
                await writer.drain()
                await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        # Python 3.11's wait_closed does not wait for handlers: let them see the client's EOF.
        await asyncio.wait_for(asyncio.gather(*handlers), 5)


def _connection(port: int, key: bytes = KEY) -> ConnectionTcpMTProxyFakeTls:
    loggers = collections.defaultdict(lambda: logging.getLogger("test.faketls"))
    return ConnectionTcpMTProxyFakeTls(
        "127.0.0.1", 1, 2, loggers=loggers, proxy=("127.0.0.1", port, fake_tls_secret(key, DOMAIN))
    )


def _server_hello(key: bytes) -> bytes:
    """A well-formed ServerHello + CCS + application data, signed (for any client random) with ``key``."""
    hello = b"\x16\x03\x03\x00\x30" + bytes(48) + b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x04abcd"
    return hello[:RANDOM_AT] + hmac.digest(key, b"whatever", "sha256") + hello[RANDOM_AT + 32 :]


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (_server_hello(KEY), "not signed"),  # right shape, but not signed over our random
        (b"\x15\x03\x03\x00\x02\x02\x28", "ServerHello"),  # a TLS alert, as a real site would send
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "ServerHello"),
        (b"", "closed"),
    ],
)
async def test_a_server_that_cannot_prove_the_secret_is_refused(answer: bytes, match: str) -> None:
    """An answer that is not a ServerHello signed over our random fails the connect with FakeTlsError."""
    async with fake_proxy(answer) as port:
        connection = _connection(port)
        with pytest.raises(FakeTlsError, match=match):
            await connection.connect(timeout=2)


async def test_a_silent_server_times_out() -> None:
    """A proxy that never answers the hello ends the connect at the timeout, not in a hang."""
    async with fake_proxy(None) as port:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await _connection(port).connect(timeout=0.3)
        assert time.monotonic() - started < 2


# -- the pure parts ----------------------------------------------------------------------------------


def test_the_hello_random_is_the_hmac_with_the_time_xored_in() -> None:
    """The random is HMAC-SHA256(key, hello with a zero random), its last 4 bytes XOR the time (LE)."""
    now = 1_750_000_123
    record = client_hello(KEY, DOMAIN, now=now)
    random = record[RANDOM_AT : RANDOM_AT + 32]
    mac = hmac.digest(KEY, record[:RANDOM_AT] + bytes(32) + record[RANDOM_AT + 32 :], hashlib.sha256)
    assert random[:28] == mac[:28]
    assert struct.unpack("<I", bytes(a ^ b for a, b in zip(random[28:], mac[28:], strict=True)))[0] == now
    assert record[:11] == b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" and len(record) == 517
    assert DOMAIN.encode() in record
    assert client_hello(KEY, DOMAIN, now=now) != record  # fresh session id, GREASE and key share


@pytest.mark.parametrize("dc_id", [2, -4, 10002])
def test_the_obfuscation_header_opens_with_the_secret(dc_id: int) -> None:
    """The sandbox, keyed with the same secret, reads the padded tag and the DC from our header."""
    header, _, _ = obfuscation_header(KEY, dc_id, b"\xdd\xdd\xdd\xdd")
    codec = obfuscated_codec(header, secret=KEY)
    assert (codec.name, codec.dc_id) == ("obfuscated-padded-intermediate", dc_id)
    assert header[:56] != bytes(56) and header[56:60] != b"\xdd" * 4


def test_secrets_round_trip_and_malformed_ones_are_refused() -> None:
    """The ee form carries key and domain; anything else is a ValueError that does not echo it."""
    assert parse_fake_tls_secret(fake_tls_secret(KEY, DOMAIN)) == (KEY, DOMAIN)
    for bad in ("dd" + KEY.hex(), "ee" + KEY.hex(), "ee" + KEY.hex() + "ff", "zz"):
        with pytest.raises(ValueError) as info:
            parse_fake_tls_secret(bad)
        assert KEY.hex() not in str(info.value)
