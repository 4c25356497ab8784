"""The HTTP parts of a file download: one ``Range``, a safe ``Content-Disposition``, a media type. Pure.

:func:`parse_range` reads a ``Range`` header (RFC 9110 14.2) against the file's size:

- none, another unit, or a malformed one: the whole file (200), as the RFC lets a server ignore it;
- one satisfiable range (``bytes=A-B``, ``bytes=A-``, ``bytes=-N``): that range (206), the end
  clipped to the file;
- several ranges: the whole file (200). A ``multipart/byteranges`` answer buys clients nothing a
  second request would not, and costs a server a multipart encoder and more Telegram reads;
- one range that starts past the end (or ``bytes=-0``, or any range of an empty file):
  :data:`UNSATISFIABLE` (416, ``Content-Range: bytes */size``);
- with ``If-Range``: the whole file, since these answers carry no validator it could match.

:func:`content_disposition` is ``attachment`` with an ASCII fallback name and the UTF-8 name
(RFC 6266, RFC 8187), neither able to carry a path, a quote or a control character.

Must not: do I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

__all__ = ["UNSATISFIABLE", "ByteRange", "content_disposition", "media_type", "parse_range", "safe_filename"]


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive, of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class _Unsatisfiable:
    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE: Final = _Unsatisfiable()
_SPEC = re.compile(r"^([0-9]{0,19})-([0-9]{0,19})$")
_MAX_NAME_CHARS = 120
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;%]')


def parse_range(
    header: str | None, size: int, *, if_range: str | None = None
) -> ByteRange | _Unsatisfiable | None:
    """The range to serve, :data:`UNSATISFIABLE`, or None for the whole file (see module doc)."""
    if header is None or if_range is not None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 1:
        return None
    match = _SPEC.match(parts[0])
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:  # suffix: the last N bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size - 1, size)
    start = int(match[1])
    if match[2] and int(match[2]) < start:
        return None  # invalid: ignored, the whole file
    if start >= size:
        return UNSATISFIABLE
    end = int(match[2]) if match[2] else size - 1
    return ByteRange(start, min(end, size - 1), size)


def safe_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """``name`` without any directory, control or reserved character, NFC, at most 120 characters."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(text) > _MAX_NAME_CHARS:
        _, dot, ext = text.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        text = text[: _MAX_NAME_CHARS - len(keep) - 1].rstrip(" .") + ("." + keep if keep else "")
    return text or fallback


def content_disposition(name: str | None) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` for ``name``, made safe."""
    safe = safe_filename(name)
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 else "_" for ch in safe)
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != safe:
        value += "; filename*=UTF-8''" + quote(safe, safe="")
    return value


def media_type(mime: str | None) -> str:
    """``mime`` if it is a plain ``type/subtype`` (no parameters), else ``application/octet-stream``."""
    text = (mime or "").strip().lower()
    return text if _MEDIA_TYPE.match(text) else "application/octet-stream"
