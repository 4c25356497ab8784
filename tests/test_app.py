"""The composition root: the identity a client learns from initialize, and how HTTP serving is tuned."""

from __future__ import annotations

import gc
from pathlib import Path

from fastmcp import Client, FastMCP

from mcpgram import __version__
from mcpgram.app import (
    INSTRUCTIONS,
    SERVING_GC_THRESHOLDS,
    build_gateway,
    serving_gc,
    use_static_tool_schemas,
)
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


async def test_serving_gc_raises_thresholds_and_restores_them() -> None:
    """While serving, the GC runs with the serving thresholds; afterwards the previous ones are back."""
    before = gc.get_threshold()
    async with serving_gc():
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
    assert gc.get_threshold() == before


async def test_static_tool_schemas_answer_the_sdk_lookup_for_each_tool() -> None:
    """The SDK's input-schema lookup returns each registered tool's schema, and None for unknown names."""
    mcp: FastMCP[None] = FastMCP("t")

    @mcp.tool
    def echo(chat: str, limit: int = 20) -> str:
        return chat

    await use_static_tool_schemas(mcp)
    lookup = mcp._mcp_server.get_tool_input_schema
    assert lookup is not None
    schema = lookup("echo")
    assert (
        schema is not None
        and schema["required"] == ["chat"]
        and set(schema["properties"]) == {"chat", "limit"}
    )
    assert lookup("missing") is None
