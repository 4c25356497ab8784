"""A change marker shared by every process on one data dir: 8 bytes in a file, read with ``pread``.

The policy book keeps each tenant's parsed policy in memory and must still obey ``mcpgram policy
set`` run in another process at the next call. Reading the stored policy from SQLite costs more
than the rest of the policy check (~17 k instructions for the statement alone, bench/README.md
"guardcost"); reading this marker costs one ``pread`` of 8 bytes.

A writer changes the marker *after* its transaction commits (random bytes: no read-modify-write to
race), and a reader reads the marker *before* the row: a reader that saw the old marker may have
read either row and looks again at its next call; one that saw the new marker reads the new row.
When the file cannot be opened, or reads short (truncated by hand), :meth:`ChangeMarker.read`
returns None and callers read the store every time, as without the marker. One ``pread`` on a
descriptor kept open (about a microsecond), not ``mmap``: a mapped file truncated under a running
server would kill it with SIGBUS.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__all__ = ["ChangeMarker"]

log = logging.getLogger(__name__)

_SIZE = 8


class ChangeMarker:
    """The marker in ``path`` (created 0600 beside the vault file at its first use)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._tried = False

    def read(self) -> bytes | None:
        """The marker now, or None if there is none (then nothing may be cached)."""
        fd = self._fd
        if fd is None:
            if self._tried:
                return None
            fd = self._open()
            if fd is None:
                return None
        try:
            marker = os.pread(fd, _SIZE, 0)
        except OSError:
            return None
        return marker if len(marker) == _SIZE else None

    def _open(self) -> int | None:
        self._tried = True
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("vault.marker_unavailable", extra={"error": type(exc).__name__})
            return None
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.pwrite(fd, os.urandom(_SIZE), 0)
        except OSError as exc:
            log.warning("vault.marker_unavailable", extra={"error": type(exc).__name__})
            os.close(fd)
            return None
        self._fd = fd
        return fd

    def change(self) -> None:
        """Tell every process that something changed (call it after the change has committed)."""
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.pwrite(fd, os.urandom(_SIZE), 0)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._tried = True  # a closed store reads the vault every time
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
