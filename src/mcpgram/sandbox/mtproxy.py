"""The sandbox as an MTProto proxy endpoint: MTProxy's keyed obfuscation and its fake-TLS disguise.

Started with a proxy secret, :class:`~mcpgram.sandbox.SandboxServer` opens a second port that
behaves like an MTProxy in front of its own data centre, so a client's proxy support is tested
with no Telegram and no third-party proxy:

- ``plain`` secret: obfuscated2 with keys ``SHA256(header part + secret)``, any protocol tag;
- ``dd`` secret: the same, padded intermediate (``0xdddddddd``) only;
- ``ee`` secret (+ domain): fake-TLS only. The ClientHello's random must be
  ``HMAC-SHA256(secret, hello with a zero random)`` with the Unix time XORed into its last 4 bytes
  (little-endian), within :data:`MAX_CLOCK_SKEW` of ours, never seen before, with the SNI naming the
  secret's domain; the answer is a ServerHello + ChangeCipherSpec + ApplicationData whose random is
  ``HMAC-SHA256(secret, client random + answer with a zero random)``; after it, the obfuscated2
  stream (padded intermediate) travels in TLS application-data records.

A connection that fails any check is closed, as MTProxy does (some proxies instead relay it to the
disguise domain). Replayed hellos and headers are refused too. This module imports nothing from
mcpgram outside the sandbox; the client side lives in ``mcpgram/telegram/faketls.py``, written apart.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .transport import ByteSource, Codec, ObfuscatedCodec, TransportError, obfuscated_codec

#: How far a fake-TLS client's clock may be from ours, in seconds (either way).
MAX_CLOCK_SKEW = 600
#: Largest ClientHello record we read (real ones are 517 bytes).
MAX_HELLO = 2048
#: Largest TLS record a client may send: the TLS 1.2 ciphertext limit.
MAX_RECORD = 16384 + 2048
#: Application data we send per record, at most (TLS's plaintext limit).
MAX_RECORD_PAYLOAD = 16384
#: Client randoms and obfuscation headers remembered to refuse replays.
REPLAY_MEMORY = 10_000

ProxyMode = Literal["plain", "dd", "ee"]

_RANDOM_AT = 11
_CCS = b"\x14\x03\x03\x00\x01\x01"
_APP_DATA = b"\x17\x03\x03"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True, repr=False)
class ProxySecret:
    """An MTProto proxy secret: a 16-byte key and how clients must use it."""

    key: bytes
    mode: ProxyMode = "plain"
    domain: str | None = None

    def __post_init__(self) -> None:
        if len(self.key) != 16:
            raise ValueError("an MTProto proxy key is 16 bytes")
        if (self.mode == "ee") != (self.domain is not None):
            raise ValueError("a fake-TLS (ee) secret needs a domain, and only it has one")
        if self.domain is not None and not _DOMAIN.match(self.domain):
            raise ValueError("the fake-TLS domain must be a host name")

    def __repr__(self) -> str:
        return f"ProxySecret(mode={self.mode!r}, domain={self.domain!r}, key=***)"

    @classmethod
    def generate(cls, mode: ProxyMode = "ee", domain: str = "example.com") -> ProxySecret:
        """A fresh random secret (``domain`` is used for ``ee`` only)."""
        return cls(os.urandom(16), mode, domain if mode == "ee" else None)

    @classmethod
    def parse(cls, text: str) -> ProxySecret:
        """Read the hex form Telegram links use: 32 hex digits, ``dd`` + 32, or ``ee`` + 32 + domain hex."""
        try:
            raw = bytes.fromhex(text.strip())
        except ValueError:
            raise ValueError("a proxy secret is hex") from None
        if len(raw) == 16:
            return cls(raw)
        if len(raw) == 17 and raw[0] == 0xDD:
            return cls(raw[1:], "dd")
        if len(raw) > 17 and raw[0] == 0xEE:
            try:
                return cls(raw[1:17], "ee", raw[17:].decode("ascii"))
            except UnicodeDecodeError:
                raise ValueError("the fake-TLS domain must be a host name") from None
        raise ValueError("a proxy secret is 16 bytes, dd + 16 bytes, or ee + 16 bytes + a domain")

    @property
    def hex(self) -> str:
        """The secret as clients are given it."""
        prefix = {"plain": "", "dd": "dd", "ee": "ee"}[self.mode]
        return prefix + self.key.hex() + (self.domain or "").encode("ascii").hex()

    def link(self, host: str, port: int) -> str:
        """A ``tg://proxy`` link to this proxy (what ``MCPGRAM_PROXY`` accepts)."""
        return f"tg://proxy?server={host}&port={port}&secret={self.hex}"


