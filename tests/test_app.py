"""The composition root: the identity a client learns from initialize, and how HTTP serving is tuned."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path
from typing import Any

from fastmcp import Client

from mcpgram import __version__
from mcpgram.app import (
    INSTRUCTIONS,
    SERVING_GC_THRESHOLDS,
    UnlockedKeys,
    build_gateway,
    serving_gc,
)
from mcpgram.auth import new_token
from mcpgram.settings import Settings
from mcpgram.vault.vault import TenantKeys


async def test_initialize_reports_mcpgram_name_version_and_capabilities(tmp_path: Path) -> None:
    """The handshake names mcpgram with its own version (not FastMCP's) and declares tools and logging."""
    settings = Settings.load(env_file=None, data_dir=tmp_path / "data", api_id=1, api_hash="0" * 32)
    gateway = build_gateway(settings, transport="stdio")
    try:
        async with Client(gateway.mcp) as client:
            info, capabilities, instructions = (
                client.server_info,
                client.server_capabilities,
                client.instructions,
            )
    finally:
        gateway.store.close()
    assert info is not None and capabilities is not None
    assert (info.name, info.version) == ("mcpgram", __version__)
    assert instructions == INSTRUCTIONS
    assert capabilities.tools is not None
    assert capabilities.logging is not None


async def test_serving_gc_raises_thresholds_and_restores_them() -> None:
    """While serving, the GC runs with the serving thresholds; afterwards the previous ones are back."""
    before = gc.get_threshold()
    async with serving_gc():
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
    assert gc.get_threshold() == before


async def test_serving_gc_frees_old_cycles_with_a_periodic_full_collection() -> None:
    """Cycles that reached the oldest generation are freed within one period, thresholds notwithstanding."""

    class Node:
        partner: Any = None

    gc.collect()
    async with serving_gc(every=0.2):
        first, second = Node(), Node()
        first.partner, second.partner = second, first
        gc.collect(1)
        gc.collect(1)  # both now in the oldest generation, where only a full collection looks
        gone = weakref.ref(first)
        del first, second
        await asyncio.sleep(0.05)
        assert gone() is not None  # nothing has collected them yet
        await asyncio.sleep(0.5)
        assert gone() is None


def _keys(tenant: str) -> TenantKeys:
    return TenantKeys(tenant, bytes(32))


def test_unlocked_keys_answer_only_the_token_they_were_unwrapped_with() -> None:
    cache = UnlockedKeys(b"s" * 32)
    alice = new_token()
    cache.put(alice, _keys("t-alice"))
    assert cache.get("t-alice", alice) == _keys("t-alice")
    # A rotated token (same tenant, new token) misses and drops the old entry.
    assert cache.get("t-alice", new_token()) is None
    assert cache.get("t-alice", alice) is None
    assert cache.get("t-bob", alice) is None


def test_unlocked_keys_expire_and_keep_at_most_size_entries() -> None:
    now = [1000.0]
    cache = UnlockedKeys(b"s" * 32, size=2, ttl=10, clock=lambda: now[0])
    tokens = [new_token() for _ in range(3)]
    for i, token in enumerate(tokens):
        cache.put(token, _keys(f"t{i}"))
    assert cache.get("t0", tokens[0]) is None  # the oldest went beyond size
    assert cache.get("t2", tokens[2]) is not None
    now[0] += 10
    assert cache.get("t2", tokens[2]) is None
