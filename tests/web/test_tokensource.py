"""The front routes by the very token the worker authenticates (differential, through real servers).

Two uvicorn servers, each with the workers' own protocol, ``UrlAuthMiddleware`` and the MCP SDK's
bearer authentication, record every token their verifier is asked about; a real :class:`FrontServer`
routes raw requests to them. A tenant must be verified only by the worker its token hashes to,
however the request spells the token.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from mcpgram import auth
from mcpgram.web.edge import EdgeLimits
from mcpgram.web.front import FrontServer
from mcpgram.web.frontwire import origin_form, route_key, worker_index
from mcpgram.web.protocol import TargetKeepingProtocol
from mcpgram.web.relay import WorkerRelay
from mcpgram.web.upstream import WorkerLink
from mcpgram.web.urlauth import UrlAuthMiddleware

WORKERS = 2
TOKENS = [auth.new_token() for _ in range(8)]


class Recorder:
    """A token verifier that only remembers what it was asked (and accepts nothing)."""

    def __init__(self, index: int, seen: list[tuple[int, str]]) -> None:
        self.index = index
        self.seen = seen

    async def verify_token(self, token: str) -> AccessToken | None:
        self.seen.append((self.index, token))
        return None


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


class Stack:
    def __init__(self, port: int, seen: list[tuple[int, str]]) -> None:
        self.port = port
        self.seen = seen


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    seen: list[tuple[int, str]] = []
    servers, tasks = [], []
    for index in range(WORKERS):
        backend = BearerAuthBackend(Recorder(index, seen))
        app = UrlAuthMiddleware(AuthenticationMiddleware(ok, backend=backend))
        path = str(tmp_path / f"w{index}.sock")
        config = uvicorn.Config(app, uds=path, http=TargetKeepingProtocol, lifespan="off", log_config=None)
        server = uvicorn.Server(config)
        servers.append(server)
        tasks.append(asyncio.create_task(server.serve()))
    while not all(server.started for server in servers):  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.01)
    links = [WorkerLink(str(tmp_path / f"w{index}.sock")) for index in range(WORKERS)]
    relay = WorkerRelay(links, max_body_bytes=1 << 20, auth_failures_per_minute=10_000)
    front = FrontServer(relay, limits=EdgeLimits())
    port = await front.start()
    try:
        yield Stack(port, seen)
    finally:
        await front.stop()
        for link in links:
            link.close()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


def _send(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _pct(text: str, upper: bool) -> str:
    """Percent-encode the first three characters of ``text`` (and keep the rest)."""
    return "".join(f"%{ord(c):02X}" if upper else f"%{ord(c):02x}" for c in text[:3]) + text[3:]


def _cases(token: str, other: str, authority: str) -> list[tuple[str, str, list[str], str | None]]:
    """(name, target, header lines, token the worker must verify or None)."""
    bearer = f"Authorization: Bearer {token}"
    return [
        ("header", "/v1/mcp", [bearer], token),
        ("lower-case scheme", "/v1/mcp", [f"authorization: bearer {token}"], token),
        ("odd-case scheme", "/v1/mcp", [f"Authorization: BEARER {token}"], token),
        ("url_auth", f"/v1/url_auth/{token}/mcp", [], token),
        ("url_auth with query", f"/v1/url_auth/{token}/mcp?a=1", [], token),
        ("percent-encoded", f"/v1/url_auth/{_pct(token, False)}/mcp", [], token),
        ("percent-encoded upper", f"/v1/url_auth/{_pct(token, True)}/mcp", [], token),
        ("encoded slash %2f", f"/v1/url_auth/{token}%2fmcp", [], token),
        ("encoded slash %2F", f"/v1/url_auth/{token}%2Fmcp", [], token),
        ("encoded prefix", f"/v1%2Furl_auth%2f{token}/mcp", [], token),
        ("double encoding", f"/v1/url_auth/%25{ord(token[0]):02X}{token[1:]}/mcp", [], None),
        ("absolute-form", f"http://{authority}/v1/url_auth/{token}/mcp", [], token),
        ("absolute-form encoded", f"http://{authority}/v1/url_auth/{_pct(token, True)}%2Fmcp", [], token),
        ("absolute-form header", f"http://{authority}/v1/mcp", [bearer], token),
        ("duplicate headers", "/v1/mcp", [bearer, f"Authorization: Bearer {other}"], token),
        ("basic, then bearer", "/v1/mcp", ["Authorization: Basic eDp5", bearer], None),
        ("header and url_auth", f"/v1/url_auth/{token}/mcp", [bearer], token),
        ("header and encoded url_auth", f"/v1/url_auth/{_pct(token, False)}/mcp", [bearer], token),
        ("header, other url_auth", f"/v1/url_auth/{other}/mcp", [bearer], None),
    ]


async def test_every_spelling_of_a_token_goes_to_the_worker_that_verifies_it(stack: Stack) -> None:
    authority = f"127.0.0.1:{stack.port}"
    moved = 0
    for number, token in enumerate(TOKENS):
        other = TOKENS[(number + 1) % len(TOKENS)]
        for name, target, lines, verified in _cases(token, other, authority):
            head = [f"POST {target} HTTP/1.1", f"Host: {authority}", *lines, "Content-Length: 0"]
            request = ("\r\n".join([*head, "Connection: close"]) + "\r\n\r\n").encode()
            stack.seen.clear()
            answer = await asyncio.to_thread(_send, stack.port, request)
            assert answer.startswith(b"HTTP/1.1 "), name
            expected = [] if verified is None else [(worker_index(verified, WORKERS), verified)]
            assert stack.seen == expected, name
            # The pure routing function agrees with the worker on its own (origin-form) target too.
            if verified is not None:
                pairs = (line.partition(":") for line in head[1:])
                headers = [(a.encode(), b.strip().encode()) for a, _, b in pairs]
                target_bytes = origin_form(target.encode(), headers, "http")
                assert isinstance(target_bytes, bytes)
                assert route_key(target_bytes, headers) == verified, name
                moved += target_bytes.split(b"?")[0] != f"/v1/url_auth/{token}/mcp".encode()
    assert moved  # spellings that differ from the plain one were exercised


@pytest.mark.parametrize("target", [b"/v1/url_auth/\xc3\xa9/mcp", b"/v1/url_auth/%ZZ/mcp", b"/v1/url_auth/%"])
async def test_odd_targets_are_read_alike_or_refused(stack: Stack, target: bytes) -> None:
    request = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    answer = await asyncio.to_thread(_send, stack.port, request)
    assert answer.startswith(b"HTTP/1.1 4")
    assert stack.seen == []
