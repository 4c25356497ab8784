"""``mcpgram config <client>``: a ready MCP client config for mcpgram (stdio, the demo, or HTTP).

The stdio config starts this mcpgram by absolute path (a GUI client has no PATH of yours) with
``MCPGRAM_DATA_DIR`` in its ``env`` unless the data dir is the default; everything else ``serve``
needs is in the data dir, saved there by ``mcpgram login``. ``--write`` merges the entry into the
client's own config file (``clientfiles.py``) instead of printing it.

Formats, as each client documents them:
- ``claude-desktop``: ``claude_desktop_config.json``, ``{"mcpServers": {name: {"command", "args", "env"}}}``.
  Its file holds only local (stdio) servers, so HTTP goes through the ``mcp-remote`` bridge, which
  sends the header (``--header "Authorization:${VAR}"``, the value from the bridge's ``env``).
- ``claude-code``: a ``claude mcp add-json <name> '<json>'`` command; ``{"type": "http", "url",
  "headers"}``. Claude Code expands ``${VAR}`` in ``url`` and ``headers`` when it starts the server.
- ``cursor``: ``mcp.json``, ``{"mcpServers": {name: {"url", "headers"}}}``; ``${env:VAR}`` expands.
- ``vscode``: ``.vscode/mcp.json``, ``{"servers": {name: {"type": "http", "url", "headers"}},
  "inputs": [...]}``; ``${input:id}`` prompts once and keeps the answer in VS Code's secret storage.

The token is referenced through an environment variable (or VS Code's secret prompt) unless
``--token-stdin`` asks to embed it. The config goes to stdout; notes go to stderr.

Must not: take a token from argv, or embed one unless asked to with ``--token-stdin``.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .clientfiles import default_path, servers_key, write_merged
from .runtime import load_settings, read_token, require, terminal

Client = Literal["claude-desktop", "claude-code", "cursor", "vscode"]
DEFAULT_NAME = "mcpgram"
DEFAULT_TOKEN_ENV = "MCPGRAM_TOKEN"  # noqa: S105 - a variable name, not a secret
#: claude-desktop: the bridge's own variable holding the whole header value ("Bearer ...").
BRIDGE_HEADER_ENV = "MCPGRAM_AUTH_HEADER"
TOKEN_PLACEHOLDER = "<paste your mcpgram token>"  # noqa: S105 - a placeholder, not a secret
VSCODE_INPUT_ID = "mcpgram-token"
MCP_PATH = "/v1/mcp"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PATH_RE = re.compile(r"^[A-Za-z0-9._~/-]*$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")

WHERE = {
    "claude-desktop": "Merge into claude_desktop_config.json (Settings > Developer > Edit Config); restart.",
    "claude-code": "Run this command (add --scope user to use mcpgram in every project).",
    "cursor": "Merge into ~/.cursor/mcp.json (every project) or .cursor/mcp.json (this project).",
    "vscode": "Merge into .vscode/mcp.json (or run 'MCP: Open User Configuration').",
}


@dataclass(frozen=True)
class TokenSource:
    """Where the client gets the token: an env var it expands, VS Code's prompt, or the token itself."""

    env: str | None = None
    literal: str | None = None


def endpoint(raw: str) -> str:
    """``https://host[:port][/prefix]/v1/mcp`` from the server's base URL (``/v1/mcp`` may be included).

    Raises:
        ConfigError: not an http(s) URL, credentials/query/fragment in it, or plain http to another host.
    """
    url = urlsplit(raw.strip())
    require(url.scheme in ("http", "https"), "--http must be an http:// or https:// URL")
    netloc = url.netloc
    require(bool(netloc) and "@" not in netloc, "--http needs a host and no user:password@")
    require(not url.query and not url.fragment, "--http may not have a query or fragment")
    try:
        port = url.port
    except ValueError:
        port = -1
    host = netloc.rsplit(":", 1)[0] if port is not None else netloc
    require(port != -1 and bool(_HOST_RE.match(host)), "--http has an invalid host or port")
    require(bool(_PATH_RE.match(url.path)), "--http has characters its path may not contain")
    require(
        url.scheme == "https" or host.lower() in _LOOPBACK,
        "--http must use https unless the server is on this machine (localhost)",
    )
    path = url.path.rstrip("/").removesuffix(MCP_PATH)
    return f"{url.scheme}://{netloc}{path}{MCP_PATH}"


