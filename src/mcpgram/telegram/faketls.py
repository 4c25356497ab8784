"""Fake-TLS MTProto proxies (``ee`` secrets) for Telethon: the client side of MTProxy's TLS disguise.

Telethon 1.x strips an ``ee`` secret down to its key and talks plain obfuscated MTProto, which a
fake-TLS proxy drops. :class:`ConnectionTcpMTProxyFakeTls` speaks what Telegram's own apps speak:

1. a TLS 1.3-looking ClientHello for the secret's domain (SNI), whose 32-byte random is
   ``HMAC-SHA256(key, hello with a zero random)`` with its last 4 bytes XORed with the Unix time
   (little-endian), so the proxy can tell us from a scanner and refuse replays;
2. the proxy's ServerHello + ChangeCipherSpec + ApplicationData, whose random must be
   ``HMAC-SHA256(key, our random + that response with its random zeroed)``: anything else is not
   our proxy (a censor's box, or the real site the proxy forwards strangers to) and is refused;
3. MTProxy's obfuscated2 (64-byte header, AES-256-CTR keys ``SHA256(header part + key)``, the padded
   intermediate tag ``0xdddddddd``), every byte carried in TLS application-data records of at most
   16 KiB, after one ChangeCipherSpec record as real clients send.

The pure parts (:func:`client_hello`, :func:`check_server_hello`, :func:`obfuscation_header`,
:func:`tls_records`) take their clock and randomness as parameters. Must not: log the secret, or
accept a proxy whose answer does not prove it holds the secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from telethon.network.connection.connection import Connection
from telethon.network.connection.tcpintermediate import RandomizedIntermediatePacketCodec
from telethon.network.connection.tcpmtproxy import (
    ConnectionTcpMTProxyAbridged,
    ConnectionTcpMTProxyRandomizedIntermediate,
    TcpMTProxy,
)

__all__ = [
    "ConnectionTcpMTProxyFakeTls",
    "FakeTlsError",
    "MTProxyAbridged",
    "MTProxyPadded",
    "check_server_hello",
    "client_hello",
    "fake_tls_secret",
    "obfuscation_header",
    "parse_fake_tls_secret",
    "tls_records",
]

Random = Callable[[int], bytes]

#: Largest application-data payload per record: TLS's plaintext limit, what MTProxy servers expect.
MAX_RECORD_PAYLOAD = 16384
#: Largest record we accept from the proxy (TLS 1.2 ciphertext limit: plaintext + 2048).
MAX_RECORD_IN = MAX_RECORD_PAYLOAD + 2048
#: Real clients' ClientHello record is 517 bytes (5 header + 512); we pad to it when the domain fits.
HELLO_RECORD_LENGTH = 512
#: Where the 32-byte random sits in a hello record: 5 record + 4 handshake header + 2 version bytes.
RANDOM_AT = 11

_KEY_LENGTH = 16
_CHANGE_CIPHER_SPEC = b"\x14\x03\x03\x00\x01\x01"
_APP_DATA = b"\x17\x03\x03"
_SERVER_HELLO = b"\x16\x03\x03"
# The 64-byte obfuscation header must not look like another transport's first bytes.
_RESERVED_STARTS = (
    b"PVrG",
    b"GET ",
    b"POST",
    b"HEAD",
    b"\xee\xee\xee\xee",
    b"\xdd\xdd\xdd\xdd",
    b"\x16\x03\x01\x02",
)
_CIPHER_SUITES = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014)
_SIGNATURE_ALGORITHMS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


class FakeTlsError(ConnectionError):
    """The proxy did not answer as an MTProxy holding our secret would; the connection is dropped."""


def fake_tls_secret(key: bytes, domain: str) -> str:
    """The secret in Telethon's ``proxy=(host, port, secret)`` form: ``ee`` + key hex + domain hex."""
    return "ee" + key.hex() + domain.encode("ascii").hex()


def parse_fake_tls_secret(secret: str) -> tuple[bytes, str]:
    """``(16-byte key, domain)`` from :func:`fake_tls_secret`'s form.

    Raises:
        ValueError: not ``ee`` + 16 bytes + a non-empty ASCII domain (the message holds no secret).
    """
    try:
        raw = bytes.fromhex(secret)
        domain = raw[1 + _KEY_LENGTH :].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("a fake-TLS secret is ee + 16 bytes + a domain, in hex") from None
    if raw[:1] != b"\xee" or not domain:
        raise ValueError("a fake-TLS secret is ee + 16 bytes + a domain, in hex")
    return raw[1 : 1 + _KEY_LENGTH], domain


