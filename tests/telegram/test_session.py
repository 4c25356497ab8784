"""VaultSession: Telethon state sealed in the vault, surviving restarts, never stored or logged in clear."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from telethon import functions, types
from telethon.sessions import MemorySession

from mcpgram.errors import VaultError
from mcpgram.sandbox import SandboxServer
from mcpgram.telegram import session as session_module
from mcpgram.telegram.session import SessionState, VaultSession, dump_entities, dump_state, load_state
from mcpgram.vault.vault import Vault

from .conftest import API_HASH, PoolFactory, login_tenant, new_tenant, whoami

AUTH_KEY = bytes(range(256))
STATE = SessionState(
    dc_id=2,
    server_address="127.0.0.1",
    port=4430,
    auth_key=AUTH_KEY,
    takeout_id=None,
    entities=((0, 1001, None, None, None), (1002, -77, "alice", "9996612345", "Alice A")),
    update_states=((0, 10, 2, 1_700_000_000, 5, 0),),
)


def test_state_round_trips_through_its_serialised_form() -> None:
    """The two serialised secrets load back to the same state, as versioned JSON without raw key bytes."""
    blob, entities = dump_state(STATE), dump_entities(STATE.entities)
    assert load_state(blob, entities) == STATE
    assert load_state(blob) == replace(STATE, entities=())
    assert json.loads(blob)["v"] == json.loads(entities)["v"] == session_module.FORMAT_VERSION
    assert AUTH_KEY not in blob
    assert b"alice" not in blob
    assert "auth_key" not in repr(STATE)


def _blob(**changes: object) -> bytes:
    payload = json.loads(dump_state(STATE))
    payload.update(changes)
    return json.dumps(payload).encode()


def _entities(rows: object, version: object = 1) -> bytes:
    return json.dumps({"v": version, "entities": rows}).encode()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\xff\xfe",
        b"not json",
        b"[]",
        b"{}",
        _blob(v=2),
        _blob(v="1"),
        _blob(dc=[2, "127.0.0.1"]),
        _blob(dc=[2, 127, 4430]),
        _blob(key="!!not base64!!"),
        _blob(key=12),
        _blob(states=[[1, 2]]),
        _blob(states=[[0, 1, 2, 3.5, 4, 5]]),
        _blob(takeout="7"),
        _blob(takeout=True),
    ],
)
def test_unreadable_sessions_are_refused(blob: bytes) -> None:
    """Anything but a well-formed version-1 session raises VaultError instead of loading half a state."""
    with pytest.raises(VaultError):
        load_state(blob)


@pytest.mark.parametrize(
    "entities",
    [
        b"[]",
        _entities([], version=2),
        _entities([[1, 2, 3]]),
        _entities([[1, 2, 3, None, None]]),
        _entities([["1", 2, None, None, None]]),
        _entities([[1, 2.5, None, None, None]]),
        _entities({"1": 2}),
    ],
)
def test_unreadable_entity_caches_are_refused(entities: bytes) -> None:
    """A malformed entity cache raises VaultError too."""
    with pytest.raises(VaultError):
        load_state(dump_state(STATE), entities)


def test_hooks_are_synchronous_and_never_awaitable(vault: Vault) -> None:
    """Telethon's hooks return None, so utils.maybe_async never warns about async sessions."""
    session = VaultSession(vault, new_tenant(vault), state=STATE)
    user = types.User(id=5, access_hash=9, first_name="Bob", username="bob")
    for result in (
        session.save(),
        session.close(),
        session.set_dc(2, "127.0.0.1", 1),
        session.process_entities(types.contacts.ResolvedPeer(types.PeerUser(5), [], [user])),
        session.set_update_state(0, types.updates.State(1, 2, session.get_update_state(0).date, 3, 0)),
    ):
        assert result is None
    assert isinstance(session.clone(), MemorySession)
    assert not isinstance(session.clone(), VaultSession)


def test_repr_and_pickling_never_expose_the_session(vault: Vault) -> None:
    """The repr shows no key material and the session refuses to be pickled."""
    session = VaultSession(vault, new_tenant(vault), state=STATE)
    assert AUTH_KEY.hex()[:16] not in repr(session)
    assert base64.b64encode(AUTH_KEY).decode()[:16] not in repr(session)
    with pytest.raises(TypeError):
        session.__getstate__()


