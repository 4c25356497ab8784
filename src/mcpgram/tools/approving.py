"""Asking a person to approve one exact action, through whatever the calling client supports.

``ToolContext.run`` calls :meth:`Approver.obtain` when the policy guard returned rules that ask for
approval (``policy/guard.py``). The channel follows the client:

- a 2026-07-28 client that declares URL-mode elicitation, over HTTP with bearer tokens: the call
  returns an input-required result with a URL-mode elicitation to the approval page
  (``web/approve.py``, for a browser signed in as the tenant: its token opens it) and a
  request state naming the approval; the client's retry goes ahead only once the page was used to
  approve that very approval (form mode, a yes/no field, when it declares only that);
- a client of an earlier revision that declares elicitation: a yes/no form, within the call (over
  stdio; over HTTP mcpgram answers each call as one JSON body, with no stream to ask on, so these
  clients are asked in Saved Messages);
- any other client (and stdio clients without elicitation): a request with a short code in the
  account's own Saved Messages; the call answers ``APPROVAL_PENDING`` until the person replies
  ``yes CODE`` or ``no CODE`` in Telegram, and the identical call, retried, goes ahead.

An approval is bound to the action (``approvals/core.py``): a changed text or another chat is
another action and is asked again. It is used once (:meth:`Grant.consume`, just before the call
acts) and expires. Refused, expired and pending calls send nothing. Every decision (asked,
approved, refused, expired) goes to the audit journal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mcp_types
from fastmcp.server.dependencies import get_context, get_http_request

from .. import telegram
from ..approvals import page
from ..approvals.core import Ask, Channel, binding_of, id_hash, is_approval_id, new_code, preview_of
from ..approvals.store import ApprovalRow, ApprovalStore
from ..audit.journal import AuditJournal
from ..errors import ApprovalExpired, ApprovalPending, ApprovalRefused
from ..policy.guard import Action
from .audit import CURRENT_TOOL

if TYPE_CHECKING:
    from fastmcp import Context

    from ..telegram.pool import TenantClient

log = logging.getLogger(__name__)

#: The key of the one input request an approval makes.
INPUT_KEY = "approval"
_STATE_PREFIX = "approval:"
_SAVED_HINT = (
    "the person answers in their Telegram Saved Messages; call this tool again with exactly the same"
    " arguments after they answered (or retry every 30 s or so): it goes ahead once they said yes"
)


class InputRequested(ApprovalPending):
    """The call's answer is an input-required result (2026-07-28): ``ToolContext`` returns it."""

    def __init__(self, result: mcp_types.InputRequiredResult) -> None:
        super().__init__("waiting for a person's approval (input required)")
        self.result = result


@dataclass(frozen=True)
class Grant:
    """A person's approval of one action, used once by :meth:`consume` just before the call acts."""

    approver: Approver
    key: bytes
    ask: Ask
    content: tuple[str | bytes | Path, ...]

    def consume(self) -> None:
        if not self.approver.store.consume(self.key):
            raise ApprovalRefused(
                "that approval was used already or has expired; nothing was sent",
                hint="call again to ask the person again",
            )


