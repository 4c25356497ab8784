"""The sandbox as an MTProto proxy: secrets, the fake-TLS handshake checks, and who gets refused."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import telethon
from telethon import TelegramClient, functions
from telethon.network import ConnectionTcpMTProxyIntermediate
from telethon.sessions import MemorySession

from mcpgram.sandbox import SandboxServer, World, cli
from mcpgram.sandbox.mtproxy import (
    MAX_CLOCK_SKEW,
    ProxyEndpoint,
    ProxySecret,
    check_client_hello,
    server_hello,
)
from mcpgram.sandbox.transport import TransportError
from mcpgram.settings import parse_proxy
from mcpgram.telegram.faketls import (
    RANDOM_AT,
    ConnectionTcpMTProxyFakeTls,
    MTProxyAbridged,
    MTProxyPadded,
    check_server_hello,
    client_hello,
    fake_tls_secret,
    obfuscation_header,
    tls_records,
)

from .conftest import API_HASH, API_ID
from .test_cli_sandbox import start_sandbox

KEY = bytes(range(16))
DOMAIN = "www.example.com"
NOW = 1_750_000_000


def hello(key: bytes = KEY, domain: str = DOMAIN, now: int = NOW) -> bytes:
    return client_hello(key, domain, now=now)


# -- secrets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode", "domain"),
    [
        ("00" * 16, "plain", None),
        ("dd" + "00" * 16, "dd", None),
        ("ee" + "00" * 16 + DOMAIN.encode().hex(), "ee", DOMAIN),
    ],
)
def test_secrets_parse_in_telegram_link_form(text: str, mode: str, domain: str | None) -> None:
    """Plain, dd and ee secrets parse to key, mode and domain, and print back the same."""
    secret = ProxySecret.parse(text)
    assert (secret.key, secret.mode, secret.domain) == (bytes(16), mode, domain)
    assert secret.hex == text
    assert secret.link("127.0.0.1", 443) == f"tg://proxy?server=127.0.0.1&port=443&secret={text}"
    assert "00" * 16 not in repr(secret)


@pytest.mark.parametrize(
    "text",
    [
        "00" * 15,
        "dd" + "00" * 17,
        "ee" + "00" * 16,
        "ee" + "00" * 16 + b"bad domain".hex(),
        "zz",
        "ff" + "00" * 16,
    ],
)
def test_malformed_secrets_are_refused(text: str) -> None:
    """A short key, an ee secret without a valid domain, non-hex or an unknown prefix is refused."""
    with pytest.raises(ValueError):
        ProxySecret.parse(text)


# -- the ClientHello check -------------------------------------------------------------------------


def test_a_signed_client_hello_is_accepted() -> None:
    """A hello from the client module passes: 517 bytes, our domain, the timestamp it was made at."""
    record = hello()
    assert len(record) == 517
    checked = check_client_hello(KEY, record, now=NOW + 5, domain=DOMAIN)
    assert (checked.server_name, checked.timestamp) == (DOMAIN, NOW)
    assert checked.random == record[RANDOM_AT : RANDOM_AT + 32]


@pytest.mark.parametrize("offset", [0, 5, 11, 30, 38, 42, 60, 120, 300, 516])
def test_a_tampered_client_hello_is_refused(offset: int) -> None:
    """Flipping any one byte (header, random, session id, extensions, padding) makes the hello fail."""
    record = bytearray(hello())
    record[offset] ^= 0x01
    with pytest.raises(TransportError):
        check_client_hello(KEY, bytes(record), now=NOW, domain=DOMAIN)


@pytest.mark.parametrize(
    ("skew", "accepted"),
    [(0, True), (MAX_CLOCK_SKEW, True), (-MAX_CLOCK_SKEW, True), (MAX_CLOCK_SKEW + 1, False), (-3600, False)],
)
def test_the_timestamp_must_be_within_the_clock_skew(skew: int, accepted: bool) -> None:
    """A hello made too long ago (or too far ahead of our clock) is refused as stale."""
    record = hello(now=NOW - skew)
    if accepted:
        check_client_hello(KEY, record, now=NOW, domain=DOMAIN)
    else:
        with pytest.raises(TransportError, match="clock skew"):
            check_client_hello(KEY, record, now=NOW, domain=DOMAIN)


def test_another_key_or_domain_is_refused() -> None:
    """A hello signed with another key, or naming another domain, is refused."""
    with pytest.raises(TransportError, match="not signed"):
        check_client_hello(bytes(16), hello(), now=NOW, domain=DOMAIN)
    with pytest.raises(TransportError, match="another domain"):
        check_client_hello(KEY, hello(domain="other.example"), now=NOW, domain=DOMAIN)


def test_a_long_domain_makes_a_longer_hello_that_still_checks() -> None:
    """A domain too long for the 517-byte hello drops the padding; the hello still verifies."""
    domain = ".".join(["a" * 60] * 4)
    record = hello(domain=domain)
    assert len(record) > 517
    assert check_client_hello(KEY, record, now=NOW, domain=domain).server_name == domain


def test_the_server_hello_proves_the_secret() -> None:
    """The client accepts the ServerHello signed over its random; another key or a flipped byte fails."""
    checked = check_client_hello(KEY, hello(), now=NOW, domain=DOMAIN)
    answer = server_hello(KEY, checked)
    assert answer[:3] == b"\x16\x03\x03" and b"\x14\x03\x03\x00\x01\x01\x17\x03\x03" in answer
    check_server_hello(KEY, checked.random, answer)
    with pytest.raises(ConnectionError):
        check_server_hello(bytes(16), checked.random, answer)
    tampered = bytearray(answer)
    tampered[-1] ^= 1
    with pytest.raises(ConnectionError):
        check_server_hello(KEY, checked.random, bytes(tampered))


# -- the endpoint ----------------------------------------------------------------------------------


@pytest.fixture
async def proxied(request: pytest.FixtureRequest) -> AsyncIterator[SandboxServer]:
    """A sandbox whose proxy port uses the secret ``request.param`` (a ProxySecret)."""
    async with SandboxServer(World(), proxy_secret=request.param) as server:
        yield server


def _telethon_client(server: SandboxServer, connection: type, secret: str) -> TelegramClient:
    telethon.crypto.rsa.add_key(server.public_key_pem, old=False)
    session = MemorySession()
    session.set_dc(server.dc_id, server.host, server.port)
    return TelegramClient(
        session,
        API_ID,
        API_HASH,
        connection=connection,
        proxy=(server.host, server.proxy_port, secret),
        # 2: Telethon fails ~1 in 256 key exchanges (it drops a leading zero byte of the key).
        connection_retries=2,
        request_retries=1,
        retry_delay=0,
        timeout=5,
    )


PLAIN = ProxySecret(KEY)
PADDED = ProxySecret(KEY, "dd")


@pytest.mark.parametrize("proxied", [PLAIN], indirect=True)
@pytest.mark.parametrize(
    ("connection", "codec"),
    [
        (MTProxyAbridged, "obfuscated-abridged"),
        (ConnectionTcpMTProxyIntermediate, "obfuscated-intermediate"),
        (MTProxyPadded, "obfuscated-padded-intermediate"),
    ],
)
async def test_a_plain_secret_serves_every_obfuscated_transport(
    proxied: SandboxServer, connection: type, codec: str
) -> None:
    """Telethon's own MTProxy transports reach the sandbox through its proxy port with a plain secret."""
    client = _telethon_client(proxied, connection, KEY.hex())
    try:
        await client.connect()
        assert (await client(functions.help.GetConfigRequest())).this_dc == proxied.dc_id
        assert [c.codec.name for c in proxied.connections if c.codec is not None] == [codec]
    finally:
        await client.disconnect()


