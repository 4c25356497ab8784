"""The OAuth consent page: the signed-in tenant approves (or denies) one client's pending request.

``GET /oauth/consent?request=<id>`` needs a signed-in browser session (:data:`SignIn`, the web
sign-in at ``/setup``); without one it redirects to ``/setup?next=<this page>``. It then names the
client from its metadata, its client id and redirect target, and what it will be allowed to do:
the tenant's policy (profile and verbs). The form POSTs back with a CSRF token,
``HMAC(server_secret, request id + tenant id)``, compared in constant time; the pending request is
taken once, so a second answer finds nothing. Approval issues a code (``MCPGramOAuthProvider``)
and redirects to the client's exact redirect URI with ``code`` and ``state``; denial redirects with
``error=access_denied``. Headers (CSP ``default-src 'none'``, no framing) come from the edge's
``SecurityHeadersMiddleware``, but for a same-origin referrer and mcpgram's own stylesheet and
script (:data:`PAGE_HEADERS`). The page and its errors (400: unknown, expired or answered request;
403: forged CSRF) are rendered from the /setup templates (``consent.html``, ``error.html``;
autoescaped, the same look on a phone and a desktop), never raw JSON.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..policy.model import Policy
from ..vault.vault import TenantKeys
from .oauth import CONSENT_PATH, MCPGramOAuthProvider
from .setup.routes import page_templates

__all__ = ["SETUP_PATH", "SignIn", "consent_route", "no_session"]

#: The browser session's tenant (id + data key), or None when nobody is signed in.
SignIn = Callable[[Request], Awaitable[TenantKeys | None]]
SETUP_PATH = "/setup"
#: A same-origin referrer: under the edge's ``no-referrer`` Chromium posts the form with
#: ``Origin: null``, which the host guard refuses. No ``form-action``: browsers apply it to the
#: redirect that follows the POST, and that goes to the client's redirect URI.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
}
_TEMPLATES = page_templates()


async def no_session(request: Request) -> TenantKeys | None:
    """The sign-in before the /setup sessions are wired (``OAuthWiring.use_setup_sessions``): nobody."""
    return None


def _csrf(secret: bytes, request_id: str, tenant_id: str) -> str:
    return hmac.new(secret, f"consent|{request_id}|{tenant_id}".encode(), hashlib.sha256).hexdigest()


def _page(request: Request, status: int, name: str, **context: Any) -> Response:
    """A page from mcpgram's templates (``web/setup/templates``, autoescaped) with :data:`PAGE_HEADERS`."""
    response = _TEMPLATES.TemplateResponse(request, name, {"state": None, **context}, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _error(request: Request, status: int, message: str) -> Response:
    """A generic HTML error page (no code, no internals)."""
    return _page(request, status, "error.html", message=message)


def consent_route(
    provider: MCPGramOAuthProvider,
    *,
    signin: Callable[[], SignIn],
    policy_of: Callable[[str], Policy],
    server_secret: bytes,
) -> Route:
    """``GET``/``POST`` :data:`~mcpgram.web.oauth.CONSENT_PATH`; ``signin()`` is read per request."""

    def refused(request: Request, message: str) -> Response:
        return _error(request, 400, message)

    async def consent(request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            request_id, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        else:
            request_id, csrf = request.query_params.get("request", ""), ""
        pending = provider.store.get_request(request_id, provider.now()) if request_id else None
        if pending is None:
            return refused(
                request, "This authorization request is unknown or expired; start again from the app."
            )
        client_id, params = pending
        keys = await signin()(request)
        if keys is None:
            here = f"{CONSENT_PATH}?request={request_id}"
            return RedirectResponse(f"{SETUP_PATH}?next={quote(here, safe='')}", status_code=303)
        expected = _csrf(server_secret, request_id, keys.tenant_id)
        if request.method == "GET":
            client = await provider.get_client(client_id)
            name = (client.client_name if client is not None else None) or client_id
            policy = policy_of(keys.tenant_id)
            return _page(
                request,
                200,
                "consent.html",
                client_name=name,
                client_id=client_id,
                redirect=params["redirect_uri"],
                profile=policy.profile,
                verbs=[(verb, rule) for verb, rule in policy.verbs.items() if rule != "deny"],
                action=CONSENT_PATH,
                request_id=request_id,
                csrf=expected,
            )
        if not hmac.compare_digest(csrf.encode(), expected.encode()):
            return _error(
                request, 403, "This form expired or did not come from this page. Start again from the app."
            )
        taken = provider.store.take_request(request_id, provider.now())
        if taken is None:
            return refused(request, "This authorization request was already answered.")
        state = params.get("state")
        if form.get("decision") != "allow":
            target = construct_redirect_uri(params["redirect_uri"], error="access_denied", state=state)
            return RedirectResponse(target, status_code=303)
        code = provider.issue_code(client_id, params, keys)
        return RedirectResponse(
            construct_redirect_uri(params["redirect_uri"], code=code, state=state), status_code=303
        )

    return Route(CONSENT_PATH, consent, methods=["GET", "POST"])