class Approver:
    """Asks for approvals and checks them (see the module doc).

    Args:
        store: Where approvals live (the vault's SQLite file).
        page_secret: Keys the page's CSRF tokens and tenant tags (derived from the server secret).
        offers_page: Whether the approval page may be offered: it needs a browser signed in with the
            tenant's token, so not in stdio or ``--no-auth`` (the owner has no token).
        ttl: Seconds an approval stays answerable and usable.
        wait: Seconds a retried call waits for the page's answer before asking the client again.
        public_url: The page's origin; None: the origin the calling request came to (HTTP only).
        journal: The audit journal (None: off).
    """

    def __init__(  # one argument per setting
        self,
        store: ApprovalStore,
        *,
        page_secret: bytes,
        offers_page: bool = False,
        ttl: float,
        wait: float,
        public_url: str | None = None,
        journal: AuditJournal | None = None,
    ) -> None:
        self.store = store
        self.page_secret = page_secret
        self.offers_page = offers_page
        self.ttl = ttl
        self.wait = wait
        self.public_url = public_url.rstrip("/") if public_url else None
        self.journal = journal

    async def obtain(
        self, tenant_client: TenantClient, tenant: str, action: Action, reasons: tuple[str, ...]
    ) -> Grant:
        """A grant for ``action``, or ApprovalPending / Refused / Expired (or InputRequested)."""
        ask = await self._ask(tenant_client, tenant, action, reasons)
        context = _context()
        modern, form, url = _capabilities(context)
        base = self._page_base() if url else None
        if context is not None and modern and (form or base):
            return await self._input_required(context, ask, action, base)
        if context is not None and not modern and form:
            return await self._elicit(context, ask, action)
        return await self._saved(tenant_client, ask, action)

    # -- the action -----------------------------------------------------------------------------

    async def _ask(
        self, tenant_client: TenantClient, tenant: str, action: Action, reasons: tuple[str, ...]
    ) -> Ask:
        chat_id: int | None = None
        title = "a phone number that is not a contact"
        if refs := action.write or action.read:
            ref = refs[0]
            chat_id, title = await tenant_client.run(lambda c: telegram.approvals.describe_chat(c, ref))
        tool = CURRENT_TOOL.get() or "+".join(action.verbs)
        if action.content_ready is not None:  # a file still arriving: bind its whole bytes
            await action.content_ready()
        binding = await asyncio.to_thread(
            binding_of,
            tenant=tenant,
            tool=tool,
            verbs=action.verbs,
            chat_id=chat_id,
            details=action.details,
            content=action.content,
        )
        # A raw call's params are bytes (for the journal): its details show them as text instead.
        preview = preview_of(() if action.raw_method else action.content, action.details)
        return Ask(tenant, tool, action.verbs, reasons, chat_id, title, preview, binding)

    def _record(self, ask: Ask, action: Action, outcome: str) -> None:
        log.info("approval.decision", extra={"tenant": ask.tenant, "tool": ask.tool, "outcome": outcome})
        if self.journal is not None:
            digest = self.journal.digest(action.content)  # as the write's own entry digests it
            self.journal.append(
                tenant=ask.tenant,
                kind="approval",
                tool=ask.tool,
                chat=ask.chat_id,
                outcome=outcome,
                content=digest,
            )

    def _grant(self, row: ApprovalRow, ask: Ask, action: Action) -> Grant:
        return Grant(self, row.id_hash, ask, action.content)

    def _create(self, ask: Ask, action: Action, channel: Channel, **extra: Any) -> tuple[str, ApprovalRow]:
        approval_id, row = self.store.create(ask.tenant, ask.binding, channel, self.ttl, **extra)
        self._record(ask, action, "asked")
        return approval_id, row

    def _settled(self, row: ApprovalRow, ask: Ask, action: Action) -> Grant | None:
        """A grant for an approved row; the error for a refused, expired or used one; None if pending."""
        if row.status == "approved":
            return self._grant(row, ask, action)
        if row.status == "pending":
            return None
        self.store.close_row(row.id_hash, "expired" if row.status == "expired" else None)
        if row.status == "expired":
            self._record(ask, action, "expired")
            raise ApprovalExpired(
                "nobody answered the approval in time; nothing was sent",
                hint="call again to ask the person again",
            )
        if row.status == "used":
            raise ApprovalRefused(
                "that approval was used already (each approval covers one call); nothing was sent",
                hint="call again to ask the person again",
            )
        raise ApprovalRefused(
            "the person refused this action; nothing was sent",
            hint="do not retry it unless the person asks you to",
        )

    def _decide(self, row: ApprovalRow, ask: Ask, action: Action, approve: bool) -> Grant:
        if self.store.decide(row.id_hash, approve):
            self._record(ask, action, "approved" if approve else "refused")
        settled = self.store.get(row.id_hash)
        grant = None if settled is None else self._settled(settled, ask, action)
        if grant is None:
            raise ApprovalExpired("the approval is no longer open; nothing was sent", hint="call again")
        return grant

    # -- 2026-07-28: input required --------------------------------------------------------------

    def _page_base(self) -> str | None:
        if not self.offers_page:
            return None
        if self.public_url is not None:
            return self.public_url
        try:
            request = get_http_request()
        except RuntimeError:
            return None  # stdio: no page
        return str(request.base_url).rstrip("/")

    async def _input_required(self, context: Context, ask: Ask, action: Action, base: str | None) -> Grant:
        row, approval_id = self._from_state(context.request_state, ask)
        if row is not None:
            granted = self._settled(row, ask, action)
            if granted is not None:
                return granted
            answer = (context.input_responses or {}).get(INPUT_KEY)
            if isinstance(answer, mcp_types.ElicitResult) and answer.action != "accept":
                return self._decide(row, ask, action, approve=False)
            if isinstance(answer, mcp_types.ElicitResult) and row.channel == "elicit":
                return self._decide(row, ask, action, approve=(answer.content or {}).get("approve") is True)
            if answer is not None and row.channel == "page":
                row = await self._await_page(row)
                granted = self._settled(row, ask, action)
                if granted is not None:
                    return granted
        else:
            channel: Channel = "page" if base else "elicit"
            shown = page.shown(ask, expires=time.time() + self.ttl) if base else None
            if shown is not None and self.journal is not None:  # the page journals its decision
                shown["content"] = self.journal.digest(action.content)
            approval_id, row = self._create(ask, action, channel, shown=shown)
        request: mcp_types.ElicitRequestParams
        if row.channel == "page" and base:
            url = f"{base}{page.path(approval_id, ask.tenant, self.page_secret)}"
            request = mcp_types.ElicitRequestURLParams(message=page.message(ask), url=url)
        else:
            request = mcp_types.ElicitRequestFormParams(message=page.message(ask), requested_schema=_YES_NO)
        raise InputRequested(
            mcp_types.InputRequiredResult(
                input_requests={INPUT_KEY: mcp_types.ElicitRequest(params=request)},
                request_state=_STATE_PREFIX + approval_id,
            )
        )

    def _from_state(self, state: str | None, ask: Ask) -> tuple[ApprovalRow | None, str]:
        """The approval a retry's request state names, if it is this tenant's and this action's."""
        approval_id = (state or "").removeprefix(_STATE_PREFIX)
        if not state or not state.startswith(_STATE_PREFIX) or not is_approval_id(approval_id):
            return None, ""
        row = self.store.get(id_hash(approval_id))
        if row is None or row.tenant != ask.tenant or not hmac.compare_digest(row.binding, ask.binding):
            return None, ""  # another action (a changed payload): ask again
        return row, approval_id

    async def _await_page(self, row: ApprovalRow) -> ApprovalRow:
        deadline = time.monotonic() + self.wait
        while True:
            current = self.store.get(row.id_hash) or row
            if current.status != "pending" or time.monotonic() >= deadline:
                return current
            await asyncio.sleep(0.2)

    # -- earlier revisions: elicitation within the call ------------------------------------------

    async def _elicit(self, context: Context, ask: Ask, action: Action) -> Grant:
        _, row = self._create(ask, action, "elicit")
        try:
            async with asyncio.timeout(max(1.0, row.expires - time.time())):
                result = await context.elicit(page.message(ask), response_type=bool)
        except TimeoutError:
            self.store.close_row(row.id_hash, "expired")
            self._record(ask, action, "expired")
            raise ApprovalExpired(
                "nobody answered the approval in time; nothing was sent", hint="call again"
            ) from None
        approve = getattr(result, "action", "") == "accept" and getattr(result, "data", None) is True
        return self._decide(row, ask, action, approve)

    # -- no elicitation: Saved Messages ----------------------------------------------------------

    async def _saved(self, tenant_client: TenantClient, ask: Ask, action: Action) -> Grant:
        row = self.store.find_open(ask.tenant, ask.binding, "saved")
        if row is not None and row.code is not None and row.anchor is not None:
            granted = self._settled(row, ask, action)
            if granted is not None:
                return granted
            code, after = row.code, row.anchor
            answer = await tenant_client.run(lambda c: telegram.approvals.answer_in_saved(c, code, after))
            if answer is not None:
                return self._decide(row, ask, action, approve=answer)
            raise ApprovalPending(
                f"still waiting for the person to answer approval {row.code} in Telegram; nothing was sent",
                hint=_SAVED_HINT,
            )
        code = new_code()
        _, row = self._create(ask, action, "saved", code=code)
        text = page.saved_request(ask, code, self.ttl)
        anchor = await tenant_client.run(lambda c: telegram.approvals.ask_in_saved(c, text))
        self.store.set_anchor(row.id_hash, anchor)
        raise ApprovalPending(
            f"this needs the person's approval ({', '.join(ask.reasons)}); they were asked in their"
            f" Telegram Saved Messages (approval {code}); nothing was sent yet",
            hint=_SAVED_HINT,
        )


