"""The journal's files: append one entry under an OS lock, rotate by size, carry the chain across.

``data_dir/audit/`` (0700) holds ``audit.jsonl``, the file appended to; ``audit.<seq>.jsonl``, the
rotated files, each named by the 12-digit seq of its last entry (0400); and ``audit.lock`` (0600).

Every process serving the data dir (``serve --workers N``) appends to the same chain: an append
takes ``flock`` on ``audit.lock``, looks at ``audit.jsonl`` (one ``fstat``), and if another process
wrote or rotated since this one last did, reads the last entry back (one ``pread`` of the tail) to
chain to it. Then it writes one line with ``O_APPEND`` and releases the lock, so the chain stays one
line after another whatever the number of writers. A journal made with ``hold_lock`` (the only
serving process) keeps the lock between appends until another process wants it (``lease.py``), and
appends with one system call, the ``write``; it then looks at the file (``fstat`` and its path)
once a second, so a file deleted by hand under it is noticed within a second, not at once.

Past ``max_bytes`` the file is renamed to its rotated name (never over an existing file) and a new
one started; its first entry chains to the last of the old file, as any entry does.

Durability (``fsync``): every entry is in the kernel before :meth:`AuditJournal.append` returns, so
a crashed or killed process loses nothing. Power loss or a kernel crash can lose what the disk has
not stored yet: ``always`` syncs each entry (an entry is on disk before the tool's result goes out;
one disk flush per write), ``interval`` at most once a second (up to a second of entries at risk),
``never`` leaves it to the OS (Linux writes back within about 30 s).

An append never raises: the write it records has already happened, and an error here must not make
an agent retry it. A failure is logged (``audit.write_failed``, the errno name only) and the entry is
lost; ``mcpgram audit --verify`` cannot see a lost entry, so watch that log event.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from ..datadir import ensure_data_dir
from .entry import (
    GENESIS,
    JournalKeys,
    Kind,
    clean_name,
    content_hex,
    encode_line,
    entry_template,
    parse_entry,
    part_frame,
    time_field,
)
from .lease import AppendLock, open_private

__all__ = ["ACTIVE_FILE", "AuditJournal", "FsyncPolicy", "Head", "last_line"]

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]
ACTIVE_FILE = "audit.jsonl"
ROTATED = re.compile(r"^audit\.(\d{12})\.jsonl$")
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
FSYNC_INTERVAL_SECONDS = 1.0
_TAIL_BYTES = 4096
_ACTIVE_MODE = 0o600
_ROTATED_MODE = 0o400
_PATH_CHECK_SECONDS = 1.0
#: A chat id as the tools read one (``telegram/refs.py``); a phone number needs a ``+`` or spaces.
_CHAT_ID = re.compile(r"-?\d{1,20}", re.ASCII)


class Head(NamedTuple):
    """The newest entry's seq and mac: exported, it anchors the chain (``mcpgram audit --head``)."""

    seq: int
    mac: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"


_new_head = tuple.__new__


def last_line(fd: int, size: int) -> tuple[bytes | None, bool]:
    """The last complete line of the file ``fd`` (``size`` bytes) and whether a partial one follows it."""
    window = _TAIL_BYTES
    while True:
        start = max(0, size - window)
        data = os.pread(fd, size - start, start)
        partial = not data.endswith(b"\n") and size > 0
        end = data.rfind(b"\n")
        if end == -1:
            if start == 0:
                return None, partial
            window *= 4
            continue
        begin = data.rfind(b"\n", 0, end)
        if begin == -1 and start > 0:
            window *= 4
            continue
        return data[begin + 1 : end + 1], partial


