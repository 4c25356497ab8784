"""``mcpgram sandbox accept-qr``: a separate process plays the phone for a Telethon client's QR login."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import telethon
from telethon import TelegramClient, errors
from telethon.sessions import MemorySession

from mcpgram.configs import parse_dc
from mcpgram.sandbox import phone
from mcpgram.sandbox.phone import Endpoint, login_token
from mcpgram.sandbox.server import shared_key

from .conftest import API_HASH, API_ID
from .test_cli_sandbox import start_sandbox, stop_sandbox

Sandbox = dict[str, str]


@pytest.fixture
async def demo_sandbox() -> AsyncIterator[Sandbox]:
    """``mcpgram sandbox --demo`` in its own process; its printed lines, ``export`` ones unquoted."""
    proc, info = await start_sandbox("--demo")
    try:
        yield info
    finally:
        await stop_sandbox(proc)


async def accept_qr(sandbox: Sandbox, *args: str) -> tuple[int, str, str]:
    """Run ``python -m mcpgram sandbox accept-qr ARGS`` against ``sandbox`` (no terminal on stdin)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpgram", "sandbox", "accept-qr",
        "--dc", sandbox["export MCPGRAM_DC"], "--key-file", sandbox["export MCPGRAM_RSA_KEY_FILE"], *args,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def waiting_client(sandbox: Sandbox) -> TelegramClient:
    """A logged-out Telethon client of the sandbox, as a new device showing a QR code would be."""
    pem = await asyncio.to_thread(Path(sandbox["export MCPGRAM_RSA_KEY_FILE"]).read_text)
    telethon.crypto.rsa.add_key(pem, old=False)
    host, port = sandbox["address"].rsplit(":", 1)
    client = TelegramClient(MemorySession(), API_ID, API_HASH, connection_retries=1, request_retries=1)
    client.session.set_dc(int(sandbox["dc id"]), host, int(port))
    await client.connect()
    return client


async def test_accept_qr_logs_the_waiting_client_in(demo_sandbox: Sandbox) -> None:
    """Telethon's qr_login() wait ends as Dana once accept-qr accepts its URL; the URL is then spent."""
    client = await waiting_client(demo_sandbox)
    try:
        qr = await client.qr_login()
        waiter = asyncio.create_task(qr.wait(timeout=60))
        code, out, err = await accept_qr(demo_sandbox, "--phone", demo_sandbox["demo phone"], qr.url)
        assert (code, err) == (0, "")
        assert out.startswith("accepted: ") and demo_sandbox["demo phone"] in out
        me = await waiter
        assert (me.first_name, me.phone) == ("Dana", demo_sandbox["demo phone"])
        assert (await client.get_me()).id == me.id

        code, out, err = await accept_qr(demo_sandbox, "--phone", demo_sandbox["demo phone"], qr.url)
        assert (code, out) == (1, "")
        assert err.strip() == "mcpgram sandbox accept-qr: refused: AUTH_TOKEN_INVALID"
    finally:
        await client.disconnect()


async def test_accept_qr_for_the_2fa_account(demo_sandbox: Sandbox) -> None:
    """The 2FA account accepts only with its password; the waiting client then needs it as well."""
    phone, password = demo_sandbox["demo 2fa phone"], demo_sandbox["demo 2fa password"]
    client = await waiting_client(demo_sandbox)
    try:
        qr = await client.qr_login()
        code, _, err = await accept_qr(demo_sandbox, "--phone", phone, qr.url)
        assert code == 1 and "give --password" in err
        code, _, err = await accept_qr(demo_sandbox, "--phone", phone, "--password", "nope", qr.url)
        assert code == 1 and err.strip().endswith("refused: PASSWORD_HASH_INVALID")

        waiter = asyncio.create_task(qr.wait(timeout=60))
        code, _, err = await accept_qr(demo_sandbox, "--phone", phone, "--password", password, qr.url)
        assert (code, err) == (0, "")
        with pytest.raises(errors.SessionPasswordNeededError):
            await waiter
        me = await client.sign_in(password=password)
        assert me.first_name == "Sam"
    finally:
        await client.disconnect()


async def test_accept_qr_refuses_an_unknown_token(demo_sandbox: Sandbox) -> None:
    """A well-formed URL whose token the sandbox never issued is refused with Telegram's error (exit 1)."""
    code, out, err = await accept_qr(demo_sandbox, "--phone", "9996610000", "tg://login?token=AAAA")
    assert (code, out) == (1, "")
    assert err.strip() == "mcpgram sandbox accept-qr: refused: AUTH_TOKEN_INVALID"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--phone", "9996610000", "https://t.me/login"], "tg://login?token="),
        (["--phone", "15551234567", "tg://login?token=AAAA"], "--code is needed"),
        (["--phone", "9996610000", "--dc", "2@127.0.0.1", "tg://login?token=AAAA"], "<dc id>@<host>:<port>"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed URL or --dc, or a phone without a fixed code and no --code, is a usage error."""
    options = ["--key-file", str(tmp_path / "absent.pem")]
    if "--dc" not in args:
        options += ["--dc", "2@127.0.0.1:1"]
    with pytest.raises(SystemExit) as exited:
        phone.main([*options, *args])
    assert exited.value.code == phone.EXIT_USAGE
    assert reason in capsys.readouterr().err


def test_an_unreachable_sandbox_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening at --dc: one line saying so, exit 1 (a missing key file likewise)."""
    key_file = tmp_path / "key.pem"
    url = "tg://login?token=AAAA"
    argv = ["--phone", "9996610000", "--dc", "2@127.0.0.1:1", "--key-file", str(key_file), url]
    assert phone.main(argv) == phone.EXIT_FAILED
    assert (
        capsys.readouterr().err.strip()
        == "mcpgram sandbox accept-qr: cannot read the key file: FileNotFoundError"
    )
    key_file.write_text(shared_key().public_pem)
    assert phone.main(argv) == phone.EXIT_FAILED
    assert (
        capsys.readouterr().err.strip()
        == "mcpgram sandbox accept-qr: cannot reach the sandbox at 127.0.0.1:1"
    )


@pytest.mark.parametrize(
    "value",
    ["2@127.0.0.1:4430", "1000@localhost:1", "2@[::1]:65535", " 2@sandbox.test:443 ", "0@127.0.0.1:1",
     "2@127.0.0.1:0", "2@127.0.0.1:65536", "2@::1:443", "2@127.0.0.1", "x@127.0.0.1:1", "2@[]:1", ""],
)  # fmt: skip
def test_endpoint_reads_mcpgram_dc_as_mcpgram_does(value: str) -> None:
    """accept-qr's --dc parser accepts what MCPGRAM_DC accepts and reads the same address from it."""
    try:
        expected = parse_dc(value)
    except ValueError:
        with pytest.raises(ValueError, match="expected"):
            Endpoint.parse(value)
        return
    endpoint = Endpoint.parse(value)
    assert (endpoint.dc_id, endpoint.host, endpoint.port) == (expected.dc_id, expected.host, expected.port)
    assert Endpoint.parse(str(endpoint)) == endpoint


def test_login_token_reads_what_telethon_writes() -> None:
    """The token comes back from Telethon's URL form (base64url without padding) byte for byte."""
    for token in (b"\x00", b"\xfb\xff" * 16, bytes(range(33))):
        url = "tg://login?token=" + base64.urlsafe_b64encode(token).decode().rstrip("=")
        assert login_token(url) == token
    for bad in ("tg://login?token=", "tg://resolve?token=AAAA", "tg://login?token=A&token=B", "tg://login"):
        with pytest.raises(ValueError):
            login_token(bad)
