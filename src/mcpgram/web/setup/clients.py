"""Client configs offered by the /setup token page, with the new token embedded.

The shapes follow ``mcpgram config`` (``cli/clientconfig.py``, which the web layer may not import):
Claude Desktop through the ``mcp-remote`` bridge, Claude Code's ``claude mcp add-json`` command,
Cursor's and VS Code's ``mcp.json``, and a generic ``mcp.json``. The ``url`` variant puts the token
in the path (``/v1/url_auth/<token>/mcp``) for clients that cannot send headers; paths end up in
proxy and server logs, so the page says so and prefers the header variant.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Literal

Variant = Literal["header", "url"]
CLIENTS: dict[str, tuple[str, str]] = {
    # name: (label, file name offered for download)
    "claude-desktop": ("Claude Desktop", "claude_desktop_config.json"),
    "claude-code": ("Claude Code", "claude-code-add.sh"),
    "cursor": ("Cursor", "mcp.json"),
    "vscode": ("VS Code", "mcp.json"),
    "generic": ("Generic mcp.json", "mcp.json"),
}
NAME = "mcpgram"


def render(client: str, variant: Variant, base_url: str, token: str) -> str:
    """The config text for ``client``; raises KeyError for an unknown client."""
    CLIENTS[client]
    base = base_url.rstrip("/")
    if variant == "url":
        url, headers = f"{base}/v1/url_auth/{token}/mcp", {}
    else:
        url, headers = f"{base}/v1/mcp", {"Authorization": f"Bearer {token}"}
    server: dict[str, Any]
    if client == "claude-desktop":
        args = ["-y", "mcp-remote", url]
        env: dict[str, str] = {}
        if headers:
            args += ["--header", "Authorization:${MCPGRAM_AUTH_HEADER}"]
            env["MCPGRAM_AUTH_HEADER"] = headers["Authorization"]
        server = {"command": "npx", "args": args, "env": env}
        return json.dumps({"mcpServers": {NAME: server}}, indent=2)
    server = {"type": "http", "url": url}
    if headers:
        server["headers"] = headers
    if client == "claude-code":
        return f"claude mcp add-json {NAME} {shlex.quote(json.dumps(server))}\n"
    if client == "cursor":
        server.pop("type")
    key = "servers" if client == "vscode" else "mcpServers"
    return json.dumps({key: {NAME: server}}, indent=2)
