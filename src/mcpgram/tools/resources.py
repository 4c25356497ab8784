"""Resources: a chat's profile and its newest messages, addressed by ``telegram://`` URI templates.

- ``telegram://chats/{chat}``: what ``get_chat`` returns for ``chat``;
- ``telegram://chats/{chat}/messages{?limit}``: the newest page ``get_messages`` returns (``limit``
  1..100, default 20; the page's cursor continues in ``get_messages``).

Both read through the same functions as the tools, so a read is authorised exactly like a tool call:
``ToolContext.run`` borrows the *calling* tenant's client, and the chat is resolved strictly in that
account. A resource read is never served from a cache shared between tenants. ``{chat}`` is one URI
segment: ids, ``me`` and ``@username`` as they are; a t.me link percent-encoded.

Errors are ``ResourceError`` with the tools' ``CODE: message. hint`` text (FastMCP passes its own
errors through unmasked and masks anything else), so an agent reads the same codes here as from a tool.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError, ToolError
from mcp_types import InputRequiredResult

from ..errors import ChatNotFound, InvalidArgument, MCPGramError
from . import chats, messages
from .approving import InputRequested
from .context import ToolContext, compact_json, error_text

#: Same bounds as get_messages.
MIN_LIMIT, MAX_LIMIT, DEFAULT_LIMIT = 1, 100, 20
#: Same bound as the tools' chat parameter.
MAX_CHAT_LENGTH = 256
JSON = "application/json"


def refusal(exc: MCPGramError) -> ResourceError:
    """Our error as the agent reads it from a tool (an agent's mistake: logged at INFO, not ERROR)."""
    return ResourceError(error_text(exc), log_level=logging.INFO)


def parse_limit(text: str) -> int:
    """The ``limit`` query value as an int in 1..100, or INVALID_ARGUMENT."""
    value = text.strip()
    if (
        not (value.isascii() and value.isdigit() and len(value) <= 3)
        or not MIN_LIMIT <= int(value) <= MAX_LIMIT
    ):
        raise refusal(InvalidArgument(f"limit must be a whole number from {MIN_LIMIT} to {MAX_LIMIT}"))
    return int(value)


def check_chat(chat: str) -> str:
    """The ``{chat}`` segment, bounded like the tools' chat parameter; resolution is the tools' job."""
    if not chat.strip() or len(chat) > MAX_CHAT_LENGTH or not chat.isprintable():
        hint = "use a chat id from find_chats, 'me' or @username"
        raise refusal(ChatNotFound("not a chat reference", hint=hint))
    return chat


async def as_json(read: Callable[[], Awaitable[dict[str, Any]]]) -> str | InputRequiredResult:
    """Run ``read`` (which goes through ``ctx.run``) and return compact JSON marked as third-party text.

    Under ``read = approve`` a 2026-07-28 client gets the approval's input-required result instead,
    as a tool call does (``tools/approving.py``)."""
    try:
        payload = await read()
    except InputRequested as asked:
        return asked.result
    except ToolError as exc:
        # Already our CODE: message. hint text, nothing internal in it.
        raise ResourceError(str(exc), log_level=logging.INFO) from None
    return compact_json(payload)


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    # Descriptions are given, not read from docstrings (no griffe at start-up; tools/context.add_tool).
    @mcp.resource(
        "telegram://chats/{chat}",
        name="chat",
        mime_type=JSON,
        description="A chat's profile, as get_chat returns it. {chat}: id, 'me' or @username.",
    )
    async def chat_resource(chat: str) -> str | InputRequiredResult:
        checked = check_chat(chat)
        return await as_json(lambda: chats.chat_result(ctx, checked))

    @mcp.resource(
        "telegram://chats/{chat}/messages{?limit}",
        name="chat_messages",
        mime_type=JSON,
        description="A chat's newest messages (limit 1-100, default 20), as get_messages returns them.",
    )
    async def chat_messages_resource(chat: str, limit: str = str(DEFAULT_LIMIT)) -> str | InputRequiredResult:
        checked, count = check_chat(chat), parse_limit(limit)
        return await as_json(lambda: messages.message_result(ctx, checked, count))
