"""The assembled edge: configuration refusals, Host/Origin rules, the hostile-input table for auth, and
real MCP clients over streamable HTTP against uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from mcp.shared.exceptions import MCPError

from mcpgram import auth
from mcpgram.errors import ConfigError
from mcpgram.vault.vault import Vault
from mcpgram.web.app import build_http_app, host_origin_options, is_loopback_host
from mcpgram.web.unauthorized import challenge
from mcpgram.web.verifier import MCPGramTokenVerifier

from .conftest import (
    INITIALIZE,
    MCP_ACCEPT,
    CountingStore,
    EdgeConfig,
    EdgeFactory,
    asgi_client,
    initialize,
    serve,
    whoami_server,
)

# Binding every interface is exactly what these tests feed the edge, to see it refused or guarded.
WILDCARD = "0.0.0.0"  # noqa: S104

# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [WILDCARD, "::", "192.168.1.5", "10.0.0.1", "gw.example", ""])
def test_no_auth_on_a_public_bind_is_refused(host: str) -> None:
    """``no_auth`` with a host other people can reach is a configuration error."""
    with pytest.raises(ConfigError, match="loopback"):
        build_http_app(whoami_server(None), http_config=EdgeConfig(host=host, no_auth=True))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_no_auth_on_loopback_builds(host: str) -> None:
    """``no_auth`` is accepted when only this machine can connect."""
    assert is_loopback_host(host)
    build_http_app(whoami_server(None), http_config=EdgeConfig(host=host, no_auth=True))


def test_http_without_a_verifier_is_refused() -> None:
    """Serving MCP over HTTP with auth switched off by accident (no verifier, no no_auth) is refused."""
    with pytest.raises(ConfigError, match="verifier"):
        build_http_app(whoami_server(None), http_config=EdgeConfig())


def test_a_different_verifier_is_refused(vault: Vault) -> None:
    """Passing a verifier other than the one the server was built with is a wiring error."""
    mcp = whoami_server(MCPGramTokenVerifier(vault))
    with pytest.raises(ConfigError, match="different verifier"):
        build_http_app(mcp, http_config=EdgeConfig(), verifier=MCPGramTokenVerifier(vault))
    build_http_app(mcp, http_config=EdgeConfig(), verifier=mcp.auth)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "cors", "hosts", "origins"),
    [
        (EdgeConfig(), (), ["127.0.0.1"], []),
        (EdgeConfig(host=WILDCARD), (), [], []),
        (EdgeConfig(host="::"), (), [], []),
        (EdgeConfig(host=WILDCARD, public_url="https://gw.example/"), (), ["gw.example"], ["https://gw.example"]),
        (EdgeConfig(public_url="https://gw.example:8443/x"), (), ["127.0.0.1", "gw.example"], ["https://gw.example:8443"]),
        (EdgeConfig(public_url="http://gw.example:80"), ["https://app.example"], ["127.0.0.1", "gw.example"],
         ["http://gw.example", "https://app.example"]),
    ],
)  # fmt: skip
def test_host_origin_options(
    config: EdgeConfig, cors: list[str], hosts: list[str], origins: list[str]
) -> None:
    """Allowed hosts and origins come from the bind host, the public URL and the CORS list."""
    options = host_origin_options(config, cors)
    assert options.as_kwargs() == {
        "host_origin_protection": "auto",
        "allowed_hosts": hosts,
        "allowed_origins": origins,
    }


# --- Host and Origin, as deployed behind a public name ---------------------------------------------

PUBLIC = EdgeConfig(host=WILDCARD, public_url="https://gw.example")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "gw.example"}, 200),
        ({"Host": "GW.EXAMPLE:443"}, 200),
        ({"Host": "127.0.0.1:8000"}, 200),
        ({"Host": "evil.example"}, 421),
        ({"Host": "gw.example.evil.example"}, 421),
        ({"Host": "gw.example", "Origin": "https://gw.example"}, 200),
        ({"Host": "gw.example", "Origin": "https://evil.example"}, 403),
        ({"Host": "gw.example", "Origin": "http://gw.example"}, 403),
        ({"Host": "gw.example", "Origin": "null"}, 403),
    ],
)
async def test_public_deployment_host_and_origin(
    edge: EdgeFactory, vault: Vault, store: CountingStore, headers: dict[str, str], status: int
) -> None:
    """Behind a public URL: wrong Host is 421 and a foreign Origin 403, both before any token lookup."""
    _, token = vault.create_tenant("alice")
    before = store.lookups
    async with asgi_client(edge(PUBLIC), base_url="https://gw.example") as client:
        response = await initialize(client, Authorization=f"Bearer {token}", **headers)
    assert response.status_code == status
    assert store.lookups - before == (1 if status == 200 else 0)


# --- the hostile-input table for authentication ----------------------------------------------------

Tokens = dict[str, str]
Request = Callable[[Tokens], tuple[str, dict[str, str]]]


def bearer(value: Callable[[Tokens], str], path: str = "/v1/mcp") -> Request:
    return lambda t: (path, {"Authorization": f"Bearer {value(t)}"})


def header(value: Callable[[Tokens], str]) -> Request:
    return lambda t: ("/v1/mcp", {"Authorization": value(t)})


def url_auth(value: Callable[[Tokens], str]) -> Request:
    return lambda t: (f"/v1/url_auth/{value(t)}/mcp", {})


HOSTILE: list[tuple[str, Request, int, int]] = [
    ("missing header", lambda t: ("/v1/mcp", {}), 401, 0),
    ("empty bearer", header(lambda t: "Bearer "), 401, 0),
    ("scheme only", header(lambda t: "Bearer"), 401, 0),
    ("basic scheme", header(lambda t: f"Basic {t['valid']}"), 401, 0),
    ("token without scheme", header(lambda t: t["valid"]), 401, 0),
    ("two spaces", header(lambda t: f"Bearer  {t['valid']}"), 401, 0),
    ("traversal", bearer(lambda t: "../../etc/passwd"), 401, 0),
    ("prefixed traversal", bearer(lambda t: "mcpg_" + "../" * 14 + "x"), 401, 0),
    ("reserved telegram", bearer(lambda t: "telegram"), 401, 0),
    ("reserved default", bearer(lambda t: "default"), 401, 0),
    ("reserved session", bearer(lambda t: "session"), 401, 0),
    ("truncated", bearer(lambda t: t["valid"][:-1]), 401, 0),
    ("extended", bearer(lambda t: t["valid"] + "A"), 401, 0),
    ("upper-cased", bearer(lambda t: t["valid"].upper()), 401, 0),
    ("oversized", bearer(lambda t: "A" * 8000), 401, 0),
    ("unknown well-formed", bearer(lambda t: t["unknown"]), 401, 1),
    ("revoked", bearer(lambda t: t["revoked"]), 401, 1),
    ("rotated away", bearer(lambda t: t["old"]), 401, 1),
    ("rotated in", bearer(lambda t: t["new"]), 200, 1),
    ("valid", bearer(lambda t: t["valid"]), 200, 1),
    ("lower-case scheme", header(lambda t: f"bearer {t['valid']}"), 200, 1),
    ("url_auth traversal", url_auth(lambda t: "%2e%2e"), 401, 0),
    ("url_auth encoded slash", url_auth(lambda t: "..%2F..%2Fvault.db"), 401, 0),
    ("url_auth telegram", url_auth(lambda t: "telegram"), 401, 0),
    ("url_auth session", url_auth(lambda t: "session"), 401, 0),
    ("url_auth unknown", url_auth(lambda t: t["unknown"]), 401, 1),
    ("url_auth revoked", url_auth(lambda t: t["revoked"]), 401, 1),
    ("url_auth valid", url_auth(lambda t: t["valid"]), 200, 1),
    ("query token", lambda t: (f"/v1/mcp?token={t['valid']}", {}), 400, 0),
    ("query access_token", lambda t: (f"/v1/mcp?access_token={t['valid']}", {}), 400, 0),
    ("token-shaped query value", bearer(lambda t: t["valid"], f"/v1/mcp?cursor={auth.new_token()}"), 400, 0),
    ("query token on url_auth", lambda t: (f"/v1/url_auth/{t['valid']}/mcp?token=x", {}), 400, 0),
]


@pytest.mark.parametrize(
    ("request_for", "expected"), [(row[1], row[2:]) for row in HOSTILE], ids=[r[0] for r in HOSTILE]
)
async def test_hostile_auth_inputs(
    edge: EdgeFactory, vault: Vault, store: CountingStore, request_for: Request, expected: tuple[int, int]
) -> None:
    """Each hostile input gets its refusal, and a token of the wrong shape never reaches storage."""
    _, valid = vault.create_tenant("alice")
    revoked_record, revoked = vault.create_tenant("mallory")
    vault.revoke(revoked_record.tenant_id)
    _, old = vault.create_tenant("bob")
    new = vault.rotate(old)
    path, headers = request_for(
        {"valid": valid, "unknown": auth.new_token(), "revoked": revoked, "old": old, "new": new}
    )
    status, lookups = expected
    before = store.lookups
    async with asgi_client(edge()) as client:
        response = await initialize(client, path, **headers)
    assert response.status_code == status
    assert store.lookups - before == lookups
    if status != 200:
        assert "mcp-session-id" not in response.headers
    if status == 401:
        # mcpgram's shape with a hint, never the framework's OAuth advice, never the token echoed.
        body = response.json()
        assert body["error"] == "NOT_AUTHENTICATED" and body["message"] and body["hint"]
        assert "re-register" not in response.text and (
            not path.startswith("/v1/mcp") or "mcpg_" not in response.text
        )
        sent = bool(headers) or path.startswith("/v1/url_auth/")
        expected_challenge = challenge(token_sent=sent)
        assert response.headers["www-authenticate"] == expected_challenge
        assert ("error=" in expected_challenge) == sent


async def test_a_session_cannot_be_used_with_another_tenants_token(edge: EdgeFactory, vault: Vault) -> None:
    """Bob presenting Alice's MCP session id is refused: sessions are bound to the tenant that opened them."""
    _, alice = vault.create_tenant("alice")
    _, bob = vault.create_tenant("bob")
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    async with asgi_client(edge()) as client:
        opened = await initialize(client, Authorization=f"Bearer {alice}")
        session = {
            **MCP_ACCEPT,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-06-18",
        }
        hijack = await client.post(
            "/v1/mcp", json=listing, headers={**session, "Authorization": f"Bearer {bob}"}
        )
        own = await client.post(
            "/v1/mcp", json=listing, headers={**session, "Authorization": f"Bearer {alice}"}
        )
    assert hijack.status_code in (403, 404)
    assert "whoami" not in hijack.text
    assert own.status_code == 200 and "whoami" in own.text


