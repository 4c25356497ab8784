"""Files in the data directory: key files and saved Telegram settings; private, reused, refused if unsafe."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mcpgram.datadir import (
    KEY_BYTES,
    OWNER_KEY_FILE,
    SAVED_RSA_KEY_FILE,
    SERVER_SECRET_FILE,
    owner_key_bytes,
    read_or_create_key,
    save_telegram_settings,
    server_secret_bytes,
)
from mcpgram.errors import ConfigError
from mcpgram.settings import SAVED_TELEGRAM_FILE, Settings


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


API_HASH = "0123456789abcdef0123456789abcdef"
PROXY = "socks5://user:pw@127.0.0.1:1080"


def _rsa_key_file(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1))
    return path


def test_saved_telegram_settings_come_back_without_any_environment(tmp_path: Path) -> None:
    """What login saves (id, hash, DC, key copy, test mode, proxy) is what a bare Settings.load() reads."""
    data_dir = tmp_path / "data"
    key_file = _rsa_key_file(tmp_path / "dc.pem")
    given = _settings(
        data_dir,
        api_id=12345,
        api_hash=API_HASH,
        dc="2@10.0.0.1:443",
        rsa_key_file=key_file,
        test_mode=True,
        proxy=PROXY,
    )
    path = save_telegram_settings(given)
    assert path == data_dir / SAVED_TELEGRAM_FILE
    assert _mode(path) == 0o600 and _mode(data_dir / SAVED_RSA_KEY_FILE) == 0o600
    key_file.unlink()  # the saved copy is used, not the original file
    loaded = _settings(data_dir)
    assert loaded.telegram_config() == given.telegram_config()
    assert save_telegram_settings(loaded) is None  # nothing changed: nothing written


def test_the_environment_wins_over_saved_settings_group_by_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API id from the environment never meets the saved hash: the saved id-and-hash pair is skipped."""
    data_dir = tmp_path / "data"
    save_telegram_settings(_settings(data_dir, api_id=12345, api_hash=API_HASH, proxy=PROXY))
    monkeypatch.setenv("MCPGRAM_API_ID", "777")
    with pytest.raises(ConfigError, match="set api_id and api_hash together"):
        _settings(data_dir)
    monkeypatch.setenv("MCPGRAM_API_HASH", "f" * 32)
    config = _settings(data_dir).telegram_config()
    assert (config.api_id, config.api_hash) == (777, "f" * 32)
    assert config.proxy is not None and config.proxy.password == "pw"  # the proxy group still applies
    monkeypatch.setenv("MCPGRAM_PROXY", "http://127.0.0.1:3128")
    assert _settings(data_dir).telegram_config().proxy.kind == "http"  # type: ignore[union-attr]


def test_saved_settings_follow_the_data_dir_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is read from the data dir of the flags or MCPGRAM_DATA_DIR, not from the default one."""
    save_telegram_settings(_settings(tmp_path / "a", api_id=1, api_hash=API_HASH))
    save_telegram_settings(_settings(tmp_path / "b", api_id=2, api_hash=API_HASH))
    monkeypatch.setenv("MCPGRAM_DATA_DIR", str(tmp_path / "a"))
    assert Settings.load(env_file=None).api_id == 1
    assert Settings.load(env_file=None, data_dir=tmp_path / "b").api_id == 2
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MCPGRAM_DATA_DIR")
    assert Settings.load(env_file=None).api_id is None


@pytest.mark.parametrize("content", [b"{not json", b"[1]", b'{"api_id": 1, "server_secret": "x"}', b"\xff"])
def test_malformed_saved_settings_are_refused(tmp_path: Path, content: bytes) -> None:
    """A telegram.json that login did not write stops the command with a hint, without its content."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    path = data_dir / SAVED_TELEGRAM_FILE
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"telegram\.json is not what mcpgram login writes") as refused:
        _settings(data_dir)
    assert "server_secret" not in refused.value.message and refused.value.hint


def test_saved_settings_readable_by_others_are_refused(tmp_path: Path) -> None:
    """The file holds the API hash (and maybe a proxy password): group or other access is refused."""
    data_dir = tmp_path / "data"
    save_telegram_settings(_settings(data_dir, api_id=12345, api_hash=API_HASH))
    (data_dir / SAVED_TELEGRAM_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match=r"group or others have access to telegram\.json"):
        _settings(data_dir)
    (data_dir / SAVED_TELEGRAM_FILE).chmod(0o600)
    (data_dir / "elsewhere.json").write_text("{}")
    (data_dir / SAVED_TELEGRAM_FILE).unlink()
    (data_dir / SAVED_TELEGRAM_FILE).symlink_to(data_dir / "elsewhere.json")
    with pytest.raises(ConfigError, match="symlink"):
        _settings(data_dir)
