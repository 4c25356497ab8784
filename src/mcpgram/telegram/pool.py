"""One Telethon client per tenant, created on first use, capped, and closed when idle.

:class:`ClientPool` hands out :class:`TenantClient` wrappers inside an ``async with`` block that
counts the call as in flight; a client with calls in flight is never evicted. Over ``max_clients``
the least recently used idle client is evicted (if every client is busy the pool grows for a while
and shrinks as calls finish). Eviction and shutdown disconnect the client and seal its session in
the vault. Creation is serialised per tenant; no pool-wide lock is ever held across I/O.

:meth:`TenantClient.run` is the one way to reach Telegram: it reconnects with backoff if needed,
applies the per-call timeout, translates Telethon errors, and marks the tenant ``login_required``
in the vault when Telegram says the authorization is gone.

Must not: share anything mutable between tenants (each has its own client, session and entity
cache), let a Telethon object or exception escape to callers, or delete a tenant.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import anyio.to_thread

from ..errors import LoginRequired, NotAuthenticated, TelegramError
from ..settings import PoolLimits, TelegramConfig
from ..vault.vault import TenantKeys, Vault
from .checks import check_config

if TYPE_CHECKING:
    from telethon import TelegramClient

    from .session import Runner, VaultSession

# Telethon (0.2 s and ~40 MiB to import) loads with the first client, not with this module: a stdio
# server lists its tools before any tenant needs Telegram (bench/cold_start.py). Hence the
# function-level imports of .connect, .errors and .session below.

__all__ = ["Backoff", "ClientPool", "PoolStats", "TenantClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The request may have reached Telegram before the deadline: a write may have gone through.
_TIMEOUT_HINT = "retry shortly; a send, edit or delete may have gone through, so check before repeating it"
Clock = Callable[[], float]


@dataclass(frozen=True)
class Backoff:
    """Reconnect schedule: ``tries`` attempts, sleeping ``first``, doubling up to ``maximum``."""

    first: float = 0.5
    maximum: float = 8.0
    tries: int = 4

    def delays(self) -> list[float]:
        """The sleeps between attempts (one fewer than ``tries``)."""
        return [min(self.first * 2**i, self.maximum) for i in range(self.tries - 1)]


@dataclass(frozen=True)
class PoolStats:
    """Counters for ``/health`` details and the benchmark; no tenant ids."""

    #: Clients held (connected or not).
    active: int
    #: Clients with at least one call in flight.
    busy: int
    #: Calls in flight across all tenants.
    in_flight: int
    #: Clients evicted so far (cap, idle timeout, logout).
    evictions: int
    #: Clients created so far.
    created: int
    #: Evicted clients still flushing their session.
    closing: int
    max_clients: int


class TenantClient:
    """One tenant's Telegram connection; the only Telegram handle that leaves the pool.

    The Telethon client stays private: callers pass a function from ``telegram/*.py`` to
    :meth:`run`, which gets the client as its argument.
    """

    def __init__(
        self,
        tenant_id: str,
        client: TelegramClient,
        session: VaultSession,
        *,
        vault: Vault,
        runner: Runner,
        timeout: float,
        backoff: Backoff,
    ) -> None:
        self.tenant_id = tenant_id
        self._client = client
        self._session = session
        self._vault = vault
        self._runner = runner
        self._timeout = timeout
        self._backoff = backoff
        self._connect_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<TenantClient tenant={self.tenant_id} closed={self._closed}>"

    @property
    def closed(self) -> bool:
        """Whether the pool evicted this client; a closed client refuses further calls."""
        return self._closed

    @property
    def logged_out(self) -> bool:
        """Whether the account logged out through this client (Telethon drops its session then)."""
        return self._client.session is None

    async def run(self, fn: Callable[[TelegramClient], Awaitable[T]]) -> T:
        """Run ``fn(telethon_client)`` with reconnect, timeout and error translation.

        Connecting (with backoff) and the call share one deadline, the config's ``timeout``.

        Args:
            fn: an async function from ``telegram/*.py`` that takes the Telethon client.

        Returns:
            Whatever ``fn`` returns (plain data: TL objects must not leave ``telegram/``).

        Raises:
            LoginRequired: the authorization is gone; the tenant is now ``login_required``.
            FloodWait: Telegram asks to wait longer than ``flood_sleep_threshold``.
            TelegramError: unreachable, timed out, or another Telegram error (subclasses).
        """
        if self._closed or self.logged_out:
            raise TelegramError("this Telegram client was closed; retry the call")
        from .errors import UNREACHABLE, translate

        deadline = asyncio.timeout(self._timeout)
        connected = False
        try:
            async with translate():
                try:
                    async with deadline:
                        await self._ensure_connected()
                        connected = True
                        return await fn(self._client)
                except TimeoutError as exc:
                    if not deadline.expired():
                        raise
                    if not connected:
                        raise TelegramError(UNREACHABLE) from exc
                    message = f"Telegram did not answer within {self._timeout:g} s"
                    raise TelegramError(message, hint=_TIMEOUT_HINT) from exc
        except LoginRequired:
            await self._mark_login_required()
            raise
        finally:
            self._session.schedule_flush()

    async def _ensure_connected(self) -> None:
        if self._client.is_connected():
            return
        from .connect import connect  # loaded with the first client (cold start: bench/cold_start.py)

        async with self._connect_lock:
            last: BaseException | None = None
            for delay in [*self._backoff.delays(), None]:
                if self._client.is_connected():
                    return
                try:
                    await connect(self._client)
                    return
                except (OSError, TimeoutError) as exc:
                    last = exc
                    log.info(
                        "pool.connect_failed", extra={"tenant": self.tenant_id, "error": type(exc).__name__}
                    )
                if delay is not None:
                    await asyncio.sleep(delay)
            from .errors import UNREACHABLE

            raise TelegramError(UNREACHABLE) from last

    async def _mark_login_required(self) -> None:
        try:
            await self._runner(self._vault.set_status, self.tenant_id, "login_required")
        except Exception as exc:  # the caller still gets LoginRequired; the status is best effort
            log.warning("pool.status_failed", extra={"tenant": self.tenant_id, "error": type(exc).__name__})
        log.info("pool.login_required", extra={"tenant": self.tenant_id})

    def _discard(self) -> None:
        self._closed = True
        self._session.discard()

    async def _aclose(self, *, flush: bool) -> None:
        self._closed = True
        try:
            await self._client.disconnect()
        except Exception as exc:  # disconnect must not stop the session from being sealed
            log.warning(
                "pool.disconnect_failed", extra={"tenant": self.tenant_id, "error": type(exc).__name__}
            )
        if flush:
            await self._session.flush()


@dataclass
class _Entry:
    keys: TenantKeys
    tenant_client: TenantClient
    in_flight: int = 0
    last_used: float = field(default=0.0)


class ClientPool:
    """Per-tenant Telethon clients with an LRU cap, an idle timeout and sealed sessions.

    Example::

        pool = ClientPool(config, vault, PoolLimits(max_clients=200, idle_seconds=600))
        await pool.start()
        async with pool.client(keys) as tc:
            me = await tc.run(lambda c: c.get_me())
        await pool.close()
    """

    def __init__(
        self,
        config: TelegramConfig,
        vault: Vault,
        limits: PoolLimits,
        *,
        runner: Runner = anyio.to_thread.run_sync,
        clock: Clock = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self._config = config
        self._vault = vault
        self._limits = limits
        self._runner = runner
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        self._evictions = 0
        self._created = 0

    async def start(self) -> None:
        """Check the Telegram config and start the idle sweeper.

        Raises:
            ConfigError: the config cannot work (see ``connect.check_config``).
        """
        check_config(self._config)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="mcpgram-pool-sweeper")

    async def close(self) -> None:
        """Disconnect every client and seal every session; further ``client()`` calls fail."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        for tenant_id in list(self._entries):
            self._evict(tenant_id)
        await self._wait_closing()

    def stats(self) -> PoolStats:
        """Current counters (cheap; no I/O)."""
        busy = [entry.in_flight for entry in self._entries.values() if entry.in_flight]
        return PoolStats(
            active=len(self._entries),
            busy=len(busy),
            in_flight=sum(busy),
            evictions=self._evictions,
            created=self._created,
            closing=len(self._closing),
            max_clients=self._limits.max_clients,
        )

    @asynccontextmanager
    async def client(self, keys: TenantKeys) -> AsyncIterator[TenantClient]:
        """The tenant's client, counted as in flight (and so never evicted) inside the block.

        Raises:
            NotAuthenticated: ``keys`` do not match the keys the tenant's client was opened with.
            TelegramError: the pool is closed.
            VaultError: the tenant's sealed session cannot be opened.
        """
        entry = await self._acquire(keys)
        try:
            yield entry.tenant_client
        finally:
            entry.in_flight -= 1
            entry.last_used = self._clock()
            if entry.tenant_client.logged_out and self._entries.get(keys.tenant_id) is entry:
                self._evict(keys.tenant_id)
            self._enforce_cap()

    async def drop(self, tenant_id: str) -> None:
        """Close a tenant's client WITHOUT sealing its session: for a tenant that was just revoked.

        Sealing after a revoke would write a fresh secret for a tenant whose secrets were shredded.
        """
        if tenant_id in self._entries:
            self._evict(tenant_id, flush=False)
        task = self._closing.get(tenant_id)
        if task is not None:
            await asyncio.wait({task})

    def sweep(self) -> int:
        """Evict clients idle for ``idle_seconds`` or more; return how many (the sweeper's step)."""
        deadline = self._clock() - self._limits.idle_seconds
        idle = [
            tenant_id
            for tenant_id, entry in self._entries.items()
            if entry.in_flight == 0 and entry.last_used <= deadline
        ]
        for tenant_id in idle:
            self._evict(tenant_id)
        return len(idle)

    # -- internals ---------------------------------------------------------------------------

    async def _acquire(self, keys: TenantKeys, *, stale_ok: bool = True) -> _Entry:
        if self._closed:
            raise TelegramError("the gateway is shutting down")
        tenant_id = keys.tenant_id
        entry = self._entries.get(tenant_id)
        if entry is None:
            lock = self._locks.setdefault(tenant_id, asyncio.Lock())
            try:
                async with lock:
                    entry = self._entries.get(tenant_id)
                    if entry is None:
                        entry = await self._create(keys)
            finally:
                # A failed creation (unreadable session, bad config) leaves no lock behind.
                if tenant_id not in self._entries and not lock.locked():
                    self._locks.pop(tenant_id, None)
        if self._closed:
            if self._entries.get(tenant_id) is entry and entry.in_flight == 0:
                self._evict(tenant_id)  # created while close() ran: seal it too
            raise TelegramError("the gateway is shutting down")
        if not hmac.compare_digest(entry.keys.data_key, keys.data_key):
            if stale_ok and await self._runner(self._vault.opens_session, keys):
                # The caller's keys open the tenant's sealed session and the cached client's do not:
                # the tenant was re-keyed (``Vault.rekey``) after this client opened. Drop it unsealed
                # (its session is the shredded one) and open the tenant's new session.
                if self._entries.get(tenant_id) is entry:
                    self._evict(tenant_id, flush=False)
                return await self._acquire(keys, stale_ok=False)
            raise NotAuthenticated("tenant keys do not match")
        # No await between the lookup and this increment: eviction cannot slip in.
        entry.in_flight += 1
        entry.last_used = self._clock()
        self._entries.move_to_end(tenant_id)
        self._enforce_cap()
        return entry

    async def _create(self, keys: TenantKeys) -> _Entry:
        closing = self._closing.get(keys.tenant_id)
        if closing is not None:
            # The previous client is still sealing its session; load after it, not before.
            await asyncio.wait({closing})
        from .connect import build_client
        from .session import VaultSession

        session = await VaultSession.load(self._vault, keys, runner=self._runner)
        client = build_client(session, self._config, retry_delay=self._backoff.first)
        tenant_client = TenantClient(
            keys.tenant_id,
            client,
            session,
            vault=self._vault,
            runner=self._runner,
            timeout=self._config.timeout,
            backoff=self._backoff,
        )
        entry = _Entry(keys, tenant_client, last_used=self._clock())
        self._entries[keys.tenant_id] = entry
        self._created += 1
        log.debug("pool.client_created", extra={"tenant": keys.tenant_id})
        return entry

    def _enforce_cap(self) -> None:
        excess = len(self._entries) - self._limits.max_clients
        if excess <= 0:
            return
        # Oldest first; busy clients are skipped, so the pool may stay over the cap for a while.
        victims = [tenant_id for tenant_id, entry in self._entries.items() if entry.in_flight == 0][:excess]
        for tenant_id in victims:
            self._evict(tenant_id)

    def _evict(self, tenant_id: str, *, flush: bool = True) -> None:
        entry = self._entries.pop(tenant_id)
        if not flush:
            # Synchronously, before any scheduled background seal gets its turn.
            entry.tenant_client._discard()
        self._evictions += 1
        lock = self._locks.get(tenant_id)
        if lock is not None and not lock.locked():
            del self._locks[tenant_id]
        previous = self._closing.get(tenant_id)
        task = asyncio.get_running_loop().create_task(self._close_entry(entry, previous, flush=flush))
        self._closing[tenant_id] = task
        task.add_done_callback(lambda done: self._closed_entry(tenant_id, done))
        log.debug("pool.evicted", extra={"tenant": tenant_id})

    async def _close_entry(self, entry: _Entry, previous: asyncio.Task[None] | None, *, flush: bool) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        try:
            await entry.tenant_client._aclose(flush=flush)
        except Exception as exc:  # nobody awaits an eviction: log it (type only, never the message)
            log.warning(
                "pool.flush_failed", extra={"tenant": entry.keys.tenant_id, "error": type(exc).__name__}
            )

    def _closed_entry(self, tenant_id: str, task: asyncio.Task[None]) -> None:
        if self._closing.get(tenant_id) is task:
            del self._closing[tenant_id]

    async def _wait_closing(self) -> None:
        while self._closing:
            await asyncio.wait(list(self._closing.values()))

    async def _sweep_forever(self) -> None:
        interval = max(0.05, min(self._limits.idle_seconds / 4, 30.0))
        while True:
            await asyncio.sleep(interval)
            self.sweep()
