"""OAuth 2.1 for MCP clients: mcpgram as its own authorization server and resource server.

Built on FastMCP's :class:`~fastmcp.server.auth.OAuthProvider` (the MCP SDK's ``/authorize``,
``/token``, ``/revoke`` and metadata handlers, RFC 8414 and RFC 9728 documents); this class supplies
the storage and the policy:

- clients come from client ID metadata documents (an ``https`` client id, fetched with mcpgram's
  SSRF-safe :class:`~mcpgram.fetch.Fetcher`: loopback, private and link-local addresses are
  refused) or, only if the operator enables it, dynamic registration;
- authorization code + PKCE S256 only (the SDK refuses other methods and a missing challenge);
  redirect URIs must be sent and match a registered one exactly;
- the ``resource`` indicator (RFC 8707) must name this server, at ``/authorize`` and at ``/token``
  (``oauthtarget.py``), and every request re-checks the token's audience against it;
- access tokens live ``access_seconds`` (1 h) and belong to one tenant; refresh tokens rotate, and
  presenting a used one revokes its whole family (every token of that consent);
- each code and token row keeps the tenant's data key wrapped under its own secret
  (``vault/oauthstore.py``), so the vault at rest stays useless without a live token.

``mcpg_`` bearer tokens keep working: :meth:`verify_token` hands them to
:class:`~mcpgram.web.verifier.MCPGramTokenVerifier`. The consent step is ``web/consent.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastmcp.server.auth import AccessToken, OAuthProvider
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.provider import (
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
)
from mcp.server.auth.routes import build_metadata, cors_middleware
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.routing import Route

from .. import auth
from ..log import tenant_label
from ..vault import crypto
from ..vault.oauthstore import Grant, GrantKind, OAuthStore
from ..vault.vault import TenantKeys, Vault
from .oauthclients import ExactClient, client_document
from .oauthtarget import ResourceCheck
from .tokensource import OAUTH_ACCESS_PREFIX, oauth_route_tag
from .verifier import MCPGramTokenVerifier

__all__ = ["CONSENT_PATH", "ClientDocumentFetcher", "MCPGramOAuthProvider"]

_log = logging.getLogger(__name__)

CONSENT_PATH = "/oauth/consent"
#: Fetches a client ID metadata document: URL -> body (raises on any refusal or failure).
ClientDocumentFetcher = Callable[[str], Awaitable[bytes]]

_PREFIX: dict[GrantKind, str] = {"code": "mcpc_", "access": OAUTH_ACCESS_PREFIX, "refresh": "mcpr_"}
_CODE_SECONDS = 300
_REQUEST_SECONDS = 600
_CLIENT_CACHE_SECONDS = 3600
_AS_METADATA = "/.well-known/oauth-authorization-server"


def _secret(kind: GrantKind, route_tag: str = "") -> str:
    body = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return _PREFIX[kind] + (route_tag + "." if route_tag else "") + body


class MCPGramOAuthProvider(OAuthProvider):
    """Authorization server + resource server over the vault database.

    Args:
        vault: Tenants (status checks) and the server secret's owner.
        store: The OAuth tables.
        server_secret: Keys the digests, the routing tags and the CSRF tokens.
        base_url: The public origin (``public_url``); the resource is ``base_url + mcp_path``.
        bearer: The ``mcpg_`` verifier, consulted for tokens of that format.
        fetch_document: Fetches client metadata documents (SSRF-safe).
        dynamic_registration: Serve ``/register`` (RFC 7591); off by default.
        access_seconds, refresh_seconds: Token lifetimes.
    """

    def __init__(
        self,
        *,
        vault: Vault,
        store: OAuthStore,
        server_secret: bytes,
        base_url: str,
        bearer: MCPGramTokenVerifier,
        fetch_document: ClientDocumentFetcher,
        dynamic_registration: bool = False,
        access_seconds: int = 3600,
        refresh_seconds: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            base_url=base_url,
            client_registration_options=ClientRegistrationOptions(enabled=dynamic_registration),
            revocation_options=RevocationOptions(enabled=True),
        )
        self.vault = vault
        self.store = store
        self._secret = server_secret
        self._bearer = bearer
        self._fetch_document = fetch_document
        self._access_seconds = access_seconds
        self._refresh_seconds = refresh_seconds
        self._clock = clock

    def get_routes(self, mcp_path: str | None = None) -> list[Route]:
        """FastMCP's OAuth routes, with server metadata that advertises client ID metadata documents
        (``client_id_metadata_document_supported``) and public clients only (``none``)."""
        routes = super().get_routes(mcp_path)
        assert self.base_url is not None and self.issuer_url is not None
        metadata = build_metadata(
            self.base_url,
            self.service_documentation_url,
            self.client_registration_options or ClientRegistrationOptions(),
            self.revocation_options or RevocationOptions(),
        )
        metadata.issuer = self.issuer_url
        metadata.client_id_metadata_document_supported = True
        metadata.token_endpoint_auth_methods_supported = ["none"]
        handler = cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
        out: list[Route] = []
        for route in routes:
            if isinstance(route, Route) and route.path == _AS_METADATA:
                out.append(Route(route.path, handler, methods=["GET", "OPTIONS"]))
            elif isinstance(route, Route) and route.path == "/token":  # RFC 8707: refuse another resource
                checked = ResourceCheck(route.endpoint, self.resource)
                out.append(Route(route.path, checked, methods=["POST", "OPTIONS"]))
            else:
                out.append(route)
        return out

    def now(self) -> int:
        return int(self._clock())

    def digest(self, secret: str) -> bytes:
        return hmac.new(self._secret, b"oauth|" + secret.encode(), hashlib.sha256).digest()

    def resource(self) -> str:
        return str(self._resource_url) if self._resource_url is not None else ""

    def tenant_tag(self, tenant_id: str) -> str:
        return hmac.new(self._secret, b"route|" + tenant_id.encode(), hashlib.sha256).hexdigest()[:16]

    def _wrap(self, secret: str, keys: TenantKeys) -> bytes:
        wrapping = crypto.derive_wrapping_key(
            secret.encode(), server_secret=self._secret, tenant_id=keys.tenant_id
        )
        return crypto.wrap_data_key(wrapping, keys.data_key, tenant_id=keys.tenant_id)

    def _unwrap(self, secret: str, grant: Grant) -> TenantKeys:
        wrapping = crypto.derive_wrapping_key(
            secret.encode(), server_secret=self._secret, tenant_id=grant.tenant_id
        )
        key = crypto.unwrap_data_key(wrapping, grant.wrapped_key, tenant_id=grant.tenant_id)
        return TenantKeys(grant.tenant_id, key)

    # clients

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        stored = self.store.get_client(client_id)
        if stored is not None and (stored[1] == "dcr" or stored[2] + _CLIENT_CACHE_SECONDS > self.now()):
            return ExactClient.model_validate(stored[0])
        if not client_id.startswith("https://"):
            return None
        try:
            body = await self._fetch_document(client_id)
            metadata = client_document(client_id, body)
        except Exception as exc:  # any refusal (SSRF, size, JSON, shape) means: no such client
            _log.info("oauth.client_refused", extra={"reason": type(exc).__name__})
            return None
        self.store.put_client(client_id, metadata, source="cimd", now=self.now())
        return ExactClient.model_validate(metadata)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if client_info.client_id is None:
            raise ValueError("client_id is required")
        self.store.put_client(
            client_info.client_id, client_info.model_dump(mode="json"), source="dcr", now=self.now()
        )

    # authorization

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and params.resource.rstrip("/") != self.resource().rstrip("/"):
            raise AuthorizeError("invalid_request", "the resource indicator does not name this server")
        request_id = secrets.token_urlsafe(24)
        stored = params.model_dump(mode="json")
        stored["resource"] = self.resource()
        assert client.client_id is not None
        self.store.put_request(request_id, client.client_id, stored, self.now() + _REQUEST_SECONDS)
        base = str(self.base_url).rstrip("/")
        return f"{base}{CONSENT_PATH}?request={request_id}"

    def issue_code(self, client_id: str, params: dict[str, Any], keys: TenantKeys) -> str:
        """After consent: a one-use code bound to the tenant, the client and the PKCE challenge."""
        code = _secret("code")
        self.store.purge_expired(self.now())  # expired rows (and their key copies) go on every consent
        grant = Grant(
            "code",
            secrets.token_hex(16),
            keys.tenant_id,
            client_id,
            params,
            self.now() + _CODE_SECONDS,
            False,
            self._wrap(code, keys),
        )
        self.store.put_grants([(self.digest(code), grant)])
        return code

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        grant = self.store.get_grant(self.digest(authorization_code), "code")
        if grant is None or grant.client_id != client.client_id:
            return None
        if grant.used:  # a replayed code: everything issued from it goes
            self.store.revoke_family(grant.family)
            return None
        p = grant.params
        return AuthorizationCode(
            code=authorization_code,
            scopes=p.get("scopes") or [],
            expires_at=float(grant.expires),
            client_id=grant.client_id,
            code_challenge=p["code_challenge"],
            redirect_uri=p["redirect_uri"],
            redirect_uri_provided_explicitly=True,
            resource=p["resource"],
            subject=grant.tenant_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        digest = self.digest(authorization_code.code)
        grant = self.store.get_grant(digest, "code")
        if grant is None or not self.store.mark_used(digest):
            if grant is not None:
                self.store.revoke_family(grant.family)
            raise TokenError("invalid_grant", "the authorization code was already used")
        return self._issue(grant, self._unwrap(authorization_code.code, grant))

    def _issue(self, origin: Grant, keys: TenantKeys) -> OAuthToken:
        access = _secret("access", self.tenant_tag(keys.tenant_id))
        refresh = _secret("refresh")
        now = self.now()
        params = {"scopes": origin.params.get("scopes") or [], "resource": origin.params["resource"]}
        rows = [
            (
                self.digest(access),
                Grant(
                    "access",
                    origin.family,
                    keys.tenant_id,
                    origin.client_id,
                    params,
                    now + self._access_seconds,
                    False,
                    self._wrap(access, keys),
                ),
            ),
            (
                self.digest(refresh),
                Grant(
                    "refresh",
                    origin.family,
                    keys.tenant_id,
                    origin.client_id,
                    params,
                    now + self._refresh_seconds,
                    False,
                    self._wrap(refresh, keys),
                ),
            ),
        ]
        self.store.put_grants(rows)
        scopes = params["scopes"]
        return OAuthToken(
            access_token=access,
            token_type="Bearer",  # noqa: S106 (the type, not a secret)
            expires_in=self._access_seconds,
            refresh_token=refresh,
            scope=" ".join(scopes) if scopes else None,
        )

    # refresh tokens

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        grant = self.store.get_grant(self.digest(refresh_token), "refresh")
        if grant is None or grant.client_id != client.client_id or grant.expires <= self.now():
            return None
        if grant.used:  # replayed after rotation: the family is presumed stolen
            _log.warning("oauth.refresh_replayed", extra={"tenant": tenant_label(grant.tenant_id)})
            self.store.revoke_family(grant.family)
            return None
        return RefreshToken(
            token=refresh_token,
            client_id=grant.client_id,
            scopes=grant.params.get("scopes") or [],
            expires_at=grant.expires,
            resource=grant.params["resource"],
            subject=grant.tenant_id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        digest = self.digest(refresh_token.token)
        grant = self.store.get_grant(digest, "refresh")
        if grant is None or not self.store.mark_used(digest):
            if grant is not None:
                self.store.revoke_family(grant.family)
            raise TokenError("invalid_grant", "the refresh token was already used")
        return self._issue(grant, self._unwrap(refresh_token.token, grant))

    # access tokens

    def _live_access(self, token: str) -> Grant | None:
        if oauth_route_tag(token) is None:
            return None
        grant = self.store.get_grant(self.digest(token), "access")
        if grant is None or grant.expires <= self.now():
            return None
        if grant.params.get("resource") != self.resource():  # the audience, on every request
            return None
        tenant = self.vault.get_tenant(grant.tenant_id)
        if tenant is None or tenant.status == "revoked":
            return None
        return grant

    async def load_access_token(self, token: str) -> AccessToken | None:
        """For the revocation endpoint: the token as its OAuth client owns it."""
        grant = self._live_access(token)
        if grant is None:
            return None
        return AccessToken(
            token=token,
            client_id=grant.client_id,
            scopes=[],
            expires_at=grant.expires,
            resource=grant.params["resource"],
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        """Every request: an ``mcpg_`` token or a live OAuth access token -> the tenant (``client_id``)."""
        if auth.is_well_formed(token):
            return await self._bearer.verify_token(token)
        grant = self._live_access(token)
        if grant is None:
            _log.info("auth.rejected", extra={"reason": "oauth"})
            return None
        return AccessToken(
            token=token,
            client_id=grant.tenant_id,
            scopes=grant.params.get("scopes") or [],
            expires_at=grant.expires,
            resource=grant.params["resource"],
            claims={"tenant": grant.tenant_id, "oauth_client": grant.client_id},
        )

    def unlock(self, token: str) -> TenantKeys | None:
        """The data key of a live OAuth access token's tenant, or None (then: not authenticated)."""
        grant = self._live_access(token)
        return None if grant is None else self._unwrap(token, grant)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        for kind in ("access", "refresh"):
            grant = self.store.get_grant(self.digest(token.token), kind)
            if grant is not None:
                self.store.revoke_family(grant.family)
