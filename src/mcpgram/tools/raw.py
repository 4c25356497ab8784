"""``invoke_mtproto``: one raw Telegram API method, under the tenant's policy (thin).

:func:`invoke` is the whole path, shared with the HTTP bridge (``web/bridge.py``): parse the JSON
into a TL request (``telegram/rawtl.py``: strict, capped, nothing sent yet), name what it does for
the policy (``raw_read`` or ``raw_write`` by ``policy/rawmethods.py``'s table, the chats its peer
fields name), refuse a call any of whose string values reads like an answer to an approval (only the
person writes ``yes CODE``: ``approvals/core.py``), then ``ToolContext.call``: the denylist and the
verb before any connection, the chat scopes with the tenant's client, and only then the call
(``telegram/rawcall.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import telegram
from ..approvals.core import looks_like_answer
from ..errors import MCPGramError, PolicyRefused
from ..policy import guard
from ..policy.guard import raw_call
from .context import ToolContext, add_tool, answer_refused, compact, refusal

_log = logging.getLogger(__name__)

#: A raw method can do anything the account can: not read-only, possibly destructive, not idempotent.
RAW = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)


async def invoke(ctx: ToolContext, method: str, params: Any) -> dict[str, Any]:
    """Run raw method ``method`` with JSON ``params`` for the calling tenant.

    Returns:
        ``{"method": canonical name, "result": JSON}``, plus ``"truncated": true`` if cut to size.

    Raises:
        MCPGramError: INVALID_ARGUMENT naming the field, NOT_ALLOWED naming the rule, Telegram's errors.
    """
    # The method's own rules first (never, denylist, verb): refused as such whatever its params,
    # and journaled like any raw call's outcome.
    name = telegram.rawtl.canonical_method(method)
    try:
        guard.check_raw_method(await ctx.tenant_policy(), name)
    except PolicyRefused as exc:
        await ctx.record_refusal(raw_call(name, (), _canonical(params)), exc)
        raise
    parsed = telegram.rawtl.parse_call(method, params)
    action = raw_call(parsed.method, parsed.chats, _canonical(params))
    if looks_like_answer(_strings(params)):  # a message text, caption or edit: only the person answers
        answer_text = answer_refused()
        await ctx.record_refusal(action, answer_text)
        raise answer_text
    answer: dict[str, Any] = await ctx.call(action, telegram.rawcall.invoke, parsed)
    _log.info("raw.call", extra={"method": parsed.method})
    return answer


def _strings(value: Any) -> Iterator[str]:
    """Every string value in the parameters, nested ones too (``looks_like_answer`` screens them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _canonical(params: Any) -> bytes:
    """The call's parameters as canonical JSON bytes, for the audit journal's keyed digest."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str).encode()


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def invoke_mtproto(
        method: Annotated[
            str,
            Field(min_length=3, max_length=100, description="Telegram API method, e.g. messages.getHistory"),
        ],
        params: Annotated[
            dict[str, Any],
            Field(
                description='The method\'s parameters; nested objects as {"_": "typeName", ...}; peers may be'
                " chat references (id, me, @username); bytes base64; dates ISO 8601"
            ),
        ],
    ) -> ToolResult:
        """Call one Telegram API method directly, for what no other tool does. Reads and writes follow
        your policy; some methods (account deletion, sessions, 2FA, payments...) are refused."""
        try:
            answer = await invoke(ctx, method, params)
        except MCPGramError as exc:
            raise refusal(exc) from None
        return compact(answer)

    add_tool(mcp, invoke_mtproto, RAW)
