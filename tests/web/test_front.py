"""The multi-worker front's pure parts: which worker a request goes to, and what the worker receives."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from mcpgram.web.frontwire import (
    PEER_HEADER,
    FrontRequest,
    error_response,
    relayed_headers,
    route_key,
    worker_index,
)
from mcpgram.web.security import FrontPeerMiddleware

TOKEN = "mcpg_" + "A" * 43
RAW = TOKEN.encode()


@pytest.mark.parametrize(
    ("target", "headers", "key"),
    [
        (b"/v1/mcp", [(b"Authorization", b"Bearer " + RAW)], TOKEN),
        (b"/v1/mcp", [(b"authorization", b"bEaReR " + RAW)], TOKEN),
        # Read as the MCP SDK reads it: nothing stripped, so the worker refuses it too.
        (b"/v1/mcp", [(b"authorization", b"bearer   " + RAW)], "  " + TOKEN),
        (b"/v1/url_auth/" + RAW + b"/mcp", [], TOKEN),
        (b"/v1/url_auth/" + RAW + b"/mcp?x=1", [], TOKEN),
        (b"/v1/url_auth/" + RAW, [], TOKEN),
        (b"/v1/url_auth/%6Dcpg_" + b"A" * 43 + b"/mcp", [], TOKEN),  # percent-decoded as uvicorn does
        # The url_auth path wins, as in the workers (which refuse a header that disagrees).
        (b"/v1/url_auth/other/mcp", [(b"Authorization", b"Bearer " + RAW)], "other"),
        # Only the first Authorization header counts, as in the MCP SDK.
        (b"/v1/mcp", [(b"Authorization", b"Basic x"), (b"Authorization", b"Bearer " + RAW)], None),
        (b"/v1/mcp", [], None),
        (b"/v1/mcp", [(b"Authorization", b"Basic dXNlcjpwdw==")], None),
        (b"/v1/mcp", [(b"Authorization", b"Bearer ")], None),
        (b"/v1/url_auth//mcp", [], None),
        (b"/health", [], None),
    ],
)
def test_route_key_reads_the_token_the_worker_authenticates(
    target: bytes, headers: list[tuple[bytes, bytes]], key: str | None
) -> None:
    assert route_key(target, headers) == key


def test_worker_index_is_stable_and_spreads_tokens() -> None:
    tokens = [f"mcpg_{i:043d}" for i in range(4000)]
    assert [worker_index(t, 4) for t in tokens] == [worker_index(t, 4) for t in tokens]
    spread = Counter(worker_index(t, 4) for t in tokens)
    assert set(spread) == {0, 1, 2, 3}
    assert min(spread.values()) > 850  # 1000 each expected
    assert worker_index(None, 4) == 0
    assert {worker_index(t, 1) for t in tokens[:50]} == {0}


def test_oauth_access_tokens_of_one_tenant_share_a_worker() -> None:
    """``mcpa_<tag>.<random>``: every access token with one tenant tag (refreshes too) goes to one
    worker; tags spread; a token not shaped like one is hashed whole."""
    for tag in (f"{i:016x}" for i in range(40)):
        assert len({worker_index(f"mcpa_{tag}.{i:043d}", 4) for i in range(30)}) == 1
    spread = Counter(worker_index(f"mcpa_{i:016x}.same", 4) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 850
    untagged = {worker_index(f"mcpa_short.{i}", 4) for i in range(200)}
    assert len(untagged) == 4


def _request(**overrides: Any) -> FrontRequest:
    fields: dict[str, Any] = {
        "method": b"POST",
        "target": b"/v1/mcp",
        "version": "1.1",
        "headers": [
            (b"Host", b"gw.example"),
            (b"Authorization", b"Bearer " + RAW),
            (b"Transfer-Encoding", b"chunked"),
            (b"Expect", b"100-continue"),
            (b"X-Mcpgram-Peer", b"https 10.9.9.9 1 10.9.9.9 1"),  # a client's forgery
            (b"x-mcpgram-peer", b"https 10.8.8.8 1 10.8.8.8 1"),
            (b"Connection", b"keep-alive, Upgrade"),
        ],
        "body": b'{"a":1}',
        "keep_alive": True,
    }
    return FrontRequest(**(fields | overrides))


def _header_lines(encoded: bytes) -> list[bytes]:
    return encoded.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_a_forwarded_request_carries_only_the_fronts_peer_line_and_its_own_framing() -> None:
    encoded = _request().encode("http 203.0.113.7 50000 127.0.0.1 8000")
    lines = _header_lines(encoded)
    assert lines[0] == b"POST /v1/mcp HTTP/1.1"
    lowered = [line.lower() for line in lines[1:]]
    assert [line for line in lowered if line.startswith(PEER_HEADER)] == [
        b"x-mcpgram-peer: http 203.0.113.7 50000 127.0.0.1 8000"
    ]
    assert not [line for line in lowered if line.startswith((b"transfer-encoding", b"expect"))]
    assert [line for line in lowered if line.startswith(b"connection")] == [b"connection: keep-alive"]
    assert b"content-length: 7" in lowered
    assert encoded.endswith(b'\r\n\r\n{"a":1}')


@pytest.mark.parametrize(("method", "keep_alive"), [(b"HEAD", True), (b"GET", False)])
def test_head_requests_and_closing_clients_close_the_worker_connection(
    method: bytes, keep_alive: bool
) -> None:
    lines = _header_lines(_request(method=method, body=b"", keep_alive=keep_alive).encode("http - 0 - 0"))
    assert b"connection: close" in lines


def test_the_fronts_own_refusals_look_like_the_workers() -> None:
    response = error_response(413, "BODY_TOO_LARGE", "Too large.", hsts=True, close=True)
    head, body = response.split(b"\r\n\r\n", 1)
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 413 content too large"
    assert json.loads(body) == {"error": "BODY_TOO_LARGE", "message": "Too large."}
    for expected in (
        b"x-frame-options: deny",
        b"strict-transport-security: max-age=31536000",
        b"connection: close",
    ):
        assert expected in lines
    assert f"content-length: {len(body)}".encode() in lines


async def _scope_after(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": "http",
        "headers": headers,
        "client": None,  # what uvicorn reports for a Unix-socket connection
        "server": None,
        "scheme": "http",
    }
    await FrontPeerMiddleware(app)(scope, None, None)
    return seen


@pytest.mark.parametrize(
    ("values", "client", "server", "scheme"),
    [
        ([b"https 203.0.113.7 50000 10.0.0.5 443"], ("203.0.113.7", 50000), ("10.0.0.5", 443), "https"),
        ([b"http 2001:db8::1 1 ::1 8000"], ("2001:db8::1", 1), ("::1", 8000), "http"),
        ([], None, None, "http"),  # never without the front: the client is unknown
        ([b"http 1.2.3.4 1 5.6.7.8 2", b"http 9.9.9.9 1 5.6.7.8 2"], None, None, "http"),  # two: believe none
        ([b"http 1.2.3.4 x 5.6.7.8 2"], None, None, "http"),
        ([b"gopher 1.2.3.4 1 5.6.7.8 2"], ("1.2.3.4", 1), ("5.6.7.8", 2), "http"),
    ],
)
async def test_workers_take_the_client_address_from_the_front_and_drop_the_header(
    values: list[bytes], client: Any, server: Any, scheme: str
) -> None:
    headers = [(b"host", b"gw.example"), *((PEER_HEADER, value) for value in values)]
    scope = await _scope_after(headers)
    assert scope["client"] == client
    assert scope["server"] == server
    assert scope["scheme"] == scheme
    assert scope["headers"] == [(b"host", b"gw.example")]


def test_hop_by_hop_request_headers_are_not_forwarded() -> None:
    headers = [
        (b"Host", b"gw.example"),
        (b"Connection", b"keep-alive, X-Secret-Hop"),
        (b"X-Secret-Hop", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Authorization", b"Basic eDp5"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"TE", b"trailers"),
        (b"Trailer", b"X-Checksum"),
        (b"Upgrade", b"h2c"),
        (b"Transfer-Encoding", b"chunked"),
        (b"X-Kept", b"yes"),
    ]
    lines = _header_lines(_request(headers=headers).encode("http - 0 - 0"))
    names = [line.split(b":")[0].lower() for line in lines[1:]]
    assert names == [b"host", b"x-kept", b"connection", b"content-length", PEER_HEADER]


def test_relayed_answer_headers_lose_the_hop_by_hop_ones_but_keep_the_framing() -> None:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"keep-alive, X-Worker-Hop, transfer-encoding"),
        (b"X-Worker-Hop", b"1"),
        (b"Keep-Alive", b"timeout=3600"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Upgrade", b"h2c"),
        (b"Trailer", b"X-Checksum"),
        (b"x-frame-options", b"DENY"),
    ]
    # The body is relayed de-chunked and chunked again by the front's server: no trailer fields.
    assert relayed_headers(headers) == [
        (b"content-type", b"text/event-stream"),
        (b"Transfer-Encoding", b"chunked"),
        (b"x-frame-options", b"DENY"),
    ]
