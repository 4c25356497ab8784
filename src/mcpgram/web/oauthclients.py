"""OAuth clients: exact redirect URI matching, and client ID metadata documents checked before use.

A client ID metadata document (fetched by ``web/oauth.py`` through the SSRF-safe fetcher) must name
its own URL as ``client_id``, list 1 to 10 redirect URIs, and be a public client
(``token_endpoint_auth_method`` ``none``: PKCE is its proof). Only the fields mcpgram uses are kept.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull
from pydantic import AnyUrl, ValidationError

__all__ = ["ExactClient", "client_document"]

_MAX_REDIRECT_URIS = 10


class ExactClient(OAuthClientInformationFull):
    """A client whose redirect URI must be sent on every authorization and match exactly."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is None:
            raise InvalidRedirectUriError("redirect_uri is required")
        if not any(str(redirect_uri) == str(known) for known in self.redirect_uris or ()):
            raise InvalidRedirectUriError("redirect_uri is not registered for this client")
        return redirect_uri


def client_document(client_id: str, body: bytes) -> dict[str, Any]:
    """Validate a client ID metadata document: its ``client_id`` is its URL, a public client."""
    doc = json.loads(body)
    if not isinstance(doc, dict) or doc.get("client_id") != client_id:
        raise ValueError("the document's client_id is not its URL")
    uris = doc.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > _MAX_REDIRECT_URIS:
        raise ValueError("redirect_uris missing or too many")
    if doc.get("token_endpoint_auth_method", "none") != "none":
        raise ValueError("only public clients (token_endpoint_auth_method none) may use a metadata document")
    name = doc.get("client_name")
    metadata = {
        "client_id": client_id,
        "redirect_uris": uris,
        "client_name": name[:100] if isinstance(name, str) else None,
        "client_uri": doc.get("client_uri") if isinstance(doc.get("client_uri"), str) else None,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
    try:
        ExactClient.model_validate(metadata)
    except ValidationError as exc:
        raise ValueError("invalid client metadata") from exc
    return metadata