# --- real clients over a socket ---------------------------------------------------------------------


async def whoami(url: str, **transport: Any) -> str:
    async with Client(StreamableHttpTransport(url, **transport)) as client:
        result = await client.call_tool("whoami", {})
    data: str = result.data
    return data


async def test_real_clients_see_their_own_tenant(edge: EdgeFactory, vault: Vault) -> None:
    """Over uvicorn, header and url_auth clients of two tenants each get their own tenant id from whoami."""
    alice, alice_token = vault.create_tenant("alice")
    bob, bob_token = vault.create_tenant("bob")
    async with serve(edge()) as base:
        assert await whoami(f"{base}/v1/mcp", auth=alice_token) == alice.tenant_id
        assert await whoami(f"{base}/v1/mcp", auth=bob_token) == bob.tenant_id
        assert await whoami(f"{base}/v1/url_auth/{bob_token}/mcp") == bob.tenant_id
        with pytest.raises(MCPError):
            await whoami(f"{base}/v1/mcp", auth=auth.new_token())


async def test_revocation_takes_effect_on_the_next_request(edge: EdgeFactory, vault: Vault) -> None:
    """An open client session stops working on its very next call after the tenant is revoked."""
    record, token = vault.create_tenant("alice")
    async with serve(edge()) as base, Client(StreamableHttpTransport(f"{base}/v1/mcp", auth=token)) as client:
        assert (await client.call_tool("whoami", {})).data == record.tenant_id
        vault.revoke(record.tenant_id)
        with pytest.raises((MCPError, httpx2.HTTPStatusError)):
            await client.call_tool("whoami", {})


