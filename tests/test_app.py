"""The composition root's MCP server identity: what a client learns from the initialize handshake."""

from __future__ import annotations

from pathlib import Path

from fastmcp import Client

from mcpgram import __version__
from mcpgram.app import INSTRUCTIONS, build_gateway
from mcpgram.settings import Settings


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
