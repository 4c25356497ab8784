"""Who opens an approval page: the /setup browser session, and the page's own token sign-in.

The approval page (``web/approve.py``) shows and decides an approval only for a browser signed in
as the approval's tenant (MCP 2026-07-28, elicitation, "Phishing": the server verifies that the
person who opens the URL is the user of the MCP client). The session is the /setup one: the cookie
``web/setup/signedin.py`` sets after /setup or a sign-in on /setup/manage, its rows in the data
dir's ``signin.db``. This module only calls that module's functions; it adds:

- the inline sign-in's rate limit: the same ``signin-ip`` counter (``web/setup/flow.py``) that
  /setup/manage's sign-in counts, keyed by the client address the edge's rate limits use
  (``web/ratelimit.client_address``: the IPv4 address or IPv6 /64, ``X-Forwarded-For`` only from
  trusted proxies), so alternating between the two forms guesses no faster;
- the token check: a token counts only if it is valid, not revoked, and its tenant is the
  approval's (:meth:`ApprovalSignIn.tenant_of`);
- a nonce cookie (256 random bits, HttpOnly, SameSite=Strict, ``__Host-`` when Secure) that the
  sign-in form's CSRF token is bound to (``approvals/page.signin_token``), so a form posted from
  another site or without this browser's cookie signs nobody in (a login CSRF).

There is a sign-in store whenever bearer tokens exist: the /setup pages are served by every HTTP
server with authentication. Without one (``--no-auth``, stdio) there is no token to sign in with:
the page is not served and approvals are asked by form elicitation or in Saved Messages instead
(``tools/approving.py``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotAuthenticated
from .ratelimit import client_address, parse_networks
from .setup.flow import RateLimited, SetupService
from .setup.signedin import SignedIn, sign_in, signed_in_tenant

__all__ = ["ApprovalSignIn"]

_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class ApprovalSignIn:
    """Sessions and sign-in for the approval page, over the /setup pages' ``service``.

    Args:
        service: The /setup service (its sign-in store, vault and rate limits).
        secure: Cookies are ``Secure`` (the server is reached over HTTPS).
        trusted_proxies: Addresses or networks whose ``X-Forwarded-For`` is believed.
    """

    def __init__(self, service: SetupService, *, secure: bool, trusted_proxies: Sequence[str] = ()) -> None:
        self.service = service
        self.secure = secure
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.nonce_cookie = "__Host-mcpgram-approve" if secure else "mcpgram-approve"

    def who(self, request: Request) -> SignedIn | None:
        """The tenant this browser is signed in as, or None: no live session, a revoked tenant, or a
        session whose token no longer works (rotated by the CLI since, as the consent page treats it)."""
        signed = signed_in_tenant(request, self.service.store, self.service.vault, secure=self.secure)
        if signed is None or self.tenant_of(signed.token) != signed.tenant_id:
            return None
        return signed

    def retry_after(self, request: Request) -> float:
        """Count one sign-in attempt from this client: 0 if allowed, else the seconds to wait."""
        key = client_address(request.scope, self.trusted_proxies)
        try:
            self.service.limit(f"signin-ip|{key}")
        except RateLimited as exc:
            return exc.retry_after
        return 0.0

    def tenant_of(self, token: str) -> str | None:
        """The tenant of a valid, unrevoked token, or None."""
        try:
            record = self.service.vault.authenticate(token)
        except NotAuthenticated:
            return None
        if record.status == "revoked":
            return None
        return record.tenant_id

    def sign_in(self, response: Response, tenant_id: str, token: str) -> None:
        """Start a /setup session for ``tenant_id`` and set its cookie on ``response``."""
        sign_in(response, self.service.store, tenant_id, token, secure=self.secure)

    def nonce(self, request: Request) -> str | None:
        """This browser's nonce (from its cookie), if it sent a well-formed one."""
        value = request.cookies.get(self.nonce_cookie, "")
        return value if _NONCE.match(value) else None

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)

    def set_nonce(self, response: Response, nonce: str) -> None:
        """Set (or refresh) this browser's nonce cookie: for this browser session only."""
        response.set_cookie(
            self.nonce_cookie, nonce, path="/", secure=self.secure, httponly=True, samesite="strict"
        )