#: The form-mode elicitation's schema: one yes/no field.
_YES_NO: dict[str, Any] = {
    "type": "object",
    "properties": {"approve": {"type": "boolean", "title": "Approve", "description": "Yes: do it"}},
    "required": ["approve"],
}


def _context() -> Context | None:
    try:
        return get_context()
    except RuntimeError:
        return None


def _capabilities(context: Context | None) -> tuple[bool, bool, bool]:
    """(a 2026-07-28 request, form-mode elicitation declared, URL-mode elicitation declared)."""
    if context is None:
        return False, False, False
    try:
        session = context.session
        capabilities = session.client_capabilities
    except RuntimeError:
        return False, False, False
    modern = session.protocol_version in mcp_types.version.MODERN_PROTOCOL_VERSIONS
    elicitation = None if capabilities is None else capabilities.elicitation
    if elicitation is None:
        return modern, False, False
    url = elicitation.url is not None
    form = elicitation.form is not None or not url  # declared with neither: form (the spec's default)
    if not modern and not session.can_send_request:
        # A handshake-era call over HTTP is answered as one JSON body (``web/app.py``): no stream to
        # send the client an elicitation request on. Saved Messages, then.
        return modern, False, False
    return modern, form, url


def page_secret(server_secret: bytes) -> bytes:
    return hmac.new(server_secret, b"mcpgram/approval-page/v1", hashlib.sha256).digest()
