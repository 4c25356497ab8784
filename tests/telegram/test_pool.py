"""ClientPool against the real sandbox: isolation, eviction under load, reconnects, floods, revocation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from telethon import functions

from mcpgram.errors import ChatNotFound, FloodWait, LoginRequired, NotAuthenticated, TelegramError
from mcpgram.sandbox import SandboxServer
from mcpgram.settings import PoolLimits
from mcpgram.telegram.errors import UNREACHABLE
from mcpgram.telegram.pool import Backoff, ClientPool, PoolStats
from mcpgram.telegram.session import load_state
from mcpgram.vault.vault import TenantKeys, Vault

from .conftest import FAST_BACKOFF, PoolFactory, login_tenant, new_tenant, phone_for, telegram_config, whoami

GET_USERS = functions.users.GetUsersRequest


def _status(vault: Vault, keys: TenantKeys) -> str:
    return next(r.status for r in vault.list_tenants() if r.tenant_id == keys.tenant_id)


@pytest.mark.slow
async def test_fifty_tenants_each_see_only_themselves(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """Fifty tenants logging in and calling at once through one pool each get their own account."""
    pool = make_pool(max_clients=60, timeout=60.0)  # 50 key exchanges at once on two cores
    phones = [phone_for(i) for i in range(50)]
    tenants = await asyncio.gather(
        *(login_tenant(pool, vault, sandbox, p, f"U{i}") for i, p in enumerate(phones))
    )

    async def me(keys: TenantKeys) -> tuple[int, str]:
        async with pool.client(keys) as tc:
            user = await tc.run(lambda c: c.get_me())
            return int(user.id), str(user.phone)

    seen = await asyncio.gather(*(me(keys) for keys in tenants))
    expected = [(int(sandbox.world.user_by_phone(p).id), p) for p in phones]  # type: ignore[union-attr]
    assert seen == expected
    assert pool.stats().active == 50


@pytest.mark.slow
async def test_eviction_under_load_never_touches_busy_clients(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """With max_clients=5 and 20 tenants calling at once, all calls succeed; only idle clients are evicted."""
    pool = make_pool(max_clients=5)
    tenants = [await login_tenant(pool, vault, sandbox, phone_for(i), f"L{i}") for i in range(20)]
    assert pool.stats().active <= 5
    sandbox.faults.latency(0.1, GET_USERS)
    samples: list[PoolStats] = []

    async def call(keys: TenantKeys) -> int:
        async with pool.client(keys) as tc:

            async def fn(client: Any) -> int:
                user_id = await whoami(client)
                samples.append(pool.stats())
                assert not tc.closed  # evicting a busy client would have closed it under us
                return user_id

            return await tc.run(fn)

    for _ in range(2):
        results = await asyncio.gather(*(call(keys) for keys in tenants))
        assert results == [int(sandbox.world.user_by_phone(phone_for(i)).id) for i in range(20)]  # type: ignore[union-attr]
    assert max(s.active for s in samples) > 5  # all busy: the pool grew instead of evicting
    assert all(s.active >= s.busy for s in samples)
    final = pool.stats()
    assert final.active <= 5
    assert final.in_flight == 0
    assert final.evictions >= 15


@pytest.mark.parametrize("downtime", [0.0, 0.4])
async def test_a_sandbox_restart_mid_call_is_survived(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory, downtime: float
) -> None:
    """When the server restarts during a call, the next call reconnects and succeeds.

    A quick restart is bridged by Telethon's own reconnect; a longer one outlasts it, the call in
    flight fails cleanly, and the pool reconnects with backoff on the next call.
    """
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996650001")
    async with pool.client(keys) as tc:
        me = await tc.run(whoami)
        sandbox.faults.latency(1.0, GET_USERS)
        pending = asyncio.create_task(tc.run(whoami))
        await asyncio.sleep(0.2)
        await sandbox.stop()
        sandbox.faults.clear()
        await asyncio.sleep(downtime)
        await sandbox.start()
        # Telethon reconnects and resends it, or the call fails cleanly; either way the next one works.
        with contextlib.suppress(TelegramError):
            assert await pending == me
        assert await tc.run(whoami) == me


async def test_an_unreachable_telegram_fails_after_backoff(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """With the server gone, a call retries with backoff and then says Telegram is unreachable."""
    pool = make_pool()
    keys = new_tenant(vault)
    await sandbox.stop()
    started = time.monotonic()
    async with pool.client(keys) as tc:
        with pytest.raises(TelegramError) as info:
            await tc.run(whoami)
    assert info.value.message == UNREACHABLE
    assert time.monotonic() - started < 5


async def test_short_flood_waits_are_absorbed(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A FLOOD_WAIT at or under flood_sleep_threshold is slept through and the call succeeds."""
    pool = make_pool(flood_sleep_threshold=1)
    keys = await login_tenant(pool, vault, sandbox, "9996650002")
    sandbox.faults.flood_wait(GET_USERS, 1)
    started = time.monotonic()
    async with pool.client(keys) as tc:
        assert await tc.run(whoami) > 0
    assert time.monotonic() - started >= 1
    assert sandbox.faults.pending() == 0


