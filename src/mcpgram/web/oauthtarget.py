"""RFC 8707 at the token endpoint: a ``resource`` that does not name this server is refused.

The MCP SDK's token handler accepts the ``resource`` parameter but does not compare it with
anything, so a client asking ``/token`` for a token for another resource would be handed one for
this server. :class:`ResourceCheck` wraps the SDK's ``/token`` endpoint: it reads the form body
(the edge already caps its size), answers ``400 invalid_target`` (RFC 8707 section 2) when a
``resource`` is sent and is not this server's resource, and otherwise replays the body to the SDK.
The audience is checked again on every request with the token (``oauth.py``'s ``load_access_token``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ResourceCheck"]


class ResourceCheck:
    """ASGI wrapper of the token endpoint; ``resource()`` is this server's resource URL."""

    def __init__(self, app: ASGIApp, resource: Callable[[], str]) -> None:
        self.app = app
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        asked = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("resource", [])
        mine = self.resource().rstrip("/")
        if any(value.rstrip("/") != mine for value in asked):
            refusal = JSONResponse(
                {
                    "error": "invalid_target",
                    "error_description": "the resource indicator does not name this server",
                },
                status_code=400,
                headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
            )
            await refusal(scope, replay, send)
            return
        await self.app(scope, replay, send)
