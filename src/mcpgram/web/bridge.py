"""``POST /v1/mtproto/{method}`` (and the reference's ``/mtproto-api/{method}``): the raw MTProto bridge.

Thin: the JSON body is the method's parameters, handed to the same function ``invoke_mtproto`` runs
(``tools/raw.py``, passed in by the composition root), and the answer is JSON. Authentication is the
MCP endpoint's own: the route sits inside FastMCP's app behind the same bearer authentication and
verifier (``web/verifier.py``), and requires an authenticated user as ``/v1/mcp`` does, so a
missing, forged, revoked or rotated-away token gets the same 401 (mcpgram's body and
``WWW-Authenticate`` challenge, from
``web/unauthorized.py``) before the body is read, and counts towards the address lockout. Behind
``--workers`` the front routes it by its token like any request.

Refusals are ``{"error": CODE, "message", "hint"}`` (plus ``telegram: {code, error}`` when Telegram
refused), with a status by kind: 400 bad input, 403 the policy or Telegram does not allow it (or a
person's approval is pending, refused or expired: ``APPROVAL_*``, nothing was done), 404
no such chat, 409 the tenant must log in again, 413 body over :data:`MAX_BODY_BYTES`, 429 flood
wait, a pacing limit or the tenant's call limit (``RATE_LIMITED``, ``Retry-After``: the same
per-tenant call buckets as MCP requests), 502 Telegram failed. Must not: log
parameters or results.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import (
    ApprovalError,
    ChatNotFound,
    InvalidArgument,
    LoginRequired,
    MCPGramError,
    NotAllowed,
    NotAuthenticated,
    PolicyRefused,
    RateLimited,
    RPCFailed,
)

__all__ = ["BRIDGE_PATHS", "MAX_BODY_BYTES", "bridge_endpoint"]

#: The bridge's paths: mcpgram's versioned one, and the reference gateway's for its clients.
BRIDGE_PATHS = ("/v1/mtproto/{method}", "/mtproto-api/{method}")
#: Largest body the bridge reads (the raw call's own cap on parameters, ``telegram/rawtl.py``).
MAX_BODY_BYTES = 256 * 1024

Invoke = Callable[[str, Any], Awaitable[dict[str, Any]]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _status(exc: MCPGramError) -> int:
    statuses: tuple[tuple[type[MCPGramError], int], ...] = (
        (NotAuthenticated, 401),
        (InvalidArgument, 400),
        (PolicyRefused, 403),
        (NotAllowed, 403),
        (ApprovalError, 403),
        (ChatNotFound, 404),
        (LoginRequired, 409),
        (RateLimited, 429),
    )
    for kind, status in statuses:
        if isinstance(exc, kind):
            return status
    if isinstance(exc, RPCFailed) and exc.rpc_code is not None and 400 <= exc.rpc_code < 500:
        return exc.rpc_code
    return 502


def _refusal(exc: MCPGramError) -> Response:
    status = _status(exc)
    if status == 401:  # rewritten into mcpgram's body and challenge by UnauthorizedMiddleware
        return Response(status_code=401)
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.hint:
        body["hint"] = exc.hint
    headers = {}
    if isinstance(exc, RateLimited):
        body["retry_after"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, RPCFailed) and exc.rpc_name is not None:
        body["telegram"] = {"code": exc.rpc_code, "error": exc.rpc_name}
    return JSONResponse(body, status_code=status, headers=headers)


def _bad(message: str, status: int = 400, code: str = "INVALID_ARGUMENT") -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _no_limit() -> None:
    return None


def bridge_endpoint(
    invoke: Invoke, *, requires_auth: bool, count: Callable[[], None] = _no_limit
) -> Endpoint:
    """The bridge's endpoint for both :data:`BRIDGE_PATHS` (a FastMCP custom route).

    Args:
        invoke: ``tools.raw.invoke`` bound to the gateway's tool context.
        requires_auth: Whether a verified bearer token is required (all but loopback ``no_auth``):
            what FastMCP's ``RequireAuthMiddleware`` checks at ``/v1/mcp``, the user its bearer
            authentication set from the verifier, checked before the body is read.
    """

    async def endpoint(request: Request) -> Response:
        if requires_auth and not isinstance(request.scope.get("user"), AuthenticatedUser):
            return Response(status_code=401)  # mcpgram's 401 body and challenge: UnauthorizedMiddleware
        try:
            count()  # one call against the tenant's call limit, as /v1/mcp counts each request
        except RateLimited as exc:
            return _refusal(exc)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _bad(
                f"the body is larger than a raw call takes ({MAX_BODY_BYTES} bytes)", 413, "TOO_LARGE"
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _bad(
                f"the body is larger than a raw call takes ({MAX_BODY_BYTES} bytes)", 413, "TOO_LARGE"
            )
        try:
            params = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError):
            return _bad("the body is not JSON: send the method's parameters as a JSON object")
        try:
            answer = await invoke(request.path_params["method"], params)
        except MCPGramError as exc:
            return _refusal(exc)
        return JSONResponse(answer)

    return endpoint
