"""The words and the HTML a person sees when asked to approve, and the page's CSRF tokens (pure).

The page (``GET /approve/{tag}/{id}``) is for the person the approval belongs to: a browser signed
in as the approval's tenant (``web/approve.py``) sees what will be done: the tool and its verbs,
the chat's title and id, the rule that asks, the content preview and when the approval expires; and
two buttons, Approve and Refuse, in one form that POSTs back with a CSRF token bound to the approval
and to the browser's session (:func:`csrf_token`). Anyone else sees only that an action of their
mcpgram account waits for approval, and a form to sign in with their mcpgram token
(:func:`render_signin`, its own CSRF token bound to the approval and a per-browser nonce,
:func:`signin_token`): the one secret ever typed into these pages, posted to mcpgram's own origin
as on ``/setup/manage``. Every value is HTML-escaped where it is put into the page (:func:`_e` is
the only way in), and the page has no script, no style sheet and nothing from another origin.

``tag`` is a keyed hash of the tenant id: a page is found only under its own tenant's tag (another
tenant's tag: 404). The id is 128 random bits, handed only to the client that made the
authenticated call; holding it is not enough to see or decide the approval.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
from typing import Any

from .core import Ask

__all__ = [
    "check_csrf",
    "csrf_token",
    "message",
    "path",
    "render",
    "render_done",
    "render_missing",
    "render_refused",
    "render_signin",
    "saved_request",
    "shown",
    "signin_token",
    "tenant_tag",
]

PAGE_PREFIX = "/approve"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tenant_tag(secret: bytes, tenant: str) -> str:
    return _b64(hmac.new(secret, b"tenant\x00" + tenant.encode(), hashlib.sha256).digest()[:12])


def path(approval_id: str, tenant: str, secret: bytes) -> str:
    return f"{PAGE_PREFIX}/{tenant_tag(secret, tenant)}/{approval_id}"


def _keyed(secret: bytes, purpose: bytes, *parts: str) -> str:
    data = purpose + b"".join(b"\x00" + part.encode() for part in parts)
    return _b64(hmac.new(secret, data, hashlib.sha256).digest())


def csrf_token(secret: bytes, approval_id: str, session_id: str) -> str:
    """The decision form's token: only the page shown to this signed-in session carries it."""
    return _keyed(secret, b"csrf", approval_id, session_id)


def check_csrf(secret: bytes, approval_id: str, session_id: str, token: str) -> bool:
    expected = csrf_token(secret, approval_id, session_id)
    return bool(token) and hmac.compare_digest(expected.encode(), token.encode())


def signin_token(secret: bytes, approval_id: str, nonce: str) -> str:
    """The sign-in form's token, bound to the approval and the browser's nonce cookie."""
    return _keyed(secret, b"signin", approval_id, nonce)


def shown(ask: Ask, *, expires: float) -> dict[str, Any]:
    """What the page shows, sealed with the approval (``approvals/store.py``)."""
    return {
        "tool": ask.tool,
        "verbs": list(ask.verbs),
        "reasons": list(ask.reasons),
        "chat_id": ask.chat_id,
        "chat": ask.chat_title,
        "preview": ask.preview,
        "expires": expires,
    }


def message(ask: Ask) -> str:
    """The elicitation's message: what, where, why, and the content."""
    return f"mcpgram asks you to approve: {ask.summary()}.\nIt will send or do exactly this:\n{ask.preview}"


def saved_request(ask: Ask, code: str, ttl: float) -> str:
    """The request posted to Saved Messages."""
    minutes = max(1, round(ttl / 60))
    return (
        f"mcpgram approval {code}\n"
        f"Your agent asks to: {ask.summary()}\n\n"
        f"{ask.preview}\n\n"
        f'Reply here with "yes {code}" to approve or "no {code}" to refuse'
        f" (within {minutes} min). Only this exact action is approved, once."
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>mcpgram: approve an action</title></head><body>"
)


def render(shown: dict[str, Any], *, action_url: str, csrf: str, status: str) -> str:
    """The page for an approval; buttons only while it is pending."""
    expires = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(shown.get("expires", 0))))
    chat = shown.get("chat", "")
    if shown.get("chat_id") is not None:
        chat = f"{chat} (id {shown['chat_id']})"
    rows = [
        ("Action", f"{shown.get('tool', '')} ({', '.join(shown.get('verbs', []))})"),
        ("Chat", chat),
        ("Asked because of rule", ", ".join(shown.get("reasons", []))),
        ("Expires", expires),
    ]
    table = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows)
    parts = [
        _HEAD,
        "<h1>Approve this action in your Telegram account?</h1>",
        "<p>Your AI agent asked mcpgram to do the following. It happens only if you approve, once.</p>",
        f"<table>{table}</table>",
        "<h2>Content</h2>",
        f"<pre>{_e(shown.get('preview', ''))}</pre>",
    ]
    if status == "pending":
        parts.append(
            f'<form method="post" action="{_e(action_url)}">'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
            '<button type="submit" name="decision" value="approve">Approve</button> '
            '<button type="submit" name="decision" value="refuse">Refuse</button>'
            "</form>"
        )
    else:
        parts.append(f"<p>This approval is {_e(status)}; nothing more can be decided here.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def render_signin(*, action_url: str, csrf: str, problem: str = "", other_account: bool = False) -> str:
    """What anyone but the approval's signed-in owner sees: nothing of the action, a sign-in form."""
    parts = [
        _HEAD,
        "<h1>An action of your mcpgram account waits for your approval.</h1>",
        "<p>Sign in with your mcpgram token (the one your AI client uses, starting with "
        "<code>mcpg_</code>) to see what it is and to approve or refuse it.</p>",
    ]
    if other_account:
        parts.append("<p>This browser is signed in to mcpgram with another account.</p>")
    if problem:
        parts.append(f"<p><strong>{_e(problem)}</strong></p>")
    parts.append(
        f'<form method="post" action="{_e(action_url)}">'
        f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
        '<label>Your mcpgram token <input type="password" name="token" autocomplete="off"'
        ' spellcheck="false" required></label> '
        '<button type="submit">Sign in</button>'
        "</form></body></html>"
    )
    return "".join(parts)


def render_missing() -> str:
    return f"{_HEAD}<h1>No such approval.</h1><p>It may have expired or been removed.</p></body></html>"


def render_refused(reason: str) -> str:
    return f"{_HEAD}<h1>Nothing was decided.</h1><p>{_e(reason)}.</p></body></html>"


def render_done(decision: str) -> str:
    said = "approved" if decision == "approve" else "refused"
    return (
        f"{_HEAD}<h1>You {_e(said)} it.</h1>"
        "<p>You can close this page; your agent continues when it retries the call.</p></body></html>"
    )
