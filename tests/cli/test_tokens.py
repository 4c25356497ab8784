"""``mcpgram token create|list|rotate|revoke`` against a vault in a temporary data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgram import auth
from mcpgram.sandbox import SandboxServer

from .conftest import arun_cli, run_cli

PHONE = "9996651111"
CODE = "55555"


def create(data_dir: Path, label: str = "laptop") -> tuple[str, str]:
    """Create a tenant through the CLI; return (tenant id, token)."""
    result = run_cli("token", "create", "--label", label, "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    token = result.out.strip()
    tenant_id = next(word for word in result.err.split() if word.startswith("tnt_"))
    return tenant_id, token


def listed(data_dir: Path) -> list[dict[str, str]]:
    result = run_cli("token", "list", "--json", "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    rows: list[dict[str, str]] = json.loads(result.out)
    return rows


def test_create_prints_the_token_once_on_stdout_only(data_dir: Path) -> None:
    """create prints a well-formed token alone on stdout, a store-it warning on stderr, and no token there."""
    result = run_cli("token", "create", "--label", "laptop", "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    token = result.out.strip()
    assert result.out == token + "\n" and auth.is_well_formed(token)
    assert token not in result.err
    assert "shown once" in result.err and "login --token-stdin" in result.err


def test_round_trip_create_list_rotate_revoke(data_dir: Path) -> None:
    """A tenant is listed as login_required, rotation kills the old token, revoke kills the new one."""
    tenant_id, token = create(data_dir)
    [row] = listed(data_dir)
    assert row["tenant_id"] == tenant_id and row["label"] == "laptop" and row["status"] == "login_required"
    rotated = run_cli("token", "rotate", "--token-stdin", "--data-dir", str(data_dir), stdin=token + "\n")
    assert rotated.code == 0, rotated.err
    new_token = rotated.out.strip()
    assert auth.is_well_formed(new_token) and new_token != token
    assert listed(data_dir)[0]["fingerprint"] != row["fingerprint"]
    stale = run_cli("token", "rotate", "--token-stdin", "--data-dir", str(data_dir), stdin=token)
    assert stale.code == 1 and "invalid bearer token" in stale.err and stale.out == ""
    revoked = run_cli("token", "revoke", tenant_id, "--data-dir", str(data_dir))
    assert revoked.code == 0, revoked.err
    assert "active sessions" in revoked.err
    assert listed(data_dir)[0]["status"] == "revoked"
    dead = run_cli("token", "rotate", "--token-stdin", "--data-dir", str(data_dir), stdin=new_token)
    assert dead.code == 1
    for result in (rotated, stale, revoked, dead):
        assert token not in result.err and new_token not in result.err


def test_list_never_prints_a_token(data_dir: Path) -> None:
    """Neither the table nor the JSON listing contains any tenant's token."""
    tokens = [create(data_dir, label)[1] for label in ("one", "two")]
    table = run_cli("token", "list", "--data-dir", str(data_dir))
    assert table.code == 0 and "FINGERPRINT" in table.out and "one" in table.out
    dumped = run_cli("token", "list", "--json", "--data-dir", str(data_dir))
    for token in tokens:
        for text in (table.out, table.err, dumped.out, dumped.err):
            assert token not in text


@pytest.mark.parametrize(
    "label",
    [
        "x" * 65,
        "red\x1b[31malert",  # terminal escape
        "two\nlines",
        "bidi\u202eevil",  # right-to-left override
        "zero\u200bwidth",  # zero-width space
        "nul\x00byte",
    ],
)
def test_hostile_labels_are_refused(data_dir: Path, label: str) -> None:
    """Labels that are too long or hold control/format characters exit 2 and create nothing."""
    result = run_cli("token", "create", "--label", label, "--data-dir", str(data_dir))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("mcpgram: --label")
    assert not (data_dir / "vault.db").exists()


@pytest.mark.parametrize(
    "tenant_id",
    [
        "owner",
        "",
        "tnt_",
        "tnt_0123",
        "tnt_0123456789ABCDEF",
        "../vault.db",
        "tnt_0123456789abcdef; rm -rf /",
    ],
)
def test_hostile_tenant_ids_are_refused(data_dir: Path, tenant_id: str) -> None:
    """revoke refuses anything that is not tnt_ + 16 lowercase hex digits (and the owner) with exit 2."""
    create(data_dir)
    result = run_cli("token", "revoke", tenant_id, "--data-dir", str(data_dir))
    assert result.code == 2 and result.err.startswith("mcpgram: ")
    assert listed(data_dir)[0]["status"] == "login_required"


def test_rotate_needs_the_token_on_stdin(data_dir: Path) -> None:
    """rotate without --token-stdin is a usage error, and a malformed token is refused without echoing it."""
    create(data_dir)
    assert run_cli("token", "rotate", "--data-dir", str(data_dir)).code == 2
    bogus = "mcpg_not-a-real-token-but-secret-looking"
    result = run_cli("token", "rotate", "--token-stdin", "--data-dir", str(data_dir), stdin=bogus)
    assert result.code == 1 and "not an mcpgram token" in result.err and bogus not in result.err


def test_revoke_with_another_tenants_token_revokes_nothing(data_dir: Path) -> None:
    """revoke --token-stdin refuses a token of a different tenant and leaves both tenants alone."""
    first, _ = create(data_dir, "first")
    _, second_token = create(data_dir, "second")
    result = run_cli(
        "token", "revoke", first, "--token-stdin", "--data-dir", str(data_dir), stdin=second_token
    )
    assert result.code == 1 and "another tenant" in result.err
    assert {row["status"] for row in listed(data_dir)} == {"login_required"}


async def test_revoke_with_token_logs_out_of_telegram_first(data_dir: Path, sandbox: SandboxServer) -> None:
    """revoke --token-stdin ends the Telegram authorization, then revokes; the sessions note is not needed."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    tenant_id, token = create(data_dir)
    login = await arun_cli(
        "login", "--token-stdin", "--data-dir", str(data_dir), stdin=token + "\n", answers=[PHONE, CODE]
    )
    assert login.code == 0, login.err
    assert sandbox.authorizations_of(user.id)
    result = await arun_cli(
        "token", "revoke", tenant_id, "--token-stdin", "--data-dir", str(data_dir), stdin=token
    )
    assert result.code == 0, result.err
    assert "out of Telegram and revoked it" in result.err
    assert sandbox.authorizations_of(user.id) == []
    assert listed(data_dir)[0]["status"] == "revoked"


def test_tokens_stay_out_of_debug_logs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With MCPGRAM_LOG_LEVEL=DEBUG, create, rotate and revoke still keep every token off stderr."""
    monkeypatch.setenv("MCPGRAM_LOG_LEVEL", "DEBUG")
    tenant_id, token = create(data_dir)
    rotated = run_cli("token", "rotate", "--token-stdin", "--data-dir", str(data_dir), stdin=token)
    new_token = rotated.out.strip()
    revoked = run_cli("token", "revoke", tenant_id, "--data-dir", str(data_dir))
    assert rotated.code == 0 and revoked.code == 0
    for text in (rotated.err, revoked.err):
        assert token not in text and new_token not in text
