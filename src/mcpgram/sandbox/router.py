"""RPC plumbing shared by the method modules: the error type, the per-call context and the router.

A method module builds a :class:`Router` and registers handlers with ``@router.method(RequestType)``.
A handler takes ``(ctx, request)`` and returns a TL object, a ``bool``, or a list (serialised as a TL
vector); it may be ``async``. It raises :class:`RpcError` exactly as Telegram would answer. Handlers
need an authorised user unless registered with ``auth=False``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handle import AuthRecord, ServerHandle
    from .world import World


class RpcError(Exception):
    """An ``rpc_error`` answer: Telegram's numeric code and its upper-case message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def bad_request(message: str) -> RpcError:
    return RpcError(400, message)


def flood_wait(seconds: int) -> RpcError:
    return RpcError(420, f"FLOOD_WAIT_{seconds}")


@dataclass
class Ctx:
    """Everything a handler may look at for one call."""

    server: ServerHandle
    auth: AuthRecord
    session_id: int
    msg_id: int
    layer: int = 0

    @property
    def world(self) -> World:
        return self.server.world

    @property
    def user_id(self) -> int:
        """The signed-in user, or the 401 Telegram answers for a key without one."""
        if self.auth.revoked:
            raise RpcError(401, self.auth.revoked)
        if self.auth.user_id is None:
            raise RpcError(401, "AUTH_KEY_UNREGISTERED")
        return self.auth.user_id


Handler = Callable[[Ctx, Any], Any]


@dataclass(frozen=True)
class Route:
    handler: Handler
    needs_auth: bool
    is_async: bool


@dataclass
class Router:
    """A group of method handlers keyed by the request's constructor id."""

    routes: dict[int, Route] = field(default_factory=dict)

    def method(self, *request_types: type, auth: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            route = Route(handler, auth, inspect.iscoroutinefunction(handler))
            for request_type in request_types:
                constructor = request_type.CONSTRUCTOR_ID  # type: ignore[attr-defined]
                if constructor in self.routes:
                    raise ValueError(f"{request_type.__name__} registered twice")
                self.routes[constructor] = route
            return handler

        return register

    def include(self, other: Router) -> None:
        for constructor, route in other.routes.items():
            if constructor in self.routes:
                raise ValueError(f"constructor {constructor:#x} registered twice")
            self.routes[constructor] = route


def method_name(request: Any) -> str:
    """The TL method name of a Telethon request object: ``GetHistoryRequest`` -> ``messages.getHistory``."""
    cls = type(request)
    name = cls.__name__.removesuffix("Request")
    name = name[:1].lower() + name[1:]
    namespace = cls.__module__.rpartition("functions")[2].lstrip(".")
    return f"{namespace}.{name}" if namespace else name


async def call_route(route: Route, ctx: Ctx, request: Any) -> Any:
    ctx.server.count_rpc(ctx.auth, request)
    if route.needs_auth:
        _ = ctx.user_id  # raises the 401 before the handler sees the request
    result = route.handler(ctx, request)
    if route.is_async:
        result = await result
    return result


AwaitableResult = Awaitable[Any]
