"""``mcpgram serve`` and ``mcpgram demo``: run the gateway, or the gateway against the embedded sandbox.

Must not: import FastMCP, Telethon or the settings at import time (``mcpgram --help`` stays fast).
In stdio mode stdout belongs to the MCP protocol: everything for people goes to stderr.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import anyio

from .runtime import configure_logging_for, load_settings, startup_gc, terminal


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
    workers: int | None = None,
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
        workers: HTTP worker processes (default 1), e.g. one per core; each tenant is served by one.
    """
    with startup_gc():
        settings = load_settings(
            transport=transport,
            host=host,
            port=port,
            no_auth=no_auth or None,
            data_dir=data_dir,
            tls_cert=tls_cert,
            tls_key=tls_key,
            public_url=public_url,
            workers=workers,
        )
        front = settings.transport == "http" and settings.workers > 1
    if front:  # served after start-up, with the collector on (inside, every connection's cycles stay)
        return _serve_workers(settings)  # the front never loads FastMCP or Telethon: workers do
    with startup_gc():
        from ..app import build_gateway, serve_http, serve_stdio

        # Again: FastMCP installs its own log handlers when imported. A server logs at the configured
        # level (default INFO: each tool call's audit line), not the quiet WARNING of other commands.
        configure_logging_for(settings, level=settings.log_level)
        gateway = build_gateway(settings, transport=settings.transport)
    if settings.transport == "stdio":
        anyio.run(_until_signal, lambda: serve_stdio(gateway))
    else:
        scheme = "https" if settings.tls_cert else "http"

        def ready(bound: int) -> None:
            terminal().say(f"mcpgram: serving MCP at {scheme}://{settings.host}:{bound}/v1/mcp")

        anyio.run(lambda: serve_http(gateway, ready=ready))
    return 0


async def _until_signal(serve: Callable[[], Awaitable[None]]) -> None:
    """Run a stdio server with Ctrl-C (SIGINT) doing what SIGTERM does: seal the sessions and exit 0.

    Left to asyncio, SIGINT cancels the main task and then interpreter shutdown waits forever for
    the thread blocked reading stdin. ``serve_stdio`` already ends the process cleanly on SIGTERM, so
    SIGINT is handed on as SIGTERM. Exit status 0: the stop was asked for and completed cleanly.
    """
    loop = asyncio.get_running_loop()
    main = threading.current_thread() is threading.main_thread()
    if main:
        loop.add_signal_handler(signal.SIGINT, signal.raise_signal, signal.SIGTERM)
    try:
        await serve()
    finally:
        if main:
            loop.remove_signal_handler(signal.SIGINT)


def _serve_workers(settings: Any) -> int:
    from ..workers import serve_workers

    scheme = "https" if settings.tls_cert else "http"

    def ready(bound: int) -> None:
        url = f"{scheme}://{settings.host}:{bound}/v1/mcp"
        terminal().say(f"mcpgram: serving MCP at {url} with {settings.workers} workers")

    # Workers stay at WARNING unless MCPGRAM_LOG_LEVEL is set: their first stderr lines are the
    # front's ready announcement, which scripts (and tests/e2e/test_workers.py) wait for.
    anyio.run(lambda: serve_workers(settings, ready=ready, log_level=settings.log_level))
    return 0


def demo(*, http: bool = False, port: int | None = None) -> int:
    """Run the gateway against the embedded sandbox's demo world (no Telegram account needed).

    Args:
        http: Serve over HTTP instead of stdio.
        port: HTTP port (with --http; default: any free port).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="mcpgram-demo-"))
    try:
        anyio.run(_demo, data_dir, http, port)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


async def _demo(data_dir: Path, http: bool, port: int | None) -> None:
    from ..app import build_gateway, serve_http, serve_stdio
    from ..sandbox import SandboxServer
    from ..sandbox.demo import build_demo_world
    from ..testing import login_tenant, sandbox_telegram_config

    term = terminal()
    demo_world = build_demo_world()
    settings = load_settings(
        data_dir=data_dir,
        transport="http" if http else "stdio",
        port=port if port is not None else 0,
        env_file=None,
    )
    async with SandboxServer(demo_world.world) as sandbox:
        telegram = sandbox_telegram_config(sandbox, settings)
        gateway = build_gateway(settings, transport=settings.transport, telegram=telegram)
        if gateway.owner is not None:
            keys = gateway.owner
            token = None
        else:
            _, token = gateway.vault.create_tenant("demo")
            keys = gateway.vault.unlock_with_token(token)
        await login_tenant(telegram, gateway.vault, keys, phone=demo_world.phone, code=demo_world.login_code)
        term.say(f"mcpgram demo: sandbox at {sandbox.host}:{sandbox.port}, logged in as the demo user")
        if not http:

            def say_ready() -> None:
                term.say("mcpgram demo: serving MCP over stdio (an MCP client should launch this command)")

            # After SIGTERM serve_stdio ends the process itself, so the temp dir goes there.
            await _until_signal(
                lambda: serve_stdio(gateway, ready=say_ready, on_exit=lambda: shutil.rmtree(data_dir, True))
            )
            return

        def ready(bound: int) -> None:
            _announce_http(bound, token)

        await serve_http(gateway, ready=ready)


def _announce_http(port: int, token: Any) -> None:
    term = terminal()
    term.say(f"mcpgram demo: MCP at http://127.0.0.1:{port}/v1/mcp")
    term.say("mcpgram demo: bearer token for this run (demo only; it dies with the process):")
    term.out(str(token))
