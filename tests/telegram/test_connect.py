"""TelegramConfig becomes Telethon client options: DC, trusted key, proxies, and refusals at start."""

from __future__ import annotations

import asyncio
import contextlib
import platform
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telethon import functions
from telethon.network.connection.tcpmtproxy import TcpMTProxy
from telethon.sessions import MemorySession

from mcpgram.errors import ConfigError
from mcpgram.sandbox import SandboxServer
from mcpgram.settings import DcAddress, ProxyConfig, TelegramConfig, parse_proxy
from mcpgram.telegram.connect import (
    RECENT_SERVER_MSG_IDS,
    TEST_DC,
    build_client,
    check_config,
    client_kwargs,
    fast_crypto,
    prepare_session,
    python_socks_installed,
)
from mcpgram.telegram.faketls import (
    ConnectionTcpMTProxyFakeTls,
    MTProxyAbridged,
    MTProxyPadded,
    parse_fake_tls_secret,
)

from .conftest import API_HASH, API_ID, telegram_config

SECRET = bytes.fromhex("dd" + "11" * 15)  # a plain secret whose hex starts with "dd"


def config(**overrides: Any) -> TelegramConfig:
    return TelegramConfig(api_id=API_ID, api_hash=API_HASH, **overrides)


@pytest.mark.parametrize(
    "proxy",
    [
        ProxyConfig("mtproto", "proxy.example", 443, secret=bytes(16), fake_tls_domain="example.com"),
        parse_proxy("tg://proxy?server=proxy.example&port=443&secret=ee" + "ab" * 16 + b"example.com".hex()),
    ],
)
def test_fake_tls_secrets_use_the_fake_tls_connection(proxy: ProxyConfig) -> None:
    """An ee (fake-TLS) MTProto secret is accepted and selects our connection, with key and domain intact."""
    check_config(config(proxy=proxy))
    kwargs = client_kwargs(config(proxy=proxy))
    assert kwargs["connection"] is ConnectionTcpMTProxyFakeTls
    host, port, secret = kwargs["proxy"]
    assert (host, port) == ("proxy.example", 443)
    assert parse_fake_tls_secret(secret) == (proxy.secret, "example.com")


@pytest.mark.parametrize(
    "proxy",
    [
        ProxyConfig("mtproto", "proxy.example", 443, secret=bytes(15)),
        ProxyConfig("mtproto", "proxy.example", 443, secret=None),
        ProxyConfig("mtproto", "proxy.example", 443, secret=bytes(17), fake_tls_domain="example.com"),
        ProxyConfig("mtproto", "proxy.example", 443, secret=bytes(16), fake_tls_domain=""),
        ProxyConfig("mtproto", "proxy.example", 443, secret=bytes(16), fake_tls_domain="exämple.com"),
    ],
)
def test_malformed_mtproto_secrets_are_refused_at_start(proxy: ProxyConfig) -> None:
    """A key that is not 16 bytes, or an ee secret without an ASCII domain, is a ConfigError at start."""
    with pytest.raises(ConfigError) as info:
        check_config(config(proxy=proxy))
    assert "MCPGRAM_PROXY" in str(info.value)


def test_socks_without_python_socks_is_refused_at_start() -> None:
    """A SOCKS or HTTP proxy is refused at start when python-socks is missing."""
    for kind in ("socks5", "socks4", "http"):
        proxy = ProxyConfig(kind, "127.0.0.1", 1080, "user", "hunter2")  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as info:
            check_config(config(proxy=proxy), has_socks=lambda: False)
        assert "python-socks" in str(info.value)
        assert "hunter2" not in str(info.value)
        check_config(config(proxy=proxy))


def test_telethon_encrypts_with_cryptg() -> None:
    """cryptg is a dependency: without it every MTProto message is AES-IGE'd 16 bytes per ctypes call."""
    assert fast_crypto()


