"""How a tenant's Telethon client reaches Telegram: data centre, trusted RSA key, proxy, client options.

Pure translation of :class:`~mcpgram.settings.TelegramConfig` into Telethon's constructor arguments,
plus :func:`check_config`, which refuses at start-up what would only fail later: a SOCKS or HTTP
proxy without ``python-socks``, and a malformed MTProto secret. Fake-TLS (``ee``) secrets use our
own connection class (``faketls.py``): Telethon 1.x's ``TcpMTProxy`` would strip the ``ee`` prefix
and domain and talk plain obfuscated MTProto to a proxy that expects a TLS ClientHello. And
:func:`connect`, which the pool and the login call to open a client's connection.

Must not: decide when to connect (the pool and the login do), log proxy credentials, secrets or the
API hash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from telethon import TelegramClient
from telethon.crypto import aes, rsa

from .. import __version__
from ..settings import DcAddress, ProxyConfig, TelegramConfig
from .checks import check_config, python_socks_installed
from .faketls import ConnectionTcpMTProxyFakeTls, MTProxyAbridged, MTProxyPadded, fake_tls_secret

__all__ = [
    "RECENT_SERVER_MSG_IDS",
    "TEST_DC",
    "build_client",
    "check_config",
    "client_kwargs",
    "fast_crypto",
    "prepare_session",
    "python_socks_installed",
    "trust_server_key",
]

#: Telegram's test DC 2, where ``test_mode`` starts when no ``dc`` is configured.
TEST_DC = DcAddress(2, "149.154.167.40", 443)
#: What Telegram shows in the account's "active sessions" list (instead of this host's uname).
DEVICE_MODEL = "mcpgram gateway"
#: Seconds Telethon waits for a TCP connect; the pool adds its own retries with backoff.
MAX_CONNECT_TIMEOUT = 10.0

#: Server msg ids a client remembers, to drop a message the server sends twice. Telethon keeps 500
#: per client, one Python int per message received (~20 KB per tenant, in its MTProto state): with
#: 1000 tenants 20 MB that fills over hours of traffic, which bench/soak.py saw as a steady slope.
#: A resend follows its original within seconds, and Telethon searches the window only for an id
#: below the highest it has seen, so the last 64 keep the protection.
RECENT_SERVER_MSG_IDS = 64

_trusted: set[str] = set()
_log = logging.getLogger(__name__)
_warned_slow_crypto = False


def fast_crypto() -> bool:
    """Whether Telethon encrypts with cryptg (C) rather than libssl through ctypes, ~70x slower."""
    return aes.cryptg is not None


def _warn_once_without_fast_crypto() -> None:
    global _warned_slow_crypto  # noqa: PLW0603 - one warning per process, whatever the tenant count
    if not _warned_slow_crypto and not fast_crypto():
        _warned_slow_crypto = True
        _log.warning("telegram.slow_crypto", extra={"hint": "install cryptg (a mcpgram dependency)"})


def trust_server_key(pem: str) -> None:
    """Add a server RSA public key (PKCS#1 PEM) to the keys Telethon accepts in the key exchange.

    Telethon keeps these keys in one process-wide table keyed by fingerprint. Adding is additive
    and idempotent: Telegram's built-in keys stay trusted, and the same key added twice is one
    entry, so calling this for every client (or for two sandboxes) is harmless.
    """
    if pem not in _trusted:
        rsa.add_key(pem, old=False)
        _trusted.add(pem)


def _proxy_kwargs(proxy: ProxyConfig) -> dict[str, Any]:
    if proxy.kind == "mtproto":
        assert proxy.secret is not None  # check_config guarantees it
        if proxy.fake_tls_domain is not None:
            secret = fake_tls_secret(proxy.secret, proxy.fake_tls_domain)
            return {"connection": ConnectionTcpMTProxyFakeTls, "proxy": (proxy.host, proxy.port, secret)}
        # Telethon's normalize_secret() drops a leading "dd"/"ee" before decoding the hex, so a
        # plain secret whose hex happens to start with "dd" would lose a byte. Always prefixing
        # "dd" makes it strip exactly our prefix; the padding itself is chosen by the codec.
        connection = MTProxyPadded if proxy.padded else MTProxyAbridged
        return {"connection": connection, "proxy": (proxy.host, proxy.port, "dd" + proxy.secret.hex())}
    return {
        "proxy": {
            "proxy_type": proxy.kind,
            "addr": proxy.host,
            "port": proxy.port,
            "username": proxy.username,
            "password": proxy.password,
            # Resolve Telegram's addresses at the proxy: no DNS from this host.
            "rdns": True,
        }
    }


def client_kwargs(config: TelegramConfig, *, retry_delay: float = 1.0) -> dict[str, Any]:
    """Keyword arguments for ``TelegramClient(session, api_id, api_hash, **kwargs)``.

    The gateway never listens for updates (``receive_updates=False``, ``catch_up=False``): every
    call is request/response, so no update loop runs per tenant. Flood waits up to
    ``flood_sleep_threshold`` seconds are slept through by Telethon; longer ones raise at once.
    ``retry_delay`` is Telethon's pause between its own connection attempts.
    """
    kwargs: dict[str, Any] = {
        "timeout": min(config.timeout, MAX_CONNECT_TIMEOUT),
        "request_retries": 3,
        # Telethon's own reconnect loop after a dropped connection (and each connect()); kept short
        # because the pool retries with backoff on next use, within the call's deadline.
        "connection_retries": 2,
        "retry_delay": retry_delay,
        "auto_reconnect": True,
        "flood_sleep_threshold": config.flood_sleep_threshold,
        # A flood wait or server error that outlasts the retries surfaces as itself (mapped to
        # FloodWait / RPCFailed), not as Telethon's generic ValueError.
        "raise_last_call_error": True,
        "receive_updates": False,
        "catch_up": False,
        "device_model": DEVICE_MODEL,
        "system_version": "mcpgram",
        "app_version": __version__,
    }
    if config.proxy is not None:
        kwargs.update(_proxy_kwargs(config.proxy))
    return kwargs


def prepare_session(session: Any, config: TelegramConfig) -> None:
    """Point a session at the configured data centre.

    A fresh session starts at ``config.dc`` (or Telegram's test DC in ``test_mode``; Telethon's
    default DC otherwise). A stored session on the configured DC id follows the configured address
    (the sandbox or a test server may have moved); one that Telegram migrated to another DC keeps it.
    """
    target = config.dc or (TEST_DC if config.test_mode else None)
    if target is None:
        return
    wanted = (target.dc_id, target.host, target.port)
    follows = session.server_address is None or session.dc_id == target.dc_id
    if follows and (session.dc_id, session.server_address, session.port) != wanted:
        session.set_dc(target.dc_id, target.host, target.port)


def build_client(session: Any, config: TelegramConfig, *, retry_delay: float = 1.0) -> TelegramClient:
    """A disconnected Telethon client for one tenant's session, configured from ``config``.

    Raises:
        ConfigError: see :func:`check_config`.
    """
    check_config(config)
    _warn_once_without_fast_crypto()
    if config.rsa_key_pem is not None:
        trust_server_key(config.rsa_key_pem)
    prepare_session(session, config)
    kwargs = client_kwargs(config, retry_delay=retry_delay)
    client = TelegramClient(session, config.api_id, config.api_hash, **kwargs)
    _bound_replay_window(client)
    return client


def _bound_replay_window(client: TelegramClient) -> None:
    """Keep :data:`RECENT_SERVER_MSG_IDS` server msg ids instead of Telethon's 500 (private state:
    ``tests/telegram/test_connect.py`` fails if a Telethon release moves it)."""
    state = getattr(getattr(client, "_sender", None), "_state", None)
    if isinstance(getattr(state, "_recent_remote_ids", None), deque):
        state._recent_remote_ids = deque(maxlen=RECENT_SERVER_MSG_IDS)  # type: ignore[union-attr]


#: Connections :func:`connect` opens in all when the server closes them during the key exchange.
KEY_EXCHANGE_ATTEMPTS = 3


async def connect(client: TelegramClient) -> None:
    """``client.connect()``, on a new connection (up to :data:`KEY_EXCHANGE_ATTEMPTS` in all) when the
    server closed the last one during the auth-key exchange.

    Telethon reconnects by itself when generating a new auth key fails with an ``OSError`` or a
    timeout ("Telegram may close the connection during auth_key generation", its source says), but
    a connection closed by the server arrives as ``asyncio.IncompleteReadError``, an ``EOFError``,
    and ``connect()`` raises it. The sandbox closes the connection when a step of the exchange does
    not check out, as Telegram does (Telethon's own factorisation of ``pq`` can in principle come
    out wrong); docs/sandbox.md.
    """
    for attempt in range(1, KEY_EXCHANGE_ATTEMPTS + 1):
        try:
            await client.connect()
            return
        except asyncio.IncompleteReadError:
            await client.disconnect()
            if attempt == KEY_EXCHANGE_ATTEMPTS:
                raise
            _log.info("telegram.key_exchange_closed", extra={"attempt": attempt})
