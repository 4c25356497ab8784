"""Rate limits at the HTTP edge: failed-auth lockout per address, a budget per tenant, a cap in flight.

One :class:`EdgeLimiter` holds the state; two middlewares enforce it:

- :class:`RateLimitMiddleware` sits outside FastMCP's authentication. Every 401 (a malformed
  url_auth token, a token the verifier refused, a wrong operator token on ``/health``) counts as a
  failure for the client address (and so does a refused attachment link, a 404 under
  ``/v1/attachments/``). Once ``auth_failures_per_minute`` failures fall within the last
  60 s the address is locked out until the oldest of them leaves the window: a request from it
  without a token, or with one that is not well-formed, gets 429 before any lookup; a well-formed
  token is still verified, and served if valid, so one guesser behind a NAT cannot lock out every
  tenant there (a 401 it would get becomes a 429, and counts). With 256-bit tokens, guessing is
  hopeless anyway: the lockout bounds the lookups a guesser costs, and keeps it from learning
  anything but 429. It also refuses work past ``max_concurrent_requests`` with 503.
- :class:`TenantThrottleMiddleware` sits inside FastMCP's authentication, where the tenant is
  known (as :class:`~mcpgram.web.security.TenantTagMiddleware` learns it), and gives each tenant
  ``requests_per_minute`` requests; past that, 429.

Why our own sliding window rather than the ``limits`` package: its in-memory storage reads
``time.time()`` itself (tests would have to sleep or patch), expires keys from a background timer
thread, and has no cap on the number of keys, so an attacker rotating addresses grows it until the
timer catches up. What we need fits in :class:`SlidingWindow`: an exact sliding log that keeps at
most ``limit`` timestamps per key, keys in least-recently-used order, at most ``max_keys`` of them.
Memory is therefore bounded by ``max_keys * limit`` timestamps per window, whatever clients send.

The client address is the socket peer. ``X-Forwarded-For`` is believed only when the peer is one
of the configured trusted proxies. IPv6 clients are keyed by their /64, which one host typically
owns whole, so rotating through it does not buy fresh budgets.

This module must not look up tokens, read request bodies, or log anything but an address or a
tenant label (``log.tenant_label``).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import auth
from ..log import tenant_label
from .security import ATTACHMENTS_PREFIX, FRONT_LOCKED_KEY, URL_AUTH_PREFIX, authenticated_tenant, json_error
from .tokensource import presented_token
from .urlauth import MCP_PATH

_log = logging.getLogger(__name__)

#: Returns the current time in seconds; only differences matter (default ``time.monotonic``).
Clock = Callable[[], float]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

WINDOW_SECONDS = 60.0
DEFAULT_AUTH_FAILURES_PER_MINUTE = 20
DEFAULT_REQUESTS_PER_MINUTE = 600
DEFAULT_MAX_CONCURRENT_REQUESTS = 256
#: Keys (addresses or tenants) one window remembers; the least recently seen is forgotten first.
DEFAULT_MAX_KEYS = 4096
#: What a busy server asks clients to wait, in seconds.
OVERLOAD_RETRY_AFTER = 1
UNKNOWN_CLIENT = "unknown"
#: The code and message of the 429 a locked-out address gets (here, and from the multi-worker front).
LOCKED_OUT = (
    "TOO_MANY_FAILED_AUTHENTICATIONS",
    "Too many failed authentication attempts from this address; retry later.",
)


class SlidingWindow:
    """Counts events per key over the last ``window`` seconds, exactly, in bounded memory.

    Only the newest ``limit`` timestamps of a key are kept: that is all it takes to know whether
    ``limit`` events fell in the window and when the oldest of them leaves it. Example::

        failures = SlidingWindow(limit=20, window=60)
        if failures.retry_after(address) == 0:
            ...  # serve; on a failure: failures.record(address)

    Args:
        limit: Events allowed per key in any ``window`` seconds.
        window: The window's length in seconds.
        max_keys: Keys tracked at most; a new key past it evicts the least recently seen one.
        clock: Returns the current time in seconds.
    """

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1, window positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """The number of keys currently tracked."""
        return len(self._events)

    def stored_events(self) -> int:
        """The number of timestamps held over all keys (at most ``max_keys * limit``)."""
        return sum(len(events) for events in self._events.values())

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` is under its limit again; ``0.0`` if it is now. Records nothing.

        A key that is checked counts as recently seen, so a client hammering while blocked keeps
        its own entry from being evicted.
        """
        events = self._events.get(key)
        if events is None:
            return 0.0
        now = self._clock()
        self._expire(events, now)
        if not events:
            del self._events[key]
            return 0.0
        self._events.move_to_end(key)
        if len(events) < self.limit:
            return 0.0
        return max(events[0] + self.window - now, 0.0)

    def record(self, key: str) -> int:
        """Record one event for ``key`` now; returns the events in its window (capped at ``limit``)."""
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._events.popitem(last=False)
            events = self._events[key] = deque(maxlen=self.limit)
        else:
            self._events.move_to_end(key)
            self._expire(events, now)
        events.append(now)
        return len(events)

    def acquire(self, key: str) -> float:
        """Record an event if ``key`` is under its limit and return ``0.0``; else the seconds to wait."""
        wait = self.retry_after(key)
        if wait == 0.0:
            self.record(key)
        return wait

    def _expire(self, events: deque[float], now: float) -> None:
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse IP addresses and CIDR networks (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``).

    Raises:
        ValueError: if an entry is neither.
    """
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse_ip(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]" or "[2001:db8::1]:443"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "203.0.113.7:443"; bare IPv6 has several colons
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_key(ip: IPAddress) -> str:
    """The key a client address is counted under: the IPv4 address, or the IPv6 /64."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(scope: Scope, trusted_proxies: Sequence[IPNetwork] = ()) -> str:
    """The key of the client that sent the request (see :func:`address_key`).

    The socket peer, unless it is a trusted proxy: then ``X-Forwarded-For`` is read from the right,
    skipping trusted hops, and the first other address is the client. Entries left of it were
    written by the client and are never believed; an entry that is not an address stops the walk
    at the last trusted hop.
    """
    client = scope.get("client")
    peer = _parse_ip(client[0]) if client else None
    if peer is None:
        return UNKNOWN_CLIENT
    if not any(peer in network for network in trusted_proxies):
        return address_key(peer)
    hops = [
        part
        for name, value in scope["headers"]
        if name.lower() == b"x-forwarded-for"
        for part in value.decode("latin-1").split(",")
    ]
    current = peer
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            break
        current = ip
        if not any(ip in network for network in trusted_proxies):
            break
    return address_key(current)


