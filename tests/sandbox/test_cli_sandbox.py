"""``mcpgram sandbox``: the server as a separate process, driven by a real Telethon client."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import telethon
from telethon import TelegramClient
from telethon.sessions import MemorySession

from .conftest import API_HASH, API_ID


async def start_sandbox(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``python -m mcpgram sandbox ARGS`` and read its ``key: value`` lines up to "ready"."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpgram", "sandbox", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    info: dict[str, str] = {}
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, f"the sandbox exited early: {(await proc.communicate())[1].decode()}"
        if line.startswith("ready"):
            return proc, info
        key, _, value = line.strip().partition(": ")
        info[key] = value


async def test_sandbox_command_serves_the_demo_and_stops_cleanly() -> None:
    """``mcpgram sandbox --demo`` prints how to connect, Telethon signs in as Dana, and SIGTERM exits 0."""
    proc, info = await start_sandbox("--port", "0", "--demo")
    client = None
    try:
        host, port = info["address"].rsplit(":", 1)
        key_path = Path(info["public key"])
        assert host == "127.0.0.1" and int(port) > 0
        pem = await asyncio.to_thread(key_path.read_text)
        assert pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
        assert (info["demo phone"], info["demo login code"]) == ("9996610000", "11111")
        telethon.crypto.rsa.add_key(pem, old=False)
        client = TelegramClient(MemorySession(), API_ID, API_HASH, connection_retries=1, request_retries=1)
        client.session.set_dc(int(info["dc id"]), host, int(port))
        await client.connect()
        sent = await client.send_code_request(info["demo phone"])
        await client.sign_in(
            info["demo phone"], info["demo login code"], phone_code_hash=sent.phone_code_hash
        )
        names = {dialog.name for dialog in await client.get_dialogs()}
        assert {"Family 🏡", "Hiking Club ⛰", "Demo News", "Autumn Trip 🍁", "Alex Carter"} <= names
        await client.disconnect()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert not await asyncio.to_thread(key_path.exists)  # the temporary key directory is removed on exit
    finally:
        if client is not None:
            await client.disconnect()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def test_sandbox_writes_the_key_where_asked_and_serves_an_empty_world(tmp_path: Path) -> None:
    """Without ``--demo`` no demo account is printed, and ``--key-file`` chooses where the key goes."""
    key_file = tmp_path / "sandbox.pem"
    proc, info = await start_sandbox("--key-file", str(key_file))
    try:
        assert info["public key"] == str(key_file)
        assert key_file.read_text().startswith("-----BEGIN RSA PUBLIC KEY-----")
        assert "demo phone" not in info
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert key_file.exists()  # a key file the user named is theirs to keep


def test_non_loopback_host_is_refused_without_allow_remote() -> None:
    """Listening beyond loopback needs ``--allow-remote``: the sandbox has no real security."""
    result = subprocess.run(
        [sys.executable, "-m", "mcpgram", "sandbox", "--host", "0.0.0.0"],  # noqa: S104 - the refused case
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr and "no real security" in result.stderr
