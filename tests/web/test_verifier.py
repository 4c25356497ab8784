"""The token verifier: format check before storage, vault lookup through the runner, no cache."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from mcpgram import auth
from mcpgram.vault.store import TenantRecord
from mcpgram.vault.vault import Vault
from mcpgram.web.verifier import MCPGramTokenVerifier

from .conftest import CountingStore

VALID = auth.new_token()
MALFORMED = [
    "",
    " ",
    "../../etc/passwd",
    "mcpg_../../../../../../../../../../../../../etc/passwd",
    "telegram",
    "default",
    "session",
    "TELEGRAM",
    "Bearer " + VALID,
    VALID + "x",
    VALID[:-1],
    " " + VALID,
    VALID.upper(),
    "mcpg_" + "A" * 42 + "B",
    "x" * 10_000,
    VALID[:10] + "\x00" + VALID[11:],
]


@pytest.mark.parametrize("token", MALFORMED)
async def test_malformed_tokens_never_reach_storage(vault: Vault, store: CountingStore, token: str) -> None:
    """A malformed token is refused without a store lookup and without calling the runner."""
    runner_calls = 0

    async def runner(fn: Callable[[], TenantRecord]) -> TenantRecord:
        nonlocal runner_calls
        runner_calls += 1
        return fn()

    verifier = MCPGramTokenVerifier(vault, runner=runner)
    assert await verifier.verify_token(token) is None
    assert runner_calls == 0
    assert sum(store.calls.values()) == 0


async def test_known_token_maps_to_its_tenant_through_the_runner(vault: Vault, store: CountingStore) -> None:
    """A minted token yields an AccessToken naming its tenant, looked up once via the given runner."""
    record, token = vault.create_tenant("alice")
    seen: list[Callable[[], TenantRecord]] = []

    async def runner(fn: Callable[[], TenantRecord]) -> TenantRecord:
        seen.append(fn)
        return fn()

    access = await MCPGramTokenVerifier(vault, runner=runner).verify_token(token)
    assert access is not None
    assert (access.client_id, access.token, access.scopes) == (record.tenant_id, token, [])
    assert access.claims == {"tenant": record.tenant_id}
    assert len(seen) == 1
    assert store.lookups == 1


async def test_default_runner_offloads_to_a_thread(vault: Vault) -> None:
    """Without a runner argument the lookup runs in anyio's thread pool and still succeeds."""
    record, token = vault.create_tenant("alice")
    access = await MCPGramTokenVerifier(vault).verify_token(token)
    assert access is not None and access.client_id == record.tenant_id


async def test_unknown_well_formed_token_is_refused_after_one_lookup(
    vault: Vault, store: CountingStore
) -> None:
    """A well-formed token nobody was given is looked up once and refused."""
    vault.create_tenant("alice")
    assert await MCPGramTokenVerifier(vault).verify_token(auth.new_token()) is None
    assert store.lookups == 1


async def test_revoked_token_fails_on_the_very_next_call(vault: Vault) -> None:
    """Nothing is cached: a token that just verified is refused right after its tenant is revoked."""
    record, token = vault.create_tenant("alice")
    verifier = MCPGramTokenVerifier(vault)
    assert await verifier.verify_token(token) is not None
    vault.revoke(record.tenant_id)
    assert await verifier.verify_token(token) is None


async def test_rotated_token_stops_working_and_the_new_one_works(vault: Vault) -> None:
    """After rotation the old token is refused and the new one maps to the same tenant."""
    record, old = vault.create_tenant("alice")
    verifier = MCPGramTokenVerifier(vault)
    assert await verifier.verify_token(old) is not None
    new = vault.rotate(old)
    assert await verifier.verify_token(old) is None
    access = await verifier.verify_token(new)
    assert access is not None and access.client_id == record.tenant_id


async def test_two_tenants_get_their_own_ids(vault: Vault) -> None:
    """Each tenant's token maps to that tenant and no other."""
    alice, alice_token = vault.create_tenant("alice")
    bob, bob_token = vault.create_tenant("bob")
    verifier = MCPGramTokenVerifier(vault)
    a = await verifier.verify_token(alice_token)
    b = await verifier.verify_token(bob_token)
    assert a is not None and b is not None
    assert (a.client_id, b.client_id) == (alice.tenant_id, bob.tenant_id)


async def test_rejections_are_logged_without_the_token(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    """Refusals leave a reason in the log and never the token itself."""
    caplog.set_level(logging.DEBUG)
    planted = auth.new_token()
    verifier = MCPGramTokenVerifier(vault)
    assert await verifier.verify_token(planted) is None
    assert await verifier.verify_token("telegram") is None
    reasons = [getattr(r, "reason", None) for r in caplog.records if r.getMessage() == "auth.rejected"]
    assert reasons == ["unknown", "malformed"]
    dumped = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert planted not in dumped