class EdgeLimiter:
    """The edge's rate-limit state, shared by :class:`RateLimitMiddleware` and
    :class:`TenantThrottleMiddleware`.

    Args:
        auth_failures_per_minute: 401s per client address per minute before it is locked out.
        requests_per_minute: Authenticated requests per tenant per minute.
        max_concurrent_requests: Requests served at once (long-lived listen streams excluded).
        trusted_proxies: Addresses or networks whose ``X-Forwarded-For`` is believed.
        clock: Returns the current time in seconds; tests pass a fake one.
        max_keys: Addresses, and separately tenants, tracked at most.

    Raises:
        ValueError: for a limit below 1 or a trusted proxy that is not an address or network.
    """

    def __init__(
        self,
        *,
        auth_failures_per_minute: int = DEFAULT_AUTH_FAILURES_PER_MINUTE,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
        trusted_proxies: Iterable[str] = (),
        clock: Clock = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_concurrent_requests < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        self.auth_failures = SlidingWindow(auth_failures_per_minute, max_keys=max_keys, clock=clock)
        self.tenant_requests = SlidingWindow(requests_per_minute, max_keys=max_keys, clock=clock)
        self.max_concurrent_requests = max_concurrent_requests
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.in_flight = 0

    def client_address(self, scope: Scope) -> str:
        """The request's client key, honouring the trusted proxies."""
        return client_address(scope, self.trusted_proxies)


def _retry_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def carries_well_formed_token(path: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the token the request presents (``tokensource.presented_token``) could be one of ours."""
    token = presented_token(path, headers)
    return token is not None and auth.is_well_formed(token)


def is_auth_failure(path: str, status: int) -> bool:
    """Whether an answer counts against the client address: a 401, or a refused attachment link
    (404 on ``/v1/attachments/...``: the link is that request's credential)."""
    return status == 401 or (status == 404 and path.startswith(ATTACHMENTS_PREFIX + "/"))


class RateLimitMiddleware:
    """Locks out addresses with too many failed authentications and caps requests in flight.

    Goes outside url_auth and FastMCP's authentication (so it sees every 401 and refuses before
    any token lookup) and inside the security-header and access-log middleware (so its refusals
    carry the headers and are logged). GET requests to the MCP endpoint, the long-lived streams
    that deliver server notifications, do not count against the in-flight cap: an idle client
    holds one open, and the MCP SDK bounds them by its own session limit.

    Args:
        app: The rest of the edge.
        limiter: The shared state.
        mcp_path: Where the MCP endpoint is mounted.
    """

    def __init__(self, app: ASGIApp, *, limiter: EdgeLimiter, mcp_path: str = MCP_PATH) -> None:
        self.app = app
        self.limiter = limiter
        self.mcp_path = mcp_path

    def _is_listen_stream(self, scope: Scope) -> bool:
        path: str = scope["path"]
        via_url_auth = path.startswith(URL_AUTH_PREFIX + "/") and path.rstrip("/").endswith("/mcp")
        return scope["method"] == "GET" and (path == self.mcp_path or via_url_auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        address = limiter.client_address(scope)
        wait = limiter.auth_failures.retry_after(address)
        locked = wait > 0 or scope.get(FRONT_LOCKED_KEY) is True
        if locked and not carries_well_formed_token(scope["path"], scope["headers"]):
            response = json_error(429, *LOCKED_OUT, headers=_retry_header(wait))
            await response(scope, receive, send)
            return
        counted = not self._is_listen_stream(scope)
        if counted and limiter.in_flight >= limiter.max_concurrent_requests:
            response = json_error(
                503,
                "OVERLOADED",
                "The server is handling too many requests; retry shortly.",
                headers=_retry_header(OVERLOAD_RETRY_AFTER),
            )
            await response(scope, receive, send)
            return
        refused = False

        async def send_and_count_failures(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the rest of a 401 replaced by the 429 below
            if message["type"] == "http.response.start" and is_auth_failure(scope["path"], message["status"]):
                failures = limiter.auth_failures.record(address)
                if failures == limiter.auth_failures.limit and not locked:
                    _log.warning("ratelimit.address_locked", extra={"client": address})
                if locked:  # a locked-out address learns nothing from a failed token but 429
                    refused = True
                    retry = _retry_header(limiter.auth_failures.retry_after(address))
                    await json_error(429, *LOCKED_OUT, headers=retry)(scope, receive, send)
                    return
            await send(message)

        if counted:
            limiter.in_flight += 1
        try:
            await self.app(scope, receive, send_and_count_failures)
        finally:
            if counted:
                limiter.in_flight -= 1


class TenantThrottleMiddleware:
    """Gives each tenant ``requests_per_minute`` requests; goes inside FastMCP's authentication.

    Unauthenticated requests pass untouched: FastMCP refuses them next, and the outer
    :class:`RateLimitMiddleware` counts that 401 against their address.
    """

    def __init__(self, app: ASGIApp, *, limiter: EdgeLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = authenticated_tenant(scope) if scope["type"] == "http" else None
        if tenant is not None:
            window = self.limiter.tenant_requests
            wait = window.acquire(tenant)
            if wait > 0:
                response = json_error(
                    429,
                    "TOO_MANY_REQUESTS",
                    f"This token may make {window.limit} requests a minute; retry later.",
                    headers=_retry_header(wait),
                )
                await response(scope, receive, send)
                return
            if window.retry_after(tenant) > 0:  # this request used the last of the budget
                _log.warning("ratelimit.tenant_throttled", extra={"tenant": tenant_label(tenant)})
        await self.app(scope, receive, send)
