"""``mcpgram sandbox``: the server as a separate process, driven by a real Telethon client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import telethon
from telethon import TelegramClient
from telethon.sessions import MemorySession

from mcpgram import testing
from mcpgram.configs import ENV_PREFIX
from mcpgram.sandbox.phone import SANDBOX_API_HASH, SANDBOX_API_ID
from mcpgram.settings import Settings

from .conftest import API_HASH, API_ID


async def start_sandbox(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``python -m mcpgram sandbox ARGS`` and read its ``key: value`` lines up to "ready".

    The ``export NAME=value`` lines come back as ``info["export NAME"]``, unquoted as a shell would,
    and as printed, one per line, in ``info["exports"]``.
    """
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
        if line.startswith("export "):
            name, _, value = shlex.split(line)[1].partition("=")
            info[f"export {name}"] = value
            info["exports"] = info.get("exports", "") + line
            continue
        key, _, value = line.strip().partition(": ")
        info[key] = value


async def stop_sandbox(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


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


async def test_printed_settings_lines_point_mcpgram_at_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every printed ``export MCPGRAM_X=...`` names a real setting, and the lines, exported or pasted
    into a .env file, load mcpgram's settings with the sandbox's address, key and proxy."""
    key_file = tmp_path / "dir with space" / "sandbox.pem"
    key_file.parent.mkdir()
    proc, info = await start_sandbox("--key-file", str(key_file), "--proxy-secret", "dd")
    try:
        exports = {k.removeprefix("export "): v for k, v in info.items() if k.startswith("export ")}
        assert set(exports) == {
            "MCPGRAM_API_ID", "MCPGRAM_API_HASH", "MCPGRAM_DC", "MCPGRAM_RSA_KEY_FILE", "MCPGRAM_PROXY"
        }  # fmt: skip
        assert set(exports) <= {ENV_PREFIX + name.upper() for name in Settings.model_fields}
        assert (exports["MCPGRAM_API_ID"], exports["MCPGRAM_API_HASH"]) == (
            str(SANDBOX_API_ID),
            SANDBOX_API_HASH,
        )
        host, port = info["address"].rsplit(":", 1)
        proxy_port = int(parse_qs(urlsplit(info["proxy"]).query)["port"][0])

        def check(settings: Settings) -> None:
            config = settings.telegram_config()
            assert config.dc is not None and config.proxy is not None
            assert (config.dc.dc_id, config.dc.host, config.dc.port) == (int(info["dc id"]), host, int(port))
            assert config.rsa_key_pem is not None and "BEGIN RSA PUBLIC KEY" in config.rsa_key_pem
            assert (config.proxy.host, config.proxy.port) == (host, proxy_port)

        for name in list(os.environ):
            if name.startswith(ENV_PREFIX):
                monkeypatch.delenv(name)
        env_file = tmp_path / ".env"
        env_file.write_text(info["exports"])
        check(Settings.load(env_file=env_file))
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        check(Settings.load(env_file=None))
    finally:
        await stop_sandbox(proc)


def test_the_sandbox_api_credentials_are_the_ones_mcpgram_testing_uses() -> None:
    """The printed API id and hash are those ``mcpgram.testing`` gives the demo: one pair, two copies."""
    assert (SANDBOX_API_ID, SANDBOX_API_HASH) == (testing.SANDBOX_API_ID, testing.SANDBOX_API_HASH)


async def test_stopping_with_clients_connected_prints_no_traceback() -> None:
    """SIGTERM while a client is still connected closes its connection quietly and exits 0."""
    proc, info = await start_sandbox()
    host, port = info["address"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"\xef")  # the abridged transport's tag: a live MTProto connection, waiting
        await writer.drain()
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0
        assert "Traceback" not in err.decode() and "stopped" in err.decode()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the sandbox closed it
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        await stop_sandbox(proc)
