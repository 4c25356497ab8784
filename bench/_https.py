"""A local HTTPS file server with its own test CA, and a fetcher that trusts it: for file benchmarks.

Nothing leaves 127.0.0.1: the server listens on loopback with a certificate for :data:`HOST` from a
CA made for the run, and :func:`local_fetcher` builds mcpgram's own ``Fetcher`` (the one
``send_message`` uses for ``files=[{url}]``) with the three seams its tests use: a resolver that
answers :data:`HOST` with 127.0.0.1, an address policy that admits loopback for that name only, and
an SSL context that trusts the run's CA. Used by ``bench/files.py`` (uploads from a URL); a download
benchmark can serve its files the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mcpgram.fetch.fetcher import Fetcher, FetchLimits

HOST = "files.bench.example"
LOOPBACK = ipaddress.ip_address("127.0.0.1")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalCA:
    ca_pem: bytes
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_ca(directory: Path) -> LocalCA:
    """A CA valid for two hours and a server certificate it signed for :data:`HOST`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpgram bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "bench-cert.pem", directory / "bench-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
    return LocalCA(ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path)


@dataclass
class FileServer:
    """An HTTPS server on 127.0.0.1 answering ``GET /name`` with ``files[name]`` (Content-Length set)."""

    ca: LocalCA
    files: dict[str, bytes] = field(default_factory=dict)
    port: int = 0
    served_bytes: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def url(self, name: str) -> str:
        return f"https://{HOST}:{self.port}/{name}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ca.server_context(), ssl_shutdown_timeout=1.0
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            name = head.split(" ", 2)[1].lstrip("/").partition("?")[0]
            body = self.files.get(name)
            if body is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                )
                view = memoryview(body)
                for start in range(0, len(body), CHUNK):
                    writer.write(view[start : start + CHUNK])
                    await writer.drain()
                self.served_bytes += len(body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            self._tasks.discard(task)


async def _resolve(host: str, port: int) -> Sequence[str]:
    if host != HOST:
        raise OSError("the bench resolves its own host only")
    return ["127.0.0.1"]


def _loopback_for_bench_host(host: str, address: Any) -> bool:
    return host == HOST and address == LOOPBACK


def local_fetcher(ca: LocalCA, directory: Path, max_bytes: int) -> Fetcher:
    """mcpgram's fetcher: :data:`HOST` on loopback only, trusting ``ca``, saving to ``directory``."""
    limits = FetchLimits(max_bytes=max_bytes, connect_timeout=10, read_timeout=60, total_timeout=600)
    return Fetcher(
        limits,
        directory=directory,
        resolver=_resolve,
        address_ok=_loopback_for_bench_host,
        ssl_context=ca.client_context(),
    )