def mcpgram_command() -> list[str]:
    """This mcpgram, with an absolute path: a GUI client has neither your PATH nor your venv."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "mcpgram" and argv0.is_file():
        return [str(argv0.absolute())]
    # Run as `python -m mcpgram` (or from a test): the same interpreter and package.
    return [sys.executable, "-m", "mcpgram"]


def server_command() -> list[str]:
    """How to start ``mcpgram serve`` over stdio."""
    return [*mcpgram_command(), "serve", "--transport", "stdio"]


def demo_command() -> list[str]:
    """How to start ``mcpgram demo`` (stdio, the embedded sandbox; needs no settings)."""
    return [*mcpgram_command(), "demo"]


def empty_env_data_dir() -> Path:
    """The data dir ``serve`` picks when started without MCPGRAM_DATA_DIR or XDG_DATA_HOME."""
    return Path.home() / ".local" / "share" / "mcpgram"


def stdio_env(data_dir: Path) -> dict[str, str]:
    """The environment the stdio server needs in the config: the data dir, unless it is the default."""
    data_dir = data_dir.expanduser().absolute()
    return {} if data_dir == empty_env_data_dir() else {"MCPGRAM_DATA_DIR": str(data_dir)}


def _bearer(client: Client, token: TokenSource) -> str:
    if token.literal is not None:
        return f"Bearer {token.literal}"
    env = token.env or DEFAULT_TOKEN_ENV
    if client == "cursor":
        return f"Bearer ${{env:{env}}}"
    if client == "vscode":
        return f"Bearer ${{env:{env}}}" if token.env else f"Bearer ${{input:{VSCODE_INPUT_ID}}}"
    return f"Bearer ${{{env}}}"


@dataclass(frozen=True)
class Entry:
    """One client's server entry, the VS Code inputs it refers to, and the notes to show with it."""

    server: dict[str, Any]
    inputs: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def build_entry(
    client: Client,
    *,
    command: list[str] | None,
    url: str | None,
    token: TokenSource,
    env: dict[str, str] | None = None,
) -> Entry:
    """The server entry for ``client`` (pure; no I/O). Exactly one of ``command`` and ``url`` is given.

    ``env`` is the stdio server's environment (the client starts it with only that).
    """
    notes: list[str] = []
    inputs: tuple[dict[str, Any], ...] = ()
    server: dict[str, Any]
    if command is not None:
        server = {"command": command[0], "args": command[1:], "env": dict(env or {})}
        if client in ("vscode", "claude-code"):
            server = {"type": "stdio", **server}
    else:
        assert url is not None
        if client == "claude-desktop":
            require(token.env is None, "Claude Desktop cannot read the token from an environment variable")
            value = f"Bearer {token.literal or TOKEN_PLACEHOLDER}"
            server = {
                "command": "npx",
                "args": ["-y", "mcp-remote", url, "--header", f"Authorization:${{{BRIDGE_HEADER_ENV}}}"],
                "env": {BRIDGE_HEADER_ENV: value},
            }
            notes.append(
                "Claude Desktop's file holds local servers only: the mcp-remote bridge (Node.js) sends it."
            )
            if token.literal is None:
                notes.append(
                    f"Replace {TOKEN_PLACEHOLDER} with the token (this client cannot read it from elsewhere)."
                )
        else:
            server = {"url": url, "headers": {"Authorization": _bearer(client, token)}}
            if client != "cursor":
                server = {"type": "http", **server}
            if token.literal is None and not (client == "vscode" and token.env is None):
                env_name = token.env or DEFAULT_TOKEN_ENV
                notes.append(f"Set {env_name} to the token in the environment the client starts in.")
            elif token.literal is None:
                notes.append("VS Code asks for the token once and keeps it in its secret storage.")
                inputs = (
                    {
                        "type": "promptString",
                        "id": VSCODE_INPUT_ID,
                        "description": "mcpgram token",
                        "password": True,
                    },
                )
    if token.literal is not None:
        notes.append("The token is embedded: keep this config private (chmod 600), or prefer --token-env.")
    return Entry(server, inputs, tuple(notes))


