"""Where /setup may send a person back after signing in: ``next``, checked against open redirects.

An OAuth authorization without a sign-in cookie redirects to ``/setup?next=<consent page>``. The
flow keeps ``next`` only if it is a same-origin relative path whose path is exactly ``/authorize``
or the consent page (``web/oauth.py``'s ``CONSENT_PATH``), with at most a query: no scheme, no
host, no ``//``, no backslash, no control characters or spaces, no percent-encoding in the path.
Anything else is dropped (the sign-in still works; it just does not continue anywhere).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..oauth import CONSENT_PATH

ALLOWED_PATHS = frozenset({"/authorize", CONSENT_PATH})
MAX_LENGTH = 2048


def safe_next(value: object) -> str | None:
    """``value`` if it is a safe place to continue to, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F or ord(ch) > 0x7E for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or parts.path not in ALLOWED_PATHS:
        return None
    return value
