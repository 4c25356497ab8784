"""Cursors bound to the query they continue: a tool's cursor only continues the same tool and query.

A page's ``next_cursor`` carries where the next page starts (``position``, a small dict of ints and
strings) and a digest of the query that produced it (the tool name and every argument except
``limit`` and ``cursor``). Reusing it with other arguments, another tool or another tenant's session
is ``INVALID_CURSOR``, never a silent jump into another result set. Signing is ``cursors.py``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import InvalidCursor
from .context import ToolContext
from .cursors import decode_cursor, encode_cursor
from .params import MAX_INT32

#: Largest int a position may hold (message ids and dates are 32-bit; peer ids 64-bit).
_MAX_INT = 2**63 - 1


def _scope(tool: str, query: dict[str, Any]) -> str:
    text = json.dumps([tool, query], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def next_cursor(ctx: ToolContext, tool: str, query: dict[str, Any], position: dict[str, Any]) -> str:
    """A cursor for the page after this one. Call inside ``ctx.run`` (it is bound to the tenant)."""
    return encode_cursor(ctx.cursor_key, ctx.tenant(), {"q": _scope(tool, query), "p": position})


def read_cursor(ctx: ToolContext, tool: str, query: dict[str, Any], cursor: str) -> dict[str, Any]:
    """The position a cursor from :func:`next_cursor` holds, or InvalidCursor.

    Values are checked even though they are signed: only ints in range and short strings pass, so a
    cursor can never carry a value Telegram or Telethon would choke on.
    """
    payload = decode_cursor(ctx.cursor_key, ctx.tenant(), cursor)
    if payload.get("q") != _scope(tool, query):
        hint = "pass the same arguments as the first page, or drop the cursor"
        raise InvalidCursor("cursor belongs to another query", hint=hint)
    position = payload.get("p")
    if not isinstance(position, dict):
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    for value in position.values():
        if type(value) is int and -_MAX_INT <= value <= _MAX_INT:
            continue
        if type(value) is str and len(value) <= 64:
            continue
        if value is None:
            continue
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    return position


def int_at(position: dict[str, Any], key: str, *, low: int = 0, high: int = MAX_INT32) -> int:
    """``position[key]`` as an int within ``[low, high]``, or InvalidCursor."""
    value = position.get(key)
    if type(value) is not int or not low <= value <= high:
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    return value
