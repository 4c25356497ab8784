"""``/health``: liveness for anyone, pool counters only for the operator token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from mcpgram.vault.vault import Vault

from .conftest import CountingStore, EdgeFactory, asgi_client

OPERATOR = "operator-secret-token"


@dataclass(frozen=True)
class Stats:
    active: int = 3
    in_flight: int = 1
    evictions: int = 0


async def test_liveness_says_ok_and_nothing_else(
    edge: EdgeFactory, vault: Vault, store: CountingStore
) -> None:
    """Without credentials /health answers exactly {"status": "ok"} and reads no tenant data."""
    vault.create_tenant("alice")
    calls_before = sum(store.calls.values())
    async with asgi_client(edge(operator_token=OPERATOR, pool_stats=Stats)) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert sum(store.calls.values()) == calls_before


@pytest.mark.parametrize("operator_token", [OPERATOR, SecretStr(OPERATOR)])
@pytest.mark.parametrize("source", [Stats, lambda: {"active": 3, "in_flight": 1, "evictions": 0}])
async def test_operator_token_adds_pool_stats(
    edge: EdgeFactory, operator_token: object, source: object
) -> None:
    """The operator's bearer token adds the pool counters, from a dataclass or a mapping."""
    async with asgi_client(edge(operator_token=operator_token, pool_stats=source)) as client:
        response = await client.get("/health", headers={"Authorization": f"Bearer {OPERATOR}"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pool": {"active": 3, "in_flight": 1, "evictions": 0}}


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {OPERATOR}x",
        f"Bearer {OPERATOR[:-1]}",
        "Bearer ",
        "Bearer",
        f"Basic {OPERATOR}",
        f"{OPERATOR}",
        f"Bearer  {OPERATOR}",
    ],
)
async def test_wrong_operator_token_is_401(edge: EdgeFactory, header: str) -> None:
    """Anything but the exact operator bearer token is 401 with no pool data."""
    async with asgi_client(edge(operator_token=OPERATOR, pool_stats=Stats)) as client:
        response = await client.get("/health", headers={"Authorization": header})
    assert response.status_code == 401
    assert "pool" not in response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_tenant_token_is_not_an_operator_token(edge: EdgeFactory, vault: Vault) -> None:
    """A valid tenant token gets 401 on /health, not tenant or pool data."""
    _, token = vault.create_tenant("alice")
    async with asgi_client(edge(operator_token=OPERATOR, pool_stats=Stats)) as client:
        response = await client.get("/health", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_without_an_operator_token_every_credential_is_refused(edge: EdgeFactory) -> None:
    """When no operator token is configured, the detailed view cannot be unlocked at all."""
    async with asgi_client(edge(pool_stats=Stats)) as client:
        for header in ["Bearer ", "Bearer None", "Bearer null"]:
            response = await client.get("/health", headers={"Authorization": header})
            assert response.status_code == 401


async def test_health_is_behind_the_host_guard(edge: EdgeFactory) -> None:
    """A request for /health with a foreign Host header is 421, like the MCP endpoint."""
    async with asgi_client(edge()) as client:
        response = await client.get("/health", headers={"Host": "evil.example"})
    assert response.status_code == 421
