"""``mcpgram config <client> --write``: merge the mcpgram server into the client's own config file.

Where each client keeps its MCP servers (``--path`` overrides):
- ``claude-desktop``: ``claude_desktop_config.json`` in ``~/Library/Application Support/Claude``
  (macOS), ``%APPDATA%\\Claude`` (Windows), else ``$XDG_CONFIG_HOME/Claude`` or ``~/.config/Claude``;
  servers under ``mcpServers``.
- ``cursor``: ``~/.cursor/mcp.json`` (every project), ``mcpServers``.
- ``vscode``: ``.vscode/mcp.json`` in the current directory (the workspace), ``servers``; plus ``inputs``.
- ``claude-code``: ``.mcp.json`` in the current directory (the project scope), ``mcpServers``.

:func:`merge` decides (pure); :func:`write_merged` does the file work: the old file is copied to
``<file>.bak`` (or ``.bak.1``, ``.bak.2``... if taken) first, and the new one replaces it atomically
with the old file's permissions (0600 for a new file: a config may embed a token).

Must not: drop or change another server, overwrite an existing ``mcpgram`` entry without ``force``,
or write a file it could not parse (JSON with comments is refused, not rewritten without them).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

CLAUDE_DESKTOP_FILE = "claude_desktop_config.json"
NEW_FILE_MODE = 0o600
_MAX_BACKUPS = 100


def default_path(client: str, *, home: Path | None = None, cwd: Path | None = None) -> Path:
    """The config file ``client`` reads its MCP servers from, on this platform."""
    home = home or Path.home()
    cwd = cwd or Path.cwd()
    if client == "claude-desktop":
        if sys.platform == "darwin":
            base = home / "Library" / "Application Support"
        elif sys.platform == "win32":
            base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
        else:
            xdg = os.environ.get("XDG_CONFIG_HOME", "")
            base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
        return base / "Claude" / CLAUDE_DESKTOP_FILE
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return cwd / ".vscode" / "mcp.json"
    return cwd / ".mcp.json"  # claude-code, project scope


def servers_key(client: str) -> str:
    """The key the client keeps its servers under."""
    return "servers" if client == "vscode" else "mcpServers"


@dataclass(frozen=True)
class Merged:
    """What :func:`merge` decided: the new document, and whether anything changed or was replaced."""

    document: dict[str, Any]
    changed: bool
    replaced: bool


def merge(
    document: dict[str, Any],
    client: str,
    name: str,
    server: dict[str, Any],
    *,
    inputs: tuple[dict[str, Any], ...] = (),
    force: bool = False,
) -> Merged:
    """Add ``server`` as ``name`` to a client's config document (a copy; the argument is not changed).

    Raises:
        ConfigError: the document's servers are not an object, or ``name`` is taken by a different
            entry and ``force`` is not set.
    """
    key = servers_key(client)
    servers = document.get(key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f"the config file's {key!r} is not an object; fix it or edit the file by hand")
    existing = servers.get(name)
    if existing is not None and existing != server and not force:
        raise ConfigError(
            f"the config file already has a different {name!r} server",
            hint="add --force to replace it (the old file is kept as a backup), or pick another --name",
        )
    new = {**document, key: {**servers, name: server}}
    known_inputs = document.get("inputs", [])
    if inputs:
        if not isinstance(known_inputs, list):
            raise ConfigError("the config file's 'inputs' is not a list; fix it or edit the file by hand")
        ids = {item.get("id") for item in known_inputs if isinstance(item, dict)}
        new["inputs"] = [*known_inputs, *(item for item in inputs if item["id"] not in ids)]
    return Merged(new, changed=new != document, replaced=existing is not None and existing != server)


def read_document(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` if there is no file (or an empty one).

    Raises:
        ConfigError: the file cannot be read or is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"cannot read {path}") from None
    if not text.strip():
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{path} is not plain JSON (comments or trailing commas?)",
            hint="fix it, or merge the printed config (without --write) by hand",
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return document


@dataclass(frozen=True)
class Written:
    """Where the config went, and where the previous file was kept (``None``: there was none)."""

    path: Path
    backup: Path | None
    changed: bool
    replaced: bool


def write_merged(
    path: Path,
    client: str,
    name: str,
    server: dict[str, Any],
    *,
    inputs: tuple[dict[str, Any], ...] = (),
    force: bool = False,
) -> Written:
    """Merge ``server`` into the config file at ``path`` (created if missing), keeping a backup.

    Raises:
        ConfigError: see :func:`read_document` and :func:`merge`; or the file cannot be written.
    """
    path = path.expanduser().absolute()
    if path.is_symlink():  # a dotfiles-managed config: update the file, keep the link
        path = path.resolve()
    old = read_document(path)
    merged = merge(old or {}, client, name, server, inputs=inputs, force=force)
    if not merged.changed:
        return Written(path, None, changed=False, replaced=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
        backup = _backup(path, mode) if path.exists() else None
        _replace(path, (json.dumps(merged.document, indent=2, ensure_ascii=False) + "\n").encode(), mode)
    except OSError:
        raise ConfigError(f"cannot write {path}") from None
    return Written(path, backup, changed=True, replaced=merged.replaced)


def _backup(path: Path, mode: int) -> Path:
    data = path.read_bytes()
    for number in range(_MAX_BACKUPS):
        backup = path.with_name(path.name + (".bak" if number == 0 else f".bak.{number}"))
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        return backup
    raise ConfigError(f"too many backups of {path.name}; remove some of its .bak files")


def _replace(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
