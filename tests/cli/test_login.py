"""``mcpgram login`` against the sandbox, with scripted prompts (and one real subprocess)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.srp import make_password_record
from mcpgram.settings import DcAddress, Settings
from mcpgram.vault.sqlite import SQLiteVault

from .conftest import API_HASH, API_ID, arun_cli, run_cli
from .screen import decode

PHONE = "9996661111"
CODE = "66666"


def tenant_status(data_dir: Path, tenant_id: str) -> str:
    store = SQLiteVault(data_dir / "vault.db")
    try:
        record = store.get_tenant(tenant_id)
        assert record is not None
        return record.status
    finally:
        store.close()


def new_token(data_dir: Path) -> tuple[str, str]:
    result = run_cli("token", "create", "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    return next(w for w in result.err.split() if w.startswith("tnt_")), result.out.strip()


async def test_owner_code_login(data_dir: Path, sandbox: SandboxServer) -> None:
    """Phone then code logs the owner tenant in; stdout names the account with the phone masked."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    result = await arun_cli("login", "--data-dir", str(data_dir), answers=["+999 666 1111", CODE])
    assert result.code == 0, result.err
    assert result.out == f"Logged in as Ada (+********11, id {user.id}).\n"
    assert tenant_status(data_dir, "owner") == "active"
    assert (data_dir / "owner.key").stat().st_mode & 0o777 == 0o600
    assert "Telegram sent a login code for +********11" in result.err
    assert PHONE not in result.err + result.out and CODE not in result.err + result.out


async def test_login_saves_the_telegram_settings_for_serve(
    data_dir: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Login keeps id, hash, DC and key in a 0600 file of the data dir; settings then load without env."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    result = await arun_cli("login", "--data-dir", str(data_dir), answers=[PHONE, CODE])
    assert result.code == 0, result.err
    saved = data_dir / "telegram.json"
    assert f"Saved the Telegram settings (API id {API_ID}; the hash is not shown) in {saved}" in result.err
    assert API_HASH not in result.err + result.out
    assert saved.stat().st_mode & 0o777 == 0o600
    for name in ("MCPGRAM_API_ID", "MCPGRAM_API_HASH", "MCPGRAM_DC", "MCPGRAM_RSA_KEY_FILE"):
        monkeypatch.delenv(name)
    config = Settings.load(data_dir=data_dir).telegram_config()
    assert (config.api_id, config.api_hash) == (int(API_ID), API_HASH)
    assert config.dc == DcAddress(sandbox.dc_id, sandbox.host, sandbox.port)
    assert config.rsa_key_pem == sandbox.public_key_pem
    again = await arun_cli("login", "--data-dir", str(data_dir))
    assert again.code == 0 and "Saved the Telegram settings" not in again.err  # unchanged: not rewritten


async def test_token_tenant_2fa_login_with_a_wrong_code_and_password(
    data_dir: Path, sandbox: SandboxServer
) -> None:
    """An HTTP tenant logs in through a wrong code and a wrong password, prompted again each time."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("right-pw", hint="usual")
    tenant_id, token = new_token(data_dir)
    result = await arun_cli(
        "login",
        "--token-stdin",
        "--data-dir",
        str(data_dir),
        stdin=token + "\n",
        answers=[PHONE, "12345", CODE],
        secrets=["wrong-pw", "right-pw"],
    )
    assert result.code == 0, result.err
    assert "That code is not right" in result.err and "That password is not right" in result.err
    assert "(hint: usual)" in result.err
    assert tenant_status(data_dir, tenant_id) == "active"
    for secret in ("wrong-pw", "right-pw", token):
        assert secret not in result.err + result.out


async def test_second_login_reports_the_existing_session(data_dir: Path, sandbox: SandboxServer) -> None:
    """Logging in again reuses the sealed session and asks nothing."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    assert (await arun_cli("login", "--data-dir", str(data_dir), answers=[PHONE, CODE])).code == 0
    again = await arun_cli("login", "--data-dir", str(data_dir))
    assert again.code == 0, again.err
    assert "already logged in" in again.err and "Phone number" not in again.err


async def test_qr_login_prints_a_qr_code_and_waits(data_dir: Path, sandbox: SandboxServer) -> None:
    """--qr draws a QR code (readable on light and dark themes) and prints its link; accepting logs in."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    run = asyncio.create_task(arun_cli("login", "--qr", "--data-dir", str(data_dir)))
    for _ in range(200):
        if sandbox.login_tokens:
            break
        await asyncio.sleep(0.05)
    [token] = list(sandbox.login_tokens)
    await asyncio.sleep(0.1)  # let the CLI start waiting; an earlier acceptance is still collected
    sandbox.accept_login_token(token, user.id)
    result = await asyncio.wait_for(run, 20)
    assert result.code == 0, result.err
    assert "Scan this QR code" in result.err
    [url] = re.findall(
        r"link on a device where Telegram is logged in: (tg://login\?token=[\w-]+=*)\n", result.err
    )
    assert decode(result.err, "light") == decode(result.err, "dark") == [url]
    assert result.out.startswith("Logged in as Ada")


async def test_flood_wait_is_reported_without_a_traceback(data_dir: Path, sandbox: SandboxServer) -> None:
    """FLOOD_WAIT on sending the code exits 1 with how long to wait."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.faults.flood_wait("SendCodeRequest", 120)
    result = await arun_cli("login", "--data-dir", str(data_dir), answers=[PHONE])
    assert result.code == 1
    assert result.err.endswith(
        "mcpgram: Telegram asks to wait 120 s before retrying (FLOOD_WAIT)\n"
        "  hint: wait, then retry the same call\n"
    )


async def test_input_ending_early_fails_cleanly(data_dir: Path, sandbox: SandboxServer) -> None:
    """When the input ends before the code is given, login exits 1 and the tenant stays login_required."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    result = await arun_cli("login", "--data-dir", str(data_dir), answers=[PHONE])
    assert result.code == 1 and "input ended" in result.err
    assert tenant_status(data_dir, "owner") == "login_required"


def test_login_without_api_credentials_is_a_config_error(data_dir: Path) -> None:
    """Without MCPGRAM_API_ID/HASH, login exits 2 with a one-line reason before touching the vault."""
    result = run_cli("login", "--data-dir", str(data_dir))
    assert result.code == 2
    assert result.err.startswith("mcpgram: set api_id and api_hash") and result.err.count("\n") == 1


def test_login_with_a_wrong_token_is_refused(data_dir: Path, sandbox: SandboxServer) -> None:
    """An unknown token on stdin is refused (exit 1) without being echoed."""
    del sandbox
    forged = "mcpg_" + "A" * 43
    result = run_cli("login", "--token-stdin", "--data-dir", str(data_dir), stdin=forged)
    assert result.code == 1 and "invalid bearer token" in result.err and forged not in result.err


@pytest.mark.slow
async def test_login_in_a_subprocess(data_dir: Path, sandbox: SandboxServer) -> None:
    """The installed entry point logs in with answers piped on stdin and no terminal at all."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mcpgram",
        "login",
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
        start_new_session=True,  # no controlling terminal: prompts fall back to stdin
    )
    out, err = await asyncio.wait_for(process.communicate(f"{PHONE}\n{CODE}\n".encode()), 50)
    assert process.returncode == 0, err.decode()
    assert out.decode() == f"Logged in as Ada (+********11, id {user.id}).\n"
