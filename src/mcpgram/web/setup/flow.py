"""The logic behind /setup: one browser flow drives the login state machine (``telegram/login.py``).

A flow is created on the first visit (it holds the CSRF token). The phone step creates the tenant
the way ``mcpgram token create`` does (``Vault.create_tenant``) and keeps its token sealed in the
flow row (``store.py``); every later step unlocks the tenant's keys with it, opens the tenant's own
sealed Telegram session (``telegram.account.open_login``), resumes the machine from the saved state
and sends the next input. The Telegram session therefore lives in the vault under the new token's
keys from the first step on, and any worker can serve any step. On ``LoggedIn`` the tenant is
``active`` and the token is shown once.

Rate limits (``store.hit``): code and password attempts per phone and per IP, code requests per IP.

Must not: log the phone number, the code, the password or the token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ...errors import MCPGramError
from ...policy.book import PolicyBook
from ...settings import TelegramConfig
from ...telegram.account import open_login
from ...telegram.login import (
    AccountSummary,
    CodeSent,
    LoggedIn,
    LoginInput,
    LoginProblem,
    LoginState,
    NeedPassword,
    NeedPhone,
    QrPending,
    normalize_phone,
)
from ...vault.store import TenantRecord
from ...vault.vault import Vault
from . import recovery
from .store import SetupStore
from .sweep import SIGNUP_LABEL, SWEEP_EVERY, sweep_abandoned

log = logging.getLogger(__name__)

Signup = Literal["open", "invite", "closed"]
WINDOW = 15 * 60.0
#: (limit per window) for each kind of attempt.
LIMITS = {
    "code-phone": 5,
    "code-ip": 20,
    "password-phone": 5,
    "password-ip": 20,
    "send-ip": 10,
    "signin-ip": 20,
    "create-ip": 10,
    "qr-ip": 400,
    "recover-ip": 10,
}
SIGNUP_CLOSED = LoginProblem("SIGNUP_CLOSED", "Sign-up is closed on this server; ask its operator.")
INVITE_INVALID = LoginProblem("INVITE_INVALID", "That invitation code is not valid (or was already used).")
QR_MARGIN = 8.0
WRONG_ACCOUNT = LoginProblem(
    "WRONG_ACCOUNT", "That is a different Telegram account; log in with the account this access belongs to."
)
UNAVAILABLE = LoginProblem(
    "TELEGRAM_UNAVAILABLE", "Telegram could not be reached or refused; try again later."
)


class RateLimited(Exception):
    """Too many attempts; ``retry_after`` seconds until the next is allowed."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(flow: dict[str, Any], submitted: object) -> bool:
    """Constant-time comparison of the form's CSRF token with the flow's."""
    expected = flow.get("csrf")
    if not isinstance(submitted, str) or not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(submitted.encode(), expected.encode())


# -- the login state in JSON ----------------------------------------------------------------------


def _problem(data: Any) -> LoginProblem | None:
    return LoginProblem(str(data[0]), str(data[1])) if data else None


def dump_state(state: LoginState) -> dict[str, Any]:
    problem = getattr(state, "problem", None)
    out: dict[str, Any] = {"problem": [problem.code, problem.message] if problem else None}
    if isinstance(state, CodeSent):
        out.update(
            kind="code",
            phone=state.phone,
            hash=state.phone_code_hash,
            code_type=state.code_type,
            length=state.code_length,
            attempts=state.attempts,
        )
    elif isinstance(state, NeedPassword):
        out.update(kind="password", hint=state.hint)
    elif isinstance(state, QrPending):
        out.update(kind="qr", url=state.url, expires=state.expires)
    elif isinstance(state, LoggedIn):
        a = state.account
        out.update(kind="done", account=[a.user_id, a.name, a.username, a.phone])
    else:
        out.update(kind="phone")
    return out


def load_state(data: dict[str, Any]) -> LoginState:
    kind, problem = data.get("kind"), _problem(data.get("problem"))
    if kind == "code":
        return CodeSent(
            data["phone"], data["hash"], data["code_type"], data["length"], data["attempts"], problem
        )
    if kind == "password":
        return NeedPassword(data["hint"], problem)
    if kind == "qr":
        return QrPending(data["url"], data["expires"], problem)
    if kind == "done":
        return LoggedIn(AccountSummary(*data["account"]))
    return NeedPhone(problem)


