"""``mcpgram config <client>``: every client, stdio and HTTP, parses and carries the expected keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mcpgram.cli.clientconfig import endpoint

from .conftest import parsed, run_cli

TOKEN = "mcpg_" + "Q" * 42 + "A"
URL = "https://gw.example.com"
MCP_URL = "https://gw.example.com/v1/mcp"


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor", "vscode"])
def test_stdio_config_starts_this_mcpgram(client: str) -> None:
    """The stdio variant runs this interpreter's mcpgram with `serve --transport stdio`."""
    result = run_cli("config", client)
    assert result.code == 0, result.err
    entry = parsed(client, result.out)
    assert entry["command"] == sys.executable
    assert entry["args"] == ["-m", "mcpgram", "serve", "--transport", "stdio"]
    assert result.err.startswith("# ")


EXPECTED_HTTP = {
    "claude-code": {"type": "http", "url": MCP_URL, "headers": {"Authorization": "Bearer ${MCPGRAM_TOKEN}"}},
    "cursor": {"url": MCP_URL, "headers": {"Authorization": "Bearer ${env:MCPGRAM_TOKEN}"}},
    "vscode": {"type": "http", "url": MCP_URL, "headers": {"Authorization": "Bearer ${input:mcpgram-token}"}},
}


@pytest.mark.parametrize("client", sorted(EXPECTED_HTTP))
def test_http_config_references_the_token_indirectly(client: str) -> None:
    """By default the HTTP variant targets /v1/mcp and takes the token from an env var or VS Code's prompt."""
    result = run_cli("config", client, "--http", URL + "/")
    assert result.code == 0, result.err
    assert parsed(client, result.out) == EXPECTED_HTTP[client]
    if client == "vscode":
        [prompt] = json.loads(result.out)["inputs"]
        assert prompt == {
            "type": "promptString",
            "id": "mcpgram-token",
            "description": "mcpgram token",
            "password": True,
        }
    else:
        assert "Set MCPGRAM_TOKEN" in result.err


def test_claude_desktop_http_goes_through_the_bridge() -> None:
    """Claude Desktop gets mcp-remote, the header taken from the bridge's env (a placeholder by default)."""
    result = run_cli("config", "claude-desktop", "--http", URL)
    assert result.code == 0, result.err
    entry = parsed("claude-desktop", result.out)
    assert entry["command"] == "npx"
    assert entry["args"] == ["-y", "mcp-remote", MCP_URL, "--header", "Authorization:${MCPGRAM_AUTH_HEADER}"]
    assert entry["env"] == {"MCPGRAM_AUTH_HEADER": "Bearer <paste your mcpgram token>"}
    refused = run_cli("config", "claude-desktop", "--http", URL, "--token-env", "TOK")
    assert refused.code == 2 and "environment variable" in refused.err


