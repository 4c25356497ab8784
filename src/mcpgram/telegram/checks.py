"""Settings checks that need no Telethon: run at start, before Telethon is even imported.

The pool runs :func:`check_config` when it starts, so a Telegram config that cannot work stops the
server at start with one line; keeping it free of Telethon keeps Telethon out of a stdio server's
start-up (it loads with the first client; bench/cold_start.py).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from ..errors import ConfigError
from ..settings import TelegramConfig

__all__ = ["check_config", "python_socks_installed"]


def python_socks_installed() -> bool:
    """Whether Telethon can use SOCKS/HTTP proxies here (it needs ``python-socks``)."""
    return importlib.util.find_spec("python_socks") is not None


def check_config(config: TelegramConfig, *, has_socks: Callable[[], bool] = python_socks_installed) -> None:
    """Refuse settings that cannot work, before any tenant connects.

    Args:
        config: the Telegram config.
        has_socks: whether ``python-socks`` is importable (a parameter so tests can say no).

    Raises:
        ConfigError: an MTProto secret that is not 16 bytes (or an ``ee`` secret without a
            usable domain), or a SOCKS/HTTP proxy while the ``python-socks`` package is missing.
    """
    proxy = config.proxy
    if proxy is None:
        return
    if proxy.kind == "mtproto":
        if proxy.secret is None or len(proxy.secret) != 16:
            raise ConfigError("invalid setting proxy (MCPGRAM_PROXY): the MTProto secret must be 16 bytes")
        domain = proxy.fake_tls_domain
        if domain is not None and (not domain or not domain.isascii()):
            raise ConfigError(
                "invalid setting proxy (MCPGRAM_PROXY): the fake-TLS (ee) secret needs an ASCII domain"
            )
    elif not has_socks():
        raise ConfigError(
            f"invalid setting proxy (MCPGRAM_PROXY): {proxy.kind} proxies need the python-socks package"
        )
