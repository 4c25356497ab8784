"""Host, request-target and Origin strictness: hostile tables in process and over a real socket.

Header cases go through the in-process client; a repeated ``Host``, a missing one and absolute-form
targets are sent as raw bytes to uvicorn (with mcpgram's protocol), since httpx normalises them.
Every refusal must carry mcpgram's JSON body and the security headers, and look up no token.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from mcpgram.vault.vault import Vault
from mcpgram.web.frontwire import Refusal, origin_form
from mcpgram.web.hostguard import parse_authority, parse_origin

from .conftest import INITIALIZE, CountingStore, EdgeConfig, EdgeFactory, asgi_client, initialize, serve

REFUSALS = {400: "BAD_HOST", 421: "MISDIRECTED_REQUEST", 403: "FORBIDDEN_ORIGIN"}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("Gw.Example:443", ("gw.example", 443)),
        ("[::1]:8000", ("::1", 8000)),
        ("[0:0::1]", ("::1", None)),
        ("a@127.0.0.1", None),
        ("127.0.0.1:abc", None),
        ("127.0.0.1:", None),
        ("127.0.0.1:0", None),
        ("127.0.0.1:65536", None),
        ("127.0.0.1:+80", None),
        ("", None),
        (" 127.0.0.1", None),
        ("127.0.0.1 evil", None),
        ("127.0.0.1/x", None),
        ("evil.example\\@127.0.0.1", None),
        ("-bad.example", None),
        ("a..b", None),
        ("[::1", None),
        ("[not-ip]", None),
        ("[::1]x", None),
        ("::1", None),
        ("x" * 254, None),
    ],
)
def test_parse_authority(value: str, parsed: tuple[str, int | None] | None) -> None:
    assert parse_authority(value) == parsed


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("http://127.0.0.1:8000", ("http", "127.0.0.1", 8000)),
        ("HTTPS://GW.example", ("https", "gw.example", 443)),
        ("http://[::1]", ("http", "::1", 80)),
        ("null", None),
        ("file://", None),
        ("http://a@gw.example", None),
        ("http://gw.example/path", None),
        ("http://gw.example?x", None),
        ("http://gw.example:99999", None),
        ("javascript://gw.example", None),
    ],
)
def test_parse_origin(value: str, parsed: tuple[str, str, int] | None) -> None:
    assert parse_origin(value) == parsed


# --- in process: header cases ----------------------------------------------------------------------


HEADER_TABLE: list[tuple[dict[str, str], int]] = [
    ({}, 200),
    ({"Host": "LOCALHOST:8000"}, 200),
    ({"Host": "[::1]:8000"}, 200),
    ({"Origin": "http://127.0.0.1:8000"}, 200),
    ({"Host": "localhost:8000", "Origin": "http://localhost:8000"}, 200),
    ({"Host": "a@127.0.0.1:8000"}, 400),
    ({"Host": "127.0.0.1:abc"}, 400),
    ({"Host": "127.0.0.1:0"}, 400),
    ({"Host": "127.0.0.1:70000"}, 400),
    ({"Host": ""}, 400),
    ({"Host": "127.0.0.1/evil"}, 400),
    ({"Host": "127.0.0.1:8000 evil"}, 400),
    ({"Host": "[::1"}, 400),
    ({"Host": "evil.example"}, 421),
    ({"Host": "127.0.0.1.nip.io:8000"}, 421),
    ({"Origin": "http://127.0.0.1:9999"}, 403),
    ({"Origin": "http://localhost:8000"}, 403),
    ({"Origin": "https://127.0.0.1:8000"}, 403),
    ({"Origin": "http://127.0.0.1"}, 403),
    ({"Origin": "http://127.0.0.1:8000/x"}, 403),
    ({"Origin": "http://a@127.0.0.1:8000"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": ""}, 403),
    ({"Origin": "https://evil.example"}, 403),
]


@pytest.mark.parametrize(("headers", "status"), HEADER_TABLE, ids=[repr(h) for h, _ in HEADER_TABLE])
async def test_host_and_origin_table(
    edge: EdgeFactory, vault: Vault, store: CountingStore, headers: dict[str, str], status: int
) -> None:
    """On 127.0.0.1:8000: one well-formed allowed Host; an Origin only when it is this very origin."""
    _, token = vault.create_tenant("alice")
    before = store.lookups
    async with asgi_client(edge()) as client:
        response = await initialize(client, Authorization=f"Bearer {token}", **headers)
    assert response.status_code == status, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    if status != 200:
        assert set(response.json()) == {"error", "message"}
        assert response.json()["error"] == REFUSALS[status]
        assert store.lookups == before


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://127.0.0.1:9999", 200),
        ("http://127.0.0.1:9998", 403),
        ("https://app.example", 200),
        ("https://app.example:444", 403),
    ],
)
async def test_configured_origins_are_matched_on_scheme_host_and_port(
    edge: EdgeFactory, vault: Vault, origin: str, status: int
) -> None:
    _, token = vault.create_tenant("alice")
    app = edge(cors_origins=["http://127.0.0.1:9999", "https://app.example"])
    async with asgi_client(app) as client:
        response = await initialize(client, Authorization=f"Bearer {token}", Origin=origin)
    assert response.status_code == status


async def test_health_is_guarded_too(edge: EdgeFactory) -> None:
    async with asgi_client(edge()) as client:
        ok = await client.get("/health")
        foreign = await client.get("/health", headers={"Origin": "http://127.0.0.1:9999"})
        junk = await client.get("/health", headers={"Host": "127.0.0.1:x"})
    assert [ok.status_code, foreign.status_code, junk.status_code] == [200, 403, 400]
    assert foreign.json()["error"] == "FORBIDDEN_ORIGIN"


# --- over a real socket: what httpx would normalise --------------------------------------------------


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read the answer until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_request(target: bytes, host_lines: bytes, token: str | None = None) -> bytes:
    body = json.dumps(INITIALIZE).encode()
    head = b"POST " + target + b" HTTP/1.1\r\n" + host_lines
    if token is not None:
        head += b"Authorization: Bearer " + token.encode() + b"\r\n"
    head += b"Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


#: (case, target, Host lines, status, code); ``{port}`` stands for the server's port.
RAW_TABLE = [
    ("duplicate Host", b"/v1/mcp", b"Host: 127.0.0.1:{port}\r\nHost: evil.example\r\n", 400, b"BAD_HOST"),
    (
        "same Host twice",
        b"/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_HOST",
    ),
    ("no Host", b"/v1/mcp", b"", 400, b"BAD_HOST"),
    (
        "absolute-form, other host",
        b"http://other.example/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_REQUEST_TARGET",
    ),
    (
        "absolute-form, other port",
        b"http://127.0.0.1:1/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_REQUEST_TARGET",
    ),
    (
        "absolute-form, userinfo",
        b"http://a@127.0.0.1:{port}/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_REQUEST_TARGET",
    ),
    (
        "absolute-form agreeing with a foreign Host",
        b"http://evil.example/v1/mcp",
        b"Host: evil.example\r\n",
        421,
        b"MISDIRECTED_REQUEST",
    ),
    (
        "absolute-form, the Host's own",
        b"http://127.0.0.1:{port}/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        200,
        b"",
    ),
]


@pytest.mark.parametrize("row", RAW_TABLE, ids=[row[0] for row in RAW_TABLE])
async def test_raw_host_and_target_table(
    edge: EdgeFactory, vault: Vault, store: CountingStore, row: tuple[str, bytes, bytes, int, bytes]
) -> None:
    """Over a real socket: repeated or missing Host 400; an absolute-form target must name the Host."""
    case, target, hosts, status, code = row
    _, token = vault.create_tenant("alice")
    async with serve(edge()) as base:
        port = base.rsplit(":", 1)[1].encode()
        before = store.lookups
        request = raw_request(target.replace(b"{port}", port), hosts.replace(b"{port}", port), token)
        response = await asyncio.to_thread(raw_exchange, int(port), request)
    assert response.startswith(b"HTTP/1.1 %d " % status), (case, response[:300])
    assert b"x-content-type-options: nosniff" in response.lower()
    if status != 200:
        assert b'{"error":"' + code + b'","message":' in response
        assert store.lookups == before
    else:
        assert store.lookups == before + 1


@pytest.mark.parametrize(
    ("target", "hosts", "expected"),
    [
        (b"/v1/mcp", [], b"/v1/mcp"),
        (b"http://127.0.0.1:8000/v1/mcp?x=1", [b"127.0.0.1:8000"], b"/v1/mcp?x=1"),
        (b"http://gw.example", [b"gw.example:80"], b"/"),
        (b"http://gw.example?q", [b"GW.example"], b"/?q"),
        (b"http://other.example/v1/mcp", [b"127.0.0.1"], None),
        (b"http://gw.example/v1/mcp", [b"gw.example", b"gw.example"], None),
        (b"http://gw.example/v1/mcp", [], None),
        (b"http://a@gw.example/v1/mcp", [b"gw.example"], None),
        (b"https://gw.example/v1/mcp", [b"gw.example"], None),
    ],
)
def test_the_front_turns_absolute_form_into_origin_form(
    target: bytes, hosts: list[bytes], expected: bytes | None
) -> None:
    """What the front forwards: ``/path`` only when the target's authority is the Host (else 400)."""
    result = origin_form(target, [(b"Host", host) for host in hosts], "http")
    if expected is None:
        assert isinstance(result, Refusal)
        assert (result.status, result.code) == (400, "BAD_REQUEST_TARGET")
    else:
        assert result == expected


def test_edge_config_default_is_the_table_server() -> None:
    """The in-process table assumes the default bind (127.0.0.1:8000) behind the test base URL."""
    assert (EdgeConfig().host, EdgeConfig().port) == ("127.0.0.1", 8000)