@pytest.mark.parametrize(
    ("proxied", "connection", "secret"),
    [
        (PADDED, MTProxyAbridged, KEY.hex()),  # dd: padded intermediate only
        (PLAIN, MTProxyAbridged, bytes(16).hex()),  # wrong key
        (ProxySecret(KEY, "ee", DOMAIN), MTProxyPadded, "dd" + KEY.hex()),
    ],
    indirect=["proxied"],
)
async def test_refused_connections_are_closed(proxied: SandboxServer, connection: type, secret: str) -> None:
    """A wrong key, a transport the secret does not allow, or no fake-TLS for an ee secret: closed at once."""
    client = _telethon_client(proxied, connection, secret)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await client.connect()
    assert time.monotonic() - started < 1.5  # closed, not left to Telethon's 2 s wait
    assert not proxied.connections


async def _raw_exchange(server: SandboxServer, data: bytes) -> bytes:
    """Send ``data`` to the proxy port; return what came back before it closed, or ``<open>`` after 0.3 s."""
    reader, writer = await asyncio.open_connection(server.host, server.proxy_port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(1 << 16), 0.3)
    except TimeoutError:
        return b"<open>"
    finally:
        writer.close()


@pytest.mark.parametrize("proxied", [ProxySecret(KEY, "ee", DOMAIN)], indirect=True)
async def test_a_replayed_client_hello_is_refused(proxied: SandboxServer) -> None:
    """The first use of a hello gets a ServerHello; the same bytes again get the connection closed."""
    record = hello(now=int(time.time()))
    first = await _raw_exchange(proxied, record)
    assert first[:3] == b"\x16\x03\x03"
    check_server_hello(KEY, record[RANDOM_AT : RANDOM_AT + 32], first)
    assert await _raw_exchange(proxied, record) == b""