async def test_real_socket_refusals(edge: EdgeFactory, vault: Vault) -> None:
    """Over a real socket: oversized 413, wrong Host 421, foreign Origin 403, all with security headers."""
    _, token = vault.create_tenant("alice")
    auth_header = {**MCP_ACCEPT, "Authorization": f"Bearer {token}"}
    async with serve(edge()) as base, httpx2.AsyncClient(base_url=base) as client:
        too_big = await client.post("/v1/mcp", content=b"x" * 20_000, headers=auth_header)
        wrong_host = await client.post(
            "/v1/mcp", json=INITIALIZE, headers={**auth_header, "Host": "evil.example"}
        )
        wrong_origin = await client.post(
            "/v1/mcp", json=INITIALIZE, headers={**auth_header, "Origin": "https://evil.example"}
        )
        ok = await client.post("/v1/mcp", json=INITIALIZE, headers=auth_header)
    assert [r.status_code for r in (too_big, wrong_host, wrong_origin, ok)] == [413, 421, 403, 200]
    assert all(r.headers["x-frame-options"] == "DENY" for r in (too_big, wrong_host, wrong_origin, ok))


# --- MCP session lifetime ------------------------------------------------------------------------------

LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def session_headers(opened: httpx2.Response, token: str) -> dict[str, str]:
    return {
        **MCP_ACCEPT,
        "Authorization": f"Bearer {token}",
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-06-18",
    }


