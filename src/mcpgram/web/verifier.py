"""FastMCP's token verifier for mcpgram: bearer token -> tenant, on every request, with no cache.

Order matters: the strict format check (:func:`mcpgram.auth.is_well_formed`) runs first, so a
malformed token (traversal paths, reserved-looking names, junk) is refused without touching
storage. A well-formed token is then looked up in the vault by its keyed digest.

Why no constant-time comparison appears here: the token itself is never compared. The vault
looks up ``HMAC-SHA256(server_secret, token)`` as an index key, so the lookup's timing depends
only on a digest an attacker cannot choose without the server secret; it reveals nothing about
which stored digests are near a guess.

Why no cache: a revoked or rotated-away token must fail on the very next request, and one
indexed SQLite read per request is cheap. This module must not open tenant secrets or log tokens.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import anyio.to_thread
from fastmcp.server.auth import AccessToken, TokenVerifier

from .. import auth
from ..errors import NotAuthenticated
from ..vault.store import TenantRecord
from ..vault.vault import Vault

_log = logging.getLogger(__name__)

#: Runs a blocking call off the event loop (default: ``anyio.to_thread.run_sync``).
BlockingRunner = Callable[[Callable[[], TenantRecord]], Awaitable[TenantRecord]]


class MCPGramTokenVerifier(TokenVerifier):
    """Authenticates mcpgram bearer tokens against the vault.

    The returned :class:`AccessToken` carries the tenant id as ``client_id`` (and as
    ``claims["tenant"]``) and the raw token as ``token``, which tools pass to
    ``Vault.unlock_with_token``. ``None`` makes FastMCP answer 401.

    Args:
        vault: Where tenants are looked up.
        runner: Runs the blocking vault call; tests pass their own to count or fail calls.
    """

    def __init__(self, vault: Vault, *, runner: BlockingRunner = anyio.to_thread.run_sync) -> None:
        super().__init__()
        self._vault = vault
        self._runner = runner

    async def verify_token(self, token: str) -> AccessToken | None:
        """Return the tenant's access token, or ``None`` for a malformed, unknown or revoked token."""
        if not auth.is_well_formed(token):
            _log.info("auth.rejected", extra={"reason": "malformed"})
            return None
        try:
            record = await self._runner(functools.partial(self._vault.authenticate, token))
        except NotAuthenticated:
            _log.info("auth.rejected", extra={"reason": "unknown"})
            return None
        if record.status == "revoked":  # revoke clears the digest; this guards a store that does not
            _log.info("auth.rejected", extra={"reason": "revoked"})
            return None
        return AccessToken(
            token=token, client_id=record.tenant_id, scopes=[], claims={"tenant": record.tenant_id}
        )