@pytest.mark.parametrize("proxied", [PLAIN], indirect=True)
async def test_a_fake_tls_hello_to_a_plain_secret_is_closed(proxied: SandboxServer) -> None:
    """A proxy with a plain secret does not answer a ClientHello, even one signed with its key."""
    assert await _raw_exchange(proxied, hello(now=int(time.time()))) == b""


@pytest.mark.parametrize("proxied", [PADDED], indirect=True)
@pytest.mark.parametrize(("dc_id", "served"), [(2, True), (-2, True), (10002, True), (3, False)])
async def test_the_header_must_name_this_data_centre(
    proxied: SandboxServer, dc_id: int, served: bool
) -> None:
    """The proxy routes by the header's DC id; a DC it does not front gets the connection closed."""
    header, _, _ = obfuscation_header(KEY, dc_id, b"\xdd\xdd\xdd\xdd")
    answer = await _raw_exchange(proxied, header)
    assert answer == (b"<open>" if served else b"")


async def test_the_direct_port_still_serves_next_to_the_proxy() -> None:
    """With a proxy secret, the DC port keeps speaking the plain transports."""
    async with SandboxServer(World(), proxy_secret=PADDED) as server:
        telethon.crypto.rsa.add_key(server.public_key_pem, old=False)
        direct = TelegramClient(MemorySession(), API_ID, API_HASH, connection_retries=2, timeout=5)
        direct.session.set_dc(server.dc_id, server.host, server.port)
        try:
            await direct.connect()
            assert (await direct(functions.help.GetConfigRequest())).this_dc == server.dc_id
        finally:
            await direct.disconnect()


def test_the_endpoint_remembers_a_bounded_number_of_handshakes() -> None:
    """Replay memory is capped, so a long-running sandbox does not grow without bound."""
    endpoint = ProxyEndpoint(PLAIN, {2}, clock=lambda: NOW)
    for index in range(10_050):
        endpoint._remember(struct.pack("<I", index))
    assert len(endpoint._seen) == 10_000


def test_records_split_long_writes() -> None:
    """The client's records carry at most 16 KiB each and concatenate back to the data."""
    data = os.urandom(70_000)
    framed = tls_records(data)
    sizes, out, at = [], b"", 0
    while at < len(framed):
        assert framed[at : at + 3] == b"\x17\x03\x03"
        (length,) = struct.unpack(">H", framed[at + 3 : at + 5])
        sizes.append(length)
        out += framed[at + 5 : at + 5 + length]
        at += 5 + length
    assert out == data and sizes == [16384] * 4 + [70_000 - 4 * 16384]


async def test_the_sandbox_command_serves_a_fake_tls_proxy() -> None:
    """``mcpgram sandbox --proxy-secret ee`` prints a tg://proxy link that a fake-TLS client can use."""
    proc, info = await start_sandbox("--proxy-secret", "ee")
    try:
        proxy = parse_proxy(info["proxy"])
        assert proxy.fake_tls_domain == "example.com" and proxy.secret is not None
        host, port = info["address"].rsplit(":", 1)
        pem = await asyncio.to_thread(Path(info["public key"]).read_text)
        telethon.crypto.rsa.add_key(pem, old=False)
        session = MemorySession()
        session.set_dc(int(info["dc id"]), host, int(port))
        secret = fake_tls_secret(proxy.secret, proxy.fake_tls_domain)
        client = TelegramClient(
            session,
            API_ID,
            API_HASH,
            connection=ConnectionTcpMTProxyFakeTls,
            proxy=(proxy.host, proxy.port, secret),
            connection_retries=2,
            timeout=5,
        )
        try:
            await client.connect()
            assert (await client(functions.help.GetConfigRequest())).this_dc == int(info["dc id"])
        finally:
            await client.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 15)


def test_the_sandbox_command_refuses_a_malformed_proxy_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --proxy-secret is a usage error that does not echo the secret."""
    with pytest.raises(SystemExit) as info:
        cli.main(["--proxy-secret", "ee" + KEY.hex()], prog="sandbox")
    assert info.value.code == 2
    assert KEY.hex() not in capsys.readouterr().err
