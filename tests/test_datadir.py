"""Key files in the data directory: created private and atomically, reused, and refused when unsafe."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mcpgram.datadir import (
    KEY_BYTES,
    OWNER_KEY_FILE,
    SERVER_SECRET_FILE,
    owner_key_bytes,
    read_or_create_key,
    server_secret_bytes,
)
from mcpgram.errors import ConfigError
from mcpgram.settings import Settings


def _settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings.load(env_file=None, data_dir=data_dir, **overrides)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_server_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    """The first call creates a 0700 data dir holding a 0600 32-byte server.secret; later calls reuse it."""
    data_dir = tmp_path / "data"
    first = server_secret_bytes(_settings(data_dir))
    assert len(first) == KEY_BYTES
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / SERVER_SECRET_FILE) == 0o600
    assert (data_dir / SERVER_SECRET_FILE).read_bytes() == first
    assert server_secret_bytes(_settings(data_dir)) == first
    assert sorted(path.name for path in data_dir.iterdir()) == [SERVER_SECRET_FILE]


def test_configured_server_secret_wins_and_writes_no_file(tmp_path: Path) -> None:
    """A configured server_secret is returned as bytes and no server.secret file is created."""
    secret = "s" * 40
    assert server_secret_bytes(_settings(tmp_path / "data", server_secret=secret)) == secret.encode()
    assert not (tmp_path / "data").exists()


def test_owner_key_is_separate_from_the_server_secret(tmp_path: Path) -> None:
    """owner.key is its own 0600 random key, stable across calls and different from server.secret."""
    owner = owner_key_bytes(tmp_path)
    assert owner == owner_key_bytes(tmp_path)
    assert owner != server_secret_bytes(_settings(tmp_path))
    assert _mode(tmp_path / OWNER_KEY_FILE) == 0o600


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    """Processes racing to create the key all end up with the same bytes, and no temporary file remains."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: read_or_create_key(tmp_path, SERVER_SECRET_FILE), range(16)))
    assert len(keys) == 1
    assert [path.name for path in tmp_path.iterdir()] == [SERVER_SECRET_FILE]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700, 0o601])
def test_key_files_open_to_group_or_others_are_refused(tmp_path: Path, mode: int) -> None:
    """A key file with any group/other permission bit (or exec) is refused with a chmod hint."""
    path = tmp_path / SERVER_SECRET_FILE
    path.write_bytes(os.urandom(KEY_BYTES))
    path.chmod(mode)
    if mode & 0o077:
        with pytest.raises(ConfigError, match="chmod 600") as caught:
            server_secret_bytes(_settings(tmp_path))
        assert str(tmp_path) not in str(caught.value)
    else:
        assert server_secret_bytes(_settings(tmp_path)) == path.read_bytes()


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    """A server.secret that is a symlink is refused, even if its target is private."""
    target = tmp_path / "elsewhere"
    target.write_bytes(os.urandom(KEY_BYTES))
    target.chmod(0o600)
    (tmp_path / SERVER_SECRET_FILE).symlink_to(target)
    with pytest.raises(ConfigError, match="symlink"):
        server_secret_bytes(_settings(tmp_path))


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_key_file_of_the_wrong_size_is_refused(tmp_path: Path, size: int) -> None:
    """A truncated or padded key file is refused rather than used as a weaker key."""
    path = tmp_path / OWNER_KEY_FILE
    path.write_bytes(b"k" * size)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="exactly 32 bytes"):
        owner_key_bytes(tmp_path)


def test_directory_writable_by_others_is_refused(tmp_path: Path) -> None:
    """A data dir that group or others may write to is refused, since they could swap the key files."""
    data_dir = tmp_path / "shared"
    data_dir.mkdir()
    data_dir.chmod(0o777)
    with pytest.raises(ConfigError, match="chmod 700"):
        owner_key_bytes(data_dir)


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A data_dir path that is a regular file is refused with a config error, not an OSError."""
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ConfigError, match="data_dir"):
        owner_key_bytes(not_a_dir)