@pytest.mark.parametrize("client", ["claude-code", "cursor", "vscode"])
def test_token_env_names_the_variable(client: str) -> None:
    """--token-env NAME makes the client read the token from NAME."""
    result = run_cli("config", client, "--http", URL, "--token-env", "WORK_TG_TOKEN")
    assert result.code == 0, result.err
    header = parsed(client, result.out)["headers"]["Authorization"]
    assert header in ("Bearer ${WORK_TG_TOKEN}", "Bearer ${env:WORK_TG_TOKEN}")
    assert "inputs" not in result.out


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor", "vscode"])
def test_token_stdin_embeds_the_token_only_in_the_config(client: str) -> None:
    """--token-stdin puts the token into the config on stdout, warns on stderr, and never echoes it there."""
    result = run_cli("config", client, "--http", URL, "--token-stdin", stdin=TOKEN + "\n")
    assert result.code == 0, result.err
    assert f"Bearer {TOKEN}" in result.out
    assert TOKEN not in result.err and "embedded" in result.err


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://gw.example.com", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http://gw.example.com", "https"),  # plain http off this machine
        ("https://user:pw@gw.example.com", "user:password"),
        ("https://gw.example.com/?token=x", "query"),
        ("https://gw.example.com/#x", "query or fragment"),
        ('https://gw.example.com/"},"x":{"', "path"),
        ("https://gw.example.com:99999", "host or port"),
        ("https://", "host"),
        ("https://bad host.example.com", "host or port"),
    ],
)
def test_hostile_urls_are_refused(raw: str, reason: str) -> None:
    """--http refuses URLs that are not a plain http(s) origin and path, with exit 2."""
    result = run_cli("config", "cursor", "--http", raw)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("mcpgram: --http") and reason in result.err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://gw.example.com", MCP_URL),
        ("https://gw.example.com/v1/mcp", MCP_URL),
        ("https://gw.example.com/tg/", "https://gw.example.com/tg/v1/mcp"),
        ("http://localhost:8000", "http://localhost:8000/v1/mcp"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/mcp"),
        ("http://[::1]:8000", "http://[::1]:8000/v1/mcp"),
    ],
)
def test_endpoint_appends_the_mcp_path_once(raw: str, expected: str) -> None:
    """The endpoint is the base URL plus /v1/mcp, whether or not the user already wrote it."""
    assert endpoint(raw) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--token-env", "A B"],
        ["--token-env", "X}${HOME"],
        ["--token-env", "1ABC"],
        ["--name", "bad name"],
        ["--name", '"}'],
        ["--token-stdin", "--token-env", "X"],
    ],
)
def test_hostile_names_are_refused(args: list[str]) -> None:
    """Env var and server names that could break out of the config are refused with exit 2."""
    result = run_cli("config", "cursor", "--http", URL, *args, stdin=TOKEN)
    assert result.code == 2 and result.out == ""


def test_token_options_need_http() -> None:
    """--token-stdin and --token-env without --http are a usage error."""
    assert run_cli("config", "cursor", "--token-env", "X").code == 2


def test_stdio_config_carries_a_non_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data dir goes into the config's env, absolute, unless it is what an empty env picks anyway."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    default = run_cli("config", "cursor")
    assert parsed("cursor", default.out)["env"] == {}
    assert "Run `mcpgram login` first" in default.err
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # a GUI client may not have it
    assert parsed("cursor", run_cli("config", "cursor").out)["env"] == {
        "MCPGRAM_DATA_DIR": str(tmp_path / "xdg" / "mcpgram")
    }
    monkeypatch.chdir(tmp_path)
    flagged = run_cli("config", "vscode", "--data-dir", "rel/data")
    assert parsed("vscode", flagged.out)["env"] == {"MCPGRAM_DATA_DIR": str(tmp_path / "rel" / "data")}


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor", "vscode"])
def test_demo_config_runs_the_demo(client: str) -> None:
    """--demo starts `mcpgram demo` with this interpreter and needs no settings at all."""
    result = run_cli("config", client, "--demo")
    assert result.code == 0, result.err
    entry = parsed(client, result.out)
    assert (entry["command"], entry["args"], entry["env"]) == (sys.executable, ["-m", "mcpgram", "demo"], {})
    assert "mcpgram login" not in result.err


OTHER = {"command": "/usr/bin/other-server", "args": ["--flag"]}


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor", "vscode"])
def test_write_merges_keeps_other_servers_and_a_backup(client: str, tmp_path: Path) -> None:
    """--write adds mcpgram beside the file's other servers and keys, and keeps the old file as .bak."""
    path = tmp_path / "config.json"
    key = "servers" if client == "vscode" else "mcpServers"
    original = {"theme": "dark", key: {"other": OTHER}}
    path.write_text(json.dumps(original))
    path.chmod(0o640)
    result = run_cli("config", client, "--demo", "--write", "--path", str(path))
    assert result.code == 0, result.err
    assert result.out == f"{path}\n" and "Added the 'mcpgram' server" in result.err
    document = json.loads(path.read_text())
    assert document["theme"] == "dark" and document[key]["other"] == OTHER
    assert document[key]["mcpgram"]["args"] == ["-m", "mcpgram", "demo"]
    assert json.loads((tmp_path / "config.json.bak").read_text()) == original
    assert (
        path.stat().st_mode & 0o777 == 0o640
        and (tmp_path / "config.json.bak").stat().st_mode & 0o777 == 0o640
    )
    again = run_cli("config", client, "--demo", "--write", "--path", str(path))
    assert again.code == 0 and "nothing to do" in again.err
    assert not (tmp_path / "config.json.bak.1").exists()


