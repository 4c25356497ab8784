"""Minting signed attachment links (``/v1/attachments/<capability>``) for the calling tenant.

The link is absolute: ``public_url`` when the operator set one, else the origin the request came
in on (its scheme and its ``Host``, which the host guard has already held to the allowed hosts).
The capability (``signing.py``) carries the tenant's data key and the generation of the very token
the request was authenticated with (``Vault.authenticate`` reads it by that token's digest), so a
link minted just as the token is rotated is already stale, never newer than its token.

Must not: log a link, or put the token itself anywhere in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fastmcp.server.dependencies import get_access_token, get_http_request

from ..errors import NotAuthenticated
from ..signing import Capability, Keyring, mint
from ..vault.vault import TenantKeys, Vault
from .frontwire import route_hash, routing_key
from .security import ATTACHMENTS_PREFIX
from .tokensource import oauth_route_tag

__all__ = ["AttachmentLinks"]


@dataclass(frozen=True)
class AttachmentLinks:
    """Mints links under ``keyring``'s current key, valid for ``ttl`` seconds."""

    keyring: Keyring
    vault: Vault
    ttl: int
    public_url: str | None = None
    clock: Callable[[], float] = time.time

    def url(
        self,
        keys: TenantKeys,
        token: str | None,
        ref: tuple[int, int, int],
        size: str,
        *,
        origin: str | None = None,
        approved: bool = False,
    ) -> str:
        """The link to one media of the tenant ``keys`` opens, authenticated by ``token``.

        Args:
            keys: The calling tenant's keys.
            token: The bearer token of this request; None for the owner of a no-auth server.
            ref: ``(chat, message id, media id)``.
            size: The size choice (``telegram/media.py``).
            origin: ``scheme://host[:port]`` of the request, when no ``public_url`` is set.
            approved: A person approved the download the link comes from (``signing.Capability``).

        Raises:
            NotAuthenticated: the token is no longer valid (rotated or revoked meanwhile).
        """
        if token is not None and oauth_route_tag(token) is not None:
            # An OAuth access token (the verifier accepted it on this request): the link is bound to
            # the tenant's current generation and routed by the tenant's tag, as the token is.
            found = self.vault.get_tenant(keys.tenant_id)
            if found is None or found.status == "revoked":
                raise NotAuthenticated("the tenant is no longer active")
            version, route = found.key_version, route_hash(routing_key(token))
        elif token is not None:
            record = self.vault.authenticate(token)
            if record.tenant_id != keys.tenant_id:
                raise NotAuthenticated("the token does not belong to this tenant")
            version, route = record.key_version, route_hash(token)
        else:
            found = self.vault.get_tenant(keys.tenant_id)
            version, route = (found.key_version if found else 0), 0
        chat, message, media = ref
        cap = Capability(
            tenant_id=keys.tenant_id,
            data_key=keys.data_key,
            key_version=version,
            expires=int(self.clock()) + self.ttl,
            chat=chat,
            message=message,
            media=media,
            size=size,
            route=route,
            approved=approved,
        )
        base = (self.public_url or origin or "").rstrip("/")
        return f"{base}{ATTACHMENTS_PREFIX}/{mint(self.keyring, cap)}"

    def for_request(
        self, keys: TenantKeys, ref: tuple[int, int, int], size: str, approved: bool = False
    ) -> str | None:
        """``ToolContext.attachment_urls``: the link for the MCP request being served over HTTP.

        The token and the origin come from that request (its ``Host`` already passed the host
        guard); None outside an HTTP request, or when its token stopped being valid meanwhile.
        """
        try:
            request = get_http_request()
        except RuntimeError:
            return None
        access = get_access_token()
        host = request.headers.get("host")
        origin = f"{request.url.scheme}://{host}" if host else None
        try:
            token = access.token if access else None
            return self.url(keys, token, ref, size, origin=origin, approved=approved)
        except NotAuthenticated:
            return None
