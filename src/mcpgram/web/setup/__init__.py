"""Hosted sign-in at /setup: people log in with their own Telegram account in the browser.

``store.py`` keeps flows, rate-limit counters and invites in the data dir's ``signin.db``;
``flow.py`` drives the login state machine; ``routes.py`` is the thin Starlette layer;
``clients.py`` renders client configs. :func:`setup_routes` is what the HTTP app mounts.
"""

from __future__ import annotations

from .flow import SetupService
from .routes import SetupPages
from .store import SetupStore

__all__ = ["SetupPages", "SetupService", "SetupStore"]
