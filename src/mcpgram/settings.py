"""Settings: the one place that reads the environment, and the frozen configs built from it.

``Settings.load()`` reads ``MCPGRAM_*`` variables, a ``.env`` file and command-line overrides (which
win), checks every value, and raises :class:`~mcpgram.errors.ConfigError` with a one-line reason that
names the setting and never echoes its value. The rest of mcpgram gets small frozen dataclasses
(:class:`TelegramConfig`, :class:`PoolLimits`, :class:`HttpConfig`) whose reprs mask secrets.

This module must not read the environment at import time, do network I/O, or import anything from
mcpgram except :mod:`mcpgram.errors` (it is a leaf, see ``tests/test_architecture.py``). It imports no
Telethon: the RSA key is handed on as the PKCS#1 PEM text that Telethon's ``add_key`` accepts.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import (
    AnyHttpUrl,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mcpgram.errors import ConfigError

ENV_PREFIX = "MCPGRAM_"
DEFAULT_ENV_FILE = ".env"
MIN_SECRET_CHARS = 32
_MASK = "'**********'"
_MAX_KEY_FILE_BYTES = 64 * 1024
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
_DC_RE = re.compile(r"^(?P<id>\d{1,4})@(?P<host>\[[^\]]+\]|[^:@\[\]]+):(?P<port>\d{1,5})$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_API_HASH_RE = re.compile(r"^[0-9a-fA-F]{32}$")
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
class HttpConfig(_MaskedRepr):
    """The HTTP listener: bind address, public origin, TLS, body limit, no-auth, rate limits, sessions."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = 1_048_576
    no_auth: bool = False
    auth_failures_per_minute: int = 20
    requests_per_minute: int = 600
    max_concurrent_requests: int = 256
    trusted_proxies: tuple[str, ...] = ()
    mcp_session_idle_seconds: float = 1800.0


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/mcpgram``, or ``~/.local/share/mcpgram`` (XDG ignores relative paths)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "mcpgram"


def _setting_error(setting: str, reason: str) -> PydanticCustomError:
    return PydanticCustomError("mcpgram_setting", "{reason}", {"setting": setting, "reason": reason})


