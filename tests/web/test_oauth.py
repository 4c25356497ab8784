"""OAuth provider pieces without a server: lifetimes on a fake clock, client document checks, keys.

The HTTP-level table and the end-to-end flows are in ``tests/e2e/test_oauth.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.auth.provider import AuthorizationParams
from mcp.shared.auth import InvalidRedirectUriError
from pydantic import AnyUrl

from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.oauth import MCPGramOAuthProvider
from mcpgram.web.oauthclients import ExactClient, client_document
from mcpgram.web.oauthsetup import build_oauth
from mcpgram.web.verifier import MCPGramTokenVerifier

SECRET = b"k" * 32
CLIENT = "https://agent.example/client.json"
REDIRECT = "https://agent.example/cb"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[MCPGramOAuthProvider, Vault, Clock]]:
    store = SQLiteVault(tmp_path / "vault.db")
    vault = Vault(store, server_secret=SECRET)
    clock = Clock()
    wiring = build_oauth(
        vault=vault, db_path=tmp_path / "vault.db", server_secret=SECRET, public_url="https://gw.example",
        bearer=MCPGramTokenVerifier(vault), policy_of=lambda tenant: None,  # type: ignore[arg-type,return-value]
        dynamic_registration=False, access_seconds=3600, refresh_seconds=86400,
    )  # fmt: skip
    wiring.provider._clock = clock
    yield wiring.provider, vault, clock
    wiring.close()
    store.close()


def document(**changes: Any) -> bytes:
    doc: dict[str, Any] = {"client_id": CLIENT, "client_name": "Agent", "redirect_uris": [REDIRECT]}
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "body",
    [
        document(client_id="https://other.example/client.json"),
        document(redirect_uris=[]),
        document(redirect_uris="https://agent.example/cb"),
        document(redirect_uris=[f"https://agent.example/{i}" for i in range(11)]),
        document(redirect_uris=["not a url"]),
        document(token_endpoint_auth_method="client_secret_post"),
        b"[]",
        b"{not json",
    ],
    ids=[
        "foreign-id",
        "no-redirects",
        "redirect-string",
        "too-many",
        "bad-uri",
        "confidential",
        "list",
        "junk",
    ],
)
def test_client_documents_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        client_document(CLIENT, body)


def test_client_document_keeps_only_what_is_used() -> None:
    metadata = client_document(CLIENT, document(client_name="x" * 500, jwks={"keys": []}, scope="all"))
    assert metadata["client_name"] == "x" * 100 and "jwks" not in metadata and "scope" not in metadata
    client = ExactClient.model_validate(metadata)
    assert str(client.validate_redirect_uri(AnyUrl(REDIRECT))) == REDIRECT
    for near in (REDIRECT + "/", REDIRECT + "?a=1", REDIRECT + "#f", "https://agent.example/CB"):
        with pytest.raises(InvalidRedirectUriError):
            client.validate_redirect_uri(AnyUrl(near))
    with pytest.raises(InvalidRedirectUriError):
        client.validate_redirect_uri(None)  # even with one registered URI


async def test_lifetimes_on_a_fake_clock(parts: tuple[MCPGramOAuthProvider, Vault, Clock]) -> None:
    provider, vault, clock = parts
    _, token = vault.create_tenant("t")
    keys = vault.unlock_with_token(token)
    provider.store.put_client(CLIENT, client_document(CLIENT, document()), source="cimd", now=int(clock.now))
    client = await provider.get_client(CLIENT)
    assert client is not None
    params = AuthorizationParams(
        state="s", scopes=None, code_challenge="c" * 43, redirect_uri=AnyUrl(REDIRECT),
        redirect_uri_provided_explicitly=True, resource="https://gw.example/v1/mcp",
    )  # fmt: skip
    consent = await provider.authorize(client, params)
    request_id = consent.partition("request=")[2]
    assert provider.store.get_request(request_id, int(clock.now)) is not None
    stored = params.model_dump(mode="json") | {"resource": provider.resource()}
    code = provider.issue_code(CLIENT, stored, keys)
    clock.now += 301  # codes live 5 minutes
    loaded = await provider.load_authorization_code(client, code)
    assert loaded is not None and loaded.expires_at < clock.now  # the SDK refuses it as expired
    issued = await provider.exchange_authorization_code(client, loaded)
    used = provider.store.get_grant(provider.digest(code), "code")
    assert used is not None and used.used and used.wrapped_key == b""  # kept for replays, key gone
    access = await provider.verify_token(issued.access_token)
    assert access is not None and access.client_id == keys.tenant_id
    unlocked = provider.unlock(issued.access_token)
    assert unlocked is not None and unlocked.data_key == keys.data_key  # the grant opens the vault
    clock.now += 3601
    assert await provider.verify_token(issued.access_token) is None
    assert provider.unlock(issued.access_token) is None
    assert issued.refresh_token is not None
    assert await provider.load_refresh_token(client, issued.refresh_token) is not None
    clock.now += 86400
    assert await provider.load_refresh_token(client, issued.refresh_token) is None
    clock.now += 600
    assert provider.store.get_request(request_id, int(clock.now)) is None  # consents expire too


async def test_a_grant_row_opens_nothing_without_its_token(
    parts: tuple[MCPGramOAuthProvider, Vault, Clock],
) -> None:
    provider, vault, _ = parts
    _, token = vault.create_tenant("t")
    keys = vault.unlock_with_token(token)
    stored = {"redirect_uri": REDIRECT, "code_challenge": "c" * 43, "resource": provider.resource()}
    code = provider.issue_code(CLIENT, stored, keys)
    assert provider.unlock(code) is None  # a code is not an access token
    assert provider.unlock("mcpa_0123456789abcdef." + "A" * 43) is None
    assert await provider.verify_token(code) is None
