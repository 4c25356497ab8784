"""OAuth 2.1 test helpers: a gateway with OAuth on, a client metadata document server, and the HTTP
steps of a real authorization (PKCE S256 verifier, authorize, consent, token) done with httpx.

The browser sign-in is stood in for by :attr:`OAuthServer.signin`, mcpgram's sign-in interface
(``web/consent.py``'s ``SignIn``): a cookie naming a tenant whose keys the test unlocked with that
tenant's ``mcpg_`` token, as ``mcpgram token create`` + login leave it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx2 as httpx
from fastmcp.client.auth import OAuth
from mcp.shared.auth import AuthorizationCodeResult
from starlette.requests import Request

from mcpgram.app import build_gateway, serve_http
from mcpgram.sandbox import SandboxServer
from mcpgram.vault.vault import TenantKeys, Vault
from tests.fetch.conftest import LocalServer, TestCA, local_fetcher, response

from .conftest import settings_for

SESSION_COOKIE = "test_session"
DOC_PATH = "/client.json"
REDIRECT = "http://127.0.0.1:7777/callback"


def pkce() -> tuple[str, str]:
    """``(verifier, S256 challenge)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def client_document(client_id: str, *, name: str = "Test Agent", redirects: list[str] | None = None) -> bytes:
    doc = {
        "client_id": client_id,
        "client_name": name,
        "redirect_uris": redirects or [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    return json.dumps(doc).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OAuthServer:
    base: str
    gateway: Any
    documents: LocalServer
    sessions: dict[str, TenantKeys] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        return f"{self.base}/v1/mcp"

    def client_id(self, path: str = DOC_PATH) -> str:
        return self.documents.url(path)

    def publish(self, path: str, body: bytes) -> str:
        self.documents.routes[path] = response(200, body, [("Content-Type", "application/json")])
        return self.client_id(path)

    def sign_in(self, keys: TenantKeys) -> str:
        cookie = secrets.token_urlsafe(16)
        self.sessions[cookie] = keys
        return cookie

    async def signin(self, request: Request) -> TenantKeys | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))


@asynccontextmanager
async def oauth_server(
    sandbox: SandboxServer,
    data_dir: Path,
    test_ca: TestCA,
    *,
    setup_sessions: bool = False,
    **overrides: object,
) -> AsyncIterator[OAuthServer]:
    documents = LocalServer(test_ca.server_context())
    await documents.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings_for(
        sandbox, data_dir, transport="http", port=port, public_url=base, oauth=True, **overrides
    )
    fetcher = local_fetcher(test_ca, data_dir.parent)
    gateway = build_gateway(settings, transport="http", oauth_fetcher=fetcher)
    running = OAuthServer(base, gateway, documents)
    if not setup_sessions:  # else: the /setup session cookie signs people in, as in production
        gateway.oauth.signin = running.signin
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    try:
        await asyncio.wait_for(bound, 10)
        yield running
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await documents.stop()


class Endpoints(Protocol):
    """What :func:`authorize` needs of a server: its base URL and its resource."""

    @property
    def base(self) -> str: ...
    @property
    def resource(self) -> str: ...


async def authorize(
    http: httpx.AsyncClient, server: Endpoints, client_id: str, challenge: str | None, **extra: str
) -> httpx.Response:
    """``GET /authorize`` with the usual parameters (``extra`` overrides or adds; ``""`` drops one)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "code_challenge_method": "S256",
        "resource": server.resource,
    }
    if challenge is not None:
        params["code_challenge"] = challenge
    params.update(extra)
    params = {name: value for name, value in params.items() if value != ""}
    return await http.get(f"{server.base}/authorize", params=params)


def location(reply: httpx.Response) -> httpx.URL:
    assert reply.status_code in (302, 303, 307), (reply.status_code, reply.text)
    return httpx.URL(reply.headers["location"])


async def consent(
    http: httpx.AsyncClient,
    consent_url: str,
    cookie: str,
    decision: str = "allow",
    name: str = SESSION_COOKIE,
) -> httpx.Response:
    """Open the consent page signed in (cookie ``name``), and answer its form."""
    page = await http.get(consent_url, headers={"Cookie": f"{name}={cookie}"})
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(request|csrf)" value="([^"]*)"', page.text))
    assert set(fields) == {"request", "csrf"}, page.text
    return await http.post(
        httpx.URL(consent_url).copy_with(query=None),
        data={**fields, "decision": decision},
        headers={"Cookie": f"{name}={cookie}"},
    )


async def code_for(
    http: httpx.AsyncClient, server: OAuthServer, client_id: str, cookie: str
) -> tuple[str, str]:
    """A fresh authorization code and its PKCE verifier."""
    verifier, challenge = pkce()
    to_consent = location(await authorize(http, server, client_id, challenge))
    answered = location(await consent(http, str(to_consent), cookie))
    assert str(answered).startswith(REDIRECT) and answered.params["state"] == "st-1"
    return answered.params["code"], verifier


async def token(http: httpx.AsyncClient, server: OAuthServer, **form: str) -> httpx.Response:
    return await http.post(f"{server.base}/token", data=form)


async def tokens(http: httpx.AsyncClient, server: OAuthServer, client_id: str, cookie: str) -> dict[str, Any]:
    """The whole flow: authorize -> consent -> token; the token response."""
    code, verifier = await code_for(http, server, client_id, cookie)
    reply = await token(
        http, server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        client_id=client_id, code_verifier=verifier, resource=server.resource,
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def vault_keys(vault: Vault, token: str) -> TenantKeys:
    return vault.unlock_with_token(token)


class ScriptedBrowser(OAuth):
    """FastMCP's OAuth client with the browser played by httpx: the signed-in person opens the
    authorization URL, approves on the consent page, and the redirect's code comes back."""

    def __init__(self, server: OAuthServer, cookie: str, client_metadata_url: str, port: int) -> None:
        super().__init__(
            client_metadata_url=client_metadata_url, callback_port=port, callback_host="127.0.0.1"
        )
        self.server, self.cookie = server, cookie
        self.result: AuthorizationCodeResult | None = None
        self.authorization_urls: list[str] = []

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        async with httpx.AsyncClient(timeout=20) as http:
            to_consent = location(await http.get(authorization_url))
            answered = location(await consent(http, str(to_consent), self.cookie))
        self.result = AuthorizationCodeResult(
            code=answered.params["code"], state=answered.params.get("state")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result
