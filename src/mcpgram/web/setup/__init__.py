"""Hosted sign-in at /setup: people log in with their own Telegram account in the browser.

``store.py`` keeps flows, signed-in sessions, rate-limit counters and invites in the data dir's
``signin.db``; ``flow.py`` drives the login state machine; ``routes.py`` and ``manage.py`` are the
thin Starlette layer; ``signedin.py`` maps a session cookie to its tenant; ``clients.py`` renders
client configs; ``recovery.py`` re-keys a tenant whose token was lost, by Telegram login;
``sweep.py`` deletes the tenants of abandoned flows. ``app.setup_routes`` builds them and
``web/app.build_http_app`` mounts them.
"""

from __future__ import annotations

from .flow import SetupService
from .routes import SetupPages
from .store import SetupStore

__all__ = ["SetupPages", "SetupService", "SetupStore"]
