"""What the manage page shows of a tenant and the one change it may make: recent audit entries and
tightening its own policy.

Audit entries come from the gateway's journal (``audit/reading.py``'s :func:`newest`, filtered by
the tenant, with a bounded scan); only time, tool, chat and outcome are shown, never content.
Tightening goes through :meth:`PolicyBook.tighten`, the path ``mcpgram policy tighten`` uses: a
stricter profile and/or one verb set to ``deny``; anything that would allow more is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...audit.reading import Filter, newest
from ...errors import PolicyRefused, TenantError
from ...policy.book import PolicyBook
from ...policy.model import PROFILES, VERBS, Policy

AUDIT_ROWS = 20
AUDIT_SCAN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class AuditRow:
    time: str
    tool: str
    chat: str
    outcome: str


def recent_audit(directory: Path | None, tenant_id: str, limit: int = AUDIT_ROWS) -> list[AuditRow]:
    """The tenant's newest journal entries, newest first (empty without a journal)."""
    if directory is None or not directory.is_dir():
        return []
    found = newest(directory, Filter(tenant=tenant_id), limit, max_scan_bytes=AUDIT_SCAN_BYTES)
    rows = [
        AuditRow(
            entry.time, entry.tool or entry.kind, "" if entry.chat is None else str(entry.chat), entry.outcome
        )
        for entry in found
        if entry.tenant == tenant_id
    ]
    return rows[::-1]


def policy_lines(policy: Policy) -> list[tuple[str, str]]:
    """``(verb, rule)`` for every verb, in the model's order."""
    return [(verb, policy.rule(verb)) for verb in VERBS]


class TightenInvalid(Exception):
    """The form named no change, or a profile or verb that does not exist."""


def tighten(book: PolicyBook, tenant_id: str, profile_name: str, deny_verb: str) -> str | None:
    """Apply the form's tightening; None when stored, else the one-line reason it was refused.

    Raises:
        TightenInvalid: nothing to change, or an unknown profile or verb.
    """
    if not profile_name and not deny_verb:
        raise TightenInvalid
    if (profile_name and profile_name not in PROFILES) or (deny_verb and deny_verb not in VERBS):
        raise TightenInvalid
    proposed = PROFILES[profile_name] if profile_name else book.get(tenant_id)
    if deny_verb:
        proposed = proposed.with_rules({deny_verb: "deny"})
    try:
        book.tighten(tenant_id, proposed)
    except PolicyRefused as exc:
        return exc.message
    except TenantError as exc:
        return exc.message
    return None
