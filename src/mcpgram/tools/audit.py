"""An audit line for every tool call: which tenant called which tool, how it ended, how long it took.

``tool.call`` with ``tool``, ``outcome`` (``ok``, or the stable error code an agent saw:
``CHAT_NOT_FOUND``, ``RATE_LIMITED``...; ``INVALID_ARGUMENT`` for input the schema refused, too;
``INTERNAL`` for anything unexpected, which FastMCP masks as "Error calling tool") and ``ms``.
Never the arguments or the result: they hold message text, names and phone numbers. The tenant
is labelled by ``log.tenant_label`` (through ``log.bind_tenant``), as the access line of the same
request is. The tool's name is also set in :data:`CURRENT_TOOL` for the call, which names it in the
audit journal's entry (``tools/context.py``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from fastmcp.exceptions import NotFoundError, ToolError, ValidationError
from fastmcp.server.middleware import Middleware, MiddlewareContext
from fastmcp.tools import ToolResult

from ..log import bind_tenant

log = logging.getLogger(__name__)

#: The tool being called, for the audit journal (empty outside a tools/call).
CURRENT_TOOL: ContextVar[str] = ContextVar("mcpgram_tool", default="")

_CODE = re.compile(r"^([A-Z][A-Z0-9_]{1,40}): ")


def outcome_of(exc: BaseException) -> str:
    """The stable code of a refusal, as the agent saw it."""
    if isinstance(exc, ToolError):
        match = _CODE.match(str(exc))
        return match.group(1) if match else "INTERNAL"
    if isinstance(exc, ValidationError):
        return "INVALID_ARGUMENT"
    if isinstance(exc, NotFoundError):
        return "UNKNOWN_TOOL"
    return "INTERNAL"


class AuditMiddleware(Middleware):
    """Logs one ``tool.call`` line per tools/call, labelled with the calling tenant.

    Args:
        tenant_of: The calling tenant's id for the current request, or None if unknown.
    """

    def __init__(self, tenant_of: Callable[[], str | None]) -> None:
        self._tenant_of = tenant_of

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> ToolResult:
        started = time.perf_counter()
        outcome = "ok"
        named = CURRENT_TOOL.set(context.message.name)
        try:
            result: ToolResult = await call_next(context)
            return result
        except Exception as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            CURRENT_TOOL.reset(named)
            # The check log.info would make first, made before looking up the tenant: at the
            # default level (WARNING) a call costs no tenant lookup and no record.
            if log.isEnabledFor(logging.INFO):
                with bind_tenant(self._tenant_of()) as tenant:
                    ms = round((time.perf_counter() - started) * 1000, 1)
                    fields = {"tool": context.message.name, "outcome": outcome, "ms": ms, "tenant": tenant}
                    log.info("tool.call", extra=fields)