# -- the TLS disguise (pure) ---------------------------------------------------------------------


def _u16(value: int) -> bytes:
    return struct.pack(">H", value)


def _vector(data: bytes, length_bytes: int = 2) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _ext(kind: int, body: bytes) -> bytes:
    return _u16(kind) + _vector(body)


def _grease(random: Random, count: int) -> list[int]:
    """Distinct GREASE values (RFC 8701: 0x?A?A), as Chrome sprinkles them through its hello."""
    values: list[int] = []
    for byte in random(count * 2):
        value = (byte & 0xF0) | 0x0A
        value = value << 8 | value
        while value in values:
            value = (value + 0x1010) & 0xFFFF
        values.append(value)
    return values


def _extensions(domain: bytes, key_share: bytes, grease: list[int]) -> bytes:
    server_name = _vector(b"\x00" + _vector(domain))
    groups = b"".join(_u16(g) for g in (grease[1], 0x001D, 0x0017, 0x0018))
    alpn = _vector(_vector(b"h2", 1) + _vector(b"http/1.1", 1))
    shares = _u16(grease[1]) + _vector(b"\x00") + _u16(0x001D) + _vector(key_share)
    versions = b"".join(_u16(v) for v in (grease[2], 0x0304, 0x0303))
    return b"".join(
        [
            _ext(grease[0], b""),
            _ext(0x0000, server_name),
            _ext(0x0017, b""),
            _ext(0xFF01, b"\x00"),
            _ext(0x000A, _vector(groups)),
            _ext(0x000B, b"\x01\x00"),
            _ext(0x0023, b""),
            _ext(0x0010, alpn),
            _ext(0x0005, b"\x01\x00\x00\x00\x00"),
            _ext(0x000D, _vector(b"".join(_u16(a) for a in _SIGNATURE_ALGORITHMS))),
            _ext(0x0012, b""),
            _ext(0x0033, _vector(shares)),
            _ext(0x002D, b"\x01\x01"),
            _ext(0x002B, _vector(versions, 1)),
            _ext(0x001B, b"\x02\x00\x02"),
            _ext(grease[3], b"\x00"),
        ]
    )


def _x25519_public_key() -> bytes:
    return X25519PrivateKey.generate().public_key().public_bytes_raw()


def client_hello(
    key: bytes, domain: str, *, now: int, random: Random = os.urandom, key_share: bytes | None = None
) -> bytes:
    """The ClientHello record that opens a fake-TLS connection, signed with ``key`` at time ``now``.

    Padded (RFC 7685) to the 517 bytes real clients send when the domain leaves room; a longer
    domain makes a longer hello, which MTProxy servers also accept.
    """
    grease = _grease(random, 4)
    suites = b"".join(_u16(s) for s in (grease[0], *_CIPHER_SUITES, 0x009C, 0x009D, 0x002F, 0x0035))
    extensions = _extensions(domain.encode("ascii"), key_share or _x25519_public_key(), grease)
    head = b"\x03\x03" + bytes(32) + _vector(random(32), 1) + _vector(suites) + b"\x01\x00"
    room = HELLO_RECORD_LENGTH - 4 - len(head) - 2 - len(extensions) - 4
    if room >= 0:
        extensions += _ext(0x0015, bytes(room))
    body = head + _vector(extensions)
    handshake = b"\x01" + _vector(body, 3)
    zeroed = b"\x16\x03\x01" + _vector(handshake)
    digest = hmac.digest(key, zeroed, "sha256")
    clock = struct.pack("<I", now & 0xFFFFFFFF)
    stamped = digest[:28] + bytes(a ^ b for a, b in zip(digest[28:], clock, strict=True))
    return zeroed[:RANDOM_AT] + stamped + zeroed[RANDOM_AT + 32 :]