def test_write_refuses_to_replace_mcpgram_without_force(tmp_path: Path) -> None:
    """A different `mcpgram` entry stays until --force; then it is replaced and the old file kept."""
    path = tmp_path / "mcp.json"
    mine = {"mcpServers": {"mcpgram": {"command": "/opt/old/mcpgram", "args": ["serve"]}}}
    path.write_text(json.dumps(mine))
    refused = run_cli("config", "cursor", "--write", "--path", str(path))
    assert refused.code == 2 and "already has a different 'mcpgram' server" in refused.err
    assert "--force" in refused.err and json.loads(path.read_text()) == mine
    assert not (tmp_path / "mcp.json.bak").exists()
    forced = run_cli("config", "cursor", "--write", "--path", str(path), "--force")
    assert forced.code == 0 and "Replaced the 'mcpgram' server" in forced.err
    assert json.loads(path.read_text())["mcpServers"]["mcpgram"]["command"] == sys.executable
    assert json.loads((tmp_path / "mcp.json.bak").read_text()) == mine


def test_write_refuses_files_it_cannot_parse(tmp_path: Path) -> None:
    """A config with comments (JSONC) or a non-object is left untouched, with a one-line reason."""
    path = tmp_path / "mcp.json"
    for text in ('{\n  // mine\n  "servers": {}\n}\n', "[]", '{"servers": []}'):
        path.write_text(text)
        result = run_cli("config", "vscode", "--write", "--path", str(path))
        assert result.code == 2 and result.err.startswith("mcpgram: ") and path.read_text() == text


def test_write_creates_a_private_file_with_the_vscode_token_prompt(tmp_path: Path) -> None:
    """A new file is created 0600 (configs may hold tokens); VS Code's token prompt is added only once."""
    path = tmp_path / "ws" / ".vscode" / "mcp.json"
    result = run_cli("config", "vscode", "--http", URL, "--write", "--path", str(path))
    assert result.code == 0, result.err
    document = json.loads(path.read_text())
    assert [item["id"] for item in document["inputs"]] == ["mcpgram-token"]
    assert document["servers"]["mcpgram"]["url"] == MCP_URL
    assert path.stat().st_mode & 0o777 == 0o600
    other = {"type": "promptString", "id": "other", "description": "x"}
    path.write_text(json.dumps({**document, "inputs": [other, *document["inputs"]]}))
    again = run_cli("config", "vscode", "--http", URL, "--write", "--path", str(path))
    assert again.code == 0 and "nothing to do" in again.err
    assert [item["id"] for item in json.loads(path.read_text())["inputs"]] == ["other", "mcpgram-token"]


@pytest.mark.parametrize(
    ("client", "where"),
    [
        ("claude-desktop", "home/.config/Claude/claude_desktop_config.json"),
        ("cursor", "home/.cursor/mcp.json"),
        ("vscode", "project/.vscode/mcp.json"),
        ("claude-code", "project/.mcp.json"),
    ],
)
def test_write_goes_to_each_clients_own_file(
    client: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --path, --write uses the client's config file (Linux paths; the workspace for VS Code)."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    result = run_cli("config", client, "--demo", "--write")
    assert result.code == 0, result.err
    assert result.out == f"{tmp_path / where}\n"
    key = "servers" if client == "vscode" else "mcpServers"
    assert list(json.loads((tmp_path / where).read_text())[key]) == ["mcpgram"]


def test_path_and_force_need_write() -> None:
    """--path and --force without --write are usage errors, and so is --demo with --http."""
    assert run_cli("config", "cursor", "--path", "x.json").code == 2
    assert run_cli("config", "cursor", "--force").code == 2
    assert run_cli("config", "cursor", "--demo", "--http", URL).code == 2
