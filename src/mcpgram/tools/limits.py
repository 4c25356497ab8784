"""The call limit in front of every tool call, resource read and prompt get (``limits.CallLimiter``).

One FastMCP middleware, so the three kinds of request are counted in one place, once per request
(a prompt or a tool may call Telegram several times; it is still one call). It sits inside the
audit line (which records ``RATE_LIMITED``) and outside the policy filter. A refused call gets the
tools' ``RATE_LIMITED: message. retry_after=N. hint: ...`` text, as a tool error, a resource error
or a prompt error, and nothing reaches Telegram. A request with no tenant passes: the policy
filter refuses it next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastmcp.exceptions import PromptError, ResourceError
from fastmcp.server.middleware import Middleware, MiddlewareContext

from ..errors import RateLimited
from ..limits.pacing import CallLimiter
from .context import error_text, refusal


class CallLimitMiddleware(Middleware):
    """Refuses a tenant's calls over its call limit with ``RATE_LIMITED``.

    Args:
        tenant_of: The calling tenant's id, or None if unknown.
        limiter: The per-tenant call buckets.
    """

    def __init__(self, tenant_of: Callable[[], str | None], limiter: CallLimiter) -> None:
        self._tenant_of = tenant_of
        self._limiter = limiter

    def _check(self) -> None:
        tenant = self._tenant_of()
        if tenant is not None:
            self._limiter.check(tenant)

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        try:
            self._check()
        except RateLimited as exc:
            raise refusal(exc) from None
        return await call_next(context)

    async def on_read_resource(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        try:
            self._check()
        except RateLimited as exc:
            raise ResourceError(error_text(exc), log_level=logging.INFO) from None
        return await call_next(context)

    async def on_get_prompt(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        try:
            self._check()
        except RateLimited as exc:
            raise PromptError(error_text(exc), log_level=logging.INFO) from None
        return await call_next(context)
