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
from collections.abc import Callable, Mapping
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

    async def __call__(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        """Count the call, then pass it on: one hop per request instead of FastMCP's hook chain.

        The base class builds a chain of ``on_message``, ``on_request`` and the typed hook for every
        request; this middleware needs only the method, so it looks at it directly (FastMCP's
        documented ``__call__(context, call_next)`` override). The refusal's shape follows the
        method, as the typed hooks did.
        """
        refused = _REFUSALS.get(context.method or "")
        # A request that failed before FastMCP read it comes by again as the raw message (a mapping)
        # for the untyped hooks only: it is not counted, as the typed hooks never saw it.
        if refused is not None and not isinstance(context.message, Mapping):
            tenant = self._tenant_of()
            if tenant is not None:
                try:
                    self._limiter.check(tenant)
                except RateLimited as exc:
                    raise refused(exc) from None
        return await call_next(context)


def _tool_refusal(exc: RateLimited) -> Exception:
    return refusal(exc)


def _resource_refusal(exc: RateLimited) -> Exception:
    return ResourceError(error_text(exc), log_level=logging.INFO)


def _prompt_refusal(exc: RateLimited) -> Exception:
    return PromptError(error_text(exc), log_level=logging.INFO)


#: The requests counted, with the error each answers when over the limit.
_REFUSALS: dict[str, Callable[[RateLimited], Exception]] = {
    "tools/call": _tool_refusal,
    "resources/read": _resource_refusal,
    "prompts/get": _prompt_refusal,
}
