"""``mcpgram serve`` and ``mcpgram demo``: run the gateway, or the gateway against the embedded sandbox.

STUB (lead): the options are final; the bodies print "not yet" and exit 2 until the gateway core
wires them (``Settings.load(**overrides)`` with the options below as overrides, then ``app.py``).

Must not: import FastMCP, Telethon or the settings at import time (``mcpgram --help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .runtime import terminal

EXIT_NOT_YET = 2
SERVE_NOT_YET = "mcpgram serve: not yet — the gateway core (issue 3) is being wired."
DEMO_NOT_YET = (
    "mcpgram demo: not yet — the gateway core (issue 3) will serve the demo; "
    "run `mcpgram sandbox --demo` for the sandbox alone."
)


def serve(
    *,
    transport: Literal["stdio", "http"] | None = None,
    host: str | None = None,
    port: int | None = None,
    no_auth: bool = False,
    data_dir: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    public_url: str | None = None,
) -> int:
    """Run the MCP server: stdio for the local owner, or HTTP with a bearer token per tenant.

    Options override MCPGRAM_* environment variables and .env.

    Args:
        transport: stdio (one local user, the default) or http (many tenants).
        host: HTTP bind address (default 127.0.0.1).
        port: HTTP port (default 8000).
        no_auth: Serve HTTP without bearer tokens, as the owner; loopback hosts only.
        data_dir: Where the vault and key files live.
        tls_cert: TLS certificate chain (PEM), with --tls-key.
        tls_key: TLS private key (PEM), with --tls-cert.
        public_url: The server's public https origin (for links it hands out).
    """
    # The lead replaces this body: overrides = {"transport": transport, ..., "no_auth": no_auth or None}.
    del transport, host, port, no_auth, data_dir, tls_cert, tls_key, public_url
    terminal().say(SERVE_NOT_YET)
    return EXIT_NOT_YET


def demo(*, http: bool = False, port: int | None = None) -> int:
    """Run the gateway against the embedded sandbox's demo world (no Telegram account needed).

    Args:
        http: Serve over HTTP instead of stdio.
        port: HTTP port (with --http).
    """
    del http, port
    terminal().say(DEMO_NOT_YET)
    return EXIT_NOT_YET
