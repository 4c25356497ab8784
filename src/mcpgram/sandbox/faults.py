"""Fault injection: what a test can make the sandbox do wrong, the way Telegram does it wrong.

Faults are plain data checked on every call; a rule names the TL request class (or ``None`` for
every method). Drop and revoke act on live connections and authorizations, so they live on the
server; this module only decides per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .router import Ctx, RpcError


def _method_name(request_type: type | str | None) -> str | None:
    if request_type is None or isinstance(request_type, str):
        return request_type
    return request_type.__name__


@dataclass
class _FloodRule:
    method: str | None
    seconds: int
    remaining: int


@dataclass
class _ErrorRule:
    method: str | None
    code: int
    message: str
    remaining: int


@dataclass
class Faults:
    """The active faults of one sandbox server. All methods are safe to call from tests at any time."""

    _floods: list[_FloodRule] = field(default_factory=list)
    _errors: list[_ErrorRule] = field(default_factory=list)
    _latency: dict[str | None, float] = field(default_factory=dict)

    def flood_wait(self, request_type: type | str | None, seconds: int, *, calls: int = 1) -> None:
        """Answer the next ``calls`` calls of a method with ``420 FLOOD_WAIT_<seconds>``."""
        self._floods.append(_FloodRule(_method_name(request_type), seconds, calls))

    def error(self, request_type: type | str | None, code: int, message: str, *, calls: int = 1) -> None:
        """Answer the next ``calls`` calls of a method with an arbitrary ``rpc_error``."""
        self._errors.append(_ErrorRule(_method_name(request_type), code, message, calls))

    def latency(self, seconds: float, request_type: type | str | None = None) -> None:
        """Delay every answer (or one method's answers) by ``seconds``; 0 removes the delay."""
        key = _method_name(request_type)
        if seconds:
            self._latency[key] = seconds
        else:
            self._latency.pop(key, None)

    def clear(self) -> None:
        self._floods.clear()
        self._errors.clear()
        self._latency.clear()

    def delay_for(self, request: Any) -> float:
        if not self._latency:
            return 0.0
        return self._latency.get(type(request).__name__, 0.0) + self._latency.get(None, 0.0)

    def check(self, ctx: Ctx, request: Any) -> None:
        """Raise the injected error for this call, if any rule matches."""
        if not self._floods and not self._errors:
            return
        name = type(request).__name__
        for rule in self._floods:
            if rule.remaining > 0 and rule.method in (None, name):
                rule.remaining -= 1
                raise RpcError(420, f"FLOOD_WAIT_{rule.seconds}")
        for error in self._errors:
            if error.remaining > 0 and error.method in (None, name):
                error.remaining -= 1
                raise RpcError(error.code, error.message)
