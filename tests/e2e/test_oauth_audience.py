"""OAuth audience over HTTP (RFC 8707): ``/token`` refuses a resource that is not this server, and a
token issued for one server's resource is refused by another server's /v1/mcp (401), though both
share one data dir (one database, one server secret). Real gateways served over HTTP.
"""

from __future__ import annotations

import httpx2 as httpx

from mcpgram.sandbox import SandboxServer
from tests.fetch.conftest import TestCA, test_ca  # noqa: F401 (the fixture)

from .oauthflow import REDIRECT, code_for, oauth_server, token, tokens
from .test_oauth import Setup, http, mcp_client, oauth  # noqa: F401 (fixtures)

OTHER = "https://other.example/v1/mcp"


async def test_the_token_endpoint_refuses_another_resource(oauth: Setup, http: httpx.AsyncClient) -> None:  # noqa: F811
    server, client_id = oauth.server, oauth.client_id
    code, verifier = await code_for(http, server, client_id, oauth.cookie)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    for resource in (OTHER, server.base + "/v1/other", server.base):
        refused = await token(http, server, **form, resource=resource)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_target" and "access_token" not in refused.json()
    issued = await token(http, server, **form, resource=server.resource)  # the code was not spent
    assert issued.status_code == 200, issued.text
    refresh = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "refresh_token": issued.json()["refresh_token"],
    }
    refused = await token(http, server, **refresh, resource=OTHER)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    rotated = await token(http, server, **refresh, resource=server.resource)
    assert rotated.status_code == 200, rotated.text


async def test_a_token_for_another_resource_is_refused_by_mcp(
    oauth: Setup,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
    test_ca: TestCA,  # noqa: F811
    sandbox: SandboxServer,
) -> None:
    here = oauth.server
    issued = await tokens(http, here, oauth.client_id, oauth.cookie)
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    data_dir = here.gateway.settings.data_dir
    async with oauth_server(sandbox, data_dir, test_ca) as elsewhere:  # same data dir, another port
        assert elsewhere.resource != here.resource
        refused = await http.post(elsewhere.resource, json={}, headers=bearer)
        assert refused.status_code == 401, refused.text
        assert f'resource_metadata="{elsewhere.base}/' in refused.headers["www-authenticate"]
        async with mcp_client(here, issued["access_token"]) as client:  # at its own resource: fine
            assert await client.list_tools()
