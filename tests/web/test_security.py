"""Edge middleware: security headers everywhere, the body limit, CORS, and the token-free access log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from fastmcp.server.dependencies import get_access_token
from starlette.types import Receive, Scope, Send

from mcpgram import auth
from mcpgram.log import JSONFormatter, RedactingFilter, tenant_label
from mcpgram.tools.audit import AuditMiddleware
from mcpgram.vault.vault import Vault
from mcpgram.web.app import build_http_app
from mcpgram.web.security import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    redact_path,
)
from mcpgram.web.verifier import MCPGramTokenVerifier

from .conftest import (
    MCP_ACCEPT,
    CountingStore,
    EdgeConfig,
    EdgeFactory,
    asgi_client,
    initialize,
    whoami_server,
)

EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def assert_security_headers(response: httpx2.Response, *, hsts: bool = False) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get_list(name) == [value], name
    assert response.headers.get_list("cache-control")[0].startswith("no-store")
    assert ("strict-transport-security" in response.headers) is hsts


async def test_security_headers_on_every_kind_of_response(edge: EdgeFactory, vault: Vault) -> None:
    """200, 400, 401, 404, 413 and 421 responses all carry the security headers."""
    _, token = vault.create_tenant("alice")
    async with asgi_client(edge()) as client:
        responses = {
            200: await initialize(client, Authorization=f"Bearer {token}"),
            400: await client.get("/health?token=x"),
            401: await initialize(client),
            404: await client.get("/nowhere"),
            413: await client.post("/v1/mcp", content=b"x" * 5000, headers=MCP_ACCEPT),
            421: await initialize(client, Authorization=f"Bearer {token}", Host="evil.example"),
        }
    for status, response in responses.items():
        assert response.status_code == status
        assert_security_headers(response)


async def test_event_streams_keep_no_transform() -> None:
    """An SSE response's ``no-transform`` survives next to our ``no-store``, in a single header."""

    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-transform")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: x\n\n"})

    transport = httpx2.ASGITransport(app=SecurityHeadersMiddleware(stream))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/v1/mcp")
    assert response.headers.get_list("cache-control") == ["no-store, no-transform"]


async def test_tool_calls_are_answered_with_one_json_body(edge: EdgeFactory, vault: Vault) -> None:
    """POSTs get application/json (no SSE stream to set up per call), still with no-store."""
    _, token = vault.create_tenant("alice")
    async with asgi_client(edge()) as client:
        response = await initialize(client, Authorization=f"Bearer {token}")
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["serverInfo"]["name"]
    assert response.headers.get_list("cache-control") == ["no-store"]


@pytest.mark.parametrize(
    ("config", "hsts"),
    [
        (EdgeConfig(), False),
        (EdgeConfig(public_url="http://gw.example"), False),
        (EdgeConfig(public_url="https://gw.example"), True),
        (EdgeConfig(tls_cert=Path("cert.pem")), True),
    ],
)
async def test_hsts_only_when_reached_over_https(edge: EdgeFactory, config: EdgeConfig, hsts: bool) -> None:
    """Strict-Transport-Security is sent with TLS or an https public URL, and not otherwise."""
    async with asgi_client(edge(config)) as client:
        ok = await client.get("/health")
        refused = await initialize(client)
    assert_security_headers(ok, hsts=hsts)
    assert_security_headers(refused, hsts=hsts)


async def test_internal_errors_carry_security_headers(edge: EdgeFactory) -> None:
    """A crash outside FastMCP still answers 500 with the security headers and no details."""

    def broken_stats() -> dict[str, int]:
        raise RuntimeError("secret detail")

    app = edge(operator_token="op", pool_stats=broken_stats)
    async with asgi_client(app) as client:
        response = await client.get("/health", headers={"Authorization": "Bearer op"})
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert_security_headers(response)