@dataclass
class SetupService:
    """What the /setup routes call; holds the vault, the Telegram config and the setup store."""

    vault: Vault
    telegram: TelegramConfig
    store: SetupStore
    signup: Signup = "invite"
    qr_wait: float = 1.0
    #: The tenants' policies (the manage page shows and tightens them); None: not shown.
    policies: PolicyBook | None = None
    #: The gateway's audit journal directory (the manage page lists entries); None: no journal.
    audit_dir: Path | None = None
    #: The OAuth client's name for a ``next`` path (the token page's "Continue"); None: no OAuth.
    client_name_of: Callable[[str], str | None] | None = None
    _swept: float = field(default=float("-inf"), init=False, repr=False)

    def show_tenants(self, default_policy: str, journal: bool, data_dir: Path) -> None:
        """Let the manage page show and tighten policies, and list the journal (``data_dir/audit``)."""
        self.policies = PolicyBook(self.vault, default_policy)
        self.audit_dir = data_dir / "audit" if journal else None

    def maybe_sweep(self) -> None:
        """Delete abandoned sign-up and recovery tenants (``sweep.py``), at most every few minutes."""
        now = self.store.clock()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        sweep_abandoned(self.vault, self.store, now=now)

    def new_flow(self) -> tuple[str, dict[str, Any]]:
        flow = {"csrf": new_csrf(), "state": dump_state(NeedPhone())}
        return self.store.create_flow(flow), flow

    def relogin_flow(self, tenant_id: str, token: str) -> tuple[str, dict[str, Any]] | None:
        """A flow that logs an existing tenant in again, as the account it had; None if unknown."""
        expected = self.store.account_of(tenant_id)
        if expected is None:
            return None
        flow = {
            "csrf": new_csrf(),
            "state": dump_state(NeedPhone()),
            "token": token,
            "tenant_id": tenant_id,
            "shown": True,  # the token is not shown again: the person already has it
            "expect_user": expected,
            "fresh": True,
        }
        return self.store.create_flow(flow), flow

    def limit(self, *keys: str) -> None:
        """Count one attempt under each ``kind|subject`` key; raise :class:`RateLimited` if any is over."""
        for key in keys:
            wait = self.store.hit(key, limit=LIMITS[key.split("|", 1)[0]], window=WINDOW)
            if wait:
                raise RateLimited(wait)

    def admit(self, flow: dict[str, Any], invite: str, *, ip: str) -> LoginProblem | None:
        """Whether this flow may create a tenant (spends the invite); None when it may.

        Raises:
            RateLimited: this address created too many tenants lately.
        """
        if flow.get("recover"):  # recovery by login: a temporary tenant, whatever the sign-up mode
            recovery.admit(self, flow, ip=ip)
            return None
        if flow.get("token"):
            return None
        if self.signup == "closed":
            return SIGNUP_CLOSED
        self.limit(f"create-ip|{ip}")
        if self.signup == "invite" and not self.store.use_invite(invite):
            return INVITE_INVALID
        record, token = self.vault.create_tenant(SIGNUP_LABEL)
        flow.update(token=token, tenant_id=record.tenant_id, shown=False)
        log.info("setup.tenant_created", extra={"tenant": record.tenant_id})
        return None

    async def step(self, flow: dict[str, Any], event: LoginInput, *, ip: str) -> LoginState:
        """Apply ``event`` to the flow's login (rate-limited), store the new state in ``flow``."""
        state = load_state(flow["state"])
        kind = type(event).__name__
        if kind == "SubmitPhone":
            self.limit(f"send-ip|{ip}")
            phone = normalize_phone(getattr(event, "phone", ""))
            flow["phone"] = phone or ""
        elif kind == "SubmitCode" and isinstance(state, CodeSent):
            self.limit(f"code-phone|{state.phone}", f"code-ip|{ip}")
        elif kind == "SubmitPassword" and isinstance(state, NeedPassword):
            # A QR login has no phone number: its tenant stands for the account then.
            account = flow.get("phone") or flow["tenant_id"]
            self.limit(f"password-phone|{account}", f"password-ip|{ip}")
        elif kind == "StartQr":
            self.limit(f"qr-ip|{ip}")
        keys = self.vault.unlock_with_token(flow["token"])
        expected = flow.get("expect_user")
        wrong = False
        found: list[TenantRecord] = []
        try:
            fresh = bool(flow.pop("fresh", False))
            async with open_login(
                self.telegram, self.vault, keys, qr_wait=self.qr_wait, fresh=fresh
            ) as login:
                login.driver.resume(state)
                state = await login.driver.send(event)
                if isinstance(state, LoggedIn) and expected is not None and state.account.user_id != expected:
                    wrong = True
                    await login.log_out()  # a re-login must be the same account: undo this one
                if isinstance(state, LoggedIn) and flow.get("recover"):
                    found = recovery.recoverable(self, state.account.user_id)
                    if not found:  # nothing to recover: this login must not outlive the page
                        await login.log_out()
        except MCPGramError as exc:
            log.info("setup.step_failed", extra={"error": type(exc).__name__})
            state = _problem_state(state, UNAVAILABLE)
        if wrong:
            self.vault.set_status(keys.tenant_id, "login_required")
            flow["fresh"] = True
            log.info("setup.relogin_refused", extra={"tenant": keys.tenant_id, "reason": "other account"})
            state = NeedPhone(WRONG_ACCOUNT)
        elif isinstance(state, LoggedIn) and flow.get("recover"):
            flow["state"] = recovery.after_login(self, flow, state.account, found)
            return state
        elif isinstance(state, LoggedIn):
            self.store.remember_account(keys.tenant_id, state.account.user_id)
        flow["state"] = dump_state(state)
        if isinstance(state, QrPending):
            # Every poll exports again (that is how an acceptance between two polls is learnt), but
            # the page keeps showing one code until it is about to expire, so a phone can scan it.
            shown = flow.get("qr")
            if not shown or shown[1] - QR_MARGIN <= self.store.clock():
                flow["qr"] = [state.url, state.expires]
        else:
            flow.pop("qr", None)
        return state


async def log_out_everywhere(service: SetupService, token: str) -> bool:
    """Log the tenant's Telegram session out, then revoke it (the vault shreds its keys and session).

    Returns whether Telegram confirmed the log-out (False: it was not logged in, or unreachable).
    """
    keys = service.vault.unlock_with_token(token)
    logged_out = False
    try:
        async with open_login(service.telegram, service.vault, keys) as login:
            logged_out = await login.log_out()
    except MCPGramError as exc:
        log.info("setup.logout_failed", extra={"error": type(exc).__name__})
    service.vault.revoke(keys.tenant_id)
    service.store.end_sessions(tenant_id=keys.tenant_id)
    log.info("setup.logged_out_everywhere", extra={"tenant": keys.tenant_id})
    return logged_out


def _problem_state(state: LoginState, problem: LoginProblem) -> LoginState:
    if isinstance(state, LoggedIn):
        return state
    return replace(state, problem=problem)