def check_server_hello(key: bytes, client_random: bytes, response: bytes) -> None:
    """Refuse a ServerHello (+ CCS + application data) whose random does not prove the secret.

    Raises:
        FakeTlsError: the random is not ``HMAC-SHA256(key, client_random + response with a zero random)``.
    """
    if len(response) < RANDOM_AT + 32:
        raise FakeTlsError("the proxy's TLS answer is too short")
    zeroed = response[:RANDOM_AT] + bytes(32) + response[RANDOM_AT + 32 :]
    expected = hmac.digest(key, client_random + zeroed, "sha256")
    if not hmac.compare_digest(expected, response[RANDOM_AT : RANDOM_AT + 32]):
        raise FakeTlsError(
            "the proxy's TLS answer is not signed with the secret (wrong secret or not a proxy)"
        )


def tls_records(data: bytes) -> bytes:
    """``data`` as application-data records of at most :data:`MAX_RECORD_PAYLOAD` bytes each."""
    return b"".join(
        _APP_DATA + _u16(len(chunk)) + chunk
        for chunk in (data[i : i + MAX_RECORD_PAYLOAD] for i in range(0, len(data), MAX_RECORD_PAYLOAD))
    )


async def read_server_hello(reader: asyncio.StreamReader) -> bytes:
    """The proxy's ServerHello, ChangeCipherSpec and first application-data record, as one blob."""
    hello_head = await reader.readexactly(5)
    (length,) = struct.unpack(">H", hello_head[3:])
    if hello_head[:3] != _SERVER_HELLO or not 38 <= length <= 4096:
        raise FakeTlsError("the proxy did not answer with a TLS ServerHello")
    hello = hello_head + await reader.readexactly(length)
    if await reader.readexactly(len(_CHANGE_CIPHER_SPEC)) != _CHANGE_CIPHER_SPEC:
        raise FakeTlsError("the proxy's ServerHello is not followed by ChangeCipherSpec")
    data_head = await reader.readexactly(5)
    (length,) = struct.unpack(">H", data_head[3:])
    if data_head[:3] != _APP_DATA or not 0 < length <= MAX_RECORD_IN:
        raise FakeTlsError("the proxy's ServerHello is not followed by application data")
    return hello + _CHANGE_CIPHER_SPEC + data_head + await reader.readexactly(length)


# -- MTProxy obfuscation (pure) --------------------------------------------------------------------


def _ctr(key: bytes, iv: bytes) -> CipherContext:
    # One context per direction and connection: CTR's counter runs on across packets.
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()


def obfuscation_header(
    key: bytes, dc_id: int, tag: bytes, *, random: Random = os.urandom
) -> tuple[bytes, CipherContext, CipherContext]:
    """MTProxy's 64-byte init header, and the encryptor and decryptor of the stream it opens.

    The AES-256-CTR keys are ``SHA256(header[8:40] + key)`` (sending) and the same over the
    reversed bytes (receiving), so only a proxy holding ``key`` can read the protocol ``tag`` and
    ``dc_id`` in bytes 56..62, which travel encrypted.
    """
    while True:
        header = bytearray(random(64))
        if header[0] != 0xEF and bytes(header[:4]) not in _RESERVED_STARTS and header[4:8] != bytes(4):
            break
    backwards = bytes(header[8:56])[::-1]
    encryptor = _ctr(hashlib.sha256(bytes(header[8:40]) + key).digest(), bytes(header[40:56]))
    decryptor = _ctr(hashlib.sha256(backwards[:32] + key).digest(), backwards[32:48])
    header[56:60] = tag
    header[60:62] = struct.pack("<h", dc_id)
    header[56:64] = encryptor.update(bytes(header))[56:64]
    return bytes(header), encryptor, decryptor


# -- the Telethon connection ---------------------------------------------------------------------


class _RecordReader:
    """Unwraps the proxy's application-data records into one byte stream (``readexactly``)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            head = await self._reader.readexactly(5)
            (length,) = struct.unpack(">H", head[3:])
            if head[1:3] != b"\x03\x03" or length > MAX_RECORD_IN:
                raise FakeTlsError("the proxy sent a malformed TLS record")
            payload = await self._reader.readexactly(length)
            if head[0] == 0x17:
                self._buffer += payload
            elif head[0] != 0x14:  # a ChangeCipherSpec carries nothing; an alert or else ends it
                raise FakeTlsError("the proxy sent a TLS record that is not application data")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


class _RecordWriter:
    """Wraps writes in application-data records; otherwise behaves as the ``StreamWriter``."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if data:
            self._writer.write(tls_records(data))

    def __getattr__(self, name: str) -> Any:  # drain, close, wait_closed, transport, ...
        return getattr(self._writer, name)


