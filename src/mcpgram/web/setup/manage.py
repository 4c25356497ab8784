"""Thin routes for /setup/manage: sign in with the token, rotate it, log out everywhere, see and
tighten the policy, see recent audit entries (``tenantview.py``).

A person signs in here with their bearer token (or is signed in already from finishing /setup;
``signedin.py``). Forms carry the flow's CSRF token like every /setup form. Rotating shows the new
token once, in the POST's answer (never stored for a later GET). "Log out everywhere" logs the
Telegram session out, revokes the tenant (its token stops working, the vault shreds its keys and
sealed session) and ends every signed-in browser session of the tenant. "I lost my token" starts
a recovery by Telegram login instead (``recovery.py``), which re-keys the tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import NotAuthenticated
from ...policy.model import PROFILES
from . import recovery
from .flow import RateLimited, csrf_ok, log_out_everywhere
from .nextpath import safe_next
from .signedin import sign_in, sign_out, signed_in_tenant
from .tenantview import TightenInvalid, policy_lines, recent_audit, tighten

if TYPE_CHECKING:
    from .routes import SetupPages


class ManagePages:
    def __init__(self, pages: SetupPages) -> None:
        self.pages = pages
        self.service = pages.service

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/setup/manage", self.page, methods=["GET"]),
            Route("/setup/manage/{action}", self.post, methods=["POST"]),
        ]

    def _who(self, request: Request) -> Any:
        return signed_in_tenant(request, self.service.store, self.service.vault, secure=self.pages.secure)

    async def page(self, request: Request, **extra: Any) -> Response:
        flow_id, flow = self.pages.flow_or_new(request)
        who = self._who(request)
        context: dict[str, Any] = {"csrf": flow["csrf"], "state": None, **extra}
        context.setdefault("next", safe_next(request.query_params.get("next")))
        if who is None:
            response = self.pages.page_response(request, "manage_signin.html", **context)
        else:
            record = self.service.vault.get_tenant(who.tenant_id)
            context.update(
                tenant_id=who.tenant_id,
                tenant_status=record.status if record else "unknown",
                policy=self.service.vault.load_policy(who.tenant_id),
                audit=recent_audit(self.service.audit_dir, who.tenant_id),
                has_journal=self.service.audit_dir is not None,
            )
            if (book := self.service.policies) is not None:
                current = book.get(who.tenant_id)
                context.update(
                    rules=policy_lines(current),
                    profile=current.profile,
                    profiles=[name for name in PROFILES if name != current.profile],
                )
            response = self.pages.page_response(request, "manage.html", **context)
        self.pages.set_flow_cookie(response, flow_id)
        return response

    async def post(self, request: Request) -> Response:
        action = request.path_params["action"]
        found = self.pages.current_flow(request)
        form = await request.form()
        if found is None or not csrf_ok(found[1], form.get("csrf")):
            return self.pages.error(request, 403)
        secure = self.pages.secure
        if action == "recover":  # "I lost my token": sign in by Telegram login, which re-keys
            if found[1].get("recover"):  # a recovery started before in this browser ends first
                await recovery.abandon(self.service, found[1])
                self.service.store.delete_flow(found[0])
            recovering: Response = RedirectResponse("/setup", status_code=303)
            self.pages.set_flow_cookie(recovering, recovery.start(self.service)[0])
            return recovering
        if action == "signin":
            ip = self.pages.client_ip(request)
            try:
                self.service.limit(f"signin-ip|{ip}")
            except RateLimited as exc:
                return self.pages.error(request, 429, {"Retry-After": str(int(exc.retry_after) + 1)})
            token = str(form.get("token") or "").strip()[:128]
            try:
                record = self.service.vault.authenticate(token)
            except NotAuthenticated:
                record = None
            if record is None or record.status == "revoked":
                return await self.page(
                    request, problem="That token is not valid here.", next=safe_next(form.get("next"))
                )
            then = safe_next(form.get("next")) or "/setup/manage"  # e.g. back to an OAuth consent
            response: Response = RedirectResponse(then, status_code=303)
            sign_in(response, self.service.store, record.tenant_id, token, secure=secure)
            return response
        who = self._who(request)
        if who is None or action not in ("rotate", "logout", "signout", "relogin", "tighten"):
            return self.pages.error(request, 403 if who is None else 404)
        if action == "tighten":
            return await self._tighten(request, who.tenant_id, form)
        if action == "rotate":
            new_token = self.service.vault.rotate(who.token)
            self.service.store.save_session(who.session_id, {"token": new_token})
            return await self.page(request, new_token=new_token)
        if action == "relogin":
            started = self.service.relogin_flow(who.tenant_id, who.token)
            if started is None:
                return await self.page(
                    request, problem="Log this tenant in again with `mcpgram login --token-stdin`."
                )
            response = RedirectResponse("/setup", status_code=303)
            self.pages.set_flow_cookie(response, started[0])
            return response
        response = RedirectResponse("/setup/manage", status_code=303)
        if action == "logout":
            await log_out_everywhere(self.service, who.token)
        else:
            self.service.store.end_sessions(session_id=who.session_id)
        sign_out(response, secure=secure)
        return response

    async def _tighten(self, request: Request, tenant_id: str, form: Any) -> Response:
        book = self.service.policies
        if book is None:
            return self.pages.error(request, 404)
        profile_name = str(form.get("profile") or "")[:32]
        deny_verb = str(form.get("deny") or "")[:32]
        try:
            refused = tighten(book, tenant_id, profile_name, deny_verb)
        except TightenInvalid:
            return self.pages.error(request, 400)
        if refused is not None:
            return await self.page(request, problem=f"Not changed: {refused}")
        return await self.page(request, notice="Policy tightened. Only the operator can loosen it again.")
