"""Ctrl-C and end of input: `demo` over stdio stops at once; login prompts abort without submitting.

Real subprocesses and real signals. A login aborted at the code or password prompt must not have
sent an answer: the sandbox counts the RPCs it receives, so ``auth.signIn`` / ``auth.checkPassword``
must be absent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.srp import make_password_record

from ..web.conftest import INITIALIZE

pytestmark = pytest.mark.e2e

PHONE = "9996661111"
CODE = "66666"


@asynccontextmanager
async def mcpgram(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m mcpgram ARGS`` with pipes, in its own session (no terminal: prompts read stdin)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mcpgram",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def read_until(stream: asyncio.StreamReader, marker: bytes, seen: bytearray) -> None:
    """Read ``stream`` into ``seen`` until ``marker`` has appeared (a prompt has no newline)."""
    while marker not in seen:
        chunk = await asyncio.wait_for(stream.read(4096), 30)
        assert chunk, f"the stream ended before {marker!r}: {bytes(seen)!r}"
        seen += chunk


async def exit_status_within(process: asyncio.subprocess.Process, seconds: float) -> tuple[int, float]:
    started = time.monotonic()
    code = await asyncio.wait_for(process.wait(), seconds)
    return code, time.monotonic() - started


async def test_ctrl_c_ends_the_stdio_demo_within_two_seconds() -> None:
    """SIGINT to `mcpgram demo` serving over stdio: exit status 0 (a clean stop) in under 2 s."""
    async with mcpgram("demo") as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        await process.stdin.drain()
        answer = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        assert answer["result"]["serverInfo"]["name"] == "mcpgram"
        process.send_signal(signal.SIGINT)
        code, took = await exit_status_within(process, 2)
        assert code == 0 and took < 2


@pytest.fixture
def login_args(sandbox: SandboxServer, data_dir: Path) -> list[str]:
    """The login command; the conftest's sandbox fixture has put its settings in the environment."""
    del sandbox
    return ["login", "--data-dir", str(data_dir)]


async def abort_at_prompt(login_args: list[str], answers: str, prompt: bytes, how: str) -> None:
    """Answer ``answers``, then at ``prompt`` press Ctrl-C or end the input: the login ends at once."""
    async with mcpgram(*login_args) as process:
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(answers.encode())
        await process.stdin.drain()
        err = bytearray()
        await read_until(process.stderr, prompt, err)
        if how == "sigint":
            process.send_signal(signal.SIGINT)
        else:
            process.stdin.close()
        code, took = await exit_status_within(process, 2)
        err += await process.stderr.read()
    said = "interrupted" if how == "sigint" else "the input ended before the command finished"
    assert err.decode().endswith(f"mcpgram: {said}\n") and b"Traceback" not in err, (code, bytes(err))
    assert (code, how) in ((130, "sigint"), (1, "eof")) and took < 2


@pytest.mark.parametrize("how", ["sigint", "eof"])
async def test_abort_at_the_code_prompt_sends_no_code(
    how: str, sandbox: SandboxServer, login_args: list[str]
) -> None:
    """Ctrl-C (exit 130) or end of input (exit 1) at the code prompt: no auth.signIn reaches Telegram."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    await abort_at_prompt(login_args, f"{PHONE}\n", b"Login code: ", how)
    assert sandbox.rpc_counts.get("auth.sendCode") == 1
    assert "auth.signIn" not in sandbox.rpc_counts


@pytest.mark.parametrize("how", ["sigint", "eof"])
async def test_abort_at_the_password_prompt_sends_no_password(
    how: str, sandbox: SandboxServer, login_args: list[str]
) -> None:
    """Ctrl-C or end of input at the 2FA prompt: no auth.checkPassword, and no second auth.signIn."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("pw")
    await abort_at_prompt(login_args, f"{PHONE}\n{CODE}\n", b"Two-step verification password: ", how)
    assert sandbox.rpc_counts.get("auth.signIn") == 1
    assert "auth.checkPassword" not in sandbox.rpc_counts


async def test_ctrl_c_while_waiting_for_the_qr_scan(sandbox: SandboxServer, login_args: list[str]) -> None:
    """Ctrl-C while the QR code waits for a scan ends the login at once with exit 130."""
    async with mcpgram(*login_args, "--qr") as process:
        assert process.stderr is not None
        err = bytearray()
        await read_until(process.stderr, b"Waiting for the scan", err)
        process.send_signal(signal.SIGINT)
        code, took = await exit_status_within(process, 2)
        err += await process.stderr.read()
    assert code == 130 and took < 2, bytes(err)
    assert err.decode().endswith("mcpgram: interrupted\n") and b"Traceback" not in err
    assert sandbox.rpc_counts.get("auth.exportLoginToken", 0) >= 1
