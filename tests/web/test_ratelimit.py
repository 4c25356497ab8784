"""Rate limits at the edge: the brute-force lockout table, per-tenant budgets, the in-flight cap, bounded
memory under rotating addresses and tenants, and X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx2
import pytest
from fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from mcpgram import auth
from mcpgram.app import build_gateway, serve_http
from mcpgram.settings import Settings
from mcpgram.vault.vault import Vault
from mcpgram.web.app import build_http_app
from mcpgram.web.ratelimit import (
    DEFAULT_MAX_KEYS,
    EdgeLimiter,
    RateLimitMiddleware,
    SlidingWindow,
    TenantThrottleMiddleware,
    client_address,
    parse_networks,
)
from mcpgram.web.verifier import MCPGramTokenVerifier

from .conftest import BASE_URL, INITIALIZE, MCP_ACCEPT, CountingStore, EdgeConfig, EdgeFactory, initialize

ATTACKER = "203.0.113.66"
NEIGHBOUR = "198.51.100.7"
OPERATOR = "o" * 32


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.asynccontextmanager
async def clients(app: Starlette, *addresses: str) -> AsyncIterator[list[httpx2.AsyncClient]]:
    """One in-process client per source address, all talking to ``app`` under one lifespan."""
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:
        made = []
        for address in addresses:
            transport = httpx2.ASGITransport(app, raise_app_exceptions=False, client=(address, 40000))
            made.append(
                await stack.enter_async_context(httpx2.AsyncClient(transport=transport, base_url=BASE_URL))
            )
        yield made


def assert_refusal(response: httpx2.Response, status: int, code: str, retry_after: str) -> None:
    """A rate-limit refusal: status, JSON error code, Retry-After and the security headers."""
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.headers["retry-after"] == retry_after
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "mcp-session-id" not in response.headers


# --- the sliding window ------------------------------------------------------------------------------


def test_window_refuses_past_the_limit_until_the_oldest_event_leaves() -> None:
    """Three events in a minute fill a limit of three; the key is free once the first is 60 s old."""
    clock = FakeClock(0.0)
    window = SlidingWindow(3, 60, clock=clock)
    for at in (0.0, 10.0, 20.0):
        clock.now = at
        assert window.acquire("k") == 0.0
    assert window.acquire("k") == 40.0
    clock.now = 59.9
    assert window.retry_after("k") == pytest.approx(0.1)
    clock.now = 60.0
    assert window.acquire("k") == 0.0
    assert window.retry_after("k") == pytest.approx(10.0)


def test_window_keeps_at_most_limit_events_per_key() -> None:
    """Recording past the limit keeps only the newest ``limit`` timestamps, so a key never grows."""
    clock = FakeClock(0.0)
    window = SlidingWindow(5, 60, clock=clock)
    for _ in range(1000):
        clock.advance(0.001)
        window.record("k")
    assert window.stored_events() == 5


def test_window_evicts_the_least_recently_seen_key() -> None:
    """Past ``max_keys`` the key seen longest ago is forgotten; a key that keeps being checked stays."""
    window = SlidingWindow(2, 60, max_keys=3, clock=FakeClock())
    for key in ("a", "b", "c"):
        window.record(key)
        window.record(key)
    assert window.retry_after("a") > 0  # "a" is now the most recently seen
    window.record("d")
    assert len(window) == 3
    assert window.retry_after("b") == 0.0  # evicted
    assert window.retry_after("a") > 0


@pytest.mark.parametrize(("limit", "window", "max_keys"), [(0, 60, 10), (1, 0, 10), (1, 60, 0)])
def test_window_refuses_nonsense_limits(limit: int, window: float, max_keys: int) -> None:
    """A limit, window or key cap that could never allow anything is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindow(limit, window, max_keys=max_keys)


# --- the client address --------------------------------------------------------------------------------

TRUSTED = ("10.0.0.0/8", "127.0.0.1")

