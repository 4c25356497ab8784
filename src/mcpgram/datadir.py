"""Key files in the data directory: the server secret and the stdio owner's key.

Creates ``data_dir`` (mode 0700) and 32-byte random key files (mode 0600) atomically and without ever
overwriting one, and refuses files or a directory that other users could read or replace. Key bytes
go back to the caller only: never into errors or logs. POSIX only (permission bits and ``O_NOFOLLOW``).
Imports nothing from mcpgram but :mod:`mcpgram.settings` and :mod:`mcpgram.errors`.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from mcpgram.errors import ConfigError
from mcpgram.settings import Settings

SERVER_SECRET_FILE = "server.secret"  # noqa: S105 - a file name, not a secret
OWNER_KEY_FILE = "owner.key"
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
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError:
        # ELOOP (a symlink, which O_NOFOLLOW refuses) or EACCES.
        raise ConfigError(_PREFIX + f"{name} is a symlink or cannot be read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(_PREFIX + f"{name} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ConfigError(_PREFIX + f"{name} belongs to another user")
        if info.st_mode & 0o077:
            raise ConfigError(_PREFIX + f"group or others have access to {name}; run chmod 600 on it")
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise ConfigError(_PREFIX + f"{name} must hold exactly {KEY_BYTES} bytes")
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