class Sink:
    """An app that reads its whole body and reports its size."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 200), (b"x" * 1000, 200), (b"x" * 1001, 413), (b"x" * 10_000_000, 413)],
)
async def test_declared_body_over_the_limit_is_413_before_the_app(body: bytes, status: int) -> None:
    """A Content-Length over the limit is refused with a JSON 413 and the app never runs."""
    sink = Sink()
    transport = httpx2.ASGITransport(BodyLimitMiddleware(sink, max_bytes=1000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post("/", content=body)
    assert response.status_code == status
    if status == 413:
        assert response.json()["error"] == "BODY_TOO_LARGE"
        assert sink.bodies == []
    else:
        assert sink.bodies == [body]


@pytest.mark.parametrize(("total", "status"), [(0, 200), (1000, 200), (1001, 413), (50_000, 413)])
async def test_chunked_body_is_counted_as_it_streams(total: int, status: int) -> None:
    """A body without Content-Length is counted chunk by chunk; the app only sees bodies that fit."""
    sink = Sink()
    transport = httpx2.ASGITransport(BodyLimitMiddleware(sink, max_bytes=1000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post("/", content=chunks(total))
    assert "content-length" not in response.request.headers
    assert response.status_code == status
    assert sink.bodies == ([b"x" * total] if status == 200 else [])


@pytest.mark.parametrize("value", ["abc", "-1", "1, 1", "1e3"])
async def test_invalid_content_length_is_400(value: str) -> None:
    """A Content-Length that is not one plain number is refused before the app runs."""
    sink = Sink()

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", value.encode())]}
    await BodyLimitMiddleware(sink, max_bytes=1000)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert sink.bodies == []


async def test_oversized_body_never_reaches_auth(
    edge: EdgeFactory, vault: Vault, store: CountingStore
) -> None:
    """An oversized MCP request with a valid token is 413 without a token lookup."""
    _, token = vault.create_tenant("alice")
    async with asgi_client(edge()) as client:
        response = await client.post(
            "/v1/mcp",
            content=b"{" + b" " * 5000 + b"}",
            headers={**MCP_ACCEPT, "Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 413
    assert store.lookups == 0


async def test_no_cors_headers_unless_origins_are_configured(edge: EdgeFactory, vault: Vault) -> None:
    """Without configured origins no Access-Control header is sent, even to a same-origin browser."""
    _, token = vault.create_tenant("alice")
    origin = {"Origin": "http://127.0.0.1:8000"}
    async with asgi_client(edge()) as client:
        response = await initialize(client, Authorization=f"Bearer {token}", **origin)
        preflight = await client.options(
            "/v1/mcp", headers={**origin, "Access-Control-Request-Method": "POST"}
        )
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


async def test_configured_cors_origin_is_answered(edge: EdgeFactory, vault: Vault) -> None:
    """A configured origin gets a preflight answer and may read the session id; others get nothing."""
    _, token = vault.create_tenant("alice")
    app = edge(cors_origins=["https://app.example"])
    async with asgi_client(app) as client:
        preflight = await client.options(
            "/v1/mcp",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        response = await initialize(client, Authorization=f"Bearer {token}", Origin="https://app.example")
        foreign = await initialize(client, Authorization=f"Bearer {token}", Origin="https://evil.example")
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "mcp-session-id" in response.headers["access-control-expose-headers"].lower()
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/v1/mcp", "/v1/mcp"),
        ("/v1/url_auth/SECRET/mcp", "/v1/url_auth/[redacted]/mcp"),
        ("/v1/url_auth/SECRET/mcp/x", "/v1/url_auth/[redacted]/mcp/x"),
        ("/v1/url_auth/SECRET/other", "/v1/url_auth/[redacted]"),
        ("/v1/url_auth/SE/CRET", "/v1/url_auth/[redacted]"),
        ("/v1/url_auth", "/v1/url_auth/[redacted]"),
        ("/anywhere/mcpg_SECRET/x", "/anywhere/[redacted]/x"),
        ("/v1/attachments/CAPABILITY", "/v1/attachments/[redacted]"),
        ("/v1/attachments/CAP/ABILITY/x", "/v1/attachments/[redacted]"),
        ("/" + "a" * 500, "/" + "a" * 199 + "..."),
    ],
)
def test_redact_path(path: str, logged: str) -> None:
    """The logged path hides url_auth tokens and anything token-like, and stays short."""
    assert redact_path(path) == logged


async def test_access_log_never_contains_a_token(
    edge: EdgeFactory, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    """Header, url_auth and query tokens, valid or not, never appear in any server-side log record."""
    caplog.set_level(logging.DEBUG)
    record, token = vault.create_tenant("alice")
    unknown = auth.new_token()
    async with asgi_client(edge()) as client:
        await initialize(client, Authorization=f"Bearer {token}")
        await initialize(client, f"/v1/url_auth/{token}/mcp")
        await initialize(client, f"/v1/url_auth/{unknown}/mcp")
        await initialize(client, Authorization=f"Bearer {unknown}")
        await client.get(f"/health?access_token={token}")
        await client.get(f"/v1/url_auth/{token}/nowhere")
    # The test's own HTTP client logs full URLs at INFO: it is the client, not the server (the style
    # guide keeps it at WARNING for that reason), so its records are left out.
    server_records = [r for r in caplog.records if not r.name.startswith("httpx")]
    dumped = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in server_records)
    assert token not in dumped
    assert unknown not in dumped
    lines = [r for r in server_records if r.name == "mcpgram.web.access"]
    assert [(r.method, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("POST", "/v1/mcp", 200),
        ("POST", "/v1/url_auth/[redacted]/mcp", 200),
        ("POST", "/v1/url_auth/[redacted]/mcp", 401),
        ("POST", "/v1/mcp", 401),
        ("GET", "/health", 400),
        ("GET", "/v1/url_auth/[redacted]", 404),
    ]
    tenants = [r.tenant for r in lines]  # type: ignore[attr-defined]
    assert tenants == [tenant_label(record.tenant_id)] * 2 + [None] * 4
    assert all(isinstance(r.duration_ms, float) for r in lines)  # type: ignore[attr-defined]


async def test_access_and_audit_lines_of_a_request_carry_the_same_tenant_label(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    """A tool call over HTTP logs an access line and an audit line; both name the tenant alike."""
    caplog.set_level(logging.INFO)
    record, token = vault.create_tenant("alice")
    mcp = whoami_server(MCPGramTokenVerifier(vault))

    def tenant_of() -> str | None:  # as mcpgram.app wires it
        access = get_access_token()
        return access.client_id if access is not None else None

    mcp.add_middleware(AuditMiddleware(tenant_of))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JSONFormatter())
    logging.getLogger().addHandler(handler)
    try:
        async with asgi_client(build_http_app(mcp, http_config=EdgeConfig())) as client:
            opened = await initialize(client, Authorization=f"Bearer {token}")
            session = {
                **MCP_ACCEPT,
                "Authorization": f"Bearer {token}",
                "mcp-session-id": opened.headers["mcp-session-id"],
                "mcp-protocol-version": "2025-06-18",
            }
            notified = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await client.post("/v1/mcp", json=notified, headers=session)
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}}
            called = await client.post("/v1/mcp", json=call, headers=session)
    finally:
        logging.getLogger().removeHandler(handler)
    assert called.status_code == 200 and record.tenant_id in called.text
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    audit = [line for line in lines if line["event"] == "tool.call"]
    access = [line for line in lines if line["event"] == "http.request"]
    assert [(line["tool"], line["outcome"]) for line in audit] == [("whoami", "ok")]
    assert len(access) == 3
    assert {line["tenant"] for line in audit + access} == {tenant_label(record.tenant_id)}
    assert token not in stream.getvalue()
