"""A local HTTP(S) server, a test CA and a scripted resolver for the fetcher's tests.

Every connection stays on 127.0.0.1: the resolver answers from a table (``files.example`` ->
127.0.0.1), the address policy admits 127.0.0.1 only for the test's own host names, and the TLS
server holds a certificate for those names from a CA only the test client trusts. The server records
each request's path, headers and the SNI name the client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mcpgram.fetch.fetcher import AddressPolicy, Fetcher, FetchLimits
from mcpgram.fetch.policy import IPAddress, is_public_address

#: The names the test certificate covers and the test address policy admits on loopback.
TEST_HOSTS = ("files.example", "other.example")
LOOPBACK = ipaddress.ip_address("127.0.0.1")

#: Certificate signing and CRL signing only.
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip

Route = bytes | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""A raw response, or a coroutine that writes one (and returns once the client has gone)."""


def response(
    status: int = 200, body: bytes = b"", headers: Iterable[tuple[str, str]] = (), length: bool = True
) -> bytes:
    """One raw HTTP/1.1 response; ``length`` adds a true Content-Length."""
    lines = [f"HTTP/1.1 {status} X", *(f"{name}: {value}" for name, value in headers)]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class LocalServer:
    """An asyncio server on 127.0.0.1 answering each path (query ignored) from ``routes``."""

    ssl_context: ssl.SSLContext | None
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def url(self, path: str, host: str = "files.example") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def start(self) -> None:
        if self.ssl_context is not None:
            self.ssl_context.sni_callback = lambda _obj, name, _ctx: self.sni.append(name)
        self._server = await asyncio.start_server(
            self._handle,
            "127.0.0.1",
            0,
            ssl=self.ssl_context,
            ssl_shutdown_timeout=1.0 if self.ssl_context else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and wait for the handlers, which end once their clients have gone.

        They are not cancelled: on Python 3.11 asyncio logs an error for a cancelled handler task.
        """
        assert self._server is not None
        self._server.close()
        async with asyncio.timeout(5):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            fields = (line.partition(":") for line in head[1:] if line)
            headers = {name.strip().lower(): value.strip() for name, _, value in fields}
            self.seen.append(Seen(path, headers))
            route = self.routes.get(path.partition("?")[0], response(404, b"no such path"))
            if isinstance(route, bytes):
                writer.write(route)
                await writer.drain()
            else:
                await route(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            self._tasks.discard(task)


@dataclass(frozen=True)
class TestCA:
    """A CA the client trusts and a server certificate it signed for :data:`TEST_HOSTS`."""

    __test__ = False
    ca_pem: bytes
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    directory = tmp_path_factory.mktemp("fetch-ca")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpgram test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEST_HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in TEST_HOSTS]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
    return TestCA(ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path)


@pytest.fixture
async def server(test_ca: TestCA) -> AsyncIterator[LocalServer]:
    """An HTTPS server on 127.0.0.1 with a certificate for :data:`TEST_HOSTS`."""
    local = LocalServer(test_ca.server_context())
    await local.start()
    try:
        yield local
    finally:
        await local.stop()


@pytest.fixture
async def plain_server() -> AsyncIterator[LocalServer]:
    """A plain-HTTP server on 127.0.0.1."""
    local = LocalServer(None)
    await local.start()
    try:
        yield local
    finally:
        await local.stop()


class ScriptedDNS:
    """A resolver answering from a table; each lookup of a name takes its next answer (the last repeats)."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self.answers = {name: list(script) for name, script in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        script = self.answers.get(host)
        if not script:
            raise OSError("no such host")
        return script.pop(0) if len(script) > 1 else script[0]


def loopback_for_test_hosts(host: str, address: IPAddress) -> bool:
    """Public addresses, plus 127.0.0.1 for :data:`TEST_HOSTS` (and for no other name)."""
    return (host in TEST_HOSTS and address == LOOPBACK) or is_public_address(address)


def local_fetcher(
    test_ca: TestCA,
    directory: Path,
    *,
    dns: ScriptedDNS | None = None,
    limits: FetchLimits | None = None,
    address_ok: AddressPolicy = loopback_for_test_hosts,
    allow_http: bool = False,
) -> Fetcher:
    """A fetcher whose lookups, address policy and TLS trust keep everything on 127.0.0.1."""
    return Fetcher(
        limits or FetchLimits(max_bytes=10_000, connect_timeout=2, read_timeout=2, total_timeout=5),
        allow_http=allow_http,
        directory=directory,
        resolver=dns or ScriptedDNS({name: [["127.0.0.1"]] for name in TEST_HOSTS}),
        address_ok=address_ok,
        ssl_context=test_ca.client_context(),
    )
