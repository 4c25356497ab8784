"""What every tool needs: the calling tenant's Telegram client, error mapping and compact results.

``ToolContext.run`` is the single path from a tool to Telegram: it resolves the calling tenant
(bearer token over HTTP, the owner over stdio), borrows that tenant's client from the pool, runs one
``telegram`` function inside the pool's timeout and error translation, and turns mcpgram errors
into ``ToolError`` text an agent can act on: a stable code, a one-line message and a hint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp.types import TextContent

from ..errors import FloodWait, MCPGramError
from ..log import bind_tenant
from ..vault.vault import TenantKeys

T = TypeVar("T")


class ClientLender(Protocol):
    """The slice of ClientPool the tools use."""

    def client(self, keys: TenantKeys) -> Any: ...


@dataclass(frozen=True)
class ToolContext:
    pool: ClientLender
    #: Returns the calling tenant's keys; raises NotAuthenticated when there is none.
    resolve_keys: Callable[[], Awaitable[TenantKeys]]
    cursor_key: bytes

    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``fn(telethon_client)`` for the calling tenant, mapping errors for the agent."""
        try:
            keys = await self.resolve_keys()
            with bind_tenant(keys.tenant_id):
                async with self.pool.client(keys) as tenant_client:
                    result: T = await tenant_client.run(fn)
                    return result
        except MCPGramError as exc:
            raise ToolError(error_text(exc)) from None


def error_text(exc: MCPGramError) -> str:
    """``CODE: message. hint`` (plus ``retry_after`` for flood waits), one line, nothing internal."""
    parts = [f"{exc.code}: {exc.message}"]
    if isinstance(exc, FloodWait):
        parts.append(f"retry_after={exc.retry_after}")
    if exc.hint:
        parts.append(f"hint: {exc.hint}")
    return ". ".join(parts)


def compact(payload: dict[str, Any]) -> ToolResult:
    """A result as one compact JSON text block (no structured duplicate: context is the scarce resource)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return ToolResult(content=[TextContent(type="text", text=text)])
