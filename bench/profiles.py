"""``tools/list`` bytes per policy profile: how much context each profile saves an agent.

One HTTP gateway (``serve_http`` on a free port, in a temp data dir) with one tenant per profile
(``reader``, ``inbox``, ``all``), each set with ``PolicyBook.set`` as ``mcpgram policy set`` does;
each tenant's ``tools/list`` is fetched over HTTP with its own bearer token by the minimal MCP
client (``bench/_mcp_http.py``). Reported per profile: the tools listed, the ``result`` as compact
JSON (what an agent's context holds), the JSON-RPC message and the HTTP body, and the share of
``all``'s bytes. ``tools/list`` needs no Telegram login, so no sandbox runs. JSON on stdout, a table
on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import fastmcp
import httpx2 as httpx

import _common  # bench/_common.py
from _mcp_http import LeanSession  # bench/_mcp_http.py
from mcpgram.app import build_gateway, serve_http
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES
from mcpgram.settings import Settings

MCP_PATH = "/v1/mcp"


def jsonrpc_message(body: str) -> str:
    """The JSON-RPC message in a response body: the SSE ``data:`` line, or the body itself."""
    data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
    return data[-1] if data else body


async def measure(work: Path) -> dict[str, Any]:
    # Any api id and hash: tools/list never reaches Telegram.
    settings = Settings.load(
        env_file=None, data_dir=work / "data", transport="http", port=0, api_id=1, api_hash="ab" * 16
    )
    gateway = build_gateway(settings, transport="http")
    book = PolicyBook(gateway.vault, settings.default_policy)
    tokens = {}
    for name, policy in PROFILES.items():
        record, token = gateway.vault.create_tenant(name)
        book.set(record.tenant_id, policy)
        tokens[name] = token
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    port = await asyncio.wait_for(bound, 10)
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for name, token in tokens.items():
                async with LeanSession(http, f"http://127.0.0.1:{port}{MCP_PATH}", token) as wire:
                    response = await wire.post("tools/list", {})
                message = jsonrpc_message(response.text)
                tools = json.loads(message)["result"]["tools"]
                result = json.dumps({"tools": tools}, ensure_ascii=False, separators=(",", ":"))
                out[name] = {
                    "tools": [t["name"] for t in tools],
                    "result_bytes": len(result.encode()),
                    "jsonrpc_bytes": len(message.encode()),
                    "http_body_bytes": len(response.content),
                }
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return out


def build_result(measured: dict[str, Any]) -> dict[str, Any]:
    full = measured["all"]["result_bytes"]
    for row in measured.values():
        row["share_of_all"] = round(row["result_bytes"] / full, 3)
    return {
        "benchmark": "profiles",
        "profiles": measured,
        "environment": _common.environment(fastmcp=fastmcp.__version__),
    }


def report(result: dict[str, Any]) -> None:
    print("profile  tools  result B  json-rpc B  http B  share of all", file=sys.stderr)
    for name, row in result["profiles"].items():
        print(
            f"{name:<8} {len(row['tools']):>5}  {row['result_bytes']:>8}  {row['jsonrpc_bytes']:>10}"
            f"  {row['http_body_bytes']:>6}  {row['share_of_all']:>12.0%}",
            file=sys.stderr,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true", help="accepted for the smoke test; always quick")
    args = parser.parse_args()
    return _common.run("profiles", measure, build_result, report, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
