"""Fault injection: what a test can make the sandbox do wrong, the way Telegram does it wrong.

Faults are plain data checked on every call; a rule names the TL request class (or ``None`` for
every method) and optionally one user (``user_id=``), so a test can slow down or flood one account
while the others carry on. Drop and revoke act on live connections and authorizations, so they live on the
server; this module only decides per call. The one exception is :meth:`Faults.lose_answer`, whose
whole point is the connection of the call it matches: it closes that connection before the handler
runs, so the call takes effect and its answer is never written (what a client sees when the network
fails between Telegram doing something and telling it so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telethon.tl import types

from .flood import FloodControl
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
    user_id: int | None = None

    def matches(self, name: str, user_id: int | None) -> bool:
        return self.remaining > 0 and self.method in (None, name) and self.user_id in (None, user_id)


@dataclass
class _ErrorRule:
    method: str | None
    code: int
    message: str
    remaining: int
    user_id: int | None = None

    def matches(self, name: str, user_id: int | None) -> bool:
        return self.remaining > 0 and self.method in (None, name) and self.user_id in (None, user_id)


@dataclass
class _LoseRule:
    method: str | None
    remaining: int
    user_id: int | None = None

    def matches(self, name: str, user_id: int | None) -> bool:
        return self.remaining > 0 and self.method in (None, name) and self.user_id in (None, user_id)


@dataclass
class _OffsetRule:
    method: str | None
    remaining: int
    user_id: int | None = None

    def matches(self, name: str, user_id: int | None) -> bool:
        return self.remaining > 0 and self.method in (None, name) and self.user_id in (None, user_id)


#: The paging fields a request may carry, and what they are on a first page.
_FIRST_PAGE: dict[str, Any] = {
    "offset_id": 0,
    "add_offset": 0,
    "offset_rate": 0,
    "offset_topic": 0,
    "offset": 0,
}


def _forget_offsets(request: Any) -> None:
    for name, first in _FIRST_PAGE.items():
        if getattr(request, name, None) is not None:
            setattr(request, name, first)
    if getattr(request, "offset_date", None) is not None:
        request.offset_date = None
    if getattr(request, "offset_peer", None) is not None:
        request.offset_peer = types.InputPeerEmpty()


@dataclass
class Faults:
    """The active faults of one sandbox server. All methods are safe to call from tests at any time."""

    _floods: list[_FloodRule] = field(default_factory=list)
    _errors: list[_ErrorRule] = field(default_factory=list)
    _losses: list[_LoseRule] = field(default_factory=list)
    _offsets: list[_OffsetRule] = field(default_factory=list)
    #: Delays keyed by (method name or None, user id or None).
    _latency: dict[tuple[str | None, int | None], float] = field(default_factory=dict)
    #: Telegram-like flood control of writes (``flood.py``); None: off.
    _flood_control: FloodControl | None = None

    def flood_control(self, max_writes: int, window: float, seconds: int, **options: Any) -> FloodControl:
        """Turn on flood control of writes: over ``max_writes`` in ``window`` s, ``FLOOD_WAIT_<seconds>``.

        ``options`` are :class:`~mcpgram.sandbox.flood.FloodControl`'s (``per_chat``, ``user_id``,
        ``clock``); returns it (its ``tripped`` counts the FLOOD_WAITs). :meth:`clear` turns it off.
        """
        self._flood_control = FloodControl(max_writes, window, seconds, **options)
        return self._flood_control

    def flood_wait(
        self, request_type: type | str | None, seconds: int, *, calls: int = 1, user_id: int | None = None
    ) -> None:
        """Answer the next ``calls`` calls of a method (of ``user_id`` only, if set) with FLOOD_WAIT."""
        self._floods.append(_FloodRule(_method_name(request_type), seconds, calls, user_id))

    def error(
        self,
        request_type: type | str | None,
        code: int,
        message: str,
        *,
        calls: int = 1,
        user_id: int | None = None,
    ) -> None:
        """Answer the next ``calls`` calls of a method (of ``user_id`` only, if set) with an rpc_error."""
        self._errors.append(_ErrorRule(_method_name(request_type), code, message, calls, user_id))

    def lose_answer(
        self, request_type: type | str | None, *, calls: int = 1, user_id: int | None = None
    ) -> None:
        """Process the next ``calls`` calls of a method, but drop the connection instead of answering.

        The client sees a disconnect, reconnects and (Telethon does) sends the request again: a send
        then meets its own ``random_id`` and gets ``RANDOM_ID_DUPLICATE``.
        """
        self._losses.append(_LoseRule(_method_name(request_type), calls, user_id))

    def ignore_offsets(
        self, request_type: type | str | None, *, calls: int = 1, user_id: int | None = None
    ) -> None:
        """Serve the next ``calls`` calls of a paged method as if they carried no offset.

        ``offset_id``, ``add_offset``, ``offset_rate``, ``offset_topic``, ``offset``,
        ``offset_date`` and ``offset_peer`` are reset to a plain first page's values (filters such
        as ``min_date`` stay), so every page a walk asks for is the first again and the walk does
        not move on: what a server that ignores paging offsets answers.
        """
        self._offsets.append(_OffsetRule(_method_name(request_type), calls, user_id))

    def latency(
        self, seconds: float, request_type: type | str | None = None, *, user_id: int | None = None
    ) -> None:
        """Delay every answer (or one method's, or one user's) by ``seconds``; 0 removes the delay."""
        key = (_method_name(request_type), user_id)
        if seconds:
            self._latency[key] = seconds
        else:
            self._latency.pop(key, None)

    def pending(self) -> int:
        """How many injected errors are still to be answered (for tests that check they were all used)."""
        return (
            sum(rule.remaining for rule in self._floods)
            + sum(rule.remaining for rule in self._errors)
            + sum(rule.remaining for rule in self._losses)
            + sum(rule.remaining for rule in self._offsets)
        )

    def clear(self) -> None:
        self._floods.clear()
        self._errors.clear()
        self._losses.clear()
        self._offsets.clear()
        self._latency.clear()
        self._flood_control = None

    def delay_for(self, request: Any, user_id: int | None = None) -> float:
        """The added delay for this call: the sum of every matching latency rule."""
        if not self._latency:
            return 0.0
        name = type(request).__name__
        return sum(
            seconds
            for (method, user), seconds in self._latency.items()
            if method in (None, name) and user in (None, user_id)
        )

    def check(self, ctx: Ctx, request: Any) -> None:
        """Raise the injected error for this call, if any rule matches (or lose its answer, see above)."""
        if self._flood_control is not None:
            self._flood_control.check(ctx.auth.user_id, request)
        if not self._floods and not self._errors and not self._losses and not self._offsets:
            return
        name = type(request).__name__
        user_id = ctx.auth.user_id
        for offsets in self._offsets:
            if offsets.matches(name, user_id):
                offsets.remaining -= 1
                _forget_offsets(request)
                break
        for rule in self._floods:
            if rule.matches(name, user_id):
                rule.remaining -= 1
                raise RpcError(420, f"FLOOD_WAIT_{rule.seconds}")
        for error in self._errors:
            if error.matches(name, user_id):
                error.remaining -= 1
                raise RpcError(error.code, error.message)
        for loss in self._losses:
            if loss.matches(name, user_id):
                loss.remaining -= 1
                _close_caller(ctx)
                return


def _close_caller(ctx: Ctx) -> None:
    """Close the connection serving this call; its answer then has nowhere to go."""
    ctx.server.close_session(ctx.auth, ctx.session_id)
