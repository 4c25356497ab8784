"""CLI test fixtures: a clean environment, in-process runs with scripted input, a sandbox to log in to."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shlex
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcpgram.cli import main
from mcpgram.cli.runtime import Terminal
from mcpgram.sandbox import SandboxServer, World

API_ID = "12345"
API_HASH = "0123456789abcdef0123456789abcdef"


@dataclass
class Result:
    """What one ``mcpgram`` run printed and returned."""

    code: int
    out: str
    err: str


def run_cli(*args: str, stdin: str = "", answers: Iterable[str] = (), secrets: Iterable[str] = ()) -> Result:
    """Run ``mcpgram ARGS`` in-process: ``stdin`` is piped input, ``answers``/``secrets`` answer prompts.

    A prompt past the last scripted answer reads end-of-input, as a closed terminal would.
    """
    out, err = io.StringIO(), io.StringIO()
    visible, hidden = iter(answers), iter(secrets)

    def prompt(text: str) -> str:
        err.write(text)
        answer = next(visible, None)
        return "" if answer is None else answer + "\n"

    def secret(text: str) -> str:
        err.write(text)
        answer = next(hidden, None)
        if answer is None:
            raise EOFError
        return answer

    terminal = Terminal(stdin=io.StringIO(stdin), stdout=out, stderr=err, prompt=prompt, secret=secret)
    code = main(list(args), terminal=terminal)
    return Result(code, out.getvalue(), err.getvalue())


async def arun_cli(*args: str, **kwargs: object) -> Result:
    """:func:`run_cli` in a worker thread, so the test's event loop keeps serving the sandbox."""
    return await asyncio.to_thread(run_cli, *args, **kwargs)  # type: ignore[arg-type]


def parsed(client: str, text: str) -> dict[str, Any]:
    """The server entry named mcpgram, from JSON or from the `claude mcp add-json` command line."""
    if client == "claude-code":
        argv = shlex.split(text)
        assert argv[:4] == ["claude", "mcp", "add-json", "mcpgram"] and len(argv) == 5
        entry: dict[str, Any] = json.loads(argv[4])
        return entry
    document = json.loads(text)
    servers = document["servers"] if client == "vscode" else document["mcpServers"]
    assert list(servers) == ["mcpgram"]
    entry = servers["mcpgram"]
    return entry


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No MCPGRAM_*, .env or data dir from outside; logging restored after the CLI configured it."""
    for name in list(os.environ):
        if name.startswith("MCPGRAM_"):
            monkeypatch.delenv(name)
    # Nor the default data dir of whoever runs the tests (its saved Telegram settings would apply).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    names = ("", "mcpgram", "telethon", "httpx", "httpx2", "uvicorn.access")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[SandboxServer]:
    """A sandbox, with the MCPGRAM_* settings that point mcpgram's Telegram clients at it."""
    async with SandboxServer(World()) as server:
        key_file = tmp_path / "sandbox.pem"
        key_file.write_text(server.public_key_pem, encoding="ascii")
        monkeypatch.setenv("MCPGRAM_API_ID", API_ID)
        monkeypatch.setenv("MCPGRAM_API_HASH", API_HASH)
        monkeypatch.setenv("MCPGRAM_DC", f"{server.dc_id}@{server.host}:{server.port}")
        monkeypatch.setenv("MCPGRAM_RSA_KEY_FILE", str(key_file))
        yield server