# -- fake-TLS (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientHello:
    """What the proxy needs from a verified ClientHello."""

    random: bytes
    session_id: bytes
    server_name: str
    timestamp: int


def _server_name(record: bytes, at: int) -> str:
    """The SNI host name, from the extensions that follow the session id at ``at``."""
    (suites,) = struct.unpack_from(">H", record, at)
    at += 2 + suites
    at += 1 + record[at]  # compression methods
    (total,) = struct.unpack_from(">H", record, at)
    at, end = at + 2, at + 2 + total
    if end > len(record):
        raise TransportError("ClientHello extensions overrun the record")
    while at + 4 <= end:
        kind, length = struct.unpack_from(">HH", record, at)
        if kind == 0:
            name_type, name_length = struct.unpack_from(">BH", record, at + 6)
            if name_type != 0:
                break
            return record[at + 9 : at + 9 + name_length].decode("ascii")
        at += 4 + length
    raise TransportError("ClientHello names no server")


def check_client_hello(key: bytes, record: bytes, *, now: float, domain: str | None = None) -> ClientHello:
    """Verify a fake-TLS ClientHello record: its HMAC under ``key``, its timestamp and its SNI.

    Raises:
        TransportError: not a ClientHello, not signed with ``key``, stale, or for another domain.
    """
    if len(record) < 80 or record[:3] != b"\x16\x03\x01" or record[5] != 0x01:
        raise TransportError("not a TLS ClientHello")
    if struct.unpack(">H", record[3:5])[0] != len(record) - 5 or record[9:11] != b"\x03\x03":
        raise TransportError("malformed ClientHello")
    random = record[_RANDOM_AT : _RANDOM_AT + 32]
    mac = hmac.digest(key, record[:_RANDOM_AT] + bytes(32) + record[_RANDOM_AT + 32 :], "sha256")
    if not hmac.compare_digest(random[:28], mac[:28]):
        raise TransportError("ClientHello is not signed with the proxy secret")
    (timestamp,) = struct.unpack("<I", bytes(a ^ b for a, b in zip(random[28:], mac[28:], strict=True)))
    if abs(now - timestamp) > MAX_CLOCK_SKEW:
        raise TransportError("ClientHello timestamp is outside the allowed clock skew")
    session_length = record[43]
    if session_length != 32:
        raise TransportError("ClientHello session id must be 32 bytes")
    try:
        name = _server_name(record, 44 + session_length)
    except (struct.error, IndexError, UnicodeDecodeError):
        raise TransportError("malformed ClientHello extensions") from None
    if domain is not None and name.lower() != domain.lower():
        raise TransportError("ClientHello names another domain")
    return ClientHello(random, record[44:76], name, timestamp)


def server_hello(key: bytes, hello: ClientHello, *, random: Callable[[int], bytes] = os.urandom) -> bytes:
    """The ServerHello + ChangeCipherSpec + ApplicationData answer, its random signed with ``key``."""
    public = X25519PrivateKey.generate().public_key().public_bytes_raw()
    extensions = b"\x00\x33\x00\x24\x00\x1d\x00\x20" + public + b"\x00\x2b\x00\x02\x03\x04"
    body = b"\x03\x03" + bytes(32) + b"\x20" + hello.session_id + b"\x13\x01\x00"
    body += struct.pack(">H", len(extensions)) + extensions
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    # Stands in for the encrypted certificate chain: a size like a real one, random bytes.
    certificate = random(1024 + int.from_bytes(random(2), "big") % 3072)
    answer = b"\x16\x03\x03" + struct.pack(">H", len(handshake)) + handshake + _CCS
    answer += _APP_DATA + struct.pack(">H", len(certificate)) + certificate
    digest = hmac.digest(key, hello.random + answer, "sha256")
    return answer[:_RANDOM_AT] + digest + answer[_RANDOM_AT + 32 :]


