"""MCP tools, one module per area.

Tools are thin: they check input, call one ``telegram`` function and shape the output.
"""

from __future__ import annotations

from fastmcp import FastMCP

from . import chats, messages
from .context import ToolContext


def register_tools(mcp: FastMCP, ctx: ToolContext) -> None:
    """Add every tool to ``mcp``; each reads the calling tenant from the request through ``ctx``."""
    chats.register(mcp, ctx)
    messages.register(mcp, ctx)


__all__ = ["ToolContext", "register_tools"]
