"""Entering the manage page by Telegram login when the token is lost: recovery by re-keying.

The vault unwraps a tenant's keys only with its token, so a Telegram login cannot open an existing
tenant's sealed session or data key. Recovery therefore replaces them instead of opening them:

1. ``/setup/manage/recover`` starts a flow marked ``recover``. Its phone (or QR) step creates a
   *temporary* tenant (label ``web recovery (temporary)``, never shown a token, recorded for no
   account) and the ordinary login machinery of ``flow.py`` logs it in on a fresh auth key: same
   steps, CSRF, rate limits and 2FA as sign-up, plus a per-IP limit on starting recoveries.
2. On ``LoggedIn`` the Telegram user id is looked up in ``signin.db``'s ``accounts`` table. No live
   (non-revoked) tenant for it: the fresh session is logged out at once, the temporary tenant is
   deleted and the page says so; nothing is created. Otherwise the page lists the account's tenants
   (id, creation date, status) to choose from; the list is kept server-side in the sealed flow row.
3. Choosing one (``/setup/rekey``) checks it against that list and the ``accounts`` table again,
   then :meth:`Vault.rekey` gives it a new data key and token in one transaction: the temporary
   tenant's fresh session becomes its session, its old secrets and OAuth grants are deleted, the
   temporary tenant is deleted, ``key_version`` bumps (old signed links die). The policy, the audit
   journal and the tenant id stay. The new token is shown once on the sign-up token page and the
   browser is signed in to the manage page; the tenant's other browser sessions end.

A revoked tenant (logged out everywhere) has no keys left and is not recoverable. The old Telegram
authorization is not ended from here: Telegram refuses to let a session younger than a day end
other sessions (``FRESH_RESET_AUTHORISATION_FORBIDDEN``), so the page asks the person to end it
under Settings > Devices (its keys are shredded, so nothing can use it through mcpgram).

Must not: log the phone, code, password or token; list another account's tenants.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any

from ...errors import MCPGramError
from ...telegram.account import open_login
from ...telegram.login import AccountSummary, LoginProblem
from ...vault.store import SecretPurpose, TenantRecord

if TYPE_CHECKING:
    from .flow import SetupService

log = logging.getLogger(__name__)

LABEL = "web recovery (temporary)"
NO_TENANT = LoginProblem(
    "NO_TENANT",
    "No mcpgram access on this server belongs to that Telegram account (nothing was created, and "
    "mcpgram logged that login out again).",
)
_PURPOSES: tuple[SecretPurpose, ...] = ("session", "entities")


def start(service: SetupService) -> tuple[str, dict[str, Any]]:
    """A new flow that recovers access by Telegram login."""
    flow_id, flow = service.new_flow()
    flow["recover"] = True
    service.store.save_flow(flow_id, flow)
    return flow_id, flow


def admit(service: SetupService, flow: dict[str, Any], *, ip: str) -> None:
    """Create the flow's temporary tenant (once), whatever the sign-up mode.

    Raises:
        RateLimited: this address started too many recoveries lately.
    """
    if flow.get("token"):
        return
    service.limit(f"recover-ip|{ip}")
    record, token = service.vault.create_tenant(LABEL)
    flow.update(token=token, tenant_id=record.tenant_id, shown=True)
    log.info("setup.recovery_started", extra={"tenant": record.tenant_id})


def recoverable(service: SetupService, user_id: int) -> list[TenantRecord]:
    """The live tenants recorded for Telegram account ``user_id``, oldest first."""
    found = [service.vault.get_tenant(tenant_id) for tenant_id in service.store.tenants_of(user_id)]
    live = [r for r in found if r is not None and r.status != "revoked"]
    return sorted(live, key=lambda r: (r.created, r.tenant_id))


def after_login(
    service: SetupService, flow: dict[str, Any], account: AccountSummary, found: list[TenantRecord]
) -> dict[str, Any]:
    """The flow state after the temporary session logged in as ``account``, whose live tenants are
    ``found`` (``flow.py`` already logged the session out again when there are none)."""
    if not found:
        _forget_temporary(service, flow)
        log.info("setup.recovery_refused", extra={"reason": "no tenant"})
        return {"kind": "phone", "problem": [NO_TENANT.code, NO_TENANT.message]}
    flow.update(
        user=account.user_id,
        account=[account.user_id, account.name, account.username, account.phone],
        candidates=[r.tenant_id for r in found],
    )
    return {"kind": "choose", "problem": None}


def choices(service: SetupService, flow: dict[str, Any]) -> list[dict[str, str]]:
    """What the choice page lists: id, creation date and status, nothing secret."""
    rows = []
    for tenant_id in flow.get("candidates", []):
        record = service.vault.get_tenant(tenant_id)
        if record is not None and record.status != "revoked":
            created = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
            rows.append(
                {"id": tenant_id, "created": f"{created:%Y-%m-%d %H:%M} UTC", "status": record.status}
            )
    return rows


def rekey(service: SetupService, flow: dict[str, Any], tenant_id: str) -> bool:
    """Re-key the chosen tenant onto the flow's fresh session; False (nothing changed) if the flow
    is not at the choice or ``tenant_id`` is not one of this account's tenants."""
    user = flow.get("user")
    if not flow.get("recover") or flow["state"].get("kind") != "choose":
        return False
    if (
        tenant_id not in flow.get("candidates", [])
        or user is None
        or service.store.account_of(tenant_id) != user
    ):
        log.info("setup.recovery_refused", extra={"reason": "not a candidate"})
        return False
    vault = service.vault
    try:
        temporary = vault.unlock_with_token(flow["token"])
        secrets = {p: blob for p in _PURPOSES if (blob := vault.open(temporary, p)) is not None}
    except MCPGramError:  # the same choice sent twice: the first one used the temporary tenant up
        return False
    if "session" not in secrets:  # nothing was sealed: re-keying would leave the tenant without one
        return False
    try:
        _keys, token = vault.rekey(tenant_id, secrets, discard=temporary.tenant_id)
    except KeyError:  # revoked since the list was made
        return False
    service.store.end_sessions(tenant_id=tenant_id)
    flow.update(
        token=token,
        tenant_id=tenant_id,
        shown=False,
        recovered=True,
        state={"kind": "done", "problem": None, "account": flow.pop("account")},
    )
    flow.pop("candidates", None)
    log.info("setup.recovered", extra={"tenant": tenant_id})
    return True


async def abandon(service: SetupService, flow: dict[str, Any]) -> None:
    """Leave a recovery: log the temporary session out at Telegram if it got to the choice, and
    delete its tenant."""
    if flow.get("token") and flow["state"].get("kind") == "choose":
        try:
            keys = service.vault.unlock_with_token(flow["token"])
            async with open_login(service.telegram, service.vault, keys) as login:
                await login.log_out()
        except MCPGramError as exc:
            log.info("setup.logout_failed", extra={"error": type(exc).__name__})
    _forget_temporary(service, flow)
    for key in ("user", "account", "candidates"):
        flow.pop(key, None)
    flow["state"] = {"kind": "phone", "problem": None}


def _forget_temporary(service: SetupService, flow: dict[str, Any]) -> None:
    tenant_id = flow.pop("tenant_id", None)
    flow.pop("token", None)
    if tenant_id is not None:
        service.vault.discard(tenant_id)
