"""Telegram results as JSON for the raw MTProto bridge (pure): the way back of ``rawtl.py``.

``_`` type names in TL spelling (``messages.messages``), bytes base64, dates ISO 8601 UTC, empty
optional fields left out, NaN and infinite doubles as null. At most :data:`MAX_RESULT_BYTES` of
values: past that, lists are cut short and bytes dropped, and :func:`from_tl` says so (the caller
answers ``"truncated": true``).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from telethon.tl.tlobject import TLObject

from .rawtl import fields_of, tl_name_of

__all__ = ["MAX_RESULT_BYTES", "from_tl"]

MAX_RESULT_BYTES = 1024 * 1024


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit
        self.truncated = False

    def spend(self, amount: int) -> bool:
        if self.left < amount:
            self.truncated = True
            return False
        self.left -= amount
        return True


def from_tl(value: Any, *, limit: int = MAX_RESULT_BYTES) -> tuple[Any, bool]:
    """A Telegram result as JSON-ready data, and whether it was cut to fit ``limit`` bytes."""
    budget = _Budget(limit)
    return _json(value, budget), budget.truncated


def _items(obj: Any) -> Iterator[tuple[str, Any]]:
    for p in fields_of(type(obj)):
        yield p.name, getattr(obj, p.name, None)


def _json(value: Any, budget: _Budget) -> Any:
    if isinstance(value, TLObject):
        budget.spend(8)
        out: dict[str, Any] = {"_": tl_name_of(type(value))}
        for name, item in _items(value):
            if item is not None and budget.left > 0:
                out[name] = _json(item, budget)
        return out
    if isinstance(value, list):
        result = []
        for item in value:
            if not budget.spend(2):
                break
            result.append(_json(item, budget))
        return result
    if isinstance(value, bytes):
        return base64.b64encode(value).decode() if budget.spend(len(value) * 4 // 3 + 2) else None
    if isinstance(value, datetime):
        budget.spend(27)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str):
        budget.spend(len(value) + 2)
        return value
    if isinstance(value, float) and not math.isfinite(value):
        budget.spend(8)
        return None  # JSON has no NaN or infinity
    if isinstance(value, (bool, int, float)) or value is None:
        budget.spend(8)
        return value
    budget.spend(8)
    return str(type(value).__name__)