def test_entity_cache_keeps_the_newest_row_per_id_and_is_capped(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renamed user replaces its row, a reused username finds its new owner, and the cache is capped."""
    monkeypatch.setattr(session_module, "MAX_ENTITIES", 3)
    session = VaultSession(vault, new_tenant(vault))
    first = types.User(id=1, access_hash=11, first_name="A", username="shared")
    second = types.User(id=2, access_hash=22, first_name="B", username="shared")
    session.process_entities([first, second])
    assert session.get_entity_rows_by_username("shared") == (2, 22)
    session.process_entities([types.User(id=1, access_hash=11, first_name="A2", username="renamed")])
    assert session.get_entity_rows_by_username("renamed") == (1, 11)
    assert len(session.snapshot().entities) == 2
    session.process_entities([types.User(id=i, access_hash=i, first_name="x") for i in range(3, 7)])
    ids = [row[0] for row in session.snapshot().entities]
    assert ids == [4, 5, 6]


async def test_a_failed_background_seal_is_retried_by_flush(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    """When the vault refuses a background seal, the state stays dirty and the next flush seals it."""
    keys = new_tenant(vault)
    failures = [OSError("disk full")]

    async def flaky_runner(fn: Callable[..., Any], *args: Any) -> Any:
        if failures:
            raise failures.pop()
        return fn(*args)

    session = VaultSession(vault, keys, state=STATE, runner=flaky_runner)
    with caplog.at_level(logging.WARNING, logger="mcpgram"):
        session.save()
        for _ in range(3):
            await asyncio.sleep(0)
    assert "session.flush_failed" in caplog.text
    assert "disk full" not in caplog.text
    assert session.dirty
    assert vault.open(keys, "session") is None
    await session.flush()
    assert load_state(vault.open(keys, "session") or b"").auth_key == AUTH_KEY
    assert not session.dirty


async def test_new_peers_reseal_only_the_entity_cache(vault: Vault) -> None:
    """Seeing a new peer rewrites the entities secret and leaves the secret holding the auth key alone."""
    keys = new_tenant(vault)
    sealed: list[str] = []

    async def recording_runner(fn: Callable[..., Any], *args: Any) -> Any:
        if fn == vault.seal:
            sealed.append(args[1])
        return fn(*args)

    session = VaultSession(vault, keys, state=STATE, runner=recording_runner)
    session.save()
    await session.flush()
    assert sealed == ["session"]
    session.process_entities([types.User(id=9, access_hash=99, first_name="New")])
    await session.flush()
    session.process_entities([types.User(id=9, access_hash=99, first_name="New")])  # nothing new
    await session.flush()
    assert sealed == ["session", "entities"]


async def test_a_session_survives_a_restart_with_its_entities(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """After close and a new pool, the tenant is still logged in and a seen id resolves offline."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996640001", "Owner")
    friend = sandbox.world.add_user(first_name="Friend", username="friend_of_owner", phone="9996640002")
    async with pool.client(keys) as tc:
        seen = await tc.run(lambda c: c.get_input_entity("@friend_of_owner"))
        me = await tc.run(whoami)
    await pool.close()

    again = make_pool()
    async with again.client(keys) as tc:
        assert await tc.run(whoami) == me
        # From here on, every request fails: only the sealed entity cache can answer.
        sandbox.faults.error(None, 400, "PEER_ID_INVALID", calls=100)
        resolved = await tc.run(lambda c: c.get_input_entity(friend.id))
        assert sandbox.faults.pending() == 100
    assert resolved == seen
    assert isinstance(resolved, types.InputPeerUser)


async def test_log_out_clears_the_session_but_keeps_the_tenant(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """log_out seals an empty session, marks the tenant login_required and drops the client."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996640003")
    async with pool.client(keys) as tc:
        assert await tc.run(lambda c: c.log_out()) is True
    assert pool.stats().active == 0
    await pool.close()
    stored = load_state(vault.open(keys, "session") or b"", vault.open(keys, "entities"))
    assert stored.auth_key is None
    assert stored.entities == ()
    [record] = [r for r in vault.list_tenants() if r.tenant_id == keys.tenant_id]
    assert record.status == "login_required"


def _files(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_the_database_never_holds_the_auth_key_in_the_clear(
    sandbox: SandboxServer,
    vault: Vault,
    vault_path: Path,
    make_pool: PoolFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Neither the vault files (WAL included) nor the logs hold the auth key, API hash or login code."""
    pool = make_pool()
    with caplog.at_level(logging.DEBUG):
        keys = await login_tenant(pool, vault, sandbox, "9996640004")
        async with pool.client(keys) as tc:
            key = await tc.run(_auth_key_bytes)
            await tc.run(lambda c: c(functions.help.GetConfigRequest()))
        await pool.close()
    assert key is not None and len(key) == 256
    stored = _files(vault_path)
    assert len(stored) > 0
    for form in (key, key.hex().encode(), base64.b64encode(key), key[:32]):
        assert form not in stored
    logged = caplog.text
    for secret in (key.hex(), base64.b64encode(key).decode(), API_HASH, "44444"):
        assert secret not in logged


async def _auth_key_bytes(client: Any) -> bytes | None:
    return client.session.auth_key.key  # type: ignore[no-any-return]
