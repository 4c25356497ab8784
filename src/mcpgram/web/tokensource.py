"""Which token a request presents: one reading, for the front's routing and the worker's authentication.

The multi-worker front (``web/front.py``) sends each request to the worker that hashes its token,
and that worker authenticates a token read from the same request. If the two readings differed
(a percent-encoded url_auth token, a second Authorization header), one tenant could be served by
two workers: two budgets, two Telegram clients for one session, racing seals. So both read it here:

- :func:`scope_path` is ``scope["path"]`` exactly as uvicorn's httptools protocol (the workers'
  server) makes it from a request target: the path without the query, percent-decoded;
- :func:`presented_token` is the token the worker authenticates: the url_auth path's segment if
  the path is a url_auth one (``UrlAuthMiddleware`` refuses a conflicting header), else what the
  MCP SDK's bearer backend reads: the *first* Authorization header, after a case-insensitive
  ``"bearer "``, nothing stripped.

``tests/web/test_tokensource.py`` checks the front's routing against a real uvicorn + FastMCP
authentication stack. Must not: do I/O, log, or look tokens up.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

import httptools

from .security import URL_AUTH_PREFIX

__all__ = [
    "OAUTH_ACCESS_PREFIX",
    "header_token",
    "oauth_route_tag",
    "presented_token",
    "scope_path",
    "url_auth_token",
]

#: OAuth access tokens (``web/oauth.py``) are ``mcpa_<16 hex routing tag>.<random>``; the tag is
#: one per tenant, so every access token of a tenant goes to the same worker.
OAUTH_ACCESS_PREFIX = "mcpa_"
_TAG_LEN = 16

_BEARER = "bearer "


def scope_path(target: bytes) -> str | None:
    """``scope["path"]`` as uvicorn builds it from ``target``; None if uvicorn would not serve it."""
    try:
        raw = httptools.parse_url(target).path or b""
        path = raw.decode("ascii")
    except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
        return None
    return unquote(path) if "%" in path else path


def url_auth_token(path: str) -> str | None:
    """The token segment of a url_auth path (``/v1/url_auth/<token>/...``), or None if not one."""
    if path == URL_AUTH_PREFIX or path.startswith(URL_AUTH_PREFIX + "/"):
        return path[len(URL_AUTH_PREFIX) + 1 :].partition("/")[0]
    return None


def header_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The first Authorization header's bearer credential, as the MCP SDK's bearer backend reads it."""
    for name, value in headers:
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            return text[len(_BEARER) :] if text.lower().startswith(_BEARER) else None
    return None


def presented_token(path: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token the worker authenticates for a request with this ``scope["path"]`` and headers."""
    token = url_auth_token(path) if path is not None else None
    if token is not None:
        return token or None
    return header_token(headers) or None


def oauth_route_tag(token: str) -> str | None:
    """The routing tag of an OAuth access token, or None if ``token`` is not shaped like one."""
    if not token.startswith(OAUTH_ACCESS_PREFIX):
        return None
    tag, dot, _ = token[len(OAUTH_ACCESS_PREFIX) :].partition(".")
    return tag if dot and len(tag) == _TAG_LEN else None
