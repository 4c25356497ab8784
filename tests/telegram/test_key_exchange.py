"""A connection the server closes during the auth-key exchange is opened again, not a failed call.

Telethon reconnects by itself only when the exchange fails with an ``OSError`` or a timeout; a
connection the server closes arrives as ``asyncio.IncompleteReadError`` and ``connect()`` raises
it. The sandbox closes it when a step does not check out (as Telegram does): here, once, at
``req_DH_params``, as when Telethon's own factorisation of ``pq`` comes out wrong (it can, rarely).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from telethon import functions
from telethon.sessions import MemorySession

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.handshake import Handshake, HandshakeError
from mcpgram.telegram.connect import KEY_EXCHANGE_ATTEMPTS, build_client, connect
from mcpgram.testing import sandbox_telegram_config


def _close_first(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The sandbox closes the first ``times`` connections at ``req_DH_params``; the list counts them."""
    closed: list[int] = []
    real = Handshake._server_dh_params

    def refusing(self: Handshake, request: Any) -> Any:
        if len(closed) < times:
            closed.append(1)
            raise HandshakeError("wrong factorisation of pq")
        return real(self, request)

    monkeypatch.setattr(Handshake, "_server_dh_params", refusing)
    return closed


async def test_a_connection_closed_during_the_key_exchange_is_opened_again(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcpgram.sandbox")
    closed = _close_first(monkeypatch, KEY_EXCHANGE_ATTEMPTS - 1)
    client = build_client(MemorySession(), sandbox_telegram_config(sandbox), retry_delay=0)
    try:
        await connect(client)
        assert closed == [1] * (KEY_EXCHANGE_ATTEMPTS - 1)
        assert client.is_connected()
        config = await client(functions.help.GetConfigRequest())  # the key the last exchange made works
        assert config.this_dc == sandbox.dc_id
        refused = [r for r in caplog.records if r.getMessage() == "sandbox.handshake_refused"]
        assert [r.reason for r in refused] == ["wrong factorisation of pq"] * (KEY_EXCHANGE_ATTEMPTS - 1)  # type: ignore[attr-defined]
    finally:
        await client.disconnect()


async def test_it_gives_up_after_its_attempts_and_telethon_alone_at_once(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = _close_first(monkeypatch, 100)
    client = build_client(MemorySession(), sandbox_telegram_config(sandbox), retry_delay=0)
    try:
        with pytest.raises(asyncio.IncompleteReadError):
            await connect(client)
        assert len(closed) == KEY_EXCHANGE_ATTEMPTS and not client.is_connected()
        with pytest.raises(asyncio.IncompleteReadError):  # Telethon's own connect(): no second try
            await client.connect()
        assert len(closed) == KEY_EXCHANGE_ATTEMPTS + 1
    finally:
        await client.disconnect()