async def test_an_idle_session_is_closed(edge: EdgeFactory, vault: Vault) -> None:
    """A session used within mcp_session_idle_seconds keeps working; one left idle longer is gone (404)."""
    _, token = vault.create_tenant("alice")
    async with asgi_client(edge(EdgeConfig(mcp_session_idle_seconds=0.5))) as client:
        busy = session_headers(await initialize(client, Authorization=f"Bearer {token}"), token)
        idle = session_headers(await initialize(client, Authorization=f"Bearer {token}"), token)
        kept = []
        for _ in range(3):
            await asyncio.sleep(0.2)
            kept.append((await client.post("/v1/mcp", json=LIST_TOOLS, headers=busy)).status_code)
        await asyncio.sleep(0.1)
        expired = await client.post("/v1/mcp", json=LIST_TOOLS, headers=idle)
    assert kept == [200, 200, 200]
    assert expired.status_code == 404


@pytest.mark.parametrize("end", ["revoke", "rotate"])
async def test_a_session_lives_only_as_long_as_its_token(edge: EdgeFactory, vault: Vault, end: str) -> None:
    """Revoking or rotating the token that opened a session makes the session's next request 401."""
    record, token = vault.create_tenant("alice")
    async with asgi_client(edge()) as client:
        session = session_headers(await initialize(client, Authorization=f"Bearer {token}"), token)
        before = await client.post("/v1/mcp", json=LIST_TOOLS, headers=session)
        if end == "revoke":
            vault.revoke(record.tenant_id)
        else:
            vault.rotate(token)
        after = await client.post("/v1/mcp", json=LIST_TOOLS, headers=session)
    assert before.status_code == 200 and "whoami" in before.text
    assert after.status_code == 401
    assert "whoami" not in after.text