def tls_records(data: bytes) -> bytes:
    """``data`` in application-data records of at most :data:`MAX_RECORD_PAYLOAD` bytes."""
    out = bytearray()
    for start in range(0, len(data), MAX_RECORD_PAYLOAD):
        chunk = data[start : start + MAX_RECORD_PAYLOAD]
        out += _APP_DATA + struct.pack(">H", len(chunk)) + chunk
    return bytes(out)


class TlsRecords:
    """A :class:`ByteSource` over a client's TLS records: application data in, ChangeCipherSpec skipped."""

    def __init__(self, reader: ByteSource) -> None:
        self._reader = reader
        self._buffer = bytearray()
        #: How many application-data records arrived (tests check that long writes were split).
        self.records = 0

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            head = await self._reader.readexactly(5)
            (length,) = struct.unpack(">H", head[3:])
            if head[1:3] != b"\x03\x03" or length > MAX_RECORD:
                raise TransportError("malformed TLS record")
            payload = await self._reader.readexactly(length)
            if head[0] == 0x17:
                self._buffer += payload
                self.records += 1
            elif head[0] != 0x14 or payload != b"\x01":
                raise TransportError("unexpected TLS record type")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


class FakeTlsCodec(Codec):
    """An obfuscated codec whose bytes travel in TLS application-data records."""

    def __init__(self, inner: ObfuscatedCodec, records: TlsRecords) -> None:
        self._inner = inner
        self.records = records
        self.dc_id = inner.dc_id
        self.name = f"faketls-{inner.name}"

    async def read(self, reader: ByteSource) -> bytes:
        return await self._inner.read(self.records)  # records wraps the same reader

    def encode(self, payload: bytes) -> bytes:
        return tls_records(self._inner.encode(payload))


# -- the endpoint ----------------------------------------------------------------------------------


class ProxyEndpoint:
    """Accepts MTProxy connections for one secret and data centre; see the module docstring."""

    def __init__(
        self, secret: ProxySecret, dc_ids: Collection[int], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self._dc_ids = frozenset(dc_ids)
        self._clock = clock
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def _remember(self, nonce: bytes) -> None:
        if nonce in self._seen:
            raise TransportError("replayed handshake")
        self._seen[nonce] = None
        while len(self._seen) > REPLAY_MEMORY:
            self._seen.popitem(last=False)

    def _check(self, codec: ObfuscatedCodec, *, padded_only: bool) -> None:
        if padded_only and codec.name != "obfuscated-padded-intermediate":
            raise TransportError("this proxy secret needs the padded intermediate transport")
        # Telegram's test DCs are numbered +10000 at proxies; negative ids ask for media DCs.
        if abs(codec.dc_id) % 10000 not in self._dc_ids:
            raise TransportError("the proxy header asks for an unknown data centre")

    async def accept(self, reader: ByteSource, writer: asyncio.StreamWriter) -> Codec:
        """Run the proxy handshake on a new connection and return the codec for what follows.

        Raises:
            TransportError: a wrong secret, a refused mode, a replay or a malformed handshake.
        """
        head = await reader.readexactly(5)
        key = self.secret.key
        if head[:3] == b"\x16\x03\x01":
            if self.secret.mode != "ee":
                raise TransportError("this proxy does not speak fake-TLS")
            (length,) = struct.unpack(">H", head[3:])
            if length > MAX_HELLO:
                raise TransportError("ClientHello too long")
            record = head + await reader.readexactly(length)
            hello = check_client_hello(key, record, now=self._clock(), domain=self.secret.domain)
            self._remember(hello.random[:16])
            writer.write(server_hello(key, hello))
            records = TlsRecords(reader)
            codec = obfuscated_codec(await records.readexactly(64), secret=key)
            self._check(codec, padded_only=True)
            return FakeTlsCodec(codec, records)
        if self.secret.mode == "ee":
            raise TransportError("this proxy speaks fake-TLS only")
        header = head + await reader.readexactly(59)
        codec = obfuscated_codec(header, secret=key)  # a wrong secret decrypts to no known tag
        self._remember(header[8:56])
        self._check(codec, padded_only=self.secret.mode == "dd")
        return codec
