"""Thin Starlette routes for /setup: cookies, CSRF, forms in, pages out (logic in ``flow.py``).

Every POST needs the flow cookie and the flow's CSRF token in the form (compared in constant time);
every answer is a page rendered by Jinja2 with autoescape, or a redirect (POST -> 303 -> GET). The
pages load only ``/setup/static/setup.css`` and ``setup.js`` (the CSP allows nothing else, no inline
script or style); the phone flow works without JavaScript.

Must not: echo a code, a password or a token anywhere but the one token page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from ...telegram.login import (
    PHONE_INVALID,
    Restart,
    StartQr,
    SubmitCode,
    SubmitPassword,
    SubmitPhone,
    normalize_phone,
)
from ..ratelimit import client_address, parse_networks
from . import recovery
from .clients import CLIENTS, Variant, render
from .flow import RateLimited, SetupService, csrf_ok, load_state
from .manage import ManagePages
from .nextpath import safe_next
from .signedin import sign_in

HERE = Path(__file__).parent
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATIC = {"setup.css": "text/css", "setup.js": "text/javascript", "icon.svg": "image/svg+xml"}
_ERRORS = {
    400: "That request was not understood.",
    403: "This form expired or did not come from this page. Start again.",
    404: "Not found.",
    410: "The configs were offered once, on the token page; they are not available any more.",
    429: "Too many attempts. Wait a little and try again.",
}
_CODE_WHERE = {
    "app": "your Telegram app (a message from 'Telegram' on another device)",
    "sms": "an SMS",
    "call": "a phone call",
    "email": "your login email",
}


def page_templates() -> Jinja2Templates:
    """mcpgram's page templates (``templates/``, autoescaped); the OAuth consent page uses them too."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    return Jinja2Templates(env=env)


#: How long the token page's config buttons work (one page view; a reload ends it sooner).
DOWNLOAD_SECONDS = 10 * 60


