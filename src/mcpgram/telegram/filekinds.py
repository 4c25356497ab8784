"""What a file to send is, by its content: photo or document, its MIME type and a safe name. Pure.

The first bytes decide (magic numbers), not the name: JPEG, PNG and WebP go as photos (up to
Telegram's 10 MB photo limit), GIF as a document (Telegram plays it as an animation), anything
else as a document. A declared type (a URL's ``Content-Type``, or the type the name's extension
implies) that contradicts the content for an image is refused: ``x.png`` holding a PDF, or
``report.pdf`` holding a PNG. Generic types (``application/octet-stream``) contradict nothing.

Names are cut to a plain base name (no directories, control characters or leading dots), so the
name another Telegram user sees cannot carry a path. The input shapes (:class:`FileBytes`,
:class:`LocalPath`, :class:`MediaRef`) live here too, so the tools layer can build them without
loading Telethon.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ..errors import InvalidArgument

__all__ = [
    "MAGIC_BYTES",
    "Arriving",
    "FileBytes",
    "FileInput",
    "FileKind",
    "LocalPath",
    "MediaRef",
    "Progress",
    "classify",
    "safe_name",
    "sniff_image",
]

#: Bytes of a file's head that :func:`sniff_image` looks at.
MAGIC_BYTES = 16
#: Telegram's limit for a photo; a bigger image goes as a document.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_IMAGE_TYPES = frozenset({*_PHOTO_TYPES, "image/gif"})
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")
_MAX_NAME = 128


Progress = Callable[[int, int], Awaitable[None]]
"""``(bytes sent, bytes in all) -> None``, awaited as an upload advances."""


class Arriving(Protocol):
    """A file still being written (a URL's body, ``fetch/streaming.py``): its final ``size`` is the
    declared one, its bytes become readable from ``path`` in order, and :meth:`complete` confirms
    (or refuses) the final count once the writer is done."""

    path: Path
    size: int | None

    async def wait_for(self, count: int) -> None: ...

    async def complete(self) -> int: ...


@dataclass(frozen=True)
class FileBytes:
    """A file to upload: its bytes (or the temporary file holding them, or one still arriving),
    name and declared type."""

    data: bytes | Path | Arriving
    name: str
    declared: str | None = None


@dataclass(frozen=True)
class LocalPath:
    """A local file (stdio only: the tools layer checks that), read under ``roots``."""

    path: str
    roots: tuple[str, ...]
    max_bytes: int


@dataclass(frozen=True)
class MediaRef:
    """Media the account has: the message (chat's marked id and message id) and the photo/document id."""

    chat: int
    message: int
    media: int


FileInput = FileBytes | LocalPath | MediaRef


@dataclass(frozen=True)
class FileKind:
    """How a file goes out: ``photo`` or ``document``, with the MIME type and name a document carries."""

    kind: Literal["photo", "document"]
    mime: str
    name: str


def sniff_image(head: bytes) -> str | None:
    """The image type the magic bytes at the start of a file announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_name(name: str, *, fallback: str = "file") -> str:
    """A plain base name: the last path part, no control characters, no leading dots, at most 128."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    if len(base) > _MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: _MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else base[:_MAX_NAME]
    return base or fallback


def _mismatch(message: str) -> InvalidArgument:
    return InvalidArgument(
        message,
        code="MIME_MISMATCH",
        hint="give the file a name and type that match its content (or none: the content decides)",
    )


def classify(head: bytes, size: int, *, name: str, declared: str | None = None) -> FileKind:
    """Photo or document for a file whose first bytes are ``head``.

    Args:
        head: at least the first :data:`MAGIC_BYTES` bytes (all of a shorter file).
        size: the file's size in bytes.
        name: its file name (already :func:`safe_name`).
        declared: the MIME type its source declared (lower-case ``type/subtype``), if any.

    Raises:
        InvalidArgument: ``MIME_MISMATCH`` when the name's or the declared type contradicts the
            content about being an image (either way).
    """
    sniffed = sniff_image(head)
    guessed = (mimetypes.guess_type(name, strict=False)[0] or "").lower()
    for claim in (declared or "", guessed):
        if claim in _GENERIC_TYPES or claim == sniffed:
            continue
        if claim.startswith("image/") and claim in _IMAGE_TYPES and sniffed != claim:
            content = f"a {sniffed.split('/')[1].upper()} image" if sniffed else "not an image"
            raise _mismatch(f"the file is declared {claim} but its content is {content}")
        if sniffed is not None and claim and not claim.startswith("image/"):
            raise _mismatch(f"the file is declared {claim} but its content is an image ({sniffed})")
    if sniffed in _PHOTO_TYPES and size <= MAX_PHOTO_BYTES:
        return FileKind("photo", sniffed, name)
    if sniffed is not None:
        return FileKind("document", sniffed, name)
    mime = declared if declared and declared not in _GENERIC_TYPES else guessed
    return FileKind("document", mime or "application/octet-stream", name)