def render(client: Client, name: str, entry: Entry) -> str:
    """The config text to print for ``client`` (pure)."""
    if client == "claude-code":
        return f"claude mcp add-json {shlex.quote(name)} {shlex.quote(json.dumps(entry.server))}"
    document: dict[str, Any] = {}
    if entry.inputs:
        document["inputs"] = list(entry.inputs)
    document[servers_key(client)] = {name: entry.server}
    return json.dumps(document, indent=2)


def config(
    client: Client,
    /,
    *,
    http: str | None = None,
    demo: bool = False,
    token_stdin: bool = False,
    token_env: str | None = None,
    name: str = DEFAULT_NAME,
    data_dir: Path | None = None,
    write: bool = False,
    path: Path | None = None,
    force: bool = False,
) -> int:
    """Print an MCP client config for mcpgram (stdio on this machine, the demo, or an HTTP server).

    With --write, merge it into the client's own config file instead, keeping its other servers
    and a backup of the old file.

    Args:
        client: Which client the config is for.
        http: The HTTP server's base URL (e.g. https://mcpgram.example.com); without it, stdio.
        demo: A config that runs `mcpgram demo` (the embedded sandbox; no account needed).
        token_stdin: Read the token from stdin and embed it (prefer --token-env: no secret in the config).
        token_env: The environment variable the client reads the token from (default MCPGRAM_TOKEN).
        name: The server's name in the client.
        data_dir: The data dir for the stdio server, if not MCPGRAM_DATA_DIR or the default.
        write: Merge the config into the client's config file (see --path) instead of printing it.
        path: The config file for --write (default: where the client keeps it).
        force: With --write, replace an existing server of the same name.
    """
    term = terminal()
    require(bool(_NAME_RE.match(name)), "--name must be a letter then up to 63 letters, digits, - or _")
    require(not (token_stdin and token_env), "use --token-stdin or --token-env, not both")
    require(http is not None or not (token_stdin or token_env), "--token-stdin and --token-env need --http")
    require(not (demo and http is not None), "use --demo or --http, not both")
    require(token_env is None or bool(_ENV_RE.match(token_env)), "--token-env must be a variable name")
    require(write or (path is None and not force), "--path and --force go with --write")
    literal = read_token(term) if token_stdin else None
    url = endpoint(http) if http is not None else None
    token = TokenSource(token_env, literal)
    notes: list[str] = []
    if url is not None:
        entry = build_entry(client, command=None, url=url, token=token)
    elif demo:
        entry = build_entry(client, command=demo_command(), url=None, token=token)
    else:
        from ..settings import SAVED_TELEGRAM_FILE

        settings = load_settings(data_dir=data_dir)
        entry = build_entry(
            client, command=server_command(), url=None, token=token, env=stdio_env(settings.data_dir)
        )
        if not (settings.data_dir / SAVED_TELEGRAM_FILE).is_file():
            notes.append(
                "Run `mcpgram login` first (with the same data dir): it saves the Telegram settings "
                "that `mcpgram serve` needs, since the client starts it without your MCPGRAM_* variables."
            )
    if write:
        return _write(client, name, entry, path, force=force, notes=notes)
    term.out(render(client, name, entry))
    for note in (WHERE[client], *entry.notes, *notes):
        term.say(f"# {note}")
    return 0


def _write(
    client: Client, name: str, entry: Entry, path: Path | None, *, force: bool, notes: list[str]
) -> int:
    term = terminal()
    target = path if path is not None else default_path(client)
    written = write_merged(target, client, name, entry.server, inputs=entry.inputs, force=force)
    if not written.changed:
        term.say(f"{written.path} already has this {name!r} server; nothing to do.")
    else:
        action = "Replaced" if written.replaced else "Added"
        kept = f" (the old file is kept as {written.backup})" if written.backup else ""
        term.say(f"{action} the {name!r} server in {written.path}{kept}. Restart the client to use it.")
    for note in (*entry.notes, *notes):
        term.say(f"# {note}")
    term.out(str(written.path))
    return 0
