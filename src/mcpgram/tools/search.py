"""(work in progress: issue 4)"""

from __future__ import annotations

from fastmcp import FastMCP

from .context import ToolContext


def register(mcp: FastMCP, ctx: ToolContext) -> None:
    """Nothing yet."""