class AuditJournal:
    """Appends entries to the journal in ``directory``; one per process, shared through the files.

    Args:
        directory: ``data_dir/audit``; created 0700 if missing, refused if others may write to it.
        keys: Derived from the server secret (:meth:`JournalKeys.derive`).
        max_bytes: Rotate the file before an entry would take it past this size.
        fsync: ``always``, ``interval`` or ``never`` (see the module doc).
        clock: Wall-clock seconds for entry times (tests pass a fixed one).
        hold_lock: Keep the append lock between appends until another process wants it
            (``lease.py``): for a process that is usually the only one writing.
    """

    def __init__(
        self,
        directory: Path,
        keys: JournalKeys,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: FsyncPolicy = "interval",
        clock: Callable[[], float] = time.time,
        hold_lock: bool = False,
    ) -> None:
        self.directory = ensure_data_dir(directory)
        self.keys = keys
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._clock = clock
        self._path = self.directory / ACTIVE_FILE
        self._thread_lock = threading.Lock()  # flock does not exclude threads sharing one descriptor
        self._lock = AppendLock(self.directory, hold=hold_lock)
        self._fd = -1
        self._path_checked_at = 0.0
        #: The active file's size after our last write, with the seq and mac written then; a size
        #: that differs means another process appended or rotated, and the tail is read again.
        self._end = -1
        self._seq = 0
        self._mac = GENESIS
        self._synced_at = 0.0
        #: Seconds between fsyncs: 0 syncs every entry, infinity never.
        self._sync_every = {"always": 0.0, "interval": FSYNC_INTERVAL_SECONDS}.get(fsync, math.inf)

    # -- recording -----------------------------------------------------------------------------

    def record(
        self,
        tenant_id: str,
        tool_or_method: str,
        chat: int | str | None,
        outcome: str,
        content: bytes | None = None,
        *,
        kind: Kind = "raw",
    ) -> Head | None:
        """Record one call: a raw MTProto method (the default kind) or any other ``kind``.

        Args:
            tenant_id: Whose call it was.
            tool_or_method: The tool name or MTProto method (``messages.sendMessage``).
            chat: The target chat's marked id (a numeric string is read as one); anything else,
                a username or phone number, is not recorded.
            outcome: ``ok``, or the error code the caller got.
            content: The bytes the call carried (serialised request, text...): only their keyed
                digest is kept.
        """
        digest = None if content is None else self.keys.content_digest([content])
        return self.append(
            tenant=tenant_id,
            kind=kind,
            tool=tool_or_method,
            chat=chat_id(chat),
            outcome=outcome,
            content=digest,
        )

    def record_approval(
        self,
        tenant_id: str,
        tool: str,
        chat: int | str | None,
        outcome: str,
        content: Sequence[str | bytes] = (),
    ) -> Head | None:
        """Record an approval's end: ``outcome`` is ``approved``, ``refused`` or ``expired`` (or a code).

        ``content`` is the approved action's content parts (text, file bytes), digested as the
        write's own entry digests them, so both entries carry the same ``content``.
        """
        return self.append(
            tenant=tenant_id,
            kind="approval",
            tool=tool,
            chat=chat_id(chat),
            outcome=outcome,
            content=self.digest(content),
        )

    def digest(self, parts: Sequence[str | bytes | Path]) -> str | None:
        """The ``content`` field for these parts (a ``Path`` is a file of ours, read here); None if none.

        Reads files from disk: call it off the event loop when a part is a ``Path``.
        """
        if not parts:
            return None
        if not any(isinstance(part, Path) for part in parts):
            return self.keys.content_digest(parts)  # type: ignore[arg-type]  # no Path among them
        mac = self.keys.content_mac()
        for part in parts:
            if isinstance(part, Path):
                with part.open("rb") as file:
                    mac.update(part_frame(b"", os.fstat(file.fileno()).st_size))
                    while chunk := file.read(1 << 20):
                        mac.update(chunk)
            else:
                data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
                mac.update(part_frame(part, len(data)))
                mac.update(data)
        return content_hex(mac)

    def append(  # one argument per field
        self, *, tenant: str, kind: Kind, tool: str, chat: int | None, outcome: str, content: str | None
    ) -> Head | None:
        """Append one entry; its seq and mac, or None if it could not be written (logged)."""
        template = entry_template(tenant, kind, tool, outcome)
        with self._thread_lock:
            now = time.monotonic()  # one clock read for the path check, the lease and the fsync
            try:
                head = self._append_locked(template, chat, content, now)
            except OSError as exc:
                self._end = -1  # read the tail again next time
                name = errno.errorcode.get(exc.errno or 0, "EIO")
                log.error("audit.write_failed", extra={"error": name, "tool": clean_name(tool)})
                return None
            if now - self._synced_at >= self._sync_every:
                self._sync()
            return head

    def close(self) -> None:
        with self._thread_lock:
            if self._fd >= 0:
                os.close(self._fd)
            self._fd = -1
            self._end = -1
            self._lock.close()

    # -- under the lock ------------------------------------------------------------------------

    def _append_locked(self, template: bytes, chat: int | None, content: str | None, now: float) -> Head:
        still_ours = self._lock.acquire()
        try:
            # Held since our last append: nobody else wrote, and the file is looked at once a second.
            fresh = now - self._path_checked_at < _PATH_CHECK_SECONDS
            current = still_ours and self._end >= 0 and fresh
            size = self._end if current else self._current_size()
            if size != self._end:
                size = self._load_tail(size)
            seq = self._seq + 1
            stamp = time_field(self._clock())
            line, mac = encode_line(self.keys, template, seq, stamp, chat, content, self._mac)
            if size > 0 and size + len(line) > self._max_bytes and self._rotate():
                size = 0
            if os.write(self._fd, line) != len(line):
                raise OSError(errno.ENOSPC, "short write")
            self._seq = seq
            self._mac = mac
            self._end = size + len(line)
            return _new_head(Head, (seq, mac))  # Head(seq, mac) without its Python-level __new__
        finally:
            self._lock.release(now)

    def _current_size(self) -> int:
        """The active file's size, (re)opening it if it is not the file our descriptor holds.

        ``fstat`` on our descriptor says whether another process rotated it (a rotated file is
        made read-only first, :meth:`_rotate`) or someone deleted it; the path itself is looked
        up at most once a second, in case the file was moved by hand: a path lookup costs 10-20
        times an ``fstat`` in a busy server (bench/audit.py).
        """
        if self._fd >= 0:
            info = os.fstat(self._fd)
            same = info.st_mode & 0o7777 == _ACTIVE_MODE and info.st_nlink > 0
            if same:
                now = time.monotonic()
                if now - self._path_checked_at < _PATH_CHECK_SECONDS:
                    return info.st_size
                self._path_checked_at = now
                try:
                    same = os.stat(self._path, follow_symlinks=False).st_ino == info.st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    return info.st_size
            os.close(self._fd)
            self._fd = -1
        self._fd = open_private(self._path)
        self._path_checked_at = time.monotonic()
        self._end = -1
        return os.fstat(self._fd).st_size

    def _load_tail(self, size: int) -> int:
        """Chain to the newest entry on disk (ours or another process's); returns the size after."""
        if size == 0:
            self._seq, self._mac = self._newest_rotated()
            return 0
        line, partial = last_line(self._fd, size)
        if partial:
            # A write was cut short (a crash mid-line): end that line, so ours starts a line of its
            # own. The cut line stays, and --verify reports it.
            os.write(self._fd, b"\n")
            size += 1
        self._seq, self._mac = self._chain_point(line)
        return size

    def _newest_rotated(self) -> tuple[int, str]:
        rotated = sorted(
            (int(m.group(1)), name) for name in os.listdir(self.directory) if (m := ROTATED.match(name))
        )
        if not rotated:
            return 0, GENESIS
        fd = os.open(self.directory / rotated[-1][1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            line, _ = last_line(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        return self._chain_point(line)

    def _chain_point(self, line: bytes | None) -> tuple[int, str]:
        if line is None:
            return 0, GENESIS
        try:
            entry = parse_entry(line)
        except ValueError:
            # The newest line is not an entry (damaged or edited): the chain starts again at seq 1,
            # and --verify names that line as the first break.
            log.error("audit.chain_restarted", extra={"reason": "the newest line is not an entry"})
            return 0, GENESIS
        return entry.seq, entry.mac

    def _rotate(self) -> bool:
        """Rename the active file to its rotated name and open a new one; False if that name is taken."""
        target = self.directory / f"audit.{self._seq:012d}.jsonl"
        try:
            os.link(self._path, target)  # never replaces an existing file, unlike rename
        except FileExistsError:
            log.error("audit.rotation_skipped", extra={"reason": "the rotated file name exists"})
            return False
        # Read-only from now on: the sign, for every process holding it open, to open the new one.
        os.fchmod(self._fd, _ROTATED_MODE)
        os.unlink(self._path)
        os.close(self._fd)
        self._fd = -1
        self._current_size()
        if self._fsync != "never":
            _sync_directory(self.directory)
        return True

    def _sync(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                log.error("audit.fsync_failed", extra={"error": errno.errorcode.get(exc.errno or 0, "EIO")})
        self._synced_at = time.monotonic()


def chat_id(chat: int | str | None) -> int | None:
    """A chat's marked id from an int or a numeric string; None for anything else (never a phone)."""
    if isinstance(chat, bool):
        return None
    if isinstance(chat, int):
        return chat
    if isinstance(chat, str) and _CHAT_ID.fullmatch(chat.strip()):
        value = int(chat)
        return value if 0 < abs(value) < 2**63 else None
    return None


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
