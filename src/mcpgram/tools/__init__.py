"""MCP tools, resources and prompts, one module per area.

Tools are thin: they check input, call one ``telegram`` function and shape the output.

- ``chats``: find_chats, get_chat
- ``messages``: get_messages
- ``search``: search_messages
- ``send``: send_message, edit_message, forward_messages, send_to_phone
- ``actions``: delete_messages, mark_read, react, pin_message, transcribe_voice
- ``download``: download_media, and the mcpgram://media/{handle} resource
- ``resources``: telegram://chats/{chat} and its messages
- ``prompts``: catch_up, summarize_chat
"""

from __future__ import annotations

from fastmcp import FastMCP

from . import actions, chats, download, messages, prompts, resources, search, send
from .context import ToolContext


def register_tools(mcp: FastMCP, ctx: ToolContext) -> None:
    """Add every tool, resource and prompt to ``mcp``; each reads the calling tenant through ``ctx``."""
    for area in (chats, messages, search, send, actions, download, resources, prompts):
        area.register(mcp, ctx)


__all__ = ["ToolContext", "register_tools"]
