"""Processes opening one new SQLite file at the same moment (``serve --workers N`` on a fresh data dir).

Switching a new file to WAL mode fails at once with ``database is locked`` (no busy timeout) when
another process switches it too; CI saw a worker die of it. ``vault.schema.use_wal`` waits that
out, and every store that may be created by several processes uses it.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpgram.vault.schema import use_wal
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.web.setup.store import SetupStore

#: Opens at once per round, and rounds: without the wait about 5% of the opens fail (2026-12-07).
PROCESSES = 4
ROUNDS = 25
#: The failure itself is shown by racing until it happens (the first within about 10 rounds).
MAX_ROUNDS_TO_FAIL = 400


def _open(opener: Callable[[Path], object], path: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        opener(Path(path))
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # the test reports what each process met
        results.put(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def _plain_wal(path: Path) -> None:
    sqlite3.connect(path, timeout=10.0, isolation_level=None).execute("PRAGMA journal_mode=WAL")


def _use_wal(path: Path) -> None:
    use_wal(sqlite3.connect(path, timeout=10.0, isolation_level=None))


def _setup_store(path: Path) -> None:
    SetupStore(path).close()


def _vault(path: Path) -> None:
    SQLiteVault(path).close()


def _race(
    opener: Callable[[Path], object], tmp_path: Path, rounds: int = ROUNDS, *, until_failure: bool = False
) -> dict[str, int]:
    """Open a new file from :data:`PROCESSES` processes at once, ``rounds`` times: outcomes counted."""
    context = multiprocessing.get_context("fork")
    outcomes: dict[str, int] = {}
    for round_ in range(rounds):
        if until_failure and set(outcomes) - {"ok"}:
            break
        path = tmp_path / f"round{round_}.db"
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        args = (opener, str(path), barrier, results)
        processes = [context.Process(target=_open, args=args) for _ in range(PROCESSES)]
        for process in processes:
            process.start()
        for _ in processes:
            outcome = results.get(timeout=60)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for process in processes:
            process.join(10)
    return outcomes


def test_switching_a_new_file_to_wal_at_once_fails_without_waiting(tmp_path: Path) -> None:
    """The failure itself, so the test below is known to exercise it."""
    outcomes = _race(_plain_wal, tmp_path, MAX_ROUNDS_TO_FAIL, until_failure=True)
    assert outcomes.get("OperationalError: database is locked", 0) > 0, outcomes


@pytest.mark.parametrize("opener", [_use_wal, _setup_store, _vault], ids=["use_wal", "signin.db", "vault.db"])
def test_processes_creating_one_file_at_once_all_open_it(
    opener: Callable[[Path], object], tmp_path: Path
) -> None:
    assert _race(opener, tmp_path) == {"ok": ROUNDS * PROCESSES}
    for round_ in range(ROUNDS):
        db = sqlite3.connect(tmp_path / f"round{round_}.db")
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.close()
