"""Client configs start as written: the entry's command, with only its env, as a GUI client runs it.

For each client, ``mcpgram config <client> --write`` writes the entry to a file; the test then starts
``command`` + ``args`` under ``env -i`` with exactly the entry's ``env`` (no PATH, HOME or MCPGRAM_*
of the test's), through a real MCP stdio client, and completes ``tools/list`` against a tenant
logged in to the sandbox. The same for the ``--demo`` config.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from mcpgram.sandbox import SandboxServer

from .conftest import arun_cli, parsed, run_cli

pytestmark = pytest.mark.e2e

CLIENTS = ["claude-desktop", "claude-code", "cursor", "vscode"]
PHONE = "9996661111"
CODE = "66666"


def written_entry(client: str, path: Path, *args: str) -> dict[str, Any]:
    """``mcpgram config CLIENT --write --path PATH ARGS``, and the entry it wrote (the printed one too)."""
    result = run_cli("config", client, "--write", "--path", str(path), *args)
    assert result.code == 0, result.err
    key = "servers" if client == "vscode" else "mcpServers"
    entry: dict[str, Any] = json.loads(path.read_text())[key]["mcpgram"]
    printed = run_cli("config", client, *args)
    assert printed.code == 0, printed.err
    assert parsed(client, printed.out) == entry
    return entry


async def tools_as_a_gui_client_starts_it(entry: dict[str, Any], *, call: str | None = None) -> set[str]:
    """Start the entry with only its own environment and list the tools (and call ``call``, if given)."""
    assert Path(entry["command"]).is_absolute(), "a GUI client has no PATH to find a bare command in"
    env_i = shutil.which("env")
    assert env_i is not None
    pairs = [f"{name}={value}" for name, value in entry.get("env", {}).items()]
    transport = StdioTransport(command=env_i, args=["-i", *pairs, entry["command"], *entry["args"]])
    async with Client(transport, timeout=30) as client:
        names = {tool.name for tool in await client.list_tools()}
        if call is not None:
            await client.call_tool(call, {})  # raises ToolError if Telegram cannot be reached
        return names


@pytest.mark.parametrize("client", CLIENTS)
async def test_stdio_config_starts_with_an_empty_environment(
    client: str, data_dir: Path, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """After `mcpgram login`, each client's written config serves the owner with no MCPGRAM_* in its env."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    login = await arun_cli("login", "--data-dir", str(data_dir), answers=[PHONE, CODE])
    assert login.code == 0, login.err
    entry = written_entry(client, tmp_path / f"{client}.json", "--data-dir", str(data_dir))
    assert entry["env"] == {"MCPGRAM_DATA_DIR": str(data_dir)}  # nothing else: no API id, hash or DC
    sandbox.rpc_counts.clear()
    tools = await tools_as_a_gui_client_starts_it(entry, call="find_chats")
    assert {"find_chats", "get_messages", "send_message"} <= tools
    assert sandbox.rpc_counts.get("messages.getDialogs", 0) >= 1  # the saved DC, key and session worked


@pytest.mark.parametrize("client", CLIENTS)
async def test_demo_config_starts_with_an_empty_environment(client: str, tmp_path: Path) -> None:
    """Each client's --demo config serves the demo world with nothing in its environment."""
    entry = written_entry(client, tmp_path / f"{client}.json", "--demo")
    assert entry["env"] == {}
    assert "find_chats" in await tools_as_a_gui_client_starts_it(entry)
