"""Reading a local file to send: only a plain, regular file under a root, named by a plain absolute path.

Only the stdio owner may send local files (the tools layer checks that); this module decides what a
path may name. It must lie under one of the roots: the ``local_file_roots`` setting plus the roots
the MCP client declares; with none, nothing is readable (the refusal says how to set one). The path
is resolved (``realpath``: every symlink, ``.`` and ``//``) before the root check, so a symlink
inside a root that points outside it is refused, and a path with ``..`` is refused outright. After
the open, the descriptor's own path (``/proc/self/fd``) is checked against the roots again, so a
directory swapped for a symlink between the check and the open gains nothing. The file is opened
once and checked through that open descriptor (``fstat``), so a path swapped for a device or a
bigger file between the check and the read gains nothing, and at most ``max_bytes + 1`` bytes are
ever read. Pseudo-filesystems (``/proc``, ``/sys``, ``/dev``) are refused outright: their "regular"
files report sizes that mean nothing and may block or leak.

Errors never carry the path (it may name a user, a project or a secret).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import InvalidArgument, TooLarge

__all__ = ["DEFAULT_MAX_FILE_BYTES", "ROOTS_HINT", "FileRefused", "LocalFile", "read_local_file"]

#: Largest local file sent (Telegram itself takes up to 2 GB; 50 MB keeps a call's memory bounded).
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
_PSEUDO = ("/proc", "/sys", "/dev")
#: What to do when no root admits a path (the stdio owner's own configuration).
ROOTS_HINT = (
    "set MCPGRAM_LOCAL_FILE_ROOTS to the directories files may be sent from (':'-separated), "
    "or share the folder as a root in the MCP client"
)


class FileRefused(InvalidArgument):
    """A path that names nothing sendable; ``code`` says why (``FILE_NOT_FOUND``, ``FILE_INVALID``)."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=code)


@dataclass(frozen=True)
class LocalFile:
    name: str
    data: bytes


def _invalid(message: str) -> FileRefused:
    return FileRefused(
        "FILE_INVALID", message, hint="give the absolute path of a regular file, e.g. /home/me/a.pdf"
    )


def _check_path(path: str) -> str:
    if not path or "\x00" in path:
        raise _invalid("not a file path")
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        raise _invalid("the file path must be absolute")
    if ".." in pure.parts:
        raise _invalid("the file path must not contain '..'")
    real = os.path.realpath(path)
    if any(real == root or real.startswith(root + "/") for root in _PSEUDO):
        raise _invalid("device and system files cannot be sent")
    return real


def _real_roots(roots: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The roots as resolved absolute directories (a root that is no directory admits nothing)."""
    found = []
    for root in roots:
        text = os.fspath(root)
        if os.path.isabs(text):
            real = os.path.realpath(text)
            if os.path.isdir(real):
                found.append(real.rstrip("/") or "/")
    return found


def _under(real: str, roots: list[str]) -> bool:
    return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def _outside() -> FileRefused:
    return FileRefused("FILE_OUTSIDE_ROOTS", "the file is not under a local file root", hint=ROOTS_HINT)


def _opened_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc (not Linux): the realpath check before the open stands alone
        return None


def read_local_file(
    path: str, *, roots: Sequence[str | os.PathLike[str]], max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> LocalFile:
    """The bytes and base name of a regular file under one of ``roots`` (blocking: run it in a thread).

    Raises:
        FileRefused: ``NO_FILE_ROOTS`` (no roots at all), ``FILE_OUTSIDE_ROOTS`` (not under one once
            resolved), ``FILE_INVALID`` (relative, ``..``, a directory, device, socket or empty
            file) or ``FILE_NOT_FOUND`` (missing or unreadable).
        TooLarge: over ``max_bytes``.
    """
    real_roots = _real_roots(roots)
    if not real_roots:
        raise FileRefused("NO_FILE_ROOTS", "no local file roots are configured", hint=ROOTS_HINT)
    real = _check_path(path)
    if not _under(real, real_roots):
        raise _outside()
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused right after.
        # O_NOFOLLOW: the resolved path's last part turned into a symlink since is refused.
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(real, flags)
    except IsADirectoryError:
        raise _invalid("the path is a directory, not a file") from None
    except OSError:
        raise FileRefused(
            "FILE_NOT_FOUND", "no readable file at this path", hint="check the path; it must exist"
        ) from None
    try:
        opened = _opened_path(fd)
        if opened is not None and not _under(opened, real_roots):
            raise _outside()
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _invalid("the path is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise _invalid("only regular files can be sent, not devices, pipes or sockets")
        limit_mb = max_bytes / (1024 * 1024)
        too_large = TooLarge(f"the file is over the {limit_mb:.3g} MB limit", hint="send a smaller file")
        if info.st_size > max_bytes:
            raise too_large
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise too_large
    if not data:
        raise _invalid("the file is empty")
    return LocalFile(name=PurePosixPath(real).name, data=data)
