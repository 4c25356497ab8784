"""A stdio server lists its tools before Telethon or griffe is imported (bench/cold_start.py says why).

Run in a fresh interpreter: this test process has long imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from fastmcp import Client
from mcpgram.app import build_gateway
from mcpgram.settings import Settings

async def main():
    settings = Settings.load(env_file=None, data_dir=Path(sys.argv[1]), api_id=1, api_hash="ab" * 16)
    gateway = build_gateway(settings, transport="stdio")
    async with gateway, Client(gateway.mcp) as client:
        tools = await client.list_tools()
        loaded = sorted(m for m in ("telethon", "griffe") if m in sys.modules)
    print(json.dumps({"tools": len(tools), "loaded": loaded}))

asyncio.run(main())
"""


def test_stdio_lists_tools_without_importing_telethon_or_griffe(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tools"] >= 2
    assert result["loaded"] == []
