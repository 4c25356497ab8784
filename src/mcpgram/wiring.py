"""Wiring of the gateway's features, for ``app.build_gateway`` (the composition root) alone.

Each function builds one feature from the settings: the audit journal, the files config, the
approver, the raw MTProto bridge's routes, signed attachment links and OAuth 2.1. Split from
``app.py`` so the composition root stays readable; nothing else imports this module.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from fastmcp import FastMCP

from .approvals.store import ApprovalStore
from .audit.entry import JournalKeys
from .audit.journal import AuditJournal
from .auth import is_well_formed, token_secret_bytes
from .configs import FilesConfig, parse_attachment_keys
from .errors import ConfigError, NotAuthenticated
from .fetch.policy import HostRules
from .policy.book import PolicyBook
from .settings import Settings
from .signing import Keyring
from .telegram.pool import ClientPool
from .tools import ToolContext
from .tools.approving import Approver, page_secret
from .vault.sqlite import SQLiteVault
from .vault.vault import TenantKeys, Vault

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from starlette.routing import Route

    from .fetch.fetcher import Fetcher
    from .limits.pacing import CallLimiter
    from .policy.model import Policy
    from .web.attachments import AttachmentEndpoint
    from .web.links import AttachmentLinks
    from .web.oauthsetup import OAuthWiring
    from .web.setup import SetupPages
    from .web.verifier import MCPGramTokenVerifier


def unlock_for_request(vault: Vault, oauth: OAuthWiring | None, tenant_id: str, token: str) -> TenantKeys:
    """Unwrap the data key for a token the verifier accepted on this request: an ``mcpg_`` token
    unwraps the tenant's key, an OAuth access token its grant's copy."""
    if oauth is not None and not is_well_formed(token):
        keys = oauth.provider.unlock(token)
        if keys is None:
            raise NotAuthenticated("the access token is no longer valid")
        return keys
    return vault.unlock(tenant_id, token_secret_bytes(token))


def oauth_wiring(
    settings: Settings,
    vault: Vault,
    secret: bytes,
    verifier: MCPGramTokenVerifier | None,
    policy_of: Callable[[str], Policy],
    *,
    fetcher: Fetcher | None,
) -> OAuthWiring | None:
    """OAuth 2.1 beside the bearer tokens when ``settings.oauth`` is on (HTTP with auth only)."""
    if verifier is None or not settings.oauth:
        return None
    from .web.oauthsetup import build_oauth

    return build_oauth(
        vault=vault,
        db_path=settings.data_dir / "vault.db",
        server_secret=secret,
        public_url=str(settings.public_url),
        bearer=verifier,
        policy_of=policy_of,
        dynamic_registration=settings.oauth_dynamic_registration,
        access_seconds=settings.oauth_access_token_seconds,
        refresh_seconds=settings.oauth_refresh_token_days * 86400,
        fetcher=fetcher,
    )


def approver_for(
    settings: Settings, secret: bytes, store: SQLiteVault, journal: AuditJournal | None, *, page: bool
) -> Approver:
    """Asks for approvals and keeps them, in the vault's own database file (one schema); ``page``:
    the approval page may be offered (HTTP with bearer tokens, whose holders can sign in to it)."""
    return Approver(
        ApprovalStore(store.path),
        page_secret=page_secret(secret),
        offers_page=page,
        ttl=settings.approval_ttl_seconds,
        wait=settings.approval_wait_seconds,
        public_url=str(settings.public_url) if settings.public_url is not None else None,
        journal=journal,
    )


def approval_page_routes(
    approver: Approver, journal: AuditJournal | None, pages: SetupPages, trusted_proxies: Sequence[str]
) -> list[Route]:
    """The approval page, signing people in with the /setup pages' session (``web/approvesignin.py``)."""
    from .web.approve import approval_routes
    from .web.approvesignin import ApprovalSignIn

    signin = ApprovalSignIn(pages.service, secure=pages.secure, trusted_proxies=trusted_proxies)
    return approval_routes(approver.store, approver.page_secret, journal, signin=signin)


def journal_for(settings: Settings, secret: bytes) -> AuditJournal | None:
    """The audit journal in the data dir, or None with ``audit_journal`` off."""
    if not settings.audit_journal:
        return None
    return AuditJournal(
        settings.data_dir / "audit",
        JournalKeys.derive(secret),
        max_bytes=settings.audit_max_bytes,
        fsync=settings.audit_fsync,
        # The only serving process (stdio, or HTTP with one worker) keeps the append lock between
        # appends: one system call per entry; it lets go if another process appends (audit/lease.py).
        hold_lock=settings.workers == 1,
    )


def files_config_for(settings: Settings) -> FilesConfig:
    """What sends may take; host rules checked at start (local files: stdio only, see ToolContext)."""
    files = settings.files_config()
    try:
        HostRules(allow=files.fetch_allow_hosts, deny=files.fetch_deny_hosts)
    except ValueError:
        raise ConfigError("invalid setting fetch_allow_hosts or fetch_deny_hosts: not host names") from None
    return files


def add_bridge(
    mcp: FastMCP[Any],
    context: ToolContext,
    *,
    requires_auth: bool,
    calls: CallLimiter | None = None,
    tenant_of: Callable[[], str | None] = lambda: None,
) -> None:
    """The raw MTProto HTTP bridge, inside FastMCP's app: the same bearer authentication, verifier
    and 401 as /v1/mcp, and the same per-tenant call limit (``calls``) as MCP requests."""
    from .tools.raw import invoke as raw_invoke
    from .web.bridge import BRIDGE_PATHS, bridge_endpoint

    def count() -> None:
        tenant = tenant_of()
        if calls is not None and tenant is not None:
            calls.check(tenant)

    bridge = bridge_endpoint(functools.partial(raw_invoke, context), requires_auth=requires_auth, count=count)
    for path in BRIDGE_PATHS:
        mcp.custom_route(path, methods=["POST"])(bridge)


def attachments_for(
    settings: Settings, secret: bytes, vault: Vault, pool: ClientPool, policies: PolicyBook
) -> tuple[AttachmentLinks, AttachmentEndpoint]:
    """Signed attachment links (HTTP only): what mints them and the route that serves them."""
    from .web.attachments import AttachmentEndpoint
    from .web.links import AttachmentLinks

    given = settings.attachment_keys
    keyring = Keyring.from_secrets(
        parse_attachment_keys(given.get_secret_value()) if given is not None else [], server_secret=secret
    )
    public_url = str(settings.public_url) if settings.public_url is not None else None
    links = AttachmentLinks(keyring, vault, settings.attachment_ttl_seconds, public_url)
    endpoint = AttachmentEndpoint(
        keyring=keyring,
        vault=vault,
        pool=pool,
        policy_of=policies.get,
        max_bytes=settings.attachment_max_bytes,
    )
    return links, endpoint
