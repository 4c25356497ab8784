"""Where a bearer token may travel: the Authorization header, or the url_auth path; never the query.

Some MCP clients cannot send headers, so ``/v1/url_auth/{token}/mcp[...]`` is rewritten to
``/v1/mcp[...]`` with ``Authorization: Bearer {token}`` added, and FastMCP's own authentication
then treats it exactly like a header token. The path token is format-checked here first, so a
malformed one (``../``, ``telegram``, junk) is refused with 401 before any lookup. Tokens in the
query string are refused on every path: they end up in proxy logs and browser history.
This module must not look tokens up or log paths: it only moves or refuses them.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import parse_qsl, quote

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import auth
from .security import URL_AUTH_PREFIX, json_error
from .tokensource import url_auth_token
from .unauthorized import REFUSED_TOKEN, challenge

MCP_PATH = "/v1/mcp"

#: Query parameter names that can only mean "here is my token" (compared case-insensitively).
QUERY_TOKEN_NAMES = frozenset({"token", "access_token", "auth_token", "bearer", "authorization"})
# A token anywhere in a parameter name or value, e.g. ``?x=Bearer%20mcpg_...``.
_EMBEDDED_TOKEN = re.compile(rf"{auth.PREFIX}[A-Za-z0-9_-]{{43}}", re.IGNORECASE)

_USE_HEADER = "Send the token in the Authorization header: 'Authorization: Bearer <token>'."


def query_carries_token(query_string: bytes) -> bool:
    """Whether a query string names a token parameter or holds anything shaped like a token."""
    if not query_string:
        return False
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(
        name.lower() in QUERY_TOKEN_NAMES or _EMBEDDED_TOKEN.search(name) or _EMBEDDED_TOKEN.search(value)
        for name, value in pairs
    )


def _query_token_refusal() -> JSONResponse:
    return json_error(400, "TOKEN_IN_QUERY", "Tokens are not accepted in the URL query. " + _USE_HEADER)


def _is_same_bearer(header: bytes, token: str) -> bool:
    scheme, _, credential = header.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credential, token.encode())


class UrlAuthMiddleware:
    """Refuses query-string tokens and turns url_auth paths into header-authenticated MCP requests.

    Responses: 401 for a malformed path token, 400 for a token in the query or an Authorization
    header that disagrees with the path token, 404 for a url_auth path that does not lead to MCP.

    Args:
        app: The app behind the edge (FastMCP's, with its authentication inside).
        mcp_path: Where the MCP endpoint is mounted.
    """

    def __init__(self, app: ASGIApp, *, mcp_path: str = MCP_PATH) -> None:
        self.app = app
        self.mcp_path = mcp_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = url_auth_token(scope["path"])
        if token is not None:
            await self._rewrite(scope, receive, send, token)
            return
        if query_carries_token(scope.get("query_string", b"")):
            await _query_token_refusal()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _rewrite(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        # The token is read by tokensource.url_auth_token, as the multi-worker front routes by it.
        tail = scope["path"][len(URL_AUTH_PREFIX) + 1 :].partition("/")[2]
        if not auth.is_well_formed(token):
            response = JSONResponse(
                REFUSED_TOKEN, status_code=401, headers={"WWW-Authenticate": challenge(token_sent=True)}
            )
            await response(scope, receive, send)
            return
        if query_carries_token(scope.get("query_string", b"")):
            await _query_token_refusal()(scope, receive, send)
            return
        if tail != "mcp" and not tail.startswith("mcp/"):
            await json_error(404, "NOT_FOUND", "url_auth only leads to /v1/url_auth/<token>/mcp.")(
                scope, receive, send
            )
            return
        present = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if present and (len(present) > 1 or not _is_same_bearer(present[0], token)):
            response = json_error(
                400,
                "CONFLICTING_AUTHORIZATION",
                "The Authorization header and the url_auth path carry different tokens; send one.",
            )
            await response(scope, receive, send)
            return
        # "mcp/" maps to the endpoint itself: a trailing-slash redirect would send the client to a
        # URL without its token.
        rewritten = self.mcp_path if tail in ("mcp", "mcp/") else self.mcp_path + tail[len("mcp") :]
        headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"authorization"]
        headers.append((b"authorization", b"Bearer " + token.encode()))
        child = dict(scope)
        child.update(path=rewritten, raw_path=quote(rewritten).encode(), headers=headers)
        await self.app(child, receive, send)