class _Obfuscation:
    """Telethon's ``obfuscated_io`` for a fake-TLS proxy: AES-CTR from cryptography, keyed by the secret."""

    def __init__(self, connection: ConnectionTcpMTProxyFakeTls) -> None:
        self._reader = connection._reader
        self._writer = connection._writer
        self.header, self._encryptor, self._decryptor = obfuscation_header(
            connection._key, connection._dc_id, connection.packet_codec.obfuscate_tag
        )

    async def readexactly(self, n: int) -> bytes:
        return self._decryptor.update(await self._reader.readexactly(n))

    def write(self, data: bytes) -> None:
        self._writer.write(self._encryptor.update(data))


class ConnectionTcpMTProxyFakeTls(TcpMTProxy):  # type: ignore[misc]  # Telethon is untyped
    """Telethon connection through a fake-TLS MTProto proxy: ``proxy=(host, port, "ee" + key + domain)``.

    A ``TcpMTProxy`` subclass, so Telethon also tells Telegram which proxy the client came through
    (``initConnection``'s ``proxy``). Handshake failures raise :class:`FakeTlsError`, a
    ``ConnectionError``, which Telethon's retries and mcpgram's pool treat as unreachable.
    """

    packet_codec = RandomizedIntermediatePacketCodec
    obfuscated_io = _Obfuscation

    def __init__(
        self, ip: str, port: int, dc_id: int, *, loggers: Any, proxy: Any = None, local_addr: Any = None
    ) -> None:
        host, proxy_port = self.address_info(proxy)
        self._key, self._domain = parse_fake_tls_secret(proxy[2])
        # TcpMTProxy.__init__ would cut the secret to 16 bytes, dropping the domain we need.
        Connection.__init__(self, host, proxy_port, dc_id, loggers=loggers, local_addr=local_addr)

    # Telethon's signature, which its sender calls with ``timeout=``.
    async def _connect(self, timeout: float | None = None, ssl: Any = None) -> None:  # noqa: ASYNC109
        local_addr = (self._local_addr, 0) if isinstance(self._local_addr, str) else self._local_addr
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self._ip, self._port, local_addr=local_addr), timeout=timeout
        )
        try:
            await asyncio.wait_for(self._handshake(reader, writer), timeout=timeout)
        except BaseException:
            writer.close()
            raise
        self._reader = _RecordReader(reader)
        self._writer = _RecordWriter(writer)
        self._codec = self.packet_codec(self)
        self._init_conn()  # sends the obfuscation header, in a record like everything after it
        await self._writer.drain()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = client_hello(self._key, self._domain, now=int(time.time()))
        writer.write(hello)
        await writer.drain()
        try:
            response = await read_server_hello(reader)
        except asyncio.IncompleteReadError:
            # Telethon retries only on OSError; a proxy that hangs up on a wrong secret is one.
            raise FakeTlsError("the proxy closed the connection during the TLS handshake") from None
        check_server_hello(self._key, hello[RANDOM_AT : RANDOM_AT + 32], response)
        writer.write(_CHANGE_CIPHER_SPEC)


# -- plain and dd secrets --------------------------------------------------------------------------


async def _closing_on_failure(connection: Any, connecting: Awaitable[None]) -> None:
    # Telethon's TcpMTProxy._connect calls disconnect() when the proxy hangs up on its header, but
    # disconnect() returns early while not yet connected, leaving the socket open (one per retry).
    try:
        await connecting
    except BaseException:
        if connection._writer is not None:
            connection._writer.close()
        raise


class MTProxyAbridged(ConnectionTcpMTProxyAbridged):  # type: ignore[misc]  # Telethon is untyped
    """Telethon's MTProxy transport for plain secrets, closing its socket when the proxy refuses it."""

    async def _connect(self, timeout: float | None = None, ssl: Any = None) -> None:  # noqa: ASYNC109
        await _closing_on_failure(self, super()._connect(timeout=timeout, ssl=ssl))


class MTProxyPadded(ConnectionTcpMTProxyRandomizedIntermediate):  # type: ignore[misc]
    """Telethon's MTProxy transport for ``dd`` secrets, closing its socket when the proxy refuses it."""

    async def _connect(self, timeout: float | None = None, ssl: Any = None) -> None:  # noqa: ASYNC109
        await _closing_on_failure(self, super()._connect(timeout=timeout, ssl=ssl))
