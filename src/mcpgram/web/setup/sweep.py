"""Deleting the tenants /setup created for flows nobody finished.

The phone (or QR) step of a sign-up creates its tenant before Telegram has said yes, and a recovery
creates a temporary one (``recovery.py``). When the person walks away, the flow expires after its
absolute timeout (``store.py``) and its token, kept only in the sealed flow row, is gone with it,
so such a tenant can never be used. :func:`sweep_abandoned` deletes them, with all they hold:

- a sign-up tenant (label ``web sign-in``) still ``login_required`` with no Telegram account recorded
  (``signin.db``'s ``accounts`` gets one the moment a web login completes; a tenant whose login
  Telegram revoked later has one, and so is kept);
- a recovery's temporary tenant, whatever its status. One left at the choice of tenant is logged in
  to Telegram: its sealed session cannot be opened without the token, so that authorization stays
  listed under the person's Settings > Devices until they end it or Telegram expires it, and the
  vault's copy of its key is deleted.

Only tenants older than the flow's absolute timeout go, so a flow still running never loses its
tenant. ``SetupService`` runs the sweep at most once per :data:`SWEEP_EVERY` seconds, on page loads.
"""

from __future__ import annotations

import logging

from ...vault.vault import Vault
from .recovery import LABEL as RECOVERY_LABEL
from .store import SetupStore

log = logging.getLogger(__name__)

SIGNUP_LABEL = "web sign-in"
SWEEP_EVERY = 10 * 60.0
#: Beyond the flow's absolute timeout: tenant creation times are whole seconds.
MARGIN = 60.0


def abandoned(vault: Vault, store: SetupStore, *, now: float) -> list[str]:
    """The ids of the tenants :func:`sweep_abandoned` would delete at ``now``."""
    cutoff = now - store.absolute_seconds - MARGIN
    found = []
    for record in vault.list_tenants():
        if record.created >= cutoff or record.status == "revoked":
            continue
        if record.label == RECOVERY_LABEL or (
            record.label == SIGNUP_LABEL
            and record.status == "login_required"
            and store.account_of(record.tenant_id) is None
        ):
            found.append(record.tenant_id)
    return found


def sweep_abandoned(vault: Vault, store: SetupStore, *, now: float) -> int:
    """Delete the abandoned tenants (see the module docstring); how many."""
    gone = abandoned(vault, store, now=now)
    for tenant_id in gone:
        vault.discard(tenant_id)
        store.end_sessions(tenant_id=tenant_id)
    if gone:
        log.info("setup.abandoned_swept", extra={"count": len(gone)})
    return len(gone)
