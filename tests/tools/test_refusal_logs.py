"""What the server logs for tool calls: one audit line per call at the default level, refusals without
tracebacks or ERROR lines, and only the unexpected at ERROR.

The first test runs ``mcpgram serve`` (stdio) as a subprocess, as an MCP client launches it, with no
``MCPGRAM_LOG_LEVEL`` set, and reads its stderr. The second watches the in-process gateway's log
records, for the one case a subprocess cannot provoke: a tool failing in an unexpected way.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from mcpgram.datadir import ensure_data_dir, owner_key_bytes, server_secret_bytes
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.settings import Settings
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID, login_tenant, sandbox_telegram_config
from mcpgram.tools import visibility
from mcpgram.tools.context import READ, add_tool
from mcpgram.tools.visibility import TOOL_VERBS
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

from .conftest import DEMO_NOW, Demo


def _env(sandbox: SandboxServer, data_dir: Path) -> dict[str, str]:
    key_file = data_dir.parent / "sandbox-rsa.pem"
    key_file.write_text(sandbox.public_key_pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGRAM_")}
    return env | {
        "MCPGRAM_DATA_DIR": str(data_dir),
        "MCPGRAM_API_ID": str(SANDBOX_API_ID),
        "MCPGRAM_API_HASH": SANDBOX_API_HASH,
        "MCPGRAM_DC": f"{sandbox.dc_id}@{sandbox.host}:{sandbox.port}",
        "MCPGRAM_RSA_KEY_FILE": str(key_file),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }


async def test_serve_logs_one_audit_line_per_call_and_no_error_for_refusals(tmp_path: Path) -> None:
    """At the default level: a tool.call line per call with its outcome; refusals add no ERROR,
    WARNING or traceback line; nothing of the arguments."""
    demo = build_demo_world(now=DEMO_NOW)
    data_dir = tmp_path / "data"
    async with SandboxServer(demo.world) as sandbox:
        env = _env(sandbox, data_dir)
        settings = Settings.load(
            env_file=None, data_dir=data_dir, api_id=SANDBOX_API_ID, api_hash=SANDBOX_API_HASH
        )
        ensure_data_dir(data_dir)
        store = SQLiteVault(data_dir / "vault.db")
        try:
            vault = Vault(store, server_secret=server_secret_bytes(settings))
            keys = vault.open_owner(owner_key_bytes(data_dir))
            telegram = sandbox_telegram_config(sandbox)
            await login_tenant(telegram, vault, keys, phone=demo.phone, code=demo.login_code)
        finally:
            store.close()
        stderr = tmp_path / "stderr.log"
        # keep_alive=False: the server exits with the client, before the sandbox stops (else Telethon
        # would log its reconnect attempts to a sandbox that is gone).
        serve = ["-m", "mcpgram", "serve"]
        transport = StdioTransport(
            command=sys.executable, args=serve, env=env, log_file=stderr, keep_alive=False
        )
        async with Client(transport) as client:
            await client.call_tool("get_messages", {"chat": "me", "limit": 2})
            with pytest.raises(ToolError, match=r"^CHAT_NOT_FOUND: "):
                await client.call_tool("get_messages", {"chat": "Secret Fuzzy Name"})
            with pytest.raises(ToolError, match=r"^INVALID_ARGUMENT: "):
                await client.call_tool("get_messages", {"chat": "me", "limit": 1000})
            with pytest.raises(ToolError, match=r"^CHAT_NOT_FOUND: "):
                await client.call_tool(
                    "delete_messages", {"chat": -1009999999, "message_ids": [1], "for_everyone": True}
                )
    lines = stderr.read_text(encoding="utf-8").splitlines()
    audit = [line for line in lines if " tool.call " in f"{line} "]
    assert len(audit) == 4, lines
    outcomes = [next(p for p in line.split() if p.startswith("outcome=")) for line in audit]
    codes = ["ok", "CHAT_NOT_FOUND", "INVALID_ARGUMENT", "CHAT_NOT_FOUND"]
    assert outcomes == [f"outcome={code!r}" for code in codes]
    assert all(" INFO " in line for line in audit)
    for line in lines:
        assert " ERROR " not in line and " WARNING " not in line, "\n".join(lines)
        assert (
            "Traceback" not in line and "Error calling tool" not in line and "Invalid arguments" not in line
        )
        assert "Secret Fuzzy Name" not in line


async def test_only_an_unexpected_error_is_logged_at_error(
    served: Demo, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal leaves only the INFO audit line; a bug leaves an ERROR line and outcome INTERNAL."""

    async def broken_tool() -> Any:
        """A tool with a bug."""
        raise RuntimeError("a bug")

    add_tool(served.gateway.mcp, broken_tool, READ)
    monkeypatch.setitem(TOOL_VERBS, "broken_tool", ("read",))  # a tool the policy knows nothing of is hidden
    monkeypatch.setattr(visibility, "_LISTED", {})  # what each policy lists, worked out again with it
    server_log = logging.getLogger("fastmcp.server.server")
    caplog.set_level(logging.DEBUG)
    server_log.addHandler(caplog.handler)  # FastMCP's own loggers do not propagate until the CLI says so
    try:
        with pytest.raises(ToolError):
            await served.call("get_messages", chat="Some Fuzzy Name")
        with pytest.raises(ToolError):
            await served.call("get_messages", chat="me", limit=0)
        audit = [r for r in caplog.records if r.getMessage() == "tool.call"]
        assert [(r.levelno, r.outcome) for r in audit] == [  # type: ignore[attr-defined]
            (logging.INFO, "CHAT_NOT_FOUND"),
            (logging.INFO, "INVALID_ARGUMENT"),
        ]
        # FastMCP's own line for each refusal is DEBUG; nothing warns, nothing carries a traceback.
        assert not [r for r in caplog.records if r.name.startswith("fastmcp") and r.levelno >= logging.INFO]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert not any(r.exc_info for r in caplog.records)
        caplog.clear()
        with pytest.raises(ToolError) as caught:
            await served.call("broken_tool")
        assert "a bug" not in str(caught.value)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and errors[0].exc_info is not None
        audit = [r for r in caplog.records if r.getMessage() == "tool.call"]
        assert [r.outcome for r in audit] == ["INTERNAL"]  # type: ignore[attr-defined]
    finally:
        server_log.removeHandler(caplog.handler)
