"""The HTTP/1.1 protocol the gateway serves with: uvicorn's, keeping the raw request target.

uvicorn builds the ASGI scope from the path of the request target only, so an absolute-form
request (``POST http://other.example/v1/mcp HTTP/1.1``) would reach the app looking like
``POST /v1/mcp``, its authority silently dropped. :class:`TargetKeepingProtocol` leaves the raw
target in the scope (:data:`~mcpgram.web.hostguard.REQUEST_TARGET_KEY`), so
:class:`~mcpgram.web.hostguard.HostGuardMiddleware` can hold the authority to the ``Host`` rules.
Pass it as ``uvicorn.Config(http=TargetKeepingProtocol)``.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .hostguard import REQUEST_TARGET_KEY

__all__ = ["TargetKeepingProtocol"]


class TargetKeepingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the raw request target in the scope."""

    def on_headers_complete(self) -> None:
        # The scope is created per request in on_message_begin; the app starts after this returns.
        self.scope[REQUEST_TARGET_KEY] = bytes(self.url)  # type: ignore[literal-required]
        super().on_headers_complete()