async def test_long_flood_waits_are_raised_at_once(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A FLOOD_WAIT over the threshold raises FloodWait(retry_after=60) without waiting."""
    pool = make_pool(flood_sleep_threshold=1)
    keys = await login_tenant(pool, vault, sandbox, "9996650003")
    sandbox.faults.flood_wait(GET_USERS, 60)
    started = time.monotonic()
    async with pool.client(keys) as tc:
        with pytest.raises(FloodWait) as info:
            await tc.run(whoami)
    assert info.value.retry_after == 60
    assert time.monotonic() - started < 2


async def test_revocation_marks_the_tenant_and_keeps_the_session(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A revoked authorization raises LoginRequired, marks the tenant login_required and deletes nothing."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996650004")
    assert _status(vault, keys) == "active"
    sandbox.revoke(int(sandbox.world.user_by_phone("9996650004").id))  # type: ignore[union-attr]
    async with pool.client(keys) as tc:
        with pytest.raises(LoginRequired):
            await tc.run(whoami)
    await pool.close()
    assert _status(vault, keys) == "login_required"
    sealed = vault.open(keys, "session")
    assert sealed is not None
    assert load_state(sealed).auth_key is not None


async def test_the_call_timeout_is_enforced(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A call slower than the configured timeout fails with a TelegramError saying so."""
    login_pool = make_pool()
    keys = await login_tenant(login_pool, vault, sandbox, "9996650005")
    await login_pool.close()
    pool = make_pool(timeout=1.0)
    async with pool.client(keys) as tc:
        await tc.run(whoami)  # connected: the deadline below is the call's alone
        sandbox.faults.latency(3.0, GET_USERS)
        started = time.monotonic()
        with pytest.raises(TelegramError, match="did not answer within 1 s") as info:
            await tc.run(whoami)
        assert info.value.hint is not None and "may have gone through" in info.value.hint
    assert time.monotonic() - started < 2.5


async def test_tenants_share_no_entity_cache(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """An entity one tenant resolved is unknown to another tenant's client (it asks Telegram and fails)."""
    pool = make_pool()
    alice = await login_tenant(pool, vault, sandbox, "9996650006", "Alice")
    bob = await login_tenant(pool, vault, sandbox, "9996650007", "Bob")
    target = sandbox.world.add_user(first_name="Target", username="target_user")
    async with pool.client(alice) as tc:
        await tc.run(lambda c: c.get_input_entity("@target_user"))
    sandbox.faults.error(None, 400, "PEER_ID_INVALID", calls=100)
    async with pool.client(bob) as tc:
        with pytest.raises(ChatNotFound):
            await tc.run(lambda c: c.get_input_entity(target.id))
    assert sandbox.faults.pending() < 100


async def test_keys_must_match_the_open_client(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A caller with the right tenant id but another data key does not get the tenant's client."""
    pool = make_pool()
    keys = new_tenant(vault)
    async with pool.client(keys):
        forged = TenantKeys(keys.tenant_id, bytes(32))
        with pytest.raises(NotAuthenticated):
            async with pool.client(forged):
                pass


async def test_idle_clients_are_swept_and_sealed(sandbox: SandboxServer, vault: Vault) -> None:
    """The sweeper evicts clients idle longer than idle_seconds and seals their sessions."""
    pool = ClientPool(
        telegram_config(sandbox), vault, PoolLimits(max_clients=10, idle_seconds=0.2), backoff=FAST_BACKOFF
    )
    await pool.start()
    try:
        keys = await login_tenant(pool, vault, sandbox, "9996650008")
        assert pool.stats().active == 1
        for _ in range(40):
            await asyncio.sleep(0.05)
            if pool.stats().active == 0 and pool.stats().closing == 0:
                break
        assert pool.stats().active == 0
        assert pool.stats().evictions == 1
        assert load_state(vault.open(keys, "session") or b"").auth_key is not None
    finally:
        await pool.close()


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_idle_eviction_follows_the_injected_clock(sandbox: SandboxServer, vault: Vault) -> None:
    """Idle for idle_seconds on the pool's clock, a client is evicted and sealed; a busy one never is."""
    clock = FakeClock()
    limits = PoolLimits(max_clients=10, idle_seconds=600)
    pool = ClientPool(telegram_config(sandbox), vault, limits, backoff=FAST_BACKOFF, clock=clock)
    await pool.start()
    try:
        idle = await login_tenant(pool, vault, sandbox, "9996650011")
        busy = await login_tenant(pool, vault, sandbox, "9996650012")
        clock.now += 599
        assert pool.sweep() == 0
        async with pool.client(busy):
            clock.now += 1
            assert pool.sweep() == 1  # the idle one; the busy one was just used, and is in flight
            clock.now += 10_000
            assert pool.sweep() == 0  # in flight: never evicted, however long the call takes
        assert pool.stats().active == 1
        clock.now += 599
        assert pool.sweep() == 0
        clock.now += 1
        assert pool.sweep() == 1
        for _ in range(200):  # sealing runs in a worker thread: wait for it, not for the clock
            if pool.stats().closing == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.stats() == PoolStats(
            active=0, busy=0, in_flight=0, evictions=2, created=2, closing=0, max_clients=10
        )
        assert load_state(vault.open(idle, "session") or b"").auth_key is not None
    finally:
        await pool.close()


async def test_a_closed_pool_refuses_calls(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """After close(), client() raises TelegramError and nothing is left open."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996650009")
    await pool.close()
    assert pool.stats().active == 0
    with pytest.raises(TelegramError):
        async with pool.client(keys):
            pass


async def test_dropping_a_revoked_tenant_writes_no_secret(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """drop() after a vault revoke closes the client without sealing a new session for the tenant."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996650010")
    vault.revoke(keys.tenant_id)
    await pool.drop(keys.tenant_id)
    await pool.close()
    assert vault.open(keys, "session") is None


def test_backoff_doubles_up_to_its_maximum() -> None:
    """The default reconnect schedule is 0.5 s, 1 s, 2 s between four tries, capped at 8 s."""
    assert Backoff().delays() == [0.5, 1.0, 2.0]
    assert Backoff(first=1, maximum=8, tries=6).delays() == [1, 2, 4, 8, 8]


async def test_a_rekeyed_tenant_gets_a_new_client_for_its_new_keys(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """After ``Vault.rekey`` (recovery by login) the client cached under the old keys is dropped
    unsealed for a caller whose keys open the new session; the old keys are refused."""
    pool = make_pool()
    old = await login_tenant(pool, vault, sandbox, "9996650008", "Rita")
    async with pool.client(old) as tc:
        await tc.run(lambda c: c.get_me())
    await asyncio.sleep(0.2)  # let the background seal land
    session = vault.open(old, "session")
    assert session is not None
    new, _ = vault.rekey(old.tenant_id, {"session": session})
    async with pool.client(new) as tc:
        me = await tc.run(lambda c: c.get_me())
    assert me.first_name == "Rita"
    with pytest.raises(NotAuthenticated):
        async with pool.client(old):
            pass
    await pool.close()
    assert vault.open(new, "session") is not None  # no seal under the old key overwrote it
