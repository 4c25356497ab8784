"""``mcpgram audit``: listing with filters, --head, and --verify against each kind of tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpgram.audit.entry import JournalKeys
from mcpgram.audit.journal import AuditJournal
from mcpgram.audit.reading import journal_files
from mcpgram.datadir import SERVER_SECRET_FILE, ensure_data_dir, read_or_create_key

from .conftest import run_cli

ALICE, BOB = "tnt_" + "a" * 16, "tnt_" + "b" * 16


def write_journal(data_dir: Path, n: int = 12, *, max_bytes: int = 16 * 1024 * 1024) -> Path:
    """``n`` entries alternating between two tenants, under the data dir's own server secret."""
    ensure_data_dir(data_dir)
    keys = JournalKeys.derive(read_or_create_key(data_dir, SERVER_SECRET_FILE))
    book = AuditJournal(data_dir / "audit", keys, max_bytes=max_bytes, clock=lambda: 1_750_000_000.0)
    for i in range(n):
        tool, outcome = ("send_message", "ok") if i % 3 else ("delete_messages", "NOT_ALLOWED")
        book.record(ALICE if i % 2 else BOB, tool, 1000 + i, outcome, b"x", kind="write")
    book.close()
    return data_dir / "audit"


def audit(data_dir: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    done = run_cli("audit", *args, "--data-dir", str(data_dir), stdin=stdin)
    return done.code, done.out, done.err


def test_filters_pick_the_newest_matching_entries(data_dir: Path) -> None:
    write_journal(data_dir)
    code, out, _ = audit(data_dir, "--json", "--tenant", ALICE, "--tool", "send_message", "--limit", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["seq"] for r in rows] == [6, 8, 12]
    assert all(r["tenant"] == ALICE and r["tool"] == "send_message" for r in rows)
    code, out, _ = audit(data_dir, "--json", "--outcome", "NOT_ALLOWED")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 4, 7, 10]
    code, out, _ = audit(data_dir, "--json", "--since", "2025-06-15T15:06:41Z")
    assert code == 0 and out == ""
    code, out, _ = audit(data_dir, "--json", "--since", "2025-06-15")
    assert len(out.splitlines()) == 12
    code, out, _ = audit(data_dir, "--limit", "2")
    header, *rows_text = out.splitlines()
    assert header.split() == ["seq", "time", "tenant", "kind", "tool", "chat", "outcome", "content"]
    assert [row.split()[0] for row in rows_text] == ["11", "12"]


def test_content_stdin_finds_the_entries_of_a_text(tmp_path: Path, data_dir: Path) -> None:
    ensure_data_dir(data_dir)
    keys = JournalKeys.derive(read_or_create_key(data_dir, SERVER_SECRET_FILE))
    book = AuditJournal(data_dir / "audit", keys)
    book.append(
        tenant=ALICE, kind="write", tool="send_message", chat=1, outcome="ok", content=book.digest(["hi"])
    )
    book.append(
        tenant=ALICE, kind="write", tool="send_message", chat=2, outcome="ok", content=book.digest(["ho"])
    )
    book.close()
    code, out, _ = audit(data_dir, "--json", "--content-stdin", stdin="hi")
    assert code == 0 and [json.loads(line)["chat"] for line in out.splitlines()] == [1]


def test_verify_passes_an_intact_journal_across_rotated_files(data_dir: Path) -> None:
    directory = write_journal(data_dir, 60, max_bytes=4096)
    assert len(journal_files(directory)) > 2
    code, _, err = audit(data_dir, "--verify")
    assert code == 0 and "ok: 60 entries in" in err and "the chain holds" in err


def _edit(directory: Path) -> str:
    path = directory / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"outcome":"ok"', b'"outcome":"NO"')
    path.write_bytes(b"".join(lines))
    return "audit.jsonl line 5: entry seq 5 does not match its mac"


def _delete(directory: Path) -> str:
    path = directory / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:6], *lines[7:]]))
    return "audit.jsonl line 7: seq 8 where 7 was expected"


def _reorder(directory: Path) -> str:
    path = directory / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_bytes(b"".join(lines))
    return "audit.jsonl line 3: seq 4 where 3 was expected"


def _truncate(directory: Path) -> str:
    path = directory / "audit.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    return "audit.jsonl line 12: the line is incomplete"


def _remove_middle_file(directory: Path) -> str:
    files = journal_files(directory)
    files[1].unlink()
    return f"{files[2].name} line 1: seq"


TAMPERINGS = {
    "edited": _edit,
    "deleted": _delete,
    "reordered": _reorder,
    "truncated": _truncate,
    "file-removed": _remove_middle_file,
}


@pytest.mark.parametrize("kind", TAMPERINGS)
def test_verify_fails_naming_the_first_broken_line(data_dir: Path, kind: str) -> None:
    """Each tampering: exit 1 and one line naming the file and line; intact before it, too."""
    directory = write_journal(data_dir, 12, max_bytes=4096 if kind == "file-removed" else 16 * 1024 * 1024)
    if kind == "file-removed":
        write_journal(data_dir, 40, max_bytes=4096)  # more files: one to take out of the middle
    assert audit(data_dir, "--verify")[0] == 0
    expected = TAMPERINGS[kind](directory)
    code, out, err = audit(data_dir, "--verify")
    assert code == 1 and out == ""
    assert err.startswith("mcpgram: the audit journal is broken at ") and expected in err, err
    assert len(err.strip().splitlines()) == 1


def test_head_anchors_the_end_of_the_journal(data_dir: Path) -> None:
    """--head prints SEQ:MAC; --verify --anchor with it finds entries later cut from the end."""
    directory = write_journal(data_dir, 6)
    code, head, _ = audit(data_dir, "--head")
    assert code == 0 and head.strip().startswith("6:") and len(head.strip()) == 2 + 64
    assert audit(data_dir, "--verify", "--anchor", head.strip())[0] == 0
    path = directory / "audit.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:4]))
    assert audit(data_dir, "--verify")[0] == 0  # without the anchor a clean cut cannot be seen
    code, _, err = audit(data_dir, "--verify", "--anchor", head.strip())
    assert code == 1 and "ends at seq 4, before the anchor's seq 6" in err


def test_bad_flags_are_usage_errors(data_dir: Path) -> None:
    write_journal(data_dir, 2)
    for args in (
        ["--anchor", "1:ab"],
        ["--verify", "--anchor", "x"],
        ["--since", "yesterday"],
        ["--limit", "0"],
    ):
        code, _, err = audit(data_dir, *args)
        assert code == 2 and err.startswith("mcpgram: "), (args, err)


def test_an_empty_journal_verifies_and_lists_nothing(data_dir: Path) -> None:
    assert audit(data_dir, "--verify")[0] == 0
    code, _, err = audit(data_dir)
    assert code == 0 and "no entries match" in err


def test_verify_exits_1_in_a_real_process(data_dir: Path) -> None:
    """The installed command, as an operator's cron job runs it: exit status and one stderr line."""
    import os
    import subprocess
    import sys

    directory = write_journal(data_dir, 4)
    path = directory / "audit.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"chat":1001', b'"chat":1009'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGRAM_")}
    done = subprocess.run(
        [sys.executable, "-m", "mcpgram", "audit", "--verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        "mcpgram: the audit journal is broken at audit.jsonl line 2: entry seq 2 does not match its mac"
        " (the line was edited, or another key wrote it)"
    )
