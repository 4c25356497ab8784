"""Frozen configs handed to the rest of mcpgram, and the parsers for the values they hold.

:class:`DcAddress`, :class:`ProxyConfig`, :class:`TelegramConfig`, :class:`PoolLimits`,
:class:`HttpConfig`, :class:`FilesConfig` and :class:`DownloadConfig` are small frozen dataclasses
whose reprs mask secrets (httpx ``_config.py`` style); ``parse_dc``, ``parse_proxy`` and
``load_rsa_public_key`` turn setting strings into them.
:mod:`mcpgram.settings` builds them; nothing here reads the environment. A leaf module: it imports
nothing from mcpgram except :mod:`mcpgram.errors`, and no Telethon (the RSA key leaves as the PKCS#1
PEM text Telethon's ``add_key`` accepts).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import AfterValidator, SecretStr

ENV_PREFIX = "MCPGRAM_"
DEFAULT_ENV_FILE = ".env"
MIN_SECRET_CHARS = 32
_MASK = "'**********'"
_MAX_KEY_FILE_BYTES = 64 * 1024
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
_DC_RE = re.compile(r"^(?P<id>\d{1,4})@(?P<host>\[[^\]]+\]|[^:@\[\]]+):(?P<port>\d{1,5})$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
API_HASH_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")

ProxyKind = Literal["socks5", "socks4", "http", "mtproto"]
_URL_KINDS: dict[str, ProxyKind] = {
    "socks5": "socks5",
    "socks5h": "socks5",
    "socks4": "socks4",
    "http": "http",
}
_LINKS = ("proxy", "socks")
_LINK_HOSTS = ("t.me", "telegram.me")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def is_valid_host(host: str) -> bool:
    """Return whether ``host`` is an IP address (IPv6 without brackets) or a DNS hostname."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME_RE.match(host))
    return True


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` names this machine only: ``localhost``, 127.0.0.0/8 or ::1."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError("port must be between 1 and 65535")
    return port


class _MaskedRepr:
    """Dataclass mixin: fields named in ``_secret_fields`` show as stars (httpx's ``SENSITIVE_HEADERS``)."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        parts = []
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            shown = _MASK if field.name in self._secret_fields and value is not None else repr(value)
            parts.append(f"{field.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclasses.dataclass(frozen=True, repr=False)
class DcAddress(_MaskedRepr):
    """A Telegram data centre to connect to first, e.g. the sandbox or Telegram's test servers."""

    dc_id: int
    host: str
    port: int


def parse_dc(value: str) -> DcAddress:
    """Parse ``"<id>@<host>:<port>"`` (IPv6 hosts in brackets: ``"2@[::1]:443"``).

    Raises:
        ValueError: with a reason that does not repeat ``value``.
    """
    match = _DC_RE.match(value.strip())
    if not match:
        raise ValueError("expected <id>@<host>:<port>, e.g. 2@149.154.167.40:443")
    dc_id, host, port = int(match["id"]), match["host"], int(match["port"])
    if not 1 <= dc_id <= 1000:
        raise ValueError("DC id must be between 1 and 1000")
    if host.startswith("["):  # the pattern admits colons only inside brackets
        host = host[1:-1]
        if ":" not in host or not is_valid_host(host):  # hostnames cannot contain a colon
            raise ValueError("only IPv6 addresses go in brackets")
    elif not is_valid_host(host):
        raise ValueError("host must be an IP address or hostname (IPv6 in brackets)")
    return DcAddress(dc_id, host, _check_port(port))


@dataclasses.dataclass(frozen=True, repr=False)
class ProxyConfig(_MaskedRepr):
    """How to reach Telegram through a proxy.

    For ``kind="mtproto"``, ``secret`` is the 16-byte key; ``padded`` marks a ``dd`` secret (random
    padding intermediate) and ``fake_tls_domain`` an ``ee`` secret (fake-TLS, disguised as that domain).
    """

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"password", "secret"})

    kind: ProxyKind
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    secret: bytes | None = None
    fake_tls_domain: str | None = None
    padded: bool = False

    def masked_url(self) -> str:
        """The proxy as a URL with any credentials or secret replaced by ``***``, safe to show."""
        userinfo = "***@" if self.username or self.password else ""
        secret = "?secret=***" if self.secret is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{userinfo}{host}:{self.port}{secret}"

    @property
    def secret_hex(self) -> str | None:
        """The MTProto secret in the hex form Telegram links use: plain, ``dd…`` or ``ee…<domain hex>``."""
        if self.secret is None:
            return None
        if self.fake_tls_domain is not None:
            return "ee" + self.secret.hex() + self.fake_tls_domain.encode("ascii").hex()
        return ("dd" if self.padded else "") + self.secret.hex()


def parse_proxy(value: str) -> ProxyConfig:
    """Parse a proxy URL.

    Accepted: ``socks5://[user:pass@]host:port``, ``socks4://…``, ``http://…``, and MTProto links
    ``tg://proxy?server=H&port=P&secret=S`` or ``https://t.me/proxy?…`` (also ``tg://socks?…`` and
    ``https://t.me/socks?…`` with ``user``/``pass``).

    Raises:
        ValueError: with a reason that does not repeat ``value`` (it may hold a password or secret).
    """
    try:
        url = urlsplit(value.strip())
        port = url.port
    except ValueError:
        raise ValueError("not a valid proxy URL") from None
    scheme, host = url.scheme.lower(), url.hostname
    if scheme == "tg" and url.netloc.lower() in _LINKS:
        return _parse_link(url.netloc.lower(), parse_qs(url.query))
    if scheme == "https" and host in _LINK_HOSTS and url.path.strip("/").lower() in _LINKS:
        return _parse_link(url.path.strip("/").lower(), parse_qs(url.query))
    kind = _URL_KINDS.get(scheme)
    if kind is None:
        raise ValueError(
            "use socks5://, socks4://, http://, tg://proxy?... or https://t.me/proxy?... (MTProto)"
        )
    if not host or port is None:
        raise ValueError("the proxy URL needs a host and a port")
    if not is_valid_host(host):
        raise ValueError("the proxy host must be an IP address or hostname")
    username = unquote(url.username) if url.username else None
    password = unquote(url.password) if url.password else None
    return ProxyConfig(kind, host, _check_port(port), username, password)


def _parse_link(link: str, query: Mapping[str, list[str]]) -> ProxyConfig:
    def param(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    host, port = param("server"), param("port")
    if not host or not port or not port.isdigit():
        raise ValueError("proxy link needs server= and a numeric port=")
    if not is_valid_host(host.strip("[]")):
        raise ValueError("proxy link server must be an IP address or hostname")
    if link == "socks":
        return ProxyConfig("socks5", host.strip("[]"), _check_port(int(port)), param("user"), param("pass"))
    secret = param("secret")
    if not secret:
        raise ValueError("proxy link needs secret=")
    key, padded, domain = _parse_mtproto_secret(secret)
    return ProxyConfig("mtproto", host.strip("[]"), _check_port(int(port)), None, None, key, domain, padded)


def _parse_mtproto_secret(secret: str) -> tuple[bytes, bool, str | None]:
    """Return ``(16-byte key, padded, fake-TLS domain)`` from a hex or base64url MTProto secret."""
    if _HEX_RE.match(secret):
        raw = bytes.fromhex(secret)
    elif _B64URL_RE.match(secret):
        # Telegram apps also hand out secrets base64url-encoded (with or without padding).
        try:
            raw = base64.urlsafe_b64decode(secret.rstrip("=") + "=" * (-len(secret.rstrip("=")) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("proxy secret must be hex or base64url") from None
    else:
        raise ValueError("proxy secret must be hex or base64url")
    if len(raw) == 16:
        return raw, False, None
    if len(raw) == 17 and raw[0] == 0xDD:
        return raw[1:], True, None
    if len(raw) > 17 and raw[0] == 0xEE:
        try:
            domain = raw[17:].decode("ascii")
        except UnicodeDecodeError:
            domain = ""
        if not _HOSTNAME_RE.match(domain):
            raise ValueError("proxy secret: the fake-TLS (ee) domain is not a valid hostname")
        return raw[1:17], False, domain
    raise ValueError("proxy secret must be 16 bytes, dd + 16 bytes, or ee + 16 bytes + domain")


def check_attachment_keys(value: SecretStr | None) -> SecretStr | None:
    """The ``attachment_keys`` setting, if :func:`parse_attachment_keys` reads it (else ValueError)."""
    if value is not None:
        parse_attachment_keys(value.get_secret_value())
    return value


#: The ``attachment_keys`` setting: checked by :func:`check_attachment_keys` when settings load.
AttachmentKeys = Annotated[SecretStr | None, AfterValidator(check_attachment_keys)]


def parse_attachment_keys(text: str) -> list[tuple[int, bytes]]:
    """``"2:secret,1:older"`` -> ``[(2, b"secret"), (1, b"older")]``; ValueError without the secrets."""
    pairs: list[tuple[int, bytes]] = []
    for entry in text.split(","):
        key_id, sep, secret = entry.strip().partition(":")
        if not sep or not key_id.isascii() or not key_id.isdigit() or not 1 <= int(key_id) <= 255:
            raise ValueError("entries must be 'id:secret' with an id from 1 to 255, comma-separated")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"each secret must be at least {MIN_SECRET_CHARS} characters")
        if any(int(key_id) == known for known, _ in pairs):
            raise ValueError("key ids must be distinct")
        pairs.append((int(key_id), secret.encode()))
    return pairs


def read_private_file(path: Path, limit: int) -> bytes:
    """Read at most ``limit`` bytes of ``path``, a regular file of ours that only we may access.

    Secrets kept in files (the server secret, the owner key, the saved Telegram settings) go
    through this: no symlinks, no other owner, no group or other permission bits.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: a reason (naming only the file's name) why the file is unsafe or unreadable.
    """
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError:
        # ELOOP (a symlink, which O_NOFOLLOW refuses) or EACCES.
        raise ValueError(f"{name} is a symlink or cannot be read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ValueError(f"{name} belongs to another user")
        if info.st_mode & 0o077:
            raise ValueError(f"group or others have access to {name}; run chmod 600 on it")
        return os.read(fd, limit)
    finally:
        os.close(fd)


def load_rsa_public_key(path: Path) -> str:
    """Read a 2048-bit RSA public key (PKCS#1 or SubjectPublicKeyInfo PEM) and return it as PKCS#1 PEM.

    Raises:
        ValueError: if the file is missing, unreadable or holds no such key.
    """
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError:
        raise ValueError("the file does not exist or cannot be read") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ValueError("the file is too large for a public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ValueError("the file holds no PEM public key (PKCS#1 or SubjectPublicKeyInfo)") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise ValueError("MTProto needs a 2048-bit RSA public key")
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode("ascii")


@dataclasses.dataclass(frozen=True, repr=False)
class TelegramConfig(_MaskedRepr):
    """Everything needed to create a Telegram client (see ``telegram/connect.py``)."""

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"api_hash"})

    api_id: int
    api_hash: str
    dc: DcAddress | None = None
    rsa_key_pem: str | None = None
    proxy: ProxyConfig | None = None
    test_mode: bool = False
    timeout: float = 30.0
    flood_sleep_threshold: int = 5


@dataclasses.dataclass(frozen=True, repr=False)
class PoolLimits(_MaskedRepr):
    """Client pool size: at most ``max_clients`` idle clients, each closed after ``idle_seconds``."""

    max_clients: int = 200
    idle_seconds: float = 600.0


@dataclasses.dataclass(frozen=True, repr=False)
class RateLimits(_MaskedRepr):
    """Per-tenant limits: calls (tools, resources, prompts) and Telegram writes (``limits/pacing.py``).

    Write limits are ``*_seconds`` between writes after a burst of ``*_burst``; 0 seconds: no limit.
    """

    call_rate: float = 10.0
    call_burst: int = 30
    pacing: bool = True
    pace_write_seconds: float = 2.0
    pace_write_burst: int = 10
    pace_chat_seconds: float = 3.0
    pace_chat_burst: int = 3
    pace_new_recipient_seconds: float = 120.0
    pace_new_recipient_burst: int = 3
    pace_max_wait: float = 5.0


@dataclasses.dataclass(frozen=True, repr=False)
class FilesConfig(_MaskedRepr):
    """Files an agent sends: URL fetching (sizes, timeouts, hosts), local roots, inline base64 bytes."""

    fetch_max_bytes: int = 50 * 1024 * 1024
    fetch_max_files: int = 10
    fetch_connect_timeout: float = 10.0
    fetch_read_timeout: float = 30.0
    fetch_total_timeout: float = 120.0
    fetch_allow_http: bool = False
    fetch_allow_hosts: tuple[str, ...] = ()
    fetch_deny_hosts: tuple[str, ...] = ()
    #: Directories local files (stdio only) may come from, symlinks resolved; none by default.
    local_file_roots: tuple[Path, ...] = ()
    max_inline_bytes: int = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True, repr=False)
class DownloadConfig(_MaskedRepr):
    """Media an agent downloads (``download_media``): inline budgets, and the stdio downloads root."""

    download_image_max_edge: int = 1568
    download_image_max_bytes: int = 800_000
    download_audio_max_bytes: int = 2 * 1024 * 1024
    download_embed_max_bytes: int = 1024 * 1024
    download_resource_max_bytes: int = 10 * 1024 * 1024
    #: Where ``save`` writes (stdio only); None refuses saving, with a hint naming the setting.
    downloads_root: Path | None = None


@dataclasses.dataclass(frozen=True, repr=False)
class HttpConfig(_MaskedRepr):
    """The HTTP listener: address, public origin, TLS, size and time limits, auth, rate limits, sessions."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = 1_048_576
    max_connections: int = 1000
    max_header_count: int = 100
    max_header_bytes: int = 16_384
    max_target_bytes: int = 8192
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_keep_alive_timeout: float = 5.0
    no_auth: bool = False
    auth_failures_per_minute: int = 20
    requests_per_minute: int = 600
    max_concurrent_requests: int = 256
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    mcp_session_idle_seconds: float = 1800.0
