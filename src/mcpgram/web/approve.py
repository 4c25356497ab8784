"""The approval page: ``GET /approve/{tag}/{id}`` shows an approval, ``POST`` approves or refuses it,
``POST /approve/{tag}/{id}/signin`` signs the browser in with a token.

Thin: it finds the approval (``approvals/store.py``; an id that is not one, is not under this
tenant tag, or has nothing to show answers 404, the same for each), asks who the browser is signed
in as (``web/approvesignin.py``: the /setup session), renders ``approvals/page.py`` and records the
decision.

Holding the URL is not enough (MCP 2026-07-28, elicitation, "Phishing"): only a browser signed in as
the approval's tenant sees the action and the buttons; anyone else (not signed in, or signed in as
another tenant) sees that an action of their account waits, and a form to sign in with their
mcpgram token. That sign-in needs its own CSRF token (bound to a nonce cookie), is rate-limited per
client address (429 + ``Retry-After``), and succeeds only with a valid token of the approval's own
tenant; any other token gets the same refusal, which says nothing of whose approval it is. It then
starts the /setup session (the same cookie) and redirects back to the page (303).

A decision POST needs that session (none, or another tenant's: 403, nothing decided) and the CSRF
token of the page shown to it (an HMAC of the approval id and the session id: missing, wrong, or
another session's: 403), besides the edge's Origin check (a cross-site form is refused before it
gets here). Pages send a strict CSP (``default-src 'none'``: no script, style or frame; forms post
only to this origin) and a same-origin referrer (under ``no-referrer`` browsers post forms with
``Origin: null``, which the edge refuses); responses are not cached.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..approvals import page
from ..approvals.core import id_hash, is_approval_id
from ..approvals.store import ApprovalRow, ApprovalStore, open_page
from ..audit.journal import AuditJournal, chat_id
from .approvesignin import ApprovalSignIn

__all__ = ["PAGE_HEADERS", "approval_routes"]

log = logging.getLogger(__name__)
_MAX_FORM_BYTES = 4096
#: Kept by the edge's ``SecurityHeadersMiddleware`` (a page policy still starting ``default-src 'none'``).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "same-origin",
}
_STALE = "the form is stale or was not sent from this page"
_SIGNIN_REFUSED = "That token cannot open this approval. Check it and try again."


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    fields = parse_qs(body[:_MAX_FORM_BYTES].decode("utf-8", "replace"))
    return {name: values[0] for name, values in fields.items() if values}


def approval_routes(
    store: ApprovalStore, secret: bytes, journal: AuditJournal | None = None, *, signin: ApprovalSignIn
) -> list[Route]:
    """The page's routes, on ``store`` with the page ``secret`` (``tools.approving.page_secret``);
    ``signin`` says who a browser is and signs it in."""
    pages = _ApprovalPages(store, secret, journal, signin)
    where = f"{page.PAGE_PREFIX}/{{tag}}/{{approval_id}}"
    return [
        Route(where, pages.show, methods=["GET"]),
        Route(where, pages.decide, methods=["POST"]),
        Route(f"{where}/signin", pages.sign_in, methods=["POST"]),
    ]


class _ApprovalPages:
    def __init__(
        self, store: ApprovalStore, secret: bytes, journal: AuditJournal | None, signin: ApprovalSignIn
    ) -> None:
        self.store, self.secret, self.journal, self.signin = store, secret, journal, signin

    def find(self, request: Request) -> tuple[ApprovalRow, str] | None:
        tag, approval_id = request.path_params["tag"], request.path_params["approval_id"]
        if not is_approval_id(approval_id):
            return None
        row = self.store.get(id_hash(approval_id))
        if row is None or row.sealed is None:
            return None
        if not hmac.compare_digest(page.tenant_tag(self.secret, row.tenant), tag):
            return None
        return row, approval_id

    def signin_page(
        self, request: Request, approval_id: str, *, problem: str = "", status: int = 200
    ) -> Response:
        """What anyone but the approval's signed-in tenant gets: the sign-in form, nothing else."""
        nonce = self.signin.nonce(request) or self.signin.new_nonce()
        body = page.render_signin(
            action_url=f"{request.url.path.removesuffix('/signin')}/signin",
            csrf=page.signin_token(self.secret, approval_id, nonce),
            problem=problem,
            other_account=self.signin.who(request) is not None,
        )
        response = _html(body, status)
        self.signin.set_nonce(response, nonce)
        return response

    async def show(self, request: Request) -> Response:
        found = self.find(request)
        if found is None:
            return _html(page.render_missing(), 404)
        row, approval_id = found
        who = self.signin.who(request)
        if who is None or who.tenant_id != row.tenant:
            return self.signin_page(request, approval_id)
        shown = open_page(approval_id, row.sealed or b"")
        html = page.render(
            shown,
            action_url=request.url.path,
            csrf=page.csrf_token(self.secret, approval_id, who.session_id),
            status=row.status,
        )
        return _html(html)

    async def sign_in(self, request: Request) -> Response:
        found = self.find(request)
        if found is None:
            return _html(page.render_missing(), 404)
        row, approval_id = found
        form = await _form(request)
        nonce = self.signin.nonce(request)
        expected = page.signin_token(self.secret, approval_id, nonce) if nonce else ""
        if not nonce or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
            return _html(page.render_refused(_STALE), 403)
        if wait := self.signin.retry_after(request):
            headers = {"Retry-After": str(int(wait) + 1)}
            return _html(page.render_refused("too many sign-in attempts; wait a little"), 429, headers)
        token = form.get("token", "").strip()[:128]
        if self.signin.tenant_of(token) != row.tenant:
            log.info("approval.signin", extra={"tenant": row.tenant, "outcome": "refused"})
            return self.signin_page(request, approval_id, problem=_SIGNIN_REFUSED, status=403)
        response = RedirectResponse(request.url.path.removesuffix("/signin"), 303, headers=PAGE_HEADERS)
        self.signin.sign_in(response, row.tenant, token)
        log.info("approval.signin", extra={"tenant": row.tenant, "outcome": "signed_in"})
        return response

    async def decide(self, request: Request) -> Response:
        found = self.find(request)
        if found is None:
            return _html(page.render_missing(), 404)
        row, approval_id = found
        form = await _form(request)
        who = self.signin.who(request)
        if who is None or who.tenant_id != row.tenant:
            return _html(page.render_refused("sign in with the account this approval belongs to first"), 403)
        if not page.check_csrf(self.secret, approval_id, who.session_id, form.get("csrf", "")):
            return _html(page.render_refused(_STALE), 403)
        decision = form.get("decision", "")
        if decision not in ("approve", "refuse"):
            return _html(page.render_refused("choose Approve or Refuse"), 400)
        if not self.store.decide(row.id_hash, decision == "approve"):
            current = self.store.get(row.id_hash)
            status = current.status if current is not None else "gone"
            return _html(page.render_refused(f"this approval is {status}"), 409)
        outcome = "approved" if decision == "approve" else "refused"
        shown = open_page(approval_id, row.sealed or b"")
        log.info(
            "approval.decision", extra={"tenant": row.tenant, "tool": shown.get("tool"), "outcome": outcome}
        )
        if self.journal is not None:
            # As ``Approver._record`` writes it: the content digest was sealed with the approval.
            digest = shown.get("content")
            self.journal.append(
                tenant=row.tenant,
                kind="approval",
                tool=str(shown.get("tool", "")),
                chat=chat_id(shown.get("chat_id")),
                outcome=outcome,
                content=digest if isinstance(digest, str) else None,
            )
        return _html(page.render_done(decision))
