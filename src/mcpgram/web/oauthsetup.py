"""Wires OAuth 2.1 into a FastMCP server: the provider, its client-document fetcher, the consent route.

Called by the composition root (``app.py``) when ``settings.oauth`` is on. The client ID metadata
documents are fetched with mcpgram's SSRF-safe :class:`~mcpgram.fetch.Fetcher` (https only, public
addresses only, 64 KiB, short timeouts, no more than 2 redirects); tests pass a fetcher that admits
their own local host. The consent page's sign-in (:data:`~mcpgram.web.consent.SignIn`) is read from
:attr:`OAuthWiring.signin` on every request, so the web sign-in (or a test) can set it later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastmcp import FastMCP
from starlette.requests import Request
from starlette.routing import Route

from ..errors import MCPGramError
from ..fetch.fetcher import Fetcher, FetchLimits
from ..policy.model import Policy
from ..vault.oauthstore import OAuthStore
from ..vault.vault import TenantKeys, Vault
from .consent import SignIn, consent_route, no_session
from .oauth import MCPGramOAuthProvider
from .setup.signedin import signed_in_tenant
from .setup.store import SetupStore
from .urlauth import MCP_PATH
from .verifier import MCPGramTokenVerifier

__all__ = ["DOCUMENT_LIMITS", "OAuthWiring", "build_oauth"]

DOCUMENT_LIMITS = FetchLimits(
    max_bytes=64 * 1024, connect_timeout=5.0, read_timeout=5.0, total_timeout=10.0, max_redirects=2
)


@dataclass
class OAuthWiring:
    provider: MCPGramOAuthProvider
    store: OAuthStore
    signin: SignIn = field(default=no_session)
    route: Route | None = None

    def close(self) -> None:
        self.store.close()

    def use_setup_sessions(self, store: SetupStore, vault: Vault, *, secure: bool) -> None:
        """Consent signs people in with the /setup session cookie (``web/setup/signedin.py``), unless
        another sign-in was set already (tests set their own). The session keeps the token the
        person signed in with, which unwraps the tenant's keys for the grant."""
        if self.signin is not no_session:
            return

        async def from_setup(request: Request) -> TenantKeys | None:
            signed = signed_in_tenant(request, store, vault, secure=secure)
            if signed is None:
                return None
            try:
                return vault.unlock_with_token(signed.token)
            except MCPGramError:  # rotated or revoked since: signed out
                return None

        self.signin = from_setup

    def client_name_for(self, next_path: str) -> str | None:
        """The registered name of the client a /setup ``next`` (consent or authorize path) continues
        to, for the token page's "Continue" button; None when unknown. Client-supplied text: the
        page escapes it, as the consent page does."""
        query = parse_qs(urlsplit(next_path).query)
        client_id = (query.get("client_id") or [""])[0]
        if request_id := (query.get("request") or [""])[0]:
            pending = self.store.get_request(request_id, self.provider.now())
            client_id = pending[0] if pending is not None else ""
        found = self.store.get_client(client_id) if client_id else None
        name = found[0].get("client_name") if found is not None else None
        return name if isinstance(name, str) and name.strip() else None

    def add_consent(self, mcp: FastMCP[Any]) -> None:
        """Serve the consent page beside the MCP endpoint (outside bearer authentication)."""
        assert self.route is not None
        mcp.custom_route(self.route.path, methods=["GET", "POST"])(self.route.endpoint)


def build_oauth(
    *,
    vault: Vault,
    db_path: Path,
    server_secret: bytes,
    public_url: str,
    bearer: MCPGramTokenVerifier,
    policy_of: Callable[[str], Policy],
    dynamic_registration: bool,
    access_seconds: int,
    refresh_seconds: int,
    fetcher: Fetcher | None = None,
) -> OAuthWiring:
    """The provider (pass it as FastMCP's ``auth``) and its consent page (:meth:`OAuthWiring.add_consent`)."""
    documents = fetcher or Fetcher(DOCUMENT_LIMITS)

    async def fetch_document(url: str) -> bytes:
        fetched = await documents.fetch(url)
        try:
            return fetched.path.read_bytes()
        finally:
            fetched.remove()

    store = OAuthStore(db_path)
    provider = MCPGramOAuthProvider(
        vault=vault,
        store=store,
        server_secret=server_secret,
        base_url=public_url,
        bearer=bearer,
        fetch_document=fetch_document,
        dynamic_registration=dynamic_registration,
        access_seconds=access_seconds,
        refresh_seconds=refresh_seconds,
    )
    provider.set_mcp_path(MCP_PATH)
    wiring = OAuthWiring(provider, store)
    wiring.route = consent_route(
        provider, signin=lambda: wiring.signin, policy_of=policy_of, server_secret=server_secret
    )
    return wiring
