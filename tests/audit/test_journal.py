"""The journal's files: appends, modes, rotation with the chain carried across, several writers."""

from __future__ import annotations

import itertools
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcpgram.audit.entry import GENESIS, JournalKeys, parse_entry
from mcpgram.audit.journal import AuditJournal, Head
from mcpgram.audit.reading import Filter, journal_files, newest, verify

KEYS = JournalKeys.derive(b"s" * 32)
TENANT = "tnt_0123456789abcdef"


def journal(directory: Path, **options: object) -> AuditJournal:
    return AuditJournal(directory, KEYS, clock=lambda: 1_750_000_000.0, **options)  # type: ignore[arg-type]


def fill(book: AuditJournal, n: int, tenant: str = TENANT) -> list[Head]:
    heads = []
    for i in range(n):
        head = book.record(tenant, "messages.sendMessage", i + 1, "ok", f"payload {i}".encode())
        assert head is not None
        heads.append(head)
    return heads


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_entries_are_appended_in_a_private_file_and_chain(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    book = journal(directory)
    heads = fill(book, 3)
    book.close()
    assert [h.seq for h in heads] == [1, 2, 3]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("audit.jsonl", "audit.lock"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    entries = [parse_entry(line) for line in lines(directory / "audit.jsonl")]
    assert entries[0].prev == GENESIS and entries[1].prev == entries[0].mac == heads[0].mac
    assert entries[2].time == "2025-06-15T15:06:40.000Z" and entries[2].kind == "raw"
    assert entries[2].content == KEYS.content_digest([b"payload 2"])
    verdict = verify(directory, KEYS)
    assert verdict.problem is None and verdict.entries == 3 and verdict.head == heads[-1]


def test_record_keeps_ids_and_identifiers_only(tmp_path: Path) -> None:
    """A numeric chat string is an id; a phone number or username is dropped; names are identifiers."""
    book = journal(tmp_path / "audit")
    book.record(TENANT, "messages.sendMessage", "-1001234567890", "ok")
    book.record(TENANT, "send_to_phone", "+15551234567", "ok")
    book.record(TENANT, "send_message", "@alice_x", "FLOOD_WAIT")
    book.record(TENANT, "secret text\nin a name", 5, "ok: with text")
    book.record_approval(TENANT, "delete_messages", 7, "approved", ["hello", b"\x00"])
    book.close()
    found = newest(tmp_path / "audit", Filter(), 10)
    assert [e.chat for e in found] == [-1001234567890, None, None, 5, 7]
    assert found[3].tool == "secret_text_in_a_name" and found[3].outcome == "ok:_with_text"
    assert found[4].kind == "approval"
    assert found[4].content == KEYS.content_digest(["hello", b"\x00"])
    raw = (tmp_path / "audit" / "audit.jsonl").read_bytes()
    assert b"15551234567" not in raw and b"alice" not in raw and b"hello" not in raw


def test_rotation_carries_the_chain_across_files(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    book = journal(directory, max_bytes=4096)
    fill(book, 60)
    book.close()
    files = journal_files(directory)
    assert len(files) >= 4 and files[-1].name == "audit.jsonl"
    for older, newer in itertools.pairwise(files):
        last, first = parse_entry(lines(older)[-1]), parse_entry(lines(newer)[0])
        assert first.prev == last.mac and first.seq == last.seq + 1
        assert older.name == f"audit.{last.seq:012d}.jsonl"
        assert older.stat().st_size <= 4096 and stat.S_IMODE(older.stat().st_mode) == 0o400
    verdict = verify(directory, KEYS)
    assert verdict.problem is None and verdict.entries == 60 and len(verdict.files) == len(files)


def test_removed_and_cut_files_are_found(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    book = journal(directory, max_bytes=4096)
    fill(book, 60)
    book.close()
    files = journal_files(directory)
    middle, newest_rotated = files[1], files[-2]
    saved = middle.read_bytes()
    middle.unlink()
    problem = verify(directory, KEYS).problem
    assert problem is not None and problem.file == files[2].name and problem.line == 1
    assert "entries missing" in problem.reason
    middle.write_bytes(saved)
    assert verify(directory, KEYS).problem is None
    # A rotated file cut at a line boundary, the files after it gone too: its name gives it away.
    (directory / "audit.jsonl").unlink()
    newest_rotated.write_bytes(b"".join(lines(newest_rotated)[:-1]))
    problem = verify(directory, KEYS).problem
    assert (
        problem is not None and problem.file == newest_rotated.name and "cut from its end" in problem.reason
    )


def test_entries_removed_from_the_end_show_only_against_an_anchor(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    book = journal(directory)
    heads = fill(book, 5)
    book.close()
    anchor = heads[-1]
    assert verify(directory, KEYS, anchor=anchor).problem is None
    active = directory / "audit.jsonl"
    active.write_bytes(b"".join(lines(active)[:3]))
    assert verify(directory, KEYS).problem is None  # a clean cut at the end is a shorter chain
    problem = verify(directory, KEYS, anchor=anchor).problem
    assert problem is not None and "ends at seq 3, before the anchor's seq 5" in str(problem)
    # Rewritten whole (by someone with the secret): the anchored seq has another mac.
    active.unlink()
    fill(journal(directory), 6, tenant="tnt_" + "f" * 16)
    problem = verify(directory, KEYS, anchor=anchor).problem
    assert problem is not None and "entry seq 5 is not the anchored one" in str(problem)


def test_writers_sharing_the_files_keep_one_chain(tmp_path: Path) -> None:
    """Two journals on one directory (as two processes have) chain to each other's entries."""
    directory = tmp_path / "audit"
    first, second = journal(directory, max_bytes=4096), journal(directory, max_bytes=4096)
    for i in range(40):
        (first if i % 3 else second).record(TENANT, "x", i + 1, "ok")
    first.close()
    second.close()
    verdict = verify(directory, KEYS)
    assert verdict.problem is None and verdict.entries == 40


def test_a_journal_file_moved_away_by_hand_is_noticed(tmp_path: Path) -> None:
    """Renamed or deleted under a running writer, the file is replaced and the chain carries on from
    what is left; a deleted file is entries cut from the end, which only an anchor shows."""
    directory = tmp_path / "audit"
    book = journal(directory)
    fill(book, 2)
    (directory / "audit.jsonl").rename(directory / "audit.000000000002.jsonl")  # as a rotation would
    book._path_checked_at = -10.0  # the path is looked at once a second: now
    anchor = fill(book, 2)[-1]
    assert anchor.seq == 4 and verify(directory, KEYS, anchor=anchor).problem is None
    (directory / "audit.jsonl").unlink()  # gone: seen at once (no links left)
    assert [h.seq for h in fill(book, 1)] == [3]
    book.close()
    assert [p.name for p in journal_files(directory)] == ["audit.000000000002.jsonl", "audit.jsonl"]
    assert verify(directory, KEYS).problem is None
    problem = verify(directory, KEYS, anchor=anchor).problem
    assert problem is not None and "entry seq 4 is not the anchored one" not in str(problem)
    assert "ends at seq 3, before the anchor's seq 4" in str(problem)


def test_a_cut_last_line_is_reported_and_the_next_entry_chains_past_it(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    book = journal(directory)
    fill(book, 3)
    book.close()
    with (directory / "audit.jsonl").open("ab") as file:
        file.write(b'{"v":1,"seq":4,"ti')  # a write cut short by a crash
    book = journal(directory)
    head = book.record(TENANT, "x", 1, "ok")
    book.close()
    assert head is not None and head.seq == 4
    entries = lines(directory / "audit.jsonl")
    assert (
        entries[3] == b'{"v":1,"seq":4,"ti\n' and parse_entry(entries[4]).prev == parse_entry(entries[2]).mac
    )
    problem = verify(directory, KEYS).problem
    assert problem is not None and problem.line == 4 and "not a journal entry" in problem.reason


def test_a_failed_write_is_logged_and_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "audit"
    book = journal(directory)
    (directory / "audit.jsonl").mkdir()  # cannot be opened as a file
    with caplog.at_level(logging.ERROR, logger="mcpgram.audit"):
        assert book.record(TENANT, "send_message", 1, "ok", b"the text") is None
    book.close()
    assert [r.getMessage() for r in caplog.records] == ["audit.write_failed"]
    assert "the text" not in caplog.text


def test_a_file_is_digested_as_its_bytes(tmp_path: Path) -> None:
    """A temporary file of ours (a fetched URL) digests as the same bytes sent inline would."""
    book = journal(tmp_path / "audit")
    path = tmp_path / "fetched.bin"
    path.write_bytes(b"\x89PNG" * 300_000)
    assert book.digest(["caption", path]) == book.digest(["caption", b"\x89PNG" * 300_000])
    assert book.digest(["caption", path]) != book.digest(["caption", b"\x89PNG"])
    assert book.digest([]) is None


@pytest.mark.parametrize("policy", ["always", "interval", "never"])
def test_every_fsync_policy_writes_the_same_chain(tmp_path: Path, policy: str) -> None:
    book = journal(tmp_path / "audit", fsync=policy, max_bytes=4096)
    fill(book, 30)
    book.close()
    assert verify(tmp_path / "audit", KEYS).entries == 30


WRITER = """
import sys, time
from pathlib import Path
from mcpgram.audit.entry import JournalKeys
from mcpgram.audit.journal import AuditJournal
hold = sys.argv[5] == "hold"
keys = JournalKeys.derive(b"s" * 32)
book = AuditJournal(Path(sys.argv[1]), keys, max_bytes=int(sys.argv[3]), hold_lock=hold)
# Start together: each says it is ready, then waits for the other.
(Path(sys.argv[1]).parent / ("ready-" + sys.argv[4])).touch()
while len(list(Path(sys.argv[1]).parent.glob("ready-*"))) < 2:
    time.sleep(0.001)
for i in range(int(sys.argv[2])):
    assert book.record("tnt_" + sys.argv[4] * 16, "send_message", i + 1, "ok", b"x") is not None
    if hold:  # slower than the holder's check for waiters: the hand-over happens mid-way
        time.sleep(0.0003)
book.close()
"""


@pytest.mark.parametrize("mode", ["per-append", "hold"])
def test_two_processes_appending_at_once_keep_the_chain_linear(tmp_path: Path, mode: str) -> None:
    """Two processes write 3000 entries each at the same time, rotating as they go; --verify passes.
    With ``hold_lock`` in both, the first to append holds the lock until the other waits for it."""
    directory = tmp_path / "audit"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), "3000", "131072", letter, mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for letter in "ab"
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    verdict = verify(directory, KEYS)
    assert verdict.problem is None, str(verdict.problem)
    assert verdict.entries == 6000 and len(verdict.files) > 2
    tenants = [e.tenant[4] for e in newest(directory, Filter(), 6000)]
    assert tenants.count("a") == tenants.count("b") == 3000
    # Interleaved, not one process after the other (else the test proves nothing about the lock).
    assert sum(1 for x, y in itertools.pairwise(tenants) if x != y) > 2
