"""``mcpgram invite create``: a single-use code the /setup store accepts once."""

from __future__ import annotations

from pathlib import Path

from mcpgram.web.setup import SetupStore

from .conftest import run_cli


def test_invite_create_prints_a_code_the_store_accepts_once(data_dir: Path) -> None:
    result = run_cli("invite", "create", "--hours", "1", "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    code = result.out.strip()
    assert result.out == code + "\n" and len(code) >= 32 and code not in result.err
    store = SetupStore(data_dir / "signin.db")
    try:
        assert store.use_invite(code)
        assert not store.use_invite(code)
    finally:
        store.close()


def test_invite_create_refuses_a_silly_lifetime(data_dir: Path) -> None:
    assert run_cli("invite", "create", "--hours", "0", "--data-dir", str(data_dir)).code != 0


def test_an_expired_invite_is_refused(tmp_path: Path) -> None:
    now = [1000.0]
    store = SetupStore(tmp_path / "signin.db", clock=lambda: now[0])
    try:
        code = store.create_invite(valid_seconds=60)
        now[0] += 61
        assert not store.use_invite(code)
    finally:
        store.close()