class Settings(BaseSettings):
    """mcpgram's settings, from ``MCPGRAM_<NAME>`` variables, ``.env`` and CLI overrides.

    Build it with :meth:`load`, once, in the CLI; pass the frozen configs down. Example::

        settings = Settings.load(transport="http", port=8443)
        pool = ClientPool(settings.telegram_config(), vault, settings.pool_limits())
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        # A shared .env may hold other tools' variables; unknown override names are refused in load().
        extra="ignore",
        frozen=True,
    )

    api_id: int | None = Field(None, ge=1, description="Telegram API id from my.telegram.org.")
    api_hash: SecretStr | None = Field(None, description="Telegram API hash (32 hex characters).")
    dc: str | None = Field(None, description="Data centre to connect to first: <id>@<host>:<port>.")
    rsa_key_file: Path | None = Field(None, description="PEM file with the RSA public key to trust.")
    test_mode: bool = Field(False, description="Use Telegram's test servers (with dc and rsa_key_file).")
    proxy: str | None = Field(None, description="socks5://, socks4://, http:// or MTProto proxy link.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the vault and keys live.")
    transport: Literal["stdio", "http"] = Field("stdio", description="MCP transport.")
    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    public_url: AnyHttpUrl | None = Field(None, description="Public https origin of the server.")
    tls_cert: Path | None = Field(None, description="TLS certificate chain (PEM), with tls_key.")
    tls_key: Path | None = Field(None, description="TLS private key (PEM), with tls_cert.")
    server_secret: SecretStr | None = Field(None, description="Server HMAC/wrapping secret, >= 32 chars.")
    operator_token: SecretStr | None = Field(None, description="Token for /health?details, >= 32 chars.")
    no_auth: bool = Field(False, description="Serve HTTP without bearer tokens (loopback host only).")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted HTTP request body.")
    auth_failures_per_minute: int = Field(20, ge=1, description="Failed logins per address a minute.")
    requests_per_minute: int = Field(600, ge=1, description="HTTP requests per tenant a minute.")
    max_concurrent_requests: int = Field(256, ge=1, description="HTTP requests served at once.")
    # NoDecode: the environment gives a comma-separated list, not JSON.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field((), description="Proxies to believe.")
    mcp_session_idle_seconds: float = Field(1800.0, gt=0, description="Idle seconds before a session ends.")
    telegram_timeout: float = Field(30.0, gt=0, description="Seconds before a Telegram call times out.")
    pool_max_clients: int = Field(200, ge=1, description="Telegram clients kept connected at most.")
    pool_idle_seconds: float = Field(600.0, gt=0, description="Idle seconds before a client is closed.")
    flood_sleep_threshold: int = Field(5, ge=0, description="FLOOD_WAITs up to this many seconds sleep.")
    log_level: LogLevel = Field("INFO", description="Log level for mcpgram's loggers.")
    log_json: bool = Field(False, description="Log one JSON object per line instead of text.")

    _dc: DcAddress | None = PrivateAttr(None)
    _proxy: ProxyConfig | None = PrivateAttr(None)
    _rsa_key_pem: str | None = PrivateAttr(None)

    @classmethod
    def load(cls, *, env_file: str | Path | None = DEFAULT_ENV_FILE, **overrides: Any) -> Settings:
        """Build settings from the environment, ``env_file`` and ``overrides`` (``None`` = not given).

        Raises:
            ConfigError: naming the first bad setting and why, without its value.
        """
        given = {name: value for name, value in overrides.items() if value is not None}
        unknown = sorted(set(given) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}")
        try:
            return cls(_env_file=env_file, **given)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise _config_error(exc) from None

    def __repr_args__(self) -> Any:
        # The proxy URL may carry a password or MTProto secret; show its parsed, masked form.
        for name, value in super().__repr_args__():
            yield name, (self._mask_proxy(value) if name == "proxy" else value)

    @field_serializer("proxy")
    def _mask_proxy(self, value: str | None) -> str | None:
        return self._proxy.masked_url() if self._proxy is not None else value

    @field_validator("api_hash")
    @classmethod
    def _check_api_hash(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _API_HASH_RE.match(value.get_secret_value()):
            raise ValueError("must be 32 hexadecimal characters")
        return value

    @field_validator("server_secret", "operator_token")
    @classmethod
    def _check_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not is_valid_host(value.strip("[]")):
            raise ValueError("must be an IP address or hostname")
        return value.strip("[]")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _check_trusted_proxies(cls, value: object) -> tuple[str, ...]:
        entries: Any = value.replace(",", " ").split() if isinstance(value, str) else value
        try:
            return tuple(str(ipaddress.ip_network(str(entry).strip(), strict=False)) for entry in entries)
        except (TypeError, ValueError):
            raise ValueError("entries must be IP addresses or CIDR networks, comma-separated") from None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("data_dir", "rsa_key_file", "tls_cert", "tls_key")
    @classmethod
    def _expand_path(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if (self.api_id is None) != (self.api_hash is None):
            raise _setting_error(
                "api_hash" if self.api_hash is None else "api_id", "set api_id and api_hash together"
            )
        for name, parser in (("dc", parse_dc), ("proxy", parse_proxy)):
            raw = getattr(self, name)
            try:
                setattr(self, f"_{name}", parser(raw) if raw is not None else None)
            except ValueError as exc:
                raise _setting_error(name, str(exc)) from None
        if self.rsa_key_file is not None:
            try:
                self._rsa_key_pem = load_rsa_public_key(self.rsa_key_file)
            except ValueError as exc:
                raise _setting_error("rsa_key_file", str(exc)) from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise _setting_error(
                "tls_key" if self.tls_key is None else "tls_cert", "set tls_cert and tls_key together"
            )
        for name in ("tls_cert", "tls_key"):
            path: Path | None = getattr(self, name)
            if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
                raise _setting_error(name, "the file does not exist or cannot be read")
        if self.no_auth and not is_loopback_host(self.host):
            raise _setting_error("no_auth", "only allowed when host is a loopback address (127.0.0.1, ::1)")
        url = self.public_url
        if url is not None and url.scheme != "https" and not is_loopback_host(url.host or ""):
            raise _setting_error("public_url", "must use https unless its host is a loopback address")
        return self

    def telegram_config(
        self,
        *,
        api_id: int | None = None,
        api_hash: str | None = None,
        dc: DcAddress | None = None,
        rsa_key_pem: str | None = None,
    ) -> TelegramConfig:
        """The Telegram client config; the keyword arguments replace settings (the demo uses them).

        Raises:
            ConfigError: if no API id and hash are configured or given.
        """
        api_id = api_id if api_id is not None else self.api_id
        if api_hash is None and self.api_hash is not None:
            api_hash = self.api_hash.get_secret_value()
        if api_id is None or api_hash is None:
            raise ConfigError("set api_id and api_hash (MCPGRAM_API_ID, MCPGRAM_API_HASH) to use Telegram")
        return TelegramConfig(
            api_id=api_id,
            api_hash=api_hash,
            dc=dc or self._dc,
            rsa_key_pem=rsa_key_pem or self._rsa_key_pem,
            proxy=self._proxy,
            test_mode=self.test_mode,
            timeout=self.telegram_timeout,
            flood_sleep_threshold=self.flood_sleep_threshold,
        )

    def pool_limits(self) -> PoolLimits:
        """The client pool's limits."""
        return PoolLimits(max_clients=self.pool_max_clients, idle_seconds=self.pool_idle_seconds)

    def http_config(self) -> HttpConfig:
        """The HTTP listener's config: the settings of the same names."""
        names = {field.name for field in dataclasses.fields(HttpConfig)} - {"public_url"}
        public_url = str(self.public_url) if self.public_url is not None else None
        return HttpConfig(public_url=public_url, **{name: getattr(self, name) for name in names})


def _config_error(exc: ValidationError) -> ConfigError:
    """One line naming the first bad setting and the reason; never the value that was given."""
    error = exc.errors(include_url=False)[0]
    ctx = error.get("ctx") or {}
    setting = str(ctx.get("setting") or (error["loc"][0] if error["loc"] else "settings"))
    reason = str(ctx.get("reason") or error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    # Pydantic messages name expectations, not inputs; this guards against any that quote the input.
    if isinstance(given, str) and len(given) >= 4 and given in reason:
        reason = reason.replace(given, "[redacted]")
    env = ENV_PREFIX + setting.upper()
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(f"invalid setting {setting} ({env}): {reason.splitlines()[0]}{more}")
