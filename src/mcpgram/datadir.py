"""Files in the data directory: the server secret, the stdio owner's key, the saved Telegram settings.

Creates ``data_dir`` (mode 0700) and 32-byte random key files (mode 0600) atomically and without ever
overwriting one, and refuses files or a directory that other users could read or replace. Key bytes
go back to the caller only: never into errors or logs. POSIX only (permission bits and ``O_NOFOLLOW``).
``save_telegram_settings`` writes what :class:`~mcpgram.settings.SavedTelegramSource` reads back.
Imports nothing from mcpgram but :mod:`mcpgram.settings`, :mod:`mcpgram.configs` and :mod:`mcpgram.errors`.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from mcpgram.configs import read_private_file
from mcpgram.errors import ConfigError
from mcpgram.settings import SAVED_TELEGRAM_FILE, Settings, read_saved_telegram

SERVER_SECRET_FILE = "server.secret"  # noqa: S105 - a file name, not a secret
OWNER_KEY_FILE = "owner.key"
SAVED_RSA_KEY_FILE = "telegram-rsa.pem"
KEY_BYTES = 32
_PREFIX = "invalid setting data_dir (MCPGRAM_DATA_DIR): "


def server_secret_bytes(settings: Settings) -> bytes:
    """Return the configured ``server_secret``, or the bytes of ``data_dir/server.secret``.

    The file is created with 32 random bytes on first use.

    Raises:
        ConfigError: if the directory or file is unsafe (other users' permissions, wrong owner,
            symlink) or the file does not hold exactly 32 bytes.
    """
    if settings.server_secret is not None:
        return settings.server_secret.get_secret_value().encode()
    return read_or_create_key(settings.data_dir, SERVER_SECRET_FILE)


def owner_key_bytes(data_dir: Path) -> bytes:
    """Return the stdio owner tenant's key from ``data_dir/owner.key``, creating it on first use.

    Raises:
        ConfigError: on the same unsafe conditions as :func:`server_secret_bytes`.
    """
    return read_or_create_key(data_dir, OWNER_KEY_FILE)


def save_telegram_settings(settings: Settings) -> Path | None:
    """Save the Telegram settings in use to ``data_dir/telegram.json`` (mode 0600), for ``serve``.

    API id and hash, DC, RSA key (copied to ``telegram-rsa.pem``), test mode and proxy: what a client
    that starts ``mcpgram serve`` with an empty environment needs. Settings from the environment
    still win over the file. Returns the file's path, or ``None`` if it already held the same.

    Raises:
        ConfigError: the data dir is unsafe, or a file cannot be written.
    """
    telegram = settings.telegram_config()  # raises ConfigError without an API id and hash
    wanted: dict[str, Any] = {"api_id": telegram.api_id, "api_hash": telegram.api_hash}
    if settings.dc is not None:
        wanted["dc"] = settings.dc
    if telegram.rsa_key_pem is not None:
        wanted["rsa_key_file"] = SAVED_RSA_KEY_FILE
    if settings.test_mode:
        wanted["test_mode"] = True
    if settings.proxy is not None:
        wanted["proxy"] = settings.proxy
    data_dir = ensure_data_dir(settings.data_dir)
    key_path = data_dir / SAVED_RSA_KEY_FILE
    key_changed = telegram.rsa_key_pem is not None and not _holds(key_path, telegram.rsa_key_pem)
    if not key_changed and read_saved_telegram(data_dir) == wanted:
        return None
    if telegram.rsa_key_pem is not None and key_changed:
        _replace_private_file(key_path, telegram.rsa_key_pem.encode("ascii"))
    path = data_dir / SAVED_TELEGRAM_FILE
    _replace_private_file(path, json.dumps(wanted, indent=2).encode() + b"\n")
    return path


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="ascii") == text
    except (OSError, UnicodeDecodeError):
        return False


def _replace_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a private (0600) temporary file, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)  # replaces a symlink itself, never the file it points to
    except OSError:
        raise ConfigError(_PREFIX + f"cannot write {path.name}") from None
    finally:
        tmp.unlink(missing_ok=True)


def ensure_data_dir(data_dir: Path) -> Path:
    """Create ``data_dir`` with mode 0700 if missing, and check an existing one is ours and not shared.

    Raises:
        ConfigError: if it is not a directory, belongs to another user, or group/others may write to it.
    """
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = data_dir.stat()
    except OSError:
        raise ConfigError(_PREFIX + "cannot create or open the data directory") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(_PREFIX + "is not a directory")
    if info.st_uid != os.geteuid():
        raise ConfigError(_PREFIX + "the data directory belongs to another user")
    # Write access for others would let them replace key files; read access alone exposes nothing,
    # because every file inside is created 0600.
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(_PREFIX + "group or others may write to the data directory; run chmod 700 on it")
    return data_dir


def read_or_create_key(data_dir: Path, name: str) -> bytes:
    """Return the 32 bytes of ``data_dir/name``, creating the file atomically if it does not exist.

    Raises:
        ConfigError: if the directory or file is unsafe or the file's size is wrong.
    """
    path = ensure_data_dir(data_dir) / name
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        _create_key(path)
    except FileExistsError:
        pass  # another process created it first: use that one, never overwrite
    except OSError:
        raise ConfigError(_PREFIX + f"cannot create {name}") from None
    try:
        return _read_key(path)
    except FileNotFoundError:
        raise ConfigError(_PREFIX + f"{name} disappeared while starting") from None


def _read_key(path: Path) -> bytes:
    try:
        data = read_private_file(path, KEY_BYTES + 1)
    except ValueError as exc:
        raise ConfigError(_PREFIX + str(exc)) from None
    if len(data) != KEY_BYTES:
        raise ConfigError(_PREFIX + f"{path.name} must hold exactly {KEY_BYTES} bytes")
    return data


def _create_key(path: Path) -> None:
    """Write a fresh key to a private temporary file, then hard-link it into place.

    ``os.link`` fails if ``path`` exists, so a key is never overwritten, and a crash leaves either no
    key file or a complete one (a half-written key would lock every tenant out).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # make the new directory entry durable too
    finally:
        os.close(dir_fd)