ADDRESSES: list[tuple[str, tuple[str, int] | None, list[str], tuple[str, ...], str]] = [
    ("peer, no header", ("203.0.113.5", 1), [], (), "203.0.113.5"),
    ("header from an untrusted peer", ("203.0.113.5", 1), ["1.2.3.4"], (), "203.0.113.5"),
    ("header from loopback, nothing trusted", ("127.0.0.1", 1), ["1.2.3.4"], (), "127.0.0.1"),
    ("header from a peer outside the list", ("192.0.2.1", 1), ["1.2.3.4"], TRUSTED, "192.0.2.1"),
    ("trusted proxy", ("10.0.0.2", 1), ["1.2.3.4"], TRUSTED, "1.2.3.4"),
    ("client-written entries are skipped", ("10.0.0.2", 1), ["6.6.6.6, 1.2.3.4"], TRUSTED, "1.2.3.4"),
    ("two trusted hops", ("127.0.0.1", 1), ["1.2.3.4, 10.0.0.9"], TRUSTED, "1.2.3.4"),
    ("two headers read in order", ("10.0.0.2", 1), ["6.6.6.6", "1.2.3.4"], TRUSTED, "1.2.3.4"),
    ("garbage stops at the last trusted hop", ("10.0.0.2", 1), ["1.2.3.4, bogus"], TRUSTED, "10.0.0.2"),
    ("only trusted hops", ("10.0.0.2", 1), ["10.0.0.3"], TRUSTED, "10.0.0.3"),
    ("empty header", ("10.0.0.2", 1), [""], TRUSTED, "10.0.0.2"),
    ("entry with a port", ("10.0.0.2", 1), ["1.2.3.4:5555"], TRUSTED, "1.2.3.4"),
    ("IPv6 entry with a port", ("10.0.0.2", 1), ["[2001:db8::1]:443"], TRUSTED, "2001:db8::/64"),
    ("IPv6 peer keyed by /64", ("2001:db8:1:2:aaaa::1", 1), [], (), "2001:db8:1:2::/64"),
    ("IPv4-mapped IPv6 peer", ("::ffff:203.0.113.5", 1), [], (), "203.0.113.5"),
    ("no peer (unix socket)", None, ["1.2.3.4"], TRUSTED, "unknown"),
]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [row[1:] for row in ADDRESSES],
    ids=[r[0] for r in ADDRESSES],
)
def test_client_address(
    peer: tuple[str, int] | None, forwarded: list[str], trusted: tuple[str, ...], expected: str
) -> None:
    """The client is the socket peer unless a trusted proxy forwarded the request for someone else."""
    scope = {"client": peer, "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}
    assert client_address(scope, parse_networks(trusted)) == expected


def test_rotating_ipv6_addresses_within_a_64_share_one_budget() -> None:
    """Addresses from one /64 count as one client, so a host cannot rotate through its own prefix."""
    limiter = EdgeLimiter(auth_failures_per_minute=3, clock=FakeClock())
    for host in range(3):
        limiter.auth_failures.record(limiter.client_address({"client": (f"2001:db8::{host:x}", 1)}))
    assert limiter.auth_failures.retry_after(limiter.client_address({"client": ("2001:db8::ffff", 1)})) > 0


# --- brute force, through the assembled edge ------------------------------------------------------------

Tokens = dict[str, str]
Attempt = Callable[[Tokens], tuple[str, str, dict[str, str]]]


def mcp(header: Callable[[Tokens], dict[str, str]]) -> Attempt:
    return lambda t: ("POST", "/v1/mcp", header(t))


FAILURES: list[tuple[str, Attempt]] = [
    ("unknown token", mcp(lambda t: {"Authorization": f"Bearer {t['unknown']}"})),
    ("revoked token", mcp(lambda t: {"Authorization": f"Bearer {t['revoked']}"})),
    ("malformed token", mcp(lambda t: {"Authorization": "Bearer ../../etc/passwd"})),
    ("no token", mcp(lambda t: {})),
    ("malformed url_auth token", lambda t: ("POST", "/v1/url_auth/telegram/mcp", {})),
    ("unknown url_auth token", lambda t: ("POST", f"/v1/url_auth/{t['unknown']}/mcp", {})),
    ("wrong operator token", lambda t: ("GET", "/health", {"Authorization": f"Bearer {'x' * 32}"})),
]


async def attempt(client: httpx2.AsyncClient, request: tuple[str, str, dict[str, str]]) -> httpx2.Response:
    method, path, headers = request
    if method == "GET":
        return await client.get(path, headers=headers)
    return await client.post(path, json=INITIALIZE, headers={**MCP_ACCEPT, **headers})


#: Rows whose token is well-formed: during a lockout it is still looked up (and refused with 429).
WELL_FORMED = {"unknown token", "revoked token", "unknown url_auth token"}


@pytest.mark.parametrize("case", [row[0] for row in FAILURES])
async def test_brute_force_lockout(edge: EdgeFactory, vault: Vault, store: CountingStore, case: str) -> None:
    """After 20 failed authentications from one address, requests without a well-formed token get 429
    without a lookup, and a failing well-formed one 429 after its lookup; a valid tenant from the same
    address is still served; another address is unaffected; a minute after the first failure it ends."""
    clock = FakeClock()
    _, good = vault.create_tenant("alice")
    revoked_record, revoked = vault.create_tenant("mallory")
    vault.revoke(revoked_record.tenant_id)
    request = dict(FAILURES)[case]({"unknown": auth.new_token(), "revoked": revoked})
    app = edge(operator_token=OPERATOR, clock=clock)
    async with clients(app, ATTACKER, NEIGHBOUR) as (attacker, neighbour):
        for _ in range(20):
            assert (await attempt(attacker, request)).status_code == 401
        clock.advance(15)
        before = store.lookups
        no_token = await initialize(attacker)
        malformed = await initialize(attacker, Authorization="Bearer ../../etc/passwd")
        health = await attacker.get("/health")
        assert store.lookups == before
        assert_refusal(no_token, 429, "TOO_MANY_FAILED_AUTHENTICATIONS", "45")
        assert malformed.status_code == 429 and health.status_code == 429
        again = await attempt(attacker, request)
        assert store.lookups == before + (case in WELL_FORMED)
        assert_refusal(again, 429, "TOO_MANY_FAILED_AUTHENTICATIONS", "45")
        served = await initialize(attacker, Authorization=f"Bearer {good}")
        assert served.status_code == 200, served.text
        via_path = await attacker.post(f"/v1/url_auth/{good}/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        assert via_path.status_code == 200, via_path.text
        assert (await attempt(attacker, request)).status_code == 429
        assert (await initialize(neighbour, Authorization=f"Bearer {good}")).status_code == 200
        clock.advance(44.5)
        assert_refusal(await attacker.get("/health"), 429, "TOO_MANY_FAILED_AUTHENTICATIONS", "1")
        clock.advance(0.5)
        assert (await attacker.get("/health")).status_code == 200


async def test_successful_and_refused_requests_do_not_count_as_failures(
    edge: EdgeFactory, vault: Vault
) -> None:
    """Only 401s count: good requests and other refusals (400, 404, 413) never lock an address out."""
    _, good = vault.create_tenant("alice")
    async with clients(edge(EdgeConfig(auth_failures_per_minute=2), clock=FakeClock()), ATTACKER) as (c,):
        statuses = [(await initialize(c, Authorization=f"Bearer {good}")).status_code for _ in range(5)]
        statuses.append(
            (await c.post(f"/v1/mcp?token={good}", json=INITIALIZE, headers=MCP_ACCEPT)).status_code
        )
        statuses.append((await c.get(f"/v1/url_auth/{good}/other")).status_code)
        big = {**MCP_ACCEPT, "Authorization": f"Bearer {good}"}
        statuses.append((await c.post("/v1/mcp", content=b"x" * 5000, headers=big)).status_code)
        statuses.append((await initialize(c, Authorization=f"Bearer {good}")).status_code)
    assert statuses == [200] * 5 + [400, 404, 413, 200]


async def test_lockout_is_logged_once_with_the_address_and_no_token(
    edge: EdgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Reaching the limit logs one warning naming the address; the guessed tokens appear in no log."""
    guesses = [auth.new_token() for _ in range(6)]
    caplog.set_level(logging.INFO)
    async with clients(edge(EdgeConfig(auth_failures_per_minute=3), clock=FakeClock()), ATTACKER) as (c,):
        for guess in guesses:
            await initialize(c, Authorization=f"Bearer {guess}")
    locked = [r for r in caplog.records if r.getMessage() == "ratelimit.address_locked"]
    assert [r.__dict__["client"] for r in locked] == [ATTACKER]
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert not any(guess in logged for guess in guesses)


# --- X-Forwarded-For, through the assembled edge -----------------------------------------------------


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(edge: EdgeFactory) -> None:
    """A client cannot dodge the lockout by sending a new X-Forwarded-For with every guess."""
    async with clients(edge(EdgeConfig(auth_failures_per_minute=5), clock=FakeClock()), ATTACKER) as (c,):
        statuses = []
        for n in range(6):
            forged = {"X-Forwarded-For": f"192.0.2.{n}"}
            response = await initialize(c, Authorization=f"Bearer {auth.new_token()}", **forged)
            statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(edge: EdgeFactory, vault: Vault) -> None:
    """Behind a trusted proxy each forwarded client has its own budget, and a locked-out one stays out."""
    _, good = vault.create_tenant("alice")
    config = EdgeConfig(auth_failures_per_minute=3, trusted_proxies=("10.0.0.0/8",))
    async with clients(edge(config, clock=FakeClock()), "10.0.0.2") as (proxy,):

        async def via(client_ip: str, token: str) -> int:
            response = await initialize(
                proxy, Authorization=f"Bearer {token}", **{"X-Forwarded-For": client_ip}
            )
            return response.status_code

        rotating = [await via(f"192.0.2.{n}", auth.new_token()) for n in range(10)]
        guesser = [await via(f"6.6.6.6, {ATTACKER}", auth.new_token()) for _ in range(4)]
        assert await via(ATTACKER, auth.new_token()) == 429
        assert await via(ATTACKER, good) == 200  # a valid tenant behind the same address is served
        assert await via(NEIGHBOUR, good) == 200
    assert rotating == [401] * 10
    assert guesser == [401, 401, 401, 429]


# --- per-tenant budget -----------------------------------------------------------------------------------


async def test_each_tenant_has_its_own_budget(edge: EdgeFactory, vault: Vault) -> None:
    """Tenant A past its budget gets 429 while tenant B, from the same address, is unaffected."""
    clock = FakeClock()
    _, alice = vault.create_tenant("alice")
    _, bob = vault.create_tenant("bob")
    async with clients(edge(EdgeConfig(requests_per_minute=5), clock=clock), ATTACKER) as (c,):
        first = [(await initialize(c, Authorization=f"Bearer {alice}")).status_code for _ in range(5)]
        clock.advance(20)
        throttled = await initialize(c, Authorization=f"Bearer {alice}")
        url_auth = await c.post(f"/v1/url_auth/{alice}/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        other = [(await initialize(c, Authorization=f"Bearer {bob}")).status_code for _ in range(5)]
        clock.advance(40)
        later = await initialize(c, Authorization=f"Bearer {alice}")
    assert first == [200] * 5
    assert_refusal(throttled, 429, "TOO_MANY_REQUESTS", "40")
    assert url_auth.status_code == 429
    assert other == [200] * 5
    assert later.status_code == 200


async def test_throttled_requests_do_not_lock_the_address_out(edge: EdgeFactory, vault: Vault) -> None:
    """A tenant over its budget gets 429s, which are not failed authentications."""
    _, alice = vault.create_tenant("alice")
    _, bob = vault.create_tenant("bob")
    config = EdgeConfig(requests_per_minute=1, auth_failures_per_minute=2)
    async with clients(edge(config, clock=FakeClock()), ATTACKER) as (c,):
        statuses = [(await initialize(c, Authorization=f"Bearer {alice}")).status_code for _ in range(5)]
        assert (await initialize(c, Authorization=f"Bearer {bob}")).status_code == 200
    assert statuses == [200, 429, 429, 429, 429]


# --- in-flight cap ---------------------------------------------------------------------------------------


def holding_server(
    verifier: MCPGramTokenVerifier, both_in: anyio.Event, release: anyio.Event
) -> FastMCP[Any]:
    """A server whose ``hold`` tool waits until ``release`` is set; ``both_in`` is set once two wait."""
    server: FastMCP[Any] = FastMCP("hold-test", auth=verifier)
    holding: list[int] = []

    @server.tool
    async def hold() -> str:
        """Wait for the test to release the call."""
        holding.append(1)
        if len(holding) == 2:
            both_in.set()
        await release.wait()
        return "released"

    return server


async def test_requests_past_the_in_flight_cap_get_503(vault: Vault) -> None:
    """With two tool calls in flight and a cap of two, a third request gets 503 and later succeeds."""
    _, token = vault.create_tenant("alice")
    both_in, release = anyio.Event(), anyio.Event()
    verifier = MCPGramTokenVerifier(vault)
    app = build_http_app(
        holding_server(verifier, both_in, release), http_config=EdgeConfig(max_concurrent_requests=2)
    )
    async with clients(app, ATTACKER) as (c,):
        opened = await initialize(c, Authorization=f"Bearer {token}")
        session = {
            **MCP_ACCEPT,
            "Authorization": f"Bearer {token}",
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-06-18",
        }
        await c.post(
            "/v1/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session
        )

        async def call(n: int) -> httpx2.Response:
            body = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "hold", "arguments": {}},
            }
            return await c.post("/v1/mcp", json=body, headers=session)

        calls = [asyncio.create_task(call(n)) for n in (10, 11)]
        with anyio.fail_after(5):
            await both_in.wait()
        busy = await c.get("/health")
        release.set()
        done = await asyncio.gather(*calls)
        after = await c.get("/health")
    assert_refusal(busy, 503, "OVERLOADED", "1")
    assert [r.status_code for r in done] == [200, 200]
    assert all("released" in r.text for r in done)
    assert after.status_code == 200


async def test_listen_streams_do_not_count_against_the_cap() -> None:
    """An open GET stream on the MCP endpoint leaves room for work; only work counts toward the cap."""
    all_in, release = anyio.Event(), anyio.Event()
    entered: list[str] = []
    limiter = EdgeLimiter(max_concurrent_requests=1, clock=FakeClock())

    async def held(scope: Scope, receive: Receive, send: Send) -> None:
        entered.append(scope["path"])
        if len(entered) == 3:
            all_in.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = RateLimitMiddleware(held, limiter=limiter)
    statuses: dict[str, int] = {}

    async def request(name: str, method: str, path: str) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses[name] = message["status"]

        scope = {"type": "http", "method": method, "path": path, "headers": [], "client": (ATTACKER, 1)}
        await middleware(scope, receive, send)

    async with anyio.create_task_group() as tg:
        tg.start_soon(request, "listen", "GET", "/v1/mcp")
        tg.start_soon(request, "listen via url_auth", "GET", f"/v1/url_auth/{auth.new_token()}/mcp")
        tg.start_soon(request, "work", "POST", "/v1/mcp")
        with anyio.fail_after(5):
            await all_in.wait()
        assert limiter.in_flight == 1
        await request("refused", "POST", "/v1/mcp")
        assert statuses == {"refused": 503}
        release.set()
    assert statuses == {"refused": 503, "listen": 200, "listen via url_auth": 200, "work": 200}
    assert limiter.in_flight == 0


# --- bounded memory ----------------------------------------------------------------------------------


async def _call(app: Any, scope: dict[str, Any]) -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app({"type": "http", "method": "POST", "path": "/v1/mcp", "headers": [], **scope}, receive, send)
    return status


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_memory_stays_bounded_under_10000_rotating_addresses() -> None:
    """10,000 distinct failing addresses leave at most the key cap tracked and no net memory growth,
    while an attacker who keeps hammering stays locked out."""
    clock = FakeClock()
    limiter = EdgeLimiter(auth_failures_per_minute=20, clock=clock)
    app = RateLimitMiddleware(_unauthorized, limiter=limiter)
    for _ in range(20):
        await _call(app, {"client": (ATTACKER, 1)})

    async def rotate(base: int) -> None:
        for n in range(10_000):
            m = base + n
            await _call(app, {"client": (f"10.{m >> 16 & 255}.{m >> 8 & 255}.{m & 255}", 1)})
            if n % 1000 == 0:  # the locked-out attacker keeps trying
                assert await _call(app, {"client": (ATTACKER, 1)}) == 429

    await rotate(0)
    assert len(limiter.auth_failures) == DEFAULT_MAX_KEYS
    tracemalloc.start()
    try:
        await rotate(10_000)
        before = tracemalloc.get_traced_memory()[0]
        await rotate(20_000)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter.auth_failures) == DEFAULT_MAX_KEYS
    assert limiter.auth_failures.stored_events() <= DEFAULT_MAX_KEYS * 20
    assert growth < 200_000
    assert await _call(app, {"client": (ATTACKER, 1)}) == 429


async def test_memory_stays_bounded_under_10000_tenants() -> None:
    """Rotating through 10,000 tenants tracks at most the key cap; each tenant is still served."""
    limiter = EdgeLimiter(requests_per_minute=5, clock=FakeClock())

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = TenantThrottleMiddleware(ok, limiter=limiter)
    statuses = set()
    for n in range(10_000):
        user = SimpleNamespace(access_token=SimpleNamespace(client_id=f"tenant-{n}"))
        statuses.add(await _call(app, {"user": user}))
    assert statuses == {200}
    assert len(limiter.tenant_requests) == DEFAULT_MAX_KEYS


# --- one run through the real server -------------------------------------------------------------------


async def test_lockout_over_a_real_socket_ignores_forwarded_for(tmp_path: Path) -> None:
    """Through serve_http on 127.0.0.1, rotating X-Forwarded-For does not dodge the lockout: uvicorn does
    not rewrite the client address, and the 429 carries Retry-After and the security headers."""
    settings = Settings.load(
        env_file=None,
        data_dir=tmp_path / "data",
        transport="http",
        port=0,
        api_id=1,
        api_hash="0" * 32,
        auth_failures_per_minute=3,
    )
    gateway = build_gateway(settings, transport="http")
    _, good = gateway.vault.create_tenant("alice")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    try:
        port = await asyncio.wait_for(bound, 10)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            statuses = []
            for n in range(4):
                headers = {**MCP_ACCEPT, "Authorization": f"Bearer {auth.new_token()}"}
                headers["X-Forwarded-For"] = f"192.0.2.{n}"
                statuses.append((await client.post("/v1/mcp", json=INITIALIZE, headers=headers)).status_code)
            locked = await client.post("/v1/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
            served = await client.post(
                "/v1/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, "Authorization": f"Bearer {good}"}
            )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert statuses == [401, 401, 401, 429]
    assert_refusal(locked, 429, "TOO_MANY_FAILED_AUTHENTICATIONS", "60")
    assert served.status_code == 200
