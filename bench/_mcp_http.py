"""A minimal MCP client over streamable HTTP, for load generation only.

It speaks the real protocol a gateway sees from any client: ``initialize`` (protocol version,
capabilities, client info), the ``notifications/initialized`` notification, ``tools/call`` requests
on the ``Mcp-Session-Id`` the server assigned, SSE or JSON responses, and ``DELETE`` to end the
session. It skips what a full client adds on its side (pydantic models for every message, a
receive loop, per-request streams), which in bench/tenants.py cost the load generator more CPU per
call than the gateway spent serving it, so the client, not the server, set the pace.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx

PROTOCOL_VERSION = "2025-06-18"
_ACCEPT = "application/json, text/event-stream"


class MCPError(RuntimeError):
    """A JSON-RPC error answer, or a tool result with ``isError``."""


class LeanSession:
    """One MCP session for one bearer token on a shared ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self._http = http
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}", "Accept": _ACCEPT}
        self._next_id = 0

    async def __aenter__(self) -> LeanSession:
        init = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpgram-bench", "version": "1"},
        }
        response = await self._http.post(
            self._url, json=self._request("initialize", init), headers=self._headers
        )
        self._answer(response)
        session_id = response.headers.get("mcp-session-id")
        if session_id:
            self._headers["Mcp-Session-Id"] = session_id
        self._headers["Mcp-Protocol-Version"] = PROTOCOL_VERSION
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        (await self._http.post(self._url, json=note, headers=self._headers)).raise_for_status()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if "Mcp-Session-Id" in self._headers:
            await self._http.delete(self._url, headers=self._headers)

    async def post(self, method: str, params: dict[str, Any]) -> httpx.Response:
        """Send one request on the session; the HTTP response as received (bench/tools.py counts it)."""
        body = self._request(method, params)
        response = await self._http.post(self._url, json=body, headers=self._headers)
        response.raise_for_status()
        return response

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's first text block; MCPError for a JSON-RPC error or an error result."""
        result = self._answer(await self.post("tools/call", {"name": name, "arguments": arguments}))
        text = str(result["content"][0].get("text", ""))
        if result.get("isError"):
            raise MCPError(text[:200])
        return text

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        response.raise_for_status()
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            messages = [
                json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")
            ]
        else:
            messages = [response.json()]
        for message in messages:
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise MCPError(str(message["error"].get("message", ""))[:200])
                return dict(message["result"])
        raise MCPError("no answer to the request in the response")
