"""Files in the sandbox: pending uploads, their assembly, and small pure helpers about file bytes.

Uploads follow https://core.telegram.org/api/files: a client splits a file into parts of one
``part_size`` (divisible by 1 KiB, dividing 512 KiB; only the last part may be smaller), saves them
with ``upload.saveFilePart`` / ``upload.saveBigFilePart`` under a random ``file_id``, then names the
upload with an ``InputFile`` / ``InputFileBig`` in a media method, which assembles and stores it.
Pending parts live in ``World.uploads`` keyed by ``(user id, file_id)``; the bytes a user may keep
pending are capped (``World.upload_cap``), oldest uploads going first, as Telegram expires them.

Image sizes are read from PNG / JPEG / GIF / WebP headers without decoding the image.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

from telethon.tl import types

from .router import RpcError
from .world import World

PART_MAX = 512 * 1024
MAX_PARTS = 4000


@dataclass
class PendingUpload:
    """The parts saved so far under one ``(user, file_id)``."""

    big: bool
    total: int | None  # declared by saveBigFilePart; unknown for small uploads
    parts: dict[int, bytes] = field(default_factory=dict)
    part_size: int | None = None  # the common size of every part but the last, once known
    size: int = 0  # bytes held
    top: int = -1  # the highest part number saved


def valid_part_size(size: int) -> bool:
    return size > 0 and size % 1024 == 0 and PART_MAX % size == 0


def _uploads(world: World) -> dict[tuple[int, int], PendingUpload]:
    uploads: dict[tuple[int, int], PendingUpload] = world.uploads
    return uploads


def _check_layout(upload: PendingUpload, index: int, size: int) -> None:
    """Refuse a part that cannot fit one file of equal parts (Telegram checks the same invariant)."""
    last = upload.total - 1 if upload.total is not None else max(index, upload.top)
    part_size = upload.part_size
    if index < last:
        if not valid_part_size(size):
            raise RpcError(400, "FILE_PART_SIZE_INVALID")
        if part_size is not None and size != part_size:
            raise RpcError(400, "FILE_PART_SIZE_CHANGED")
        part_size = size
    if upload.total is None:
        previous_last = upload.top
        if index > previous_last >= 0:
            # The part that was last so far now sits in the middle: it must be a full part.
            prev_size = len(upload.parts[previous_last])
            if not valid_part_size(prev_size):
                raise RpcError(400, "FILE_PART_SIZE_INVALID")
            if part_size is not None and prev_size != part_size:
                raise RpcError(400, "FILE_PART_SIZE_CHANGED")
            part_size = prev_size
    last_size = size if index == last else len(upload.parts.get(last, b""))
    if part_size is not None and last_size > part_size:
        raise RpcError(400, "FILE_PART_SIZE_CHANGED")
    upload.part_size = part_size


def save_part(
    world: World, user_id: int, file_id: int, index: int, data: bytes, *, total: int | None = None
) -> None:
    """``upload.saveFilePart`` (``total`` None) or ``upload.saveBigFilePart``: store one part."""
    big = total is not None
    limit = total if total is not None else MAX_PARTS
    if not 0 < limit <= MAX_PARTS:
        raise RpcError(400, "FILE_PARTS_INVALID")
    if not 0 <= index < limit:
        raise RpcError(400, "FILE_PART_INVALID")
    if not data:
        raise RpcError(400, "FILE_PART_EMPTY")
    if len(data) > PART_MAX:
        raise RpcError(400, "FILE_PART_TOO_BIG")
    uploads = _uploads(world)
    key = (user_id, file_id)
    upload = uploads.get(key)
    if upload is not None and (upload.big != big or upload.total != total):
        raise RpcError(400, "FILE_PARTS_INVALID")
    if upload is None:
        upload = PendingUpload(big=big, total=total)
    _check_layout(upload, index, len(data))
    new_size = upload.size + len(data) - len(upload.parts.get(index, b""))
    _make_room(world, user_id, key, new_size)
    upload.parts[index] = bytes(data)
    upload.size, upload.top = new_size, max(upload.top, index)
    # Re-inserting keeps the dict in least-recently-saved order, the order uploads expire in.
    uploads.pop(key, None)
    uploads[key] = upload


def _make_room(world: World, user_id: int, key: tuple[int, int], needed: int) -> None:
    cap: int = world.upload_cap
    if needed > cap:
        raise RpcError(400, "FILE_PARTS_INVALID")
    uploads = _uploads(world)
    mine = [k for k in uploads if k[0] == user_id and k != key]
    pending = sum(uploads[k].size for k in mine)
    for old in mine:
        if pending + needed <= cap:
            break
        pending -= uploads.pop(old).size


def take_upload(world: World, user_id: int, input_file: Any) -> tuple[bytes, str]:
    """Assemble the upload an ``InputFile`` / ``InputFileBig`` names; returns ``(bytes, name)``.

    The pending parts are consumed: Telegram stores the file once it is used.
    """
    if not isinstance(input_file, types.InputFile | types.InputFileBig):
        raise RpcError(400, "FILE_ID_INVALID")
    big = isinstance(input_file, types.InputFileBig)
    parts = input_file.parts
    if not 0 < parts <= MAX_PARTS:
        raise RpcError(400, "FILE_PARTS_INVALID")
    key = (user_id, input_file.id)
    upload = _uploads(world).get(key)
    if upload is None:
        raise RpcError(400, "FILE_PART_0_MISSING")
    if upload.big != big or (big and upload.total != parts):
        raise RpcError(400, "FILE_PARTS_INVALID")
    for index in range(parts):
        if index not in upload.parts:
            raise RpcError(400, f"FILE_PART_{index}_MISSING")
    if upload.top >= parts:
        raise RpcError(400, "FILE_PARTS_INVALID")
    data = b"".join(upload.parts[i] for i in range(parts))
    checksum = getattr(input_file, "md5_checksum", "")
    if not big and checksum and hashlib.md5(data).hexdigest() != checksum.lower():  # noqa: S324 - protocol
        raise RpcError(400, "MD5_CHECKSUM_INVALID")
    del _uploads(world)[key]
    return data, input_file.name or ""


# -- bytes ---------------------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, JPEG, GIF or WebP header; None if it is none of those."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA or length < 2:  # image data starts; no frame header before it
            return None
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_MAGIC: list[tuple[bytes, int, Any]] = [
    (b"\xff\xd8\xff", 0, types.storage.FileJpeg),
    (b"\x89PNG\r\n\x1a\n", 0, types.storage.FilePng),
    (b"GIF8", 0, types.storage.FileGif),
    (b"%PDF", 0, types.storage.FilePdf),
    (b"ID3", 0, types.storage.FileMp3),
    (b"WEBP", 8, types.storage.FileWebp),
    (b"ftypqt", 4, types.storage.FileMov),
    (b"ftyp", 4, types.storage.FileMp4),
]


def storage_type(data: bytes, *, whole: bool) -> Any:
    """The ``storage.FileType`` of ``upload.file``: by magic bytes for a whole file, else partial."""
    if not whole:
        return types.storage.FilePartial()
    for magic, offset, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind()
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        return types.storage.FileMp3()
    return types.storage.FileUnknown()
