"""The OAuth consent page: the signed-in tenant approves (or denies) one client's pending request.

``GET /oauth/consent?request=<id>`` needs a signed-in browser session (:data:`SignIn`, the web
sign-in at ``/setup``); without one it redirects to ``/setup?next=<this page>``. It then names the
client from its metadata (HTML-escaped), its client id and redirect target, and what it will be
allowed to do: the tenant's policy (profile and verbs). The form POSTs back with a CSRF token,
``HMAC(server_secret, request id + tenant id)``, compared in constant time; the pending request is
taken once, so a second answer finds nothing. Approval issues a code (``MCPGramOAuthProvider``)
and redirects to the client's exact redirect URI with ``code`` and ``state``; denial redirects with
``error=access_denied``. Headers (CSP ``default-src 'none'``, no framing) come from the edge's
``SecurityHeadersMiddleware``, but for a same-origin referrer (:data:`PAGE_HEADERS`); the page has
no script or style.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..policy.model import Policy
from ..vault.vault import TenantKeys
from .oauth import CONSENT_PATH, MCPGramOAuthProvider
from .security import json_error

__all__ = ["SETUP_PATH", "SignIn", "consent_route", "no_session"]

#: The browser session's tenant (id + data key), or None when nobody is signed in.
SignIn = Callable[[Request], Awaitable[TenantKeys | None]]
SETUP_PATH = "/setup"
#: A same-origin referrer: under the edge's ``no-referrer`` Chromium posts the form with
#: ``Origin: null``, which the host guard refuses. No ``form-action``: browsers apply it to the
#: redirect that follows the POST, and that goes to the client's redirect URI.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "same-origin",
}


async def no_session(request: Request) -> TenantKeys | None:
    """The sign-in before the /setup sessions are wired (``OAuthWiring.use_setup_sessions``): nobody."""
    return None


def _csrf(secret: bytes, request_id: str, tenant_id: str) -> str:
    return hmac.new(secret, f"consent|{request_id}|{tenant_id}".encode(), hashlib.sha256).hexdigest()


def _page(
    *, client_name: str, client_id: str, redirect: str, policy: Policy, request_id: str, csrf: str
) -> str:
    e = html.escape
    verbs = "".join(f"<li>{e(verb)}: {e(rule)}</li>" for verb, rule in policy.verbs.items() if rule != "deny")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Allow access?</title></head><body>"
        f"<h1>Allow {e(client_name)} to use your Telegram through mcpgram?</h1>"
        f"<p>Client: <code>{e(client_id)}</code><br>It will return to: <code>{e(redirect)}</code></p>"
        f"<p>It will be allowed what your policy allows (profile <b>{e(policy.profile)}</b>):</p>"
        f"<ul>{verbs or '<li>nothing</li>'}</ul>"
        f"<form method='post' action='{e(CONSENT_PATH)}'>"
        f"<input type='hidden' name='request' value='{e(request_id)}'>"
        f"<input type='hidden' name='csrf' value='{e(csrf)}'>"
        "<button name='decision' value='allow'>Allow</button> "
        "<button name='decision' value='deny'>Deny</button></form></body></html>"
    )


def consent_route(
    provider: MCPGramOAuthProvider,
    *,
    signin: Callable[[], SignIn],
    policy_of: Callable[[str], Policy],
    server_secret: bytes,
) -> Route:
    """``GET``/``POST`` :data:`~mcpgram.web.oauth.CONSENT_PATH`; ``signin()`` is read per request."""

    def refused(message: str) -> Response:
        return json_error(400, "OAUTH_REQUEST_INVALID", message)

    async def consent(request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            request_id, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        else:
            request_id, csrf = request.query_params.get("request", ""), ""
        pending = provider.store.get_request(request_id, provider.now()) if request_id else None
        if pending is None:
            return refused("This authorization request is unknown or expired; start again from the client.")
        client_id, params = pending
        keys = await signin()(request)
        if keys is None:
            here = f"{CONSENT_PATH}?request={request_id}"
            return RedirectResponse(f"{SETUP_PATH}?next={quote(here, safe='')}", status_code=303)
        expected = _csrf(server_secret, request_id, keys.tenant_id)
        if request.method == "GET":
            client = await provider.get_client(client_id)
            name = (client.client_name if client is not None else None) or client_id
            body = _page(
                client_name=name,
                client_id=client_id,
                redirect=params["redirect_uri"],
                policy=policy_of(keys.tenant_id),
                request_id=request_id,
                csrf=expected,
            )
            return HTMLResponse(body, headers=PAGE_HEADERS)
        if not hmac.compare_digest(csrf.encode(), expected.encode()):
            return json_error(403, "CSRF_REFUSED", "The consent form was not sent from this page.")
        taken = provider.store.take_request(request_id, provider.now())
        if taken is None:
            return refused("This authorization request was already answered.")
        state = params.get("state")
        if form.get("decision") != "allow":
            target = construct_redirect_uri(params["redirect_uri"], error="access_denied", state=state)
            return RedirectResponse(target, status_code=303)
        code = provider.issue_code(client_id, params, keys)
        return RedirectResponse(
            construct_redirect_uri(params["redirect_uri"], code=code, state=state), status_code=303
        )

    return Route(CONSENT_PATH, consent, methods=["GET", "POST"])
