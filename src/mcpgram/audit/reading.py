"""Reading the journal: its files in order, the newest entries that match a filter, and ``verify``.

Nothing here writes, and nothing needs the lock: a line is written whole with ``O_APPEND``, so a
reader sees whole lines, and at worst misses the newest (a partial line at the end is skipped when
listing; ``verify`` reports it). Listing walks the files from the newest backwards in blocks, so
the newest entries cost what they weigh, not the journal's size; ``verify`` reads every file once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .entry import ChainCheck, Entry, JournalKeys, Problem, parse_entry
from .journal import ACTIVE_FILE, ROTATED, Head

__all__ = ["Filter", "Verdict", "journal_files", "newest", "verify"]

_BLOCK = 64 * 1024


def journal_files(directory: Path) -> list[Path]:
    """The journal's files, oldest first: the rotated ones by seq, then ``audit.jsonl``."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    rotated = sorted((int(m.group(1)), name) for name in names if (m := ROTATED.match(name)))
    files = [directory / name for _, name in rotated]
    if ACTIVE_FILE in names:
        files.append(directory / ACTIVE_FILE)
    return files


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)


def _lines(path: Path) -> Iterator[bytes]:
    """A file's lines, oldest first, each with its newline (the last may lack one)."""
    with os.fdopen(_open(path), "rb") as file:
        yield from file


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """A file's lines, newest first, without newlines."""
    with os.fdopen(_open(path), "rb") as file:
        position = file.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            file.seek(position)
            pieces = (file.read(step) + rest).split(b"\n")
            rest = pieces[0]
            for piece in reversed(pieces[1:]):
                if piece:
                    yield piece
        if rest:
            yield rest


@dataclass(frozen=True)
class Filter:
    """Which entries to list; an empty field matches everything. ``since`` is an entry time string."""

    tenant: str = ""
    tool: str = ""
    outcome: str = ""
    kind: str = ""
    content: str = ""
    since: str = ""

    def matches(self, entry: Entry) -> bool:
        return (
            (not self.tenant or entry.tenant == self.tenant)
            and (not self.tool or entry.tool == self.tool)
            and (not self.outcome or entry.outcome == self.outcome)
            and (not self.kind or entry.kind == self.kind)
            and (not self.content or entry.content == self.content)
            and (not self.since or entry.time >= self.since)
        )


def newest(directory: Path, where: Filter, limit: int, *, max_scan_bytes: int | None = None) -> list[Entry]:
    """The newest ``limit`` entries ``where`` matches, oldest first.

    Args:
        directory: The journal's directory.
        where: The filter.
        limit: At most this many entries.
        max_scan_bytes: Stop after reading this much of the journal (None: all of it), so a
            tenant's request cannot make the server read a large journal end to end.
    """
    found: list[Entry] = []
    scanned = 0
    # Entries are in time order, so an entry older than ``since`` ends the walk; the tenant is
    # looked for in the bytes first, so other tenants' lines are not parsed.
    needle = f'"tenant":"{where.tenant}"'.encode() if where.tenant else b""
    for path in reversed(journal_files(directory)):
        for line in _lines_backwards(path):
            scanned += len(line) + 1
            if max_scan_bytes is not None and scanned > max_scan_bytes:
                return found[::-1]
            if needle and needle not in line:
                continue
            try:
                entry = parse_entry(line)
            except ValueError:
                continue
            if where.since and entry.time < where.since:
                return found[::-1]
            if where.matches(entry):
                found.append(entry)
                if len(found) >= limit:
                    return found[::-1]
    return found[::-1]


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: the first problem (None: the chain holds), entries, files, head."""

    problem: Problem | None
    entries: int
    files: list[str]
    head: Head | None


def verify(directory: Path, keys: JournalKeys, *, anchor: Head | None = None) -> Verdict:
    """Check the whole chain across every file; the first break, or None.

    Finds edited, inserted, removed, reordered and cut lines, files removed from the start or the
    middle, and a rotated file cut at its end (its name gives its last seq). Entries removed from
    the very end, or a journal rewritten whole by someone holding the server secret, show only
    against an ``anchor``: a head exported earlier (``mcpgram audit --head``), which must still be
    in the chain with the same mac.
    """
    check = ChainCheck(keys)
    files = journal_files(directory)
    anchored: Entry | None = None
    anchored_at = end_at = (ACTIVE_FILE, 0)
    for path in files:
        number = 0
        for number, line in enumerate(_lines(path), start=1):  # the last number is used below
            if not check.feed(path.name, number, line):
                return Verdict(check.problem, check.count, [p.name for p in files], None)
            end_at = (path.name, number)
            if anchor is not None and check.last is not None and check.last.seq == anchor.seq:
                anchored, anchored_at = check.last, end_at
        named = ROTATED.match(path.name)
        if named and (check.last is None or check.last.seq != int(named.group(1))):
            ends = check.last.seq if check.last is not None else 0
            said = int(named.group(1))
            reason = f"the file ends at seq {ends}, but its name says {said} (entries cut from its end)"
            return Verdict(Problem(path.name, number, reason), check.count, [p.name for p in files], None)
    head = Head(check.last.seq, check.last.mac) if check.last is not None else None
    problem = None
    if anchor is not None:
        if anchored is None:
            ends = head.seq if head is not None else 0
            reason = f"the journal ends at seq {ends}, before the anchor's seq {anchor.seq} (entries removed)"
            problem = Problem(*end_at, reason)
        elif anchored.mac != anchor.mac:
            reason = f"entry seq {anchor.seq} is not the anchored one (the journal was rewritten)"
            problem = Problem(*anchored_at, reason)
    return Verdict(problem, check.count, [p.name for p in files], head)