def test_a_missing_cryptg_is_one_warning_not_one_per_client(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mcpgram.telegram import connect

    monkeypatch.setattr(connect.aes, "cryptg", None)
    monkeypatch.setattr(connect, "_warned_slow_crypto", False)
    with caplog.at_level("WARNING", logger=connect.__name__):
        for _ in range(3):
            build_client(MemorySession(), config())
    assert [r.getMessage() for r in caplog.records] == ["telegram.slow_crypto"]


def test_python_socks_is_installed() -> None:
    """python-socks is a dependency, so SOCKS and HTTP proxies work out of the box."""
    assert python_socks_installed()


@pytest.mark.parametrize(
    ("padded", "connection"),
    [(True, MTProxyPadded), (False, MTProxyAbridged)],
)
def test_mtproto_proxies_use_the_matching_transport(padded: bool, connection: type) -> None:
    """dd secrets use randomized intermediate, plain ones abridged; Telethon decodes exactly our secret."""
    proxy = ProxyConfig("mtproto", "proxy.example", 443, secret=SECRET, padded=padded)
    kwargs = client_kwargs(config(proxy=proxy))
    assert kwargs["connection"] is connection
    host, port, secret = kwargs["proxy"]
    assert (host, port) == ("proxy.example", 443)
    assert TcpMTProxy.normalize_secret(secret) == SECRET


def test_socks_proxies_resolve_names_at_the_proxy() -> None:
    """SOCKS proxies pass type, address and credentials, with DNS done by the proxy."""
    proxy = parse_proxy("socks5://alice:s3cret@proxy.example:1080")
    assert client_kwargs(config(proxy=proxy))["proxy"] == {
        "proxy_type": "socks5",
        "addr": "proxy.example",
        "port": 1080,
        "username": "alice",
        "password": "s3cret",
        "rdns": True,
    }


def test_clients_are_request_response_only() -> None:
    """Clients receive no updates, take the flood threshold from config and do not report the host name."""
    kwargs = client_kwargs(config(flood_sleep_threshold=7, timeout=120.0))
    assert kwargs["receive_updates"] is False
    assert kwargs["catch_up"] is False
    assert kwargs["flood_sleep_threshold"] == 7
    assert kwargs["raise_last_call_error"] is True
    assert kwargs["timeout"] <= 10
    assert "proxy" not in kwargs
    assert platform.node() not in {str(value) for value in kwargs.values()}


def _session(dc: tuple[int, str, int] | None) -> MemorySession:
    session = MemorySession()
    if dc is not None:
        session.set_dc(*dc)
    return session


@pytest.mark.parametrize(
    ("stored", "dc", "test_mode", "expected"),
    [
        (None, DcAddress(2, "127.0.0.1", 4000), False, (2, "127.0.0.1", 4000)),
        ((2, "127.0.0.1", 3999), DcAddress(2, "127.0.0.1", 4000), False, (2, "127.0.0.1", 4000)),
        ((4, "10.0.0.4", 443), DcAddress(2, "127.0.0.1", 4000), False, (4, "10.0.0.4", 443)),
        (None, None, True, (TEST_DC.dc_id, TEST_DC.host, TEST_DC.port)),
        (None, None, False, (0, None, None)),
        ((1, "149.154.175.53", 443), None, False, (1, "149.154.175.53", 443)),
    ],
)
def test_sessions_start_at_the_configured_dc(
    stored: tuple[int, str, int] | None, dc: DcAddress | None, test_mode: bool, expected: tuple[Any, ...]
) -> None:
    """A fresh session starts at the configured DC, follows a moved address, and keeps a migrated DC."""
    session = _session(stored)
    prepare_session(session, config(dc=dc, test_mode=test_mode))
    assert (session.dc_id, session.server_address, session.port) == expected


async def test_a_built_client_reaches_the_sandbox(sandbox: SandboxServer) -> None:
    """A client built from the config trusts the sandbox key and connects to its DC."""
    client = build_client(MemorySession(), telegram_config(sandbox))
    try:
        await client.connect()
        answer = await client(functions.help.GetConfigRequest())
        assert answer.this_dc == sandbox.dc_id
    finally:
        await client.disconnect()


async def test_a_built_client_remembers_a_bounded_window_of_server_msg_ids(sandbox: SandboxServer) -> None:
    """Telethon's 500 ids per client (~20 KB a tenant) are cut to RECENT_SERVER_MSG_IDS, and stay so."""
    client = build_client(MemorySession(), telegram_config(sandbox))
    try:
        await client.connect()
        for _ in range(RECENT_SERVER_MSG_IDS + 20):
            await client(functions.help.GetNearestDcRequest())
        recent = client._sender._state._recent_remote_ids
        assert recent.maxlen == RECENT_SERVER_MSG_IDS
        assert len(recent) == RECENT_SERVER_MSG_IDS  # every answer went through it
    finally:
        await client.disconnect()


@contextlib.asynccontextmanager
async def socks5_proxy(username: str, password: str) -> AsyncIterator[tuple[int, list[int]]]:
    """A minimal SOCKS5 server on 127.0.0.1 (username/password auth) that records the ports it reaches."""
    reached: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        assert 2 in methods
        writer.write(b"\x05\x02")
        _, ulen = await reader.readexactly(2)
        user = await reader.readexactly(ulen)
        (plen,) = await reader.readexactly(1)
        secret = await reader.readexactly(plen)
        ok = (user.decode(), secret.decode()) == (username, password)
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        if not ok:
            writer.close()
            return
        _, _, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        reached.append(port)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], reached
    finally:
        server.close()
        await server.wait_closed()


async def test_socks5_proxy_carries_the_connection(sandbox: SandboxServer) -> None:
    """With a SOCKS5 proxy configured, Telethon reaches the sandbox through it, credentials included."""
    async with socks5_proxy("alice", "s3cret") as (port, reached):
        proxy = parse_proxy(f"socks5://alice:s3cret@127.0.0.1:{port}")
        client = build_client(MemorySession(), telegram_config(sandbox, proxy=proxy))
        try:
            await client.connect()
            answer = await client(functions.help.GetConfigRequest())
        finally:
            await client.disconnect()
    assert answer.this_dc == sandbox.dc_id
    assert reached == [sandbox.port]
