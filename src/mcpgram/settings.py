"""Settings: the one place that reads the environment; it builds the frozen configs of ``configs.py``.

``Settings.load()`` reads ``MCPGRAM_*`` variables, a ``.env`` file and command-line overrides (which
win), below them the Telegram settings ``mcpgram login`` saved in the data dir
(:class:`SavedTelegramSource`; ``datadir.py`` writes them), checks every value, and raises
:class:`~mcpgram.errors.ConfigError` with a one-line reason that names the setting and never echoes
its value. The rest of mcpgram gets small frozen dataclasses (:class:`TelegramConfig`,
:class:`PoolLimits`, :class:`HttpConfig`) whose reprs mask secrets.

This module must not read the environment at import time, do network I/O, or import anything from
mcpgram except :mod:`mcpgram.errors` and :mod:`mcpgram.configs` (it is a leaf, see
``tests/test_architecture.py``). It imports no Telethon.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from mcpgram.configs import (
    API_HASH_RE,
    DEFAULT_ENV_FILE,
    ENV_PREFIX,
    MIN_SECRET_CHARS,
    DcAddress,
    DownloadConfig,
    FilesConfig,
    HttpConfig,
    LogLevel,
    PoolLimits,
    ProxyConfig,
    RateLimits,
    TelegramConfig,
    is_loopback_host,
    is_valid_host,
    load_rsa_public_key,
    parse_dc,
    parse_proxy,
    read_private_file,
)
from mcpgram.errors import ConfigError
from mcpgram.settings_groups import FileSettings, GuardSettings

#: Re-exported: these configs are what Settings hands out.
__all__ = [
    "SAVED_TELEGRAM_FILE",
    "SAVED_TELEGRAM_GROUPS",
    "DcAddress",
    "DownloadConfig",
    "FilesConfig",
    "HttpConfig",
    "PoolLimits",
    "ProxyConfig",
    "RateLimits",
    "Settings",
    "TelegramConfig",
    "default_data_dir",
    "is_loopback_host",
]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/mcpgram``, or ``~/.local/share/mcpgram`` (XDG ignores relative paths)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "mcpgram"


#: Where ``mcpgram login`` saves the Telegram settings it used, for ``serve`` started without them.
SAVED_TELEGRAM_FILE = "telegram.json"
#: The saved settings, in groups that apply only together: the file supplies a group only when no
#: higher source (flags, environment, .env) sets any setting of it, so an id never meets another hash.
SAVED_TELEGRAM_GROUPS = (("api_id", "api_hash"), ("dc", "rsa_key_file", "test_mode"), ("proxy",))
_SAVED_MAX_BYTES = 64 * 1024
_SAVED_PREFIX = "invalid setting data_dir (MCPGRAM_DATA_DIR): "


class SavedTelegramSource(PydanticBaseSettingsSource):
    """Settings source below ``.env``: the Telegram settings ``mcpgram login`` saved in the data dir.

    Reads ``<data_dir>/telegram.json`` (a private file, as the key files are) of the data dir the
    higher sources name, else the default one. A relative ``rsa_key_file`` in it is relative to the
    data dir. A missing file supplies nothing.
    """

    def __init__(self, settings_cls: type[BaseSettings], above: tuple[PydanticBaseSettingsSource, ...]):
        super().__init__(settings_cls)
        self._above = above

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        given: dict[str, Any] = {}
        for source in reversed(self._above):  # the highest source last, so it wins
            given.update({key: value for key, value in source().items() if value is not None})
        raw_dir = given.get("data_dir")
        data_dir = Path(raw_dir).expanduser().absolute() if raw_dir else default_data_dir()
        saved = read_saved_telegram(data_dir)
        values: dict[str, Any] = {}
        for group in SAVED_TELEGRAM_GROUPS:
            if not any(name in given for name in group):
                values.update({name: saved[name] for name in group if name in saved})
        if isinstance(values.get("rsa_key_file"), str):
            values["rsa_key_file"] = data_dir / values["rsa_key_file"]
        return values


def read_saved_telegram(data_dir: Path) -> dict[str, Any]:
    """The settings saved in ``data_dir/telegram.json`` (empty if there is none).

    Raises:
        ConfigError: the file is unsafe (see :func:`~mcpgram.configs.read_private_file`) or malformed.
    """
    try:
        raw = read_private_file(data_dir / SAVED_TELEGRAM_FILE, _SAVED_MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ConfigError(_SAVED_PREFIX + str(exc)) from None
    known = {name for group in SAVED_TELEGRAM_GROUPS for name in group}
    try:
        saved = json.loads(raw) if len(raw) <= _SAVED_MAX_BYTES else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        saved = None
    if not isinstance(saved, dict) or not set(saved) <= known:
        raise ConfigError(
            _SAVED_PREFIX + f"{SAVED_TELEGRAM_FILE} is not what mcpgram login writes",
            hint=f"delete {SAVED_TELEGRAM_FILE} in the data dir and run mcpgram login again",
        )
    return saved


def _setting_error(setting: str, reason: str) -> PydanticCustomError:
    return PydanticCustomError("mcpgram_setting", "{reason}", {"setting": setting, "reason": reason})


class Settings(FileSettings, GuardSettings):
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
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes; a token's tenant stays in one.")
    public_url: AnyHttpUrl | None = Field(None, description="Public https origin of the server.")
    tls_cert: Path | None = Field(None, description="TLS certificate chain (PEM), with tls_key.")
    tls_key: Path | None = Field(None, description="TLS private key (PEM), with tls_cert.")
    server_secret: SecretStr | None = Field(
        None, description="Server secret (HMAC and key wrapping), >= 32 chars; generated if unset."
    )
    operator_token: SecretStr | None = Field(
        None, description="Bearer token for /health's pool counters, >= 32 chars."
    )
    no_auth: bool = Field(False, description="Serve HTTP without bearer tokens (loopback host only).")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted HTTP request body.")
    max_connections: int = Field(
        1000, ge=1, description="Open HTTP connections (one process, or the front); past it 503."
    )
    max_header_count: int = Field(100, ge=16, description="Header fields per HTTP request; past it 431.")
    max_header_bytes: int = Field(
        16_384, ge=4096, description="Bytes of a request's header fields; past it 431."
    )
    max_target_bytes: int = Field(8192, ge=1024, description="Request target length; past it 414.")
    http_header_timeout: float = Field(10.0, gt=0, description="Seconds to send a request's head; then 408.")
    http_body_timeout: float = Field(30.0, gt=0, description="Seconds to send a request's body; then 408.")
    http_keep_alive_timeout: float = Field(
        5.0, gt=0, description="Idle seconds between HTTP requests; then close."
    )
    auth_failures_per_minute: int = Field(
        20, ge=1, description="Failed authentications per client address a minute; then 429."
    )
    requests_per_minute: int = Field(600, ge=1, description="MCP requests per tenant a minute; then 429.")
    max_concurrent_requests: int = Field(
        256, ge=1, description="HTTP requests served at once (per worker); then 503."
    )
    # NoDecode: the environment gives a comma-separated list, not JSON.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Proxies (IPs or CIDRs) whose X-Forwarded-For is believed."
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Browser origins allowed to call the HTTP API cross-origin."
    )
    # Hosted sign-in (/setup, web/setup/): who may create a tenant from the browser.
    signup: Literal["open", "invite", "closed"] = Field(
        "invite",
        description="Who may sign up at /setup: open, invite (`mcpgram invite create`) or closed.",
    )
    front_answer_seconds: float = Field(
        120.0, gt=0, description="Seconds the multi-worker front waits for a worker's answer to begin."
    )
    mcp_session_idle_seconds: float = Field(1800.0, gt=0, description="Idle seconds before a session ends.")
    telegram_timeout: float = Field(30.0, gt=0, description="Seconds before a Telegram call times out.")
    pool_max_clients: int = Field(
        200, ge=1, description="Telegram clients kept connected at most (per worker)."
    )
    pool_idle_seconds: float = Field(600.0, gt=0, description="Idle seconds before a client is closed.")
    flood_sleep_threshold: int = Field(5, ge=0, description="FLOOD_WAITs up to this many seconds sleep.")
    log_level: LogLevel = Field("INFO", description="Log level for mcpgram's loggers.")
    log_json: bool = Field(False, description="Log one JSON object per line instead of text.")

    # OAuth 2.1 for MCP clients (web/oauth.py); needs public_url (the issuer and the resource).
    oauth: bool = Field(False, description="Serve OAuth 2.1 (authorization server) beside mcpg_ tokens.")
    oauth_dynamic_registration: bool = Field(
        False, description="Let OAuth clients register themselves (RFC 7591) at /register."
    )
    oauth_access_token_seconds: int = Field(3600, ge=60, le=86400, description="OAuth access token lifetime.")
    oauth_refresh_token_days: int = Field(
        30, ge=1, le=365, description="OAuth refresh token lifetime (days)."
    )

    _dc: DcAddress | None = PrivateAttr(None)
    _proxy: ProxyConfig | None = PrivateAttr(None)
    _rsa_key_pem: str | None = PrivateAttr(None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then ``MCPGRAM_*`` variables, then ``.env``, then what ``mcpgram login`` saved."""
        del file_secret_settings  # no secrets_dir is configured
        above = (init_settings, env_settings, dotenv_settings)
        return (*above, SavedTelegramSource(settings_cls, above))

    @classmethod
    def load(cls, *, env_file: str | Path | None = DEFAULT_ENV_FILE, **overrides: Any) -> Settings:
        """Build settings from ``overrides`` (``None`` = not given), the environment, ``env_file`` and
        the data dir's saved Telegram settings, in that order of precedence.

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
        if value is not None and not API_HASH_RE.match(value.get_secret_value()):
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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _check_cors_origins(cls, value: object) -> tuple[str, ...]:
        entries: Any = value.replace(",", " ").split() if isinstance(value, str) else value
        origins = []
        for entry in entries:
            parts = urlsplit(str(entry).strip())
            try:
                port = parts.port
            except ValueError:
                port = -1
            if (
                parts.scheme not in {"http", "https"}
                or not parts.hostname
                or parts.username is not None
                or parts.path not in {"", "/"}
                or parts.query
                or parts.fragment
                or port == -1
            ):
                raise ValueError("entries must be origins like https://app.example or http://127.0.0.1:5173")
            origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return tuple(origins)

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
        if self.oauth and (self.public_url is None or self.no_auth):
            raise _setting_error("oauth", "needs public_url (the OAuth issuer and resource) and bearer auth")
        if self.workers > 1 and self.no_auth:
            raise _setting_error("workers", "serving without auth has one tenant: use one worker")
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
