"""The append lock held between appends by a journal that is usually the only writer (``lease.py``)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import pytest

from mcpgram import wiring
from mcpgram.audit import journal as journal_module
from mcpgram.audit import lease
from mcpgram.audit.entry import JournalKeys
from mcpgram.audit.journal import AuditJournal
from mcpgram.audit.reading import verify
from mcpgram.settings import Settings

KEYS = JournalKeys.derive(b"s" * 32)
TENANT = "tnt_0123456789abcdef"


def book(directory: Path, **options: Any) -> AuditJournal:
    return AuditJournal(directory, KEYS, fsync="never", **options)


class Calls:
    """Counts ``flock`` (in lease.py) and ``fstat`` (in journal.py) calls while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.flock = self.fstat = 0
        flock, fstat = fcntl.flock, os.fstat

        def counted_flock(fd: int, op: int) -> None:
            self.flock += 1
            flock(fd, op)

        def counted_fstat(fd: int) -> os.stat_result:
            self.fstat += 1
            return fstat(fd)

        monkeypatch.setattr(lease.fcntl, "flock", counted_flock)
        monkeypatch.setattr(journal_module.os, "fstat", counted_fstat)


def test_a_holding_journal_appends_without_locking_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its first append, a journal holding the lock appends with no flock and no fstat (the
    file is looked at once a second); per-append locking takes two flock calls and an fstat each."""
    held, shared = book(tmp_path / "held", hold_lock=True), book(tmp_path / "shared")
    for journal in (held, shared):
        journal.record(TENANT, "send_message", 1, "ok", b"first")
    calls = Calls(monkeypatch)
    for i in range(50):
        held.record(TENANT, "send_message", i, "ok", b"x")
    assert (calls.flock, calls.fstat) == (0, 0)
    for i in range(50):
        shared.record(TENANT, "send_message", i, "ok", b"x")
    assert (calls.flock, calls.fstat) == (100, 50)
    held._path_checked_at = -10.0  # a second has passed: the file is looked at once
    held.record(TENANT, "send_message", 1, "ok", b"x")
    assert calls.fstat == 51 and calls.flock == 100
    for journal in (held, shared):
        journal.close()
    assert verify(tmp_path / "held", KEYS).entries == 52 and verify(tmp_path / "shared", KEYS).entries == 51


def test_a_holder_lets_go_when_another_writer_waits_and_the_chain_stays_one(tmp_path: Path) -> None:
    """Two journals on one directory (two processes' worth of descriptors): the holder gives the lock
    up within a few checks once the other waits, and from then on both lock per append."""
    directory = tmp_path / "audit"
    first, second = book(directory, hold_lock=True), book(directory, hold_lock=True)
    first.record(TENANT, "send_message", 1, "ok", b"a")
    assert first._lock.holding
    started = time.monotonic()
    assert second.record(TENANT, "send_message", 2, "ok", b"b") is not None  # waits for the watcher
    assert time.monotonic() - started < 2.0
    assert not first._lock.holding and not second._lock.holding
    for i in range(30):
        assert (first if i % 2 else second).record(TENANT, "send_message", i, "ok", b"c") is not None
    assert not first._lock.holding and not second._lock.holding  # neither holds again
    first.close()
    second.close()
    verdict = verify(directory, KEYS)
    assert verdict.problem is None and verdict.entries == 32


def test_a_holding_journal_notices_its_file_deleted_by_hand_within_a_second(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    journal = book(directory, hold_lock=True)
    journal.record(TENANT, "send_message", 1, "ok", b"a")
    (directory / "audit.jsonl").unlink()
    journal._path_checked_at = -10.0  # the once-a-second look is due
    journal.record(TENANT, "send_message", 2, "ok", b"b")
    journal.close()
    assert (directory / "audit.jsonl").exists() and verify(directory, KEYS).entries == 1


def test_close_lets_the_lock_go(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    journal = book(directory, hold_lock=True)
    journal.record(TENANT, "send_message", 1, "ok", b"a")
    fd = os.open(directory / "audit.lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        journal.close()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free now
    finally:
        os.close(fd)


@pytest.mark.parametrize(("workers", "holds"), [(1, True), (3, False)])
def test_the_server_holds_the_lock_only_as_its_only_process(
    tmp_path: Path, workers: int, holds: bool
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=workers)
    journal = wiring.journal_for(settings, b"s" * 32)
    assert journal is not None
    try:
        journal.record(TENANT, "send_message", 1, "ok", b"a")
        assert journal._lock.holding is holds
    finally:
        journal.close()


def test_an_idle_holder_lets_go_and_holds_again_at_its_next_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle for IDLE_SECONDS, a holder releases the lock (another process takes it without waiting)
    and its watcher ends; its next append holds it again."""
    monkeypatch.setattr(lease, "IDLE_SECONDS", 0.2)
    directory = tmp_path / "audit"
    journal = book(directory, hold_lock=True)
    journal.record(TENANT, "send_message", 1, "ok", b"a")
    assert journal._lock.holding
    deadline = time.monotonic() + 5
    while journal._lock.holding and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not journal._lock.holding
    watcher = journal._lock.watcher
    assert watcher is not None
    watcher.join(timeout=5)
    assert not watcher.is_alive()  # the watcher has ended
    fd = os.open(directory / "audit.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody waits for it
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    journal.record(TENANT, "send_message", 2, "ok", b"b")
    assert journal._lock.holding
    journal.close()
    assert verify(directory, KEYS).entries == 2
