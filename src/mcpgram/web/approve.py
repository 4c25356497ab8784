"""The approval page: ``GET /approve/{tag}/{id}`` shows an approval, ``POST`` approves or refuses it.

Thin: it finds the approval (``approvals/store.py``; an id that is not one, is not under this
tenant tag, or has nothing to show answers 404, the same for each), renders ``approvals/page.py``
and records the decision. A POST needs the CSRF token the page carries (missing or wrong: 403)
besides the edge's Origin check (a cross-site form is refused before it gets here). The server's
security headers apply (``default-src 'none'``: no script, style or frame); responses are not
cached. No bearer token is involved: the id in the URL is the capability, handed only to the client
that made the authenticated call.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..approvals import page
from ..approvals.core import id_hash, is_approval_id
from ..approvals.store import ApprovalRow, ApprovalStore, open_page
from ..audit.journal import AuditJournal, chat_id

__all__ = ["approval_routes"]

log = logging.getLogger(__name__)
_MAX_FORM_BYTES = 4096


def approval_routes(store: ApprovalStore, secret: bytes, journal: AuditJournal | None = None) -> list[Route]:
    """The page's two routes, on ``store`` with the page ``secret`` (``tools.approving.page_secret``)."""

    def find(request: Request) -> tuple[ApprovalRow, str] | None:
        tag, approval_id = request.path_params["tag"], request.path_params["approval_id"]
        if not is_approval_id(approval_id):
            return None
        row = store.get(id_hash(approval_id))
        if row is None or row.sealed is None:
            return None
        if not hmac.compare_digest(page.tenant_tag(secret, row.tenant), tag):
            return None
        return row, approval_id

    def not_found() -> Response:
        return HTMLResponse(page.render_missing(), status_code=404)

    async def show(request: Request) -> Response:
        found = find(request)
        if found is None:
            return not_found()
        row, approval_id = found
        shown = open_page(approval_id, row.sealed or b"")
        html = page.render(
            shown,
            action_url=request.url.path,
            csrf=page.csrf_token(secret, approval_id),
            status=row.status,
        )
        return HTMLResponse(html)

    async def decide(request: Request) -> Response:
        found = find(request)
        if found is None:
            return not_found()
        row, approval_id = found
        body = await request.body()
        form = parse_qs(body[:_MAX_FORM_BYTES].decode("utf-8", "replace"))
        token = (form.get("csrf") or [""])[0]
        if not token or not page.check_csrf(secret, approval_id, token):
            return HTMLResponse(page.render_refused("the form is stale or was not sent from this page"), 403)
        decision = (form.get("decision") or [""])[0]
        if decision not in ("approve", "refuse"):
            return HTMLResponse(page.render_refused("choose Approve or Refuse"), 400)
        if not store.decide(row.id_hash, decision == "approve"):
            current = store.get(row.id_hash)
            status = current.status if current is not None else "gone"
            return HTMLResponse(page.render_refused(f"this approval is {status}"), 409)
        outcome = "approved" if decision == "approve" else "refused"
        shown = open_page(approval_id, row.sealed or b"")
        log.info(
            "approval.decision", extra={"tenant": row.tenant, "tool": shown.get("tool"), "outcome": outcome}
        )
        if journal is not None:
            # As ``Approver._record`` writes it: the content digest was sealed with the approval.
            digest = shown.get("content")
            journal.append(
                tenant=row.tenant,
                kind="approval",
                tool=str(shown.get("tool", "")),
                chat=chat_id(shown.get("chat_id")),
                outcome=outcome,
                content=digest if isinstance(digest, str) else None,
            )
        return HTMLResponse(page.render_done(decision))

    return [
        Route(f"{page.PAGE_PREFIX}/{{tag}}/{{approval_id}}", show, methods=["GET"]),
        Route(f"{page.PAGE_PREFIX}/{{tag}}/{{approval_id}}", decide, methods=["POST"]),
    ]
