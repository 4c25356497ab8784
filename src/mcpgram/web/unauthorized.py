"""One 401 for every authentication failure at ``/v1/mcp``: mcpgram's JSON error body and challenge.

FastMCP's bearer authentication answers 401 itself, with an empty body when no token came and, for
a bad one, an OAuth description ("clear authentication tokens ... re-register") that tells a
person holding an ``mcpg_`` token nothing useful. :class:`UnauthorizedMiddleware` sits around
FastMCP's app and replaces any 401 it sends with the edge's refusal shape
(``{"error", "message", "hint"}``) and an RFC 6750 challenge: ``Bearer realm="mcpgram"`` when no
credentials came, plus ``error="invalid_token"`` when a token came and was refused; with OAuth on, the
challenge also names the protected resource metadata (RFC 9728). The OAuth endpoints' own 401s
(``/token``: ``invalid_client``, ``invalid_grant``) and everything else pass through untouched, streamed.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MISSING_TOKEN", "OAUTH_ENDPOINTS", "REFUSED_TOKEN", "UnauthorizedMiddleware", "challenge"]

#: The OAuth token, revocation and registration endpoints answer 401 in OAuth's JSON shape.
OAUTH_ENDPOINTS = frozenset({"/token", "/revoke", "/register"})

MISSING_TOKEN = {
    "error": "NOT_AUTHENTICATED",
    "message": "This endpoint needs a bearer token.",
    "hint": "Send 'Authorization: Bearer <token>'; the operator creates one with 'mcpgram token create'.",
}
REFUSED_TOKEN = {
    "error": "NOT_AUTHENTICATED",
    "message": "The bearer token was not accepted.",
    "hint": "It is unknown, revoked or rotated: use the newest token (the operator: 'mcpgram token list').",
}


def challenge(*, token_sent: bool, resource_metadata: str | None = None) -> str:
    """The ``WWW-Authenticate`` value: no error code when no credentials came (RFC 6750, 3.1).

    With OAuth on, it names the protected resource metadata (RFC 9728) where clients discover
    the authorization server.
    """
    value = 'Bearer realm="mcpgram"'
    if resource_metadata is not None:
        value += f', resource_metadata="{resource_metadata}"'
    if not token_sent:
        return value
    return value + ', error="invalid_token", error_description="The token was not accepted"'


class UnauthorizedMiddleware:
    """Rewrites every 401 from the wrapped app into mcpgram's body and challenge."""

    def __init__(self, app: ASGIApp, *, resource_metadata: str | None = None) -> None:
        self.app = app
        self.resource_metadata = resource_metadata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in OAUTH_ENDPOINTS:  # OAuth's own errors (RFC 6749 5.2) pass untouched
            await self.app(scope, receive, send)
            return
        token_sent = any(name == b"authorization" for name, _ in scope["headers"])
        replacing = False

        async def rewrite(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 401:
                replacing = True
                body = json.dumps(REFUSED_TOKEN if token_sent else MISSING_TOKEN).encode()
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {b"content-length", b"content-type", b"www-authenticate"}
                ]
                headers += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (
                        b"www-authenticate",
                        challenge(token_sent=token_sent, resource_metadata=self.resource_metadata).encode(),
                    ),
                ]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            if replacing:  # the original body: dropped, ours is sent
                return
            await send(message)

        await self.app(scope, receive, rewrite)
