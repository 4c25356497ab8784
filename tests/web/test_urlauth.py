"""Token placement: url_auth paths become header-authenticated MCP requests; query tokens are refused."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from mcpgram import auth
from mcpgram.vault.vault import Vault
from mcpgram.web.urlauth import UrlAuthMiddleware, query_carries_token

from .conftest import CountingStore, EdgeFactory, asgi_client, initialize

TOKEN = auth.new_token()
OTHER = auth.new_token()


class EchoApp:
    """Records the scope it was called with and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def authorization(self) -> list[bytes]:
        return [v for k, v in self.scopes[-1]["headers"] if k.lower() == b"authorization"]


async def call(path: str, headers: dict[str, str] | None = None) -> tuple[httpx2.Response, EchoApp]:
    echo = EchoApp()
    transport = httpx2.ASGITransport(UrlAuthMiddleware(echo))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(path, headers=headers or {}, content=b"{}")
    return response, echo


@pytest.mark.parametrize(
    ("path", "rewritten"),
    [
        (f"/v1/url_auth/{TOKEN}/mcp", "/v1/mcp"),
        (f"/v1/url_auth/{TOKEN}/mcp/", "/v1/mcp"),
        (f"/v1/url_auth/{TOKEN}/mcp/extra", "/v1/mcp/extra"),
    ],
)
async def test_url_auth_path_is_rewritten_with_a_bearer_header(path: str, rewritten: str) -> None:
    """The token moves from the path into ``Authorization: Bearer``; the app never sees it in the path."""
    response, echo = await call(path)
    assert response.status_code == 200
    scope = echo.scopes[-1]
    assert scope["path"] == rewritten
    assert scope["raw_path"] == rewritten.encode()
    assert TOKEN not in scope["path"]
    assert echo.authorization() == [f"Bearer {TOKEN}".encode()]


async def test_same_token_in_header_and_path_is_accepted_once() -> None:
    """A client sending the same token both ways gets one Authorization header."""
    response, echo = await call(f"/v1/url_auth/{TOKEN}/mcp", {"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200
    assert echo.authorization() == [f"Bearer {TOKEN}".encode()]


@pytest.mark.parametrize("header", [f"Bearer {OTHER}", "Basic dXNlcjpwYXNz", f"Bearer  {TOKEN}", "Bearer"])
async def test_conflicting_authorization_header_is_refused(header: str) -> None:
    """A header that does not carry exactly the path's token is 400, and nothing reaches the app."""
    response, echo = await call(f"/v1/url_auth/{TOKEN}/mcp", {"Authorization": header})
    assert response.status_code == 400
    assert response.json()["error"] == "CONFLICTING_AUTHORIZATION"
    assert echo.scopes == []


async def call_raw(path: str) -> tuple[int, dict[bytes, bytes], EchoApp]:
    """Call the middleware with ``path`` exactly as a server delivers it (decoded, not normalised)."""
    echo = EchoApp()
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "headers": [],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await UrlAuthMiddleware(echo)(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), echo


@pytest.mark.parametrize(
    "path",
    [
        "/v1/url_auth",
        "/v1/url_auth/",
        "/v1/url_auth//mcp",
        "/v1/url_auth/../mcp",
        "/v1/url_auth/../../etc/passwd/mcp",
        "/v1/url_auth/./mcp",
        "/v1/url_auth/telegram/mcp",
        "/v1/url_auth/default/mcp",
        "/v1/url_auth/session/mcp",
        "/v1/url_auth/SESSION/mcp",
        f"/v1/url_auth/{TOKEN}x/mcp",
        f"/v1/url_auth/{TOKEN.upper()}/mcp",
        f"/v1/url_auth/Bearer {TOKEN}/mcp",
        f"/v1/url_auth/{TOKEN[:10]}\x00{TOKEN[11:]}/mcp",
        "/v1/url_auth/" + "A" * 5000 + "/mcp",
    ],
)
async def test_malformed_path_tokens_are_refused_with_401(path: str) -> None:
    """Traversal, reserved-looking names and junk in the token segment are 401 before anything else."""
    status, headers, echo = await call_raw(path)
    assert status == 401
    assert headers[b"www-authenticate"].startswith(b"Bearer")
    assert echo.scopes == []


async def test_client_encoded_traversal_is_refused() -> None:
    """Percent-encoded traversal in the token segment, sent by a real HTTP client, is 401."""
    for path in ["/v1/url_auth/..%2F..%2Fetc%2Fpasswd/mcp", "/v1/url_auth/%2e%2e/mcp"]:
        response, echo = await call(path)
        assert response.status_code == 401
        assert echo.scopes == []


@pytest.mark.parametrize(
    "path", [f"/v1/url_auth/{TOKEN}", f"/v1/url_auth/{TOKEN}/health", f"/v1/url_auth/{TOKEN}/mcpx"]
)
async def test_url_auth_leads_only_to_mcp(path: str) -> None:
    """A well-formed token with any destination other than /mcp is 404."""
    response, echo = await call(path)
    assert response.status_code == 404
    assert echo.scopes == []


@pytest.mark.parametrize(
    "query",
    [
        "token=abc",
        "access_token=abc",
        "ACCESS_TOKEN=abc",
        "auth_token=",
        f"x={TOKEN}",
        f"x=Bearer%20{TOKEN}",
        f"{TOKEN}",
        f"x=y&token={TOKEN}",
        f"x={TOKEN.replace('_', '%5F')}",
    ],
)
@pytest.mark.parametrize("path", ["/v1/mcp", f"/v1/url_auth/{TOKEN}/mcp", "/health"])
async def test_tokens_in_the_query_are_refused(path: str, query: str) -> None:
    """Any token-named parameter or token-shaped value is 400 with a pointer to the header."""
    response, echo = await call(f"{path}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "TOKEN_IN_QUERY"
    assert "Authorization header" in body["message"]
    assert TOKEN not in response.text
    assert echo.scopes == []


@pytest.mark.parametrize("query", [b"", b"cursor=abc", b"x=mcpg_short", b"tokens_left=3"])
def test_innocent_queries_pass(query: bytes) -> None:
    """Ordinary parameters, even ones mentioning the prefix, are not mistaken for tokens."""
    assert not query_carries_token(query)


async def test_url_auth_reaches_the_mcp_endpoint_as_the_tenant(
    edge: EdgeFactory, vault: Vault, store: CountingStore
) -> None:
    """Through the whole edge, a url_auth initialize succeeds and is authenticated by one lookup."""
    vault.create_tenant("alice")
    _, token = vault.create_tenant("bob")
    async with asgi_client(edge()) as client:
        response = await initialize(client, f"/v1/url_auth/{token}/mcp")
    assert response.status_code == 200
    assert response.headers["mcp-session-id"]
    assert store.lookups == 1


@pytest.mark.parametrize(
    ("make_token", "expected"),
    [
        (lambda vault: "telegram", (401, 0)),
        (lambda vault: "..", (401, 0)),
        (lambda vault: auth.new_token(), (401, 1)),
        (lambda vault: vault.create_tenant("x")[1], (200, 1)),
    ],
)
async def test_url_auth_through_the_edge(
    edge: EdgeFactory, vault: Vault, store: CountingStore, make_token: Any, expected: tuple[int, int]
) -> None:
    """Malformed path tokens never reach storage; unknown ones are 401 after one lookup."""
    token = make_token(vault)
    status, lookups = expected
    async with asgi_client(edge()) as client:
        response = await initialize(client, f"/v1/url_auth/{token}/mcp")
    assert response.status_code == status
    assert store.lookups == lookups