class SetupPages:
    """The /setup routes over one :class:`SetupService`.

    ``trusted_proxies``: whose ``X-Forwarded-For`` names the client for the per-IP rate limits
    (``web/ratelimit.py``'s :func:`client_address`, as the edge does).
    """

    def __init__(
        self, service: SetupService, *, secure: bool, base_url: str = "", trusted_proxies: Iterable[str] = ()
    ) -> None:
        self.service = service
        self.secure = secure
        self.base_url = base_url
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.cookie = "__Host-mcpgram-setup" if secure else "mcpgram-setup"
        self.templates = page_templates()

    def routes(self) -> list[BaseRoute]:
        return [
            *ManagePages(self).routes(),
            Route("/setup", self.page, methods=["GET"]),
            Route("/setup/static/{name}", self.static, methods=["GET"]),
            Route("/setup/{action}", self.post, methods=["POST"]),
        ]

    # -- helpers ------------------------------------------------------------------------------------

    def page_response(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def error(self, request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
        response = self.page_response(
            request, "error.html", status, message=_ERRORS.get(status, "Something went wrong.")
        )
        response.headers.update(headers or {})
        return response

    def set_flow_cookie(self, response: Response, flow_id: str) -> None:
        response.set_cookie(
            self.cookie,
            flow_id,
            max_age=int(self.service.store.absolute_seconds),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def flow_or_new(self, request: Request) -> tuple[str, dict[str, Any]]:
        """The browser's flow, or a new one (set its cookie on the answer)."""
        return self.current_flow(request) or self.service.new_flow()

    def current_flow(self, request: Request) -> tuple[str, dict[str, Any]] | None:
        flow_id = request.cookies.get(self.cookie, "")
        flow = self.service.store.load_flow(flow_id) if flow_id else None
        return (flow_id, flow) if flow is not None else None

    def client_ip(self, request: Request) -> str:
        """The client's address for the per-IP limits, honouring the trusted proxies."""
        return client_address(request.scope, self.trusted_proxies)

    def _base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    # -- endpoints ----------------------------------------------------------------------------------

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return self.error(request, 404)
        response = FileResponse(HERE / "static" / name, media_type=_STATIC[name])
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def page(self, request: Request) -> Response:
        self.service.maybe_sweep()
        flow_id, flow = self.flow_or_new(request)
        if (target := safe_next(request.query_params.get("next"))) is not None:
            flow["next"] = target  # where to continue once signed in (an OAuth consent)
            self.service.store.save_flow(flow_id, flow)
        state = flow["state"]
        context: dict[str, Any] = {"csrf": flow["csrf"], "state": state, "signup": self.service.signup}
        context.update(recover=bool(flow.get("recover")), recovered=bool(flow.get("recovered")))
        kind = state.get("kind", "phone")
        context["next"] = safe_next(flow.get("next"))
        if kind == "choose":
            context["choices"] = recovery.choices(self.service, flow)
        if kind == "done":
            target = context["next"]
            name_of = self.service.client_name_of
            context.update(clients=CLIENTS, next_name=name_of(target) if target and name_of else None)
            if not flow.get("shown"):
                # Shown once: this page view's config buttons carry a single-page download nonce.
                flow.update(shown=True, download=secrets.token_urlsafe(24))
                flow["download_until"] = self.service.store.clock() + DOWNLOAD_SECONDS
                context.update(token=flow["token"], endpoint=f"{self._base(request)}/v1/mcp")
                context["download"] = flow["download"]
            else:  # any later view: the flow forgets the token and the configs with it
                for name in ("token", "download", "download_until"):
                    flow.pop(name, None)
            self.service.store.save_flow(flow_id, flow)
        elif kind == "qr" and flow.get("qr"):
            url = flow["qr"][0]
            context.update(
                qr_url=url,
                # segno draws paths from our own tg:// URL: markup, no text from the user.
                qr_svg=Markup(segno.make(url, error="m").svg_inline(scale=4, omitsize=True)),  # noqa: S704
            )
        elif kind == "code":
            context["where"] = _CODE_WHERE.get(state.get("code_type", ""), "Telegram")
            context["masked"] = load_state(state).masked_phone  # type: ignore[union-attr]
        response = self.page_response(request, f"{kind}.html", **context)
        self.set_flow_cookie(response, flow_id)
        if "token" in context:  # finished: this browser is now signed in as the new tenant
            sign_in(response, self.service.store, flow["tenant_id"], flow["token"], secure=self.secure)
        return response

    async def post(self, request: Request) -> Response:
        action = request.path_params["action"]
        found = self.current_flow(request)
        form = await request.form()
        if found is None or not csrf_ok(found[1], form.get("csrf")):
            return self.error(request, 403)
        flow_id, flow = found
        if action == "config":
            return self._config(request, flow, form)
        if action == "rekey":  # recovery by login: the person chose which tenant to re-key
            if not recovery.rekey(self.service, flow, str(form.get("tenant") or "")[:64]):
                return self.error(request, 400)
            self.service.store.save_flow(flow_id, flow)
            return RedirectResponse("/setup", status_code=303)
        fields = {name: str(form.get(name) or "")[:256] for name in ("phone", "code", "password", "invite")}
        events: dict[str, Any] = {
            "phone": SubmitPhone(fields["phone"]),
            "code": SubmitCode(fields["code"]),
            "password": SubmitPassword(fields["password"]),
            "restart": Restart(),
            "qr": StartQr(),
            "qrpoll": StartQr(),  # export again: answers success once the phone accepted
        }
        if action not in events:
            return self.error(request, 404)
        ip = self.client_ip(request)
        has_tenant = bool(flow.get("tenant_id"))  # the token may be forgotten already (done)
        try:
            if flow["state"].get("kind") == "choose":
                if action == "restart":
                    await recovery.abandon(self.service, flow)
            elif action == "restart" and not has_tenant:
                flow["state"] = {"kind": "phone", "problem": None}
            elif action == "phone" and not has_tenant and normalize_phone(fields["phone"]) is None:
                flow["state"] = {"kind": "phone", "problem": [PHONE_INVALID.code, PHONE_INVALID.message]}
            elif has_tenant and not flow.get("token"):
                pass  # finished, token forgotten: nothing more to do in this flow
            elif action in ("phone", "qr") and (problem := self.service.admit(flow, fields["invite"], ip=ip)):
                flow["state"] = {"kind": "phone", "problem": [problem.code, problem.message]}
            elif flow.get("token") and flow["state"].get("kind") != "done":
                await self.service.step(flow, events[action], ip=ip)
        except RateLimited as exc:
            self.service.store.save_flow(flow_id, flow)
            return self.error(request, 429, {"Retry-After": str(int(exc.retry_after) + 1)})
        self.service.store.save_flow(flow_id, flow)
        return RedirectResponse("/setup", status_code=303)

    def _config(self, request: Request, flow: dict[str, Any], form: Any) -> Response:
        client = str(form.get("client") or "")
        variant: Variant = "url" if form.get("variant") == "url" else "header"
        if flow["state"].get("kind") != "done" or client not in CLIENTS:
            return self.error(request, 400)
        nonce, offered = str(form.get("download") or ""), str(flow.get("download") or "")
        live = self.service.store.clock() < float(flow.get("download_until") or 0)
        same = hmac.compare_digest(nonce.encode(), offered.encode())
        if not (flow.get("token") and offered and live and same):
            return self.error(request, 410)
        text = render(client, variant, self._base(request), flow["token"])
        filename = CLIENTS[client][1]
        return Response(
            text,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
