"""OAuth 2.1 for MCP clients, over real HTTP against a served gateway (Telethon + sandbox behind it).

The hostile table: PKCE downgrades, redirect URI variations, a token for another resource, a code
and a refresh token replayed, a client metadata URL on loopback, CSRF on the consent form. Then
end to end for each protocol era: client metadata -> authorize -> consent -> token -> a real MCP
client listing tools and calling them with the access token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.sandbox import SandboxServer
from mcpgram.web.oauth import CONSENT_PATH
from mcpgram.web.oauthsetup import build_oauth
from mcpgram.web.setup.signedin import cookie_name
from mcpgram.web.setup.store import SetupStore
from tests.fetch.conftest import TestCA, test_ca  # noqa: F401 (the fixture)

from .conftest import ALICE, People, login_token, settings_for
from .eras import LEGACY, MODERN, era_client, offering, tool_round
from .oauthflow import (
    REDIRECT,
    SESSION_COOKIE,
    OAuthServer,
    ScriptedBrowser,
    authorize,
    client_document,
    code_for,
    consent,
    free_port,
    location,
    oauth_server,
    pkce,
    token,
    tokens,
)


@dataclass
class Setup:
    server: OAuthServer
    mcpg: str  # Alice's mcpg_ token
    cookie: str  # Alice's signed-in browser session
    client_id: str


@pytest.fixture
async def oauth(
    sandbox: SandboxServer,
    people: People,
    tmp_path: Path,
    vault_for: Any,
    test_ca: TestCA,  # noqa: F811
) -> AsyncIterator[Setup]:
    data_dir = tmp_path / "data"
    vault = vault_for(settings_for(sandbox, data_dir, transport="http"))
    mcpg = await login_token(sandbox, settings_for(sandbox, data_dir), vault, ALICE, "alice")
    async with oauth_server(sandbox, data_dir, test_ca) as server:
        client_id = server.publish("/client.json", client_document(server.client_id("/client.json")))
        yield Setup(server, mcpg, server.sign_in(vault.unlock_with_token(mcpg)), client_id)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as client:
        yield client


def mcp_client(server: OAuthServer, bearer: str) -> Client[Any]:
    return Client(StreamableHttpTransport(server.resource, headers={"Authorization": f"Bearer {bearer}"}))


async def test_metadata_and_challenge(oauth: Setup, http: httpx.AsyncClient) -> None:
    base = oauth.server.base
    resource = (await http.get(f"{base}/.well-known/oauth-protected-resource/v1/mcp")).json()
    assert resource["resource"] == oauth.server.resource
    assert [s.rstrip("/") for s in resource["authorization_servers"]] == [base]
    server = (await http.get(f"{base}/.well-known/oauth-authorization-server")).json()
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["client_id_metadata_document_supported"] is True
    assert server["token_endpoint_auth_methods_supported"] == ["none"]
    assert "registration_endpoint" not in server  # dynamic registration is off by default
    assert (await http.post(f"{base}/register", json={"redirect_uris": [REDIRECT]})).status_code in (404, 405)
    refused = await http.post(oauth.server.resource, json={})
    assert refused.status_code == 401 and refused.json()["error"] == "NOT_AUTHENTICATED"
    challenge = refused.headers["www-authenticate"]
    assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/v1/mcp"' in challenge
    async with mcp_client(oauth.server, oauth.mcpg) as client:  # mcpg_ tokens keep working beside OAuth
        assert {tool.name for tool in await client.list_tools()} >= {"find_chats"}


@pytest.mark.parametrize(
    "pkce_params",
    [{"code_challenge_method": "plain"}, {"code_challenge": ""}, {"code_challenge_method": "S512"}],
    ids=["plain", "missing", "unknown"],
)
async def test_pkce_downgrade_refused(
    oauth: Setup, http: httpx.AsyncClient, pkce_params: dict[str, str]
) -> None:
    _, challenge = pkce()
    reply = await authorize(http, oauth.server, oauth.client_id, challenge, **pkce_params)
    # Refused back to the (valid) redirect URI with an error: never to the consent page.
    target = location(reply)
    assert str(target).startswith(REDIRECT) and target.params["error"] == "invalid_request"
    assert "code" not in target.params


@pytest.mark.parametrize(
    "redirect",
    [
        REDIRECT + "/",
        REDIRECT + "?x=1",
        REDIRECT.replace("callback", "Callback"),
        REDIRECT.replace("7777", "7778"),
        REDIRECT.replace("http:", "https:"),
        "https://evil.example/callback",
        "",
    ],
    ids=["slash", "query", "case", "port", "scheme", "foreign", "missing"],
)
async def test_redirect_uri_must_match_exactly(oauth: Setup, http: httpx.AsyncClient, redirect: str) -> None:
    _, challenge = pkce()
    reply = await authorize(http, oauth.server, oauth.client_id, challenge, redirect_uri=redirect)
    assert reply.status_code == 400 and "location" not in reply.headers  # never redirected anywhere


async def test_token_for_another_resource_refused(
    oauth: Setup, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    _, challenge = pkce()
    reply = await authorize(
        http, oauth.server, oauth.client_id, challenge, resource="https://other.example/v1/mcp"
    )
    target = location(reply)
    assert str(target).startswith(REDIRECT) and target.params["error"] == "invalid_request"
    # A token issued for this server is refused by a server with another resource URL (same data).
    issued = await tokens(http, oauth.server, oauth.client_id, oauth.cookie)
    here = oauth.server.gateway.oauth.provider
    assert await here.verify_token(issued["access_token"]) is not None
    elsewhere = build_oauth(
        vault=here.vault, db_path=oauth.server.gateway.settings.data_dir / "vault.db",
        server_secret=here._secret, public_url="https://other.example", bearer=here._bearer,
        policy_of=lambda tenant: None, dynamic_registration=False, access_seconds=60, refresh_seconds=60,
    )  # fmt: skip
    try:
        assert await elsewhere.provider.verify_token(issued["access_token"]) is None
    finally:
        elsewhere.close()


async def test_code_replay_and_wrong_verifier(oauth: Setup, http: httpx.AsyncClient) -> None:
    server, client_id = oauth.server, oauth.client_id
    code, verifier = await code_for(http, server, client_id, oauth.cookie)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
    }
    wrong = await token(http, server, **form, code_verifier=pkce()[0])
    assert wrong.status_code in (400, 401) and wrong.json()["error"] == "invalid_grant"
    first = await token(http, server, **form, code_verifier=verifier)
    assert first.status_code == 200
    again = await token(http, server, **form, code_verifier=verifier)
    assert again.status_code in (400, 401) and again.json()["error"] == "invalid_grant"
    # The replay revoked what the code had issued.
    refused = await http.post(
        server.resource, json={}, headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert refused.status_code == 401


async def test_refresh_rotation_and_replay(oauth: Setup, http: httpx.AsyncClient) -> None:
    server, client_id = oauth.server, oauth.client_id
    issued = await tokens(http, server, client_id, oauth.cookie)
    form = {"grant_type": "refresh_token", "client_id": client_id}
    rotated = await token(http, server, **form, refresh_token=issued["refresh_token"])
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert (
        fresh["refresh_token"] != issued["refresh_token"] and fresh["access_token"] != issued["access_token"]
    )
    async with mcp_client(server, fresh["access_token"]) as client:
        assert await client.list_tools()
    replayed = await token(http, server, **form, refresh_token=issued["refresh_token"])
    assert replayed.status_code in (400, 401) and replayed.json()["error"] == "invalid_grant"
    # The replay revoked the family: the rotated refresh token and its access token are dead too.
    dead = await token(http, server, **form, refresh_token=fresh["refresh_token"])
    assert dead.status_code in (400, 401) and dead.json()["error"] == "invalid_grant"
    reply = await http.post(
        server.resource, json={}, headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert reply.status_code == 401


async def test_revocation_endpoint(oauth: Setup, http: httpx.AsyncClient) -> None:
    server, client_id = oauth.server, oauth.client_id
    issued = await tokens(http, server, client_id, oauth.cookie)
    # The SDK's revocation form needs the client_secret field present (empty for a public client).
    form = {"token": issued["refresh_token"], "client_id": client_id, "client_secret": ""}
    revoked = await http.post(f"{server.base}/revoke", data=form)
    assert revoked.status_code == 200
    reply = await http.post(
        server.resource, json={}, headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    assert reply.status_code == 401


async def test_client_metadata_on_loopback_refused(oauth: Setup, http: httpx.AsyncClient) -> None:
    server = oauth.server
    port = server.documents.port
    for host in ("127.0.0.1", "localhost"):
        client_id = f"https://{host}:{port}/client.json"
        server.publish("/client.json", client_document(client_id))
        _, challenge = pkce()
        reply = await authorize(http, server, client_id, challenge)
        assert reply.status_code == 400 and "location" not in reply.headers
    # A document whose client_id is not its own URL is refused as well.
    other = server.publish("/liar.json", client_document("https://files.example/else.json"))
    assert (await authorize(http, server, other, pkce()[1])).status_code == 400
    # And the production fetcher (no test host admitted) refuses the test host's loopback address.
    provider = server.gateway.oauth.provider
    default = build_oauth(
        vault=provider.vault, db_path=server.gateway.settings.data_dir / "vault.db",
        server_secret=b"s" * 32, public_url=server.base, bearer=provider._bearer,
        policy_of=lambda tenant: None, dynamic_registration=False, access_seconds=60, refresh_seconds=60,
    )  # fmt: skip
    try:
        assert await default.provider.get_client(server.client_id("/fresh.json")) is None
    finally:
        default.close()


async def test_consent_page(oauth: Setup, http: httpx.AsyncClient) -> None:
    server = oauth.server
    evil = server.publish(
        "/evil.json", client_document(server.client_id("/evil.json"), name="<script>x</script>")
    )
    to_consent = str(location(await authorize(http, server, evil, pkce()[1])))
    assert to_consent.startswith(f"{server.base}{CONSENT_PATH}?request=")
    # Not signed in: to the web sign-in, coming back here afterwards.
    anonymous = location(await http.get(to_consent))
    assert anonymous.path == "/setup" and anonymous.params["next"].startswith(CONSENT_PATH)
    page = await http.get(to_consent, headers={"Cookie": f"{SESSION_COOKIE}={oauth.cookie}"})
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (
        page.headers["x-frame-options"].upper() == "DENY"
        or "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    request_id = httpx.URL(to_consent).params["request"]
    forged = await http.post(
        f"{server.base}{CONSENT_PATH}",
        data={"request": request_id, "csrf": "0" * 64, "decision": "allow"},
        headers={"Cookie": f"{SESSION_COOKIE}={oauth.cookie}"},
    )
    assert forged.status_code == 403
    # mcpgram's page templates: language, phone viewport, own stylesheet; errors are HTML pages.
    assert '<html lang="en">' in page.text and 'name="viewport"' in page.text
    assert (
        'href="/setup/static/setup.css"' in page.text
        and "style-src 'self'" in page.headers["content-security-policy"]
    )
    assert (
        forged.headers["content-type"].startswith("text/html")
        and "did not come from this page" in forged.text
    )
    denied = location(await consent(http, to_consent, oauth.cookie, decision="deny"))
    assert denied.params["error"] == "access_denied" and "code" not in denied.params
    again = await http.get(to_consent, headers={"Cookie": f"{SESSION_COOKIE}={oauth.cookie}"})
    assert again.status_code == 400  # a request is answered once
    assert again.headers["content-type"].startswith("text/html") and '<html lang="en">' in again.text
    assert "OAUTH_REQUEST_INVALID" not in again.text and "unknown or expired" in again.text


@pytest.mark.parametrize("era", [LEGACY[0], MODERN])
async def test_end_to_end(oauth: Setup, http: httpx.AsyncClient, era: str) -> None:
    issued = await tokens(http, oauth.server, oauth.client_id, oauth.cookie)
    assert issued["token_type"].lower() == "bearer" and issued["expires_in"] == 3600
    assert not issued["access_token"].startswith("mcpg_")
    transport = StreamableHttpTransport(
        oauth.server.resource, headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    with offering(era):
        async with era_client(transport, era) as client:
            result = await tool_round(client, era)
    assert result["messages"]


async def test_the_database_holds_no_oauth_secret(oauth: Setup, http: httpx.AsyncClient) -> None:
    """Codes and tokens are stored as keyed digests only; their wrapped keys need the token."""
    server = oauth.server
    code, _ = await code_for(http, server, oauth.client_id, oauth.cookie)
    issued = await tokens(http, server, oauth.client_id, oauth.cookie)
    data_dir = server.gateway.settings.data_dir
    stored = b"".join(path.read_bytes() for path in data_dir.glob("vault.db*"))
    for secret in (code, issued["access_token"], issued["refresh_token"]):
        assert secret.encode() not in stored
        assert secret.rpartition(".")[2].encode() not in stored


async def test_a_revoked_tenant_loses_its_oauth_tokens(oauth: Setup, http: httpx.AsyncClient) -> None:
    server = oauth.server
    issued = await tokens(http, server, oauth.client_id, oauth.cookie)
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    async with mcp_client(server, issued["access_token"]) as client:
        assert await client.list_tools()
    tenant = server.gateway.vault.authenticate(oauth.mcpg).tenant_id
    provider = server.gateway.oauth.provider
    assert provider.store.get_grant(provider.digest(issued["refresh_token"]), "refresh") is not None
    server.gateway.vault.revoke(tenant)
    assert (await http.post(server.resource, json={}, headers=headers)).status_code == 401
    # Every grant (each holds a wrapped copy of the data key) is shredded with the tenant.
    assert provider.store.get_grant(provider.digest(issued["refresh_token"]), "refresh") is None


async def test_dynamic_registration_when_enabled(
    sandbox: SandboxServer,
    people: People,
    tmp_path: Path,
    test_ca: TestCA,  # noqa: F811
    http: httpx.AsyncClient,
) -> None:
    async with oauth_server(sandbox, tmp_path / "data", test_ca, oauth_dynamic_registration=True) as server:
        meta = (await http.get(f"{server.base}/.well-known/oauth-authorization-server")).json()
        assert meta["registration_endpoint"].rstrip("/") == f"{server.base}/register"
        body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "Reg"}
        registered = await http.post(f"{server.base}/register", json=body)
        assert registered.status_code == 201, registered.text
        client_id = registered.json()["client_id"]
        to_consent = location(await authorize(http, server, client_id, pkce()[1]))
        assert to_consent.path == CONSENT_PATH
        assert (
            await authorize(http, server, client_id, pkce()[1], redirect_uri=REDIRECT + "/")
        ).status_code == 400


@pytest.mark.filterwarnings("ignore:Using in-memory token storage:UserWarning")
@pytest.mark.parametrize("era", [LEGACY[0], MODERN])
async def test_fastmcp_oauth_client(oauth: Setup, era: str) -> None:
    """FastMCP's own OAuth client: 401 -> resource metadata -> server metadata -> client ID metadata
    document as client_id -> authorize (PKCE) -> consent -> token -> tools, with no token given."""
    server, port = oauth.server, free_port()
    redirect = f"http://127.0.0.1:{port}/callback"
    client_id = server.publish(
        "/fastmcp.json", client_document(server.client_id("/fastmcp.json"), redirects=[redirect])
    )
    browser = ScriptedBrowser(server, oauth.cookie, client_id, port)
    with offering(era):
        async with Client(
            StreamableHttpTransport(server.resource, auth=browser), mode="legacy" if era in LEGACY else "auto"
        ) as client:
            result = await tool_round(client, era)
    assert result["chats"] and len(browser.authorization_urls) == 1
    sent = httpx.URL(browser.authorization_urls[0]).params
    assert sent["client_id"] == client_id and sent["code_challenge_method"] == "S256"
    assert sent["resource"] == server.resource


async def test_consent_uses_the_setup_session(
    sandbox: SandboxServer,
    people: People,
    tmp_path: Path,
    vault_for: Any,
    test_ca: TestCA,  # noqa: F811
    *,
    http: httpx.AsyncClient,
) -> None:
    """In production the /setup session cookie (web/setup/signedin.py) is the sign-in: a session
    created as /setup creates it lets the person consent; a revoked tenant's session does not."""
    data_dir = tmp_path / "data"
    vault = vault_for(settings_for(sandbox, data_dir, transport="http"))
    mcpg = await login_token(sandbox, settings_for(sandbox, data_dir), vault, ALICE, "alice")
    async with oauth_server(sandbox, data_dir, test_ca, setup_sessions=True) as server:
        client_id = server.publish("/client.json", client_document(server.client_id("/client.json")))
        store = SetupStore(data_dir / "signin.db")
        try:
            tenant = vault.authenticate(mcpg).tenant_id
            session = store.create_session(tenant, {"token": mcpg})
            to_consent = str(location(await authorize(http, server, client_id, pkce()[1])))
            assert location(await http.get(to_consent)).path == "/setup"  # no cookie: sign in first
            answered = location(await consent(http, to_consent, session, name=cookie_name(False)))
            assert "code" in answered.params
            vault.revoke(tenant)
            again = str(location(await authorize(http, server, client_id, pkce()[1])))
            cookie = {"Cookie": f"{cookie_name(False)}={session}"}
            assert location(await http.get(again, headers=cookie)).path == "/setup"
        finally:
            store.close()
