"""Who is signed in: a browser's session cookie -> the tenant id (and the token it signed in with).

A person is signed in after finishing /setup or after giving their token on /setup/manage. The
cookie holds a 256-bit random session id; ``signin.db`` keeps only its hash, the tenant id, and the
token sealed under a key derived from the session id (the manage page needs it to rotate the token
and to log out; the vault cannot act for a tenant without it). Sessions end after
``FLOW_IDLE_SECONDS`` idle or ``FLOW_ABSOLUTE_SECONDS`` in all, on sign-out, and all of a tenant's
at once on "log out everywhere". A revoked tenant's session counts as signed out.

This is the piece an OAuth authorization endpoint reuses: :func:`signed_in_tenant` says whether
the browser already belongs to a tenant. The cookie is SameSite=Lax (the flow cookie stays Strict):
an OAuth client on another site sends the browser to ``/authorize`` and on to the consent page,
and a Strict cookie would not be sent on that navigation. Lax is not sent on another site's POST,
and every change (manage actions, consent) is a POST that needs a CSRF token besides.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ...vault.vault import Vault
from .store import SetupStore


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    tenant_id: str
    token: str


def cookie_name(secure: bool) -> str:
    """``__Host-`` only when the cookie is Secure: browsers refuse the prefix otherwise."""
    return "__Host-mcpgram-session" if secure else "mcpgram-session"


def signed_in_tenant(request: Request, store: SetupStore, vault: Vault, *, secure: bool) -> SignedIn | None:
    """The tenant this browser is signed in as, or None (no, unknown, expired or revoked session)."""
    session_id = request.cookies.get(cookie_name(secure), "")
    found = store.load_session(session_id) if session_id else None
    if found is None:
        return None
    tenant_id, payload = found
    record = vault.get_tenant(tenant_id)
    if record is None or record.status == "revoked":
        store.end_sessions(session_id=session_id)
        return None
    return SignedIn(session_id, tenant_id, str(payload["token"]))


def sign_in(response: Response, store: SetupStore, tenant_id: str, token: str, *, secure: bool) -> None:
    """Start a session for ``tenant_id`` and set its cookie on ``response``."""
    session_id = store.create_session(tenant_id, {"token": token})
    response.set_cookie(
        cookie_name(secure),
        session_id,
        max_age=int(store.absolute_seconds),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",  # sent when another site's OAuth client sends the browser to /authorize
    )


def sign_out(response: Response, *, secure: bool) -> None:
    response.delete_cookie(cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax")
