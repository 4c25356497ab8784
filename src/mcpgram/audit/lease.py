"""Who may append to the journal now: ``flock`` on ``audit.lock``, taken per append or held between.

Every process appending to one journal directory takes an exclusive ``flock`` on ``audit.lock``
around each append (``journal.py``). That costs a process two system calls per entry for the lock
and a third to learn whether another process wrote meanwhile; a server that is the only one
writing (``serve`` with one worker, stdio) pays them for nothing on every write.

So a journal created with ``hold=True`` keeps the lock after its first append and appends without
locking again: while it holds the lock, nobody else can have written, so it need not look at the
file either. It gives the lock up as soon as anyone else wants it: a process that finds the lock
held (``LOCK_NB`` fails) takes a shared ``flock`` on ``audit.wait`` before it waits for the lock, and
the holder's watcher thread, which tries ``audit.wait`` exclusively every ``check_seconds``, sees it
and releases. The waiter waits at most about that long, once: from then on both processes lock per
append (neither holds again), so ``serve --workers N`` (which never holds: ``wiring.journal_for``)
and a second process started by hand on the same data dir keep one chain. A holder idle for a
second lets go too, and stops its watcher, until its next append. A process that dies holding the
lock loses it with its descriptors, as with any ``flock``.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import threading
import time
from pathlib import Path

__all__ = ["AppendLock", "open_private"]

log = logging.getLogger(__name__)

LOCK_FILE = "audit.lock"
WAIT_FILE = "audit.wait"
#: How often a holder looks for a process waiting to append (the longest that one waits, once).
CHECK_SECONDS = 0.05
#: A holder that has not appended for this long lets go and stops watching (an idle server wakes
#: nobody up 20 times a second); its next append takes the lock again and holds it.
IDLE_SECONDS = 1.0
_PRIVATE_MODE = 0o600
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def open_private(path: Path) -> int:
    """Open (creating 0600) a journal file of ours; a link, another owner or not a file is refused."""
    fd = os.open(path, _OPEN_FLAGS, _PRIVATE_MODE)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise OSError(errno.EPERM, "not a journal file of ours")
    if stat.S_IMODE(info.st_mode) != _PRIVATE_MODE:
        os.fchmod(fd, _PRIVATE_MODE)
    return fd


class AppendLock:
    """The journal directory's append lock for one process (see the module doc).

    :meth:`acquire` and :meth:`release` bracket each append, from one thread at a time (the
    journal's own lock); the watcher thread only ever runs between them.

    Args:
        directory: The journal directory (``audit.lock`` and ``audit.wait`` live there).
        hold: Keep the lock between appends until another process wants it.
        check_seconds: How often a holder looks for a waiting process.
    """

    def __init__(self, directory: Path, *, hold: bool = False, check_seconds: float = CHECK_SECONDS) -> None:
        self._directory = directory
        self._may_hold = hold
        self._check_seconds = check_seconds
        self._mutex = threading.Lock()
        self._lock_fd = -1
        self._wait_fd = -1
        self._used_at = 0.0
        #: Whether this process holds ``audit.lock`` between appends now.
        self.holding = False
        #: The thread watching for waiters while this process holds the lock (the latest one).
        self.watcher: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lock for one append; True if this process has held it since its last append
        (then nobody else can have written meanwhile)."""
        self._mutex.acquire()
        try:
            if self.holding:
                return True
            if self._lock_fd < 0:
                self._lock_fd = open_private(self._directory / LOCK_FILE)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._wait_for_holder()
            return False
        except BaseException:
            self._mutex.release()
            raise

    def release(self, now: float | None = None) -> None:
        """End one append (``now``: its ``time.monotonic()``): keep the lock (``hold``, and no
        contention seen yet) or let it go."""
        try:
            self._used_at = time.monotonic() if now is None else now
            if self.holding:
                return
            if self._may_hold:
                self.holding = True
                self.watcher = threading.Thread(target=self._watch, name="mcpgram-audit-lock", daemon=True)
                self.watcher.start()
                return
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def close(self) -> None:
        with self._mutex:
            self.holding = False
            for fd in (self._lock_fd, self._wait_fd):
                if fd >= 0:
                    os.close(fd)  # closing the descriptor releases its flock
            self._lock_fd = self._wait_fd = -1

    def _wait_for_holder(self) -> None:
        """Another process holds the lock: say so on ``audit.wait`` and wait for it; hold no more."""
        self._may_hold = False  # two appending processes: each locks per append from now on
        if self._wait_fd < 0:
            self._wait_fd = open_private(self._directory / WAIT_FILE)
        fcntl.flock(self._wait_fd, fcntl.LOCK_SH)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        finally:
            fcntl.flock(self._wait_fd, fcntl.LOCK_UN)

    def _watch(self) -> None:
        """While holding: every ``check_seconds``, let the lock go if a process waits for it."""
        while True:
            time.sleep(self._check_seconds)
            with self._mutex:
                if not self.holding:
                    return
                if self._someone_waits():
                    self.holding = self._may_hold = False
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    log.info("audit.lock_shared", extra={"reason": "another process appends to the journal"})
                    return
                if time.monotonic() - self._used_at >= IDLE_SECONDS:
                    self.holding = False  # idle: let go; the next append holds it again
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    return

    def _someone_waits(self) -> bool:
        try:
            if self._wait_fd < 0:
                self._wait_fd = open_private(self._directory / WAIT_FILE)
            fcntl.flock(self._wait_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return True  # cannot tell: stop holding, locking per append is always right
        fcntl.flock(self._wait_fd, fcntl.LOCK_UN)
        return False
