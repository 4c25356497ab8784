"""Uploading a file while it is still arriving on disk (a URL being fetched), part by part.

Telethon's ``upload_file`` wants the whole file; this sends ``upload.saveFilePart`` (up to 10 MB)
or ``upload.saveBigFilePart`` (larger) for each 512 KiB part as soon as the writer has it on disk,
so fetch and upload overlap. The part count comes from the declared size; once the last part is
up, the writer must confirm that the final byte count equals it (:meth:`.Arriving.complete`),
else the upload is refused before any message refers to it: parts Telegram holds unreferenced are
simply dropped on its side. Must not: return an ``InputFile`` for bytes that were not confirmed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, functions, types

from ..errors import FetchFailed, TelegramError
from .filekinds import Arriving

__all__ = ["BIG_FILE_BYTES", "PART_BYTES", "upload_arriving"]

#: Telegram's largest part (every part but the last has this size).
PART_BYTES = 512 * 1024
#: Files over this go as "big" files (``saveBigFilePart``, no MD5), as Telethon does.
BIG_FILE_BYTES = 10 * 1024 * 1024


async def upload_arriving(
    client: TelegramClient,
    source: Arriving,
    name: str,
    progress: Callable[[float, float], Awaitable[None]] | None = None,
) -> Any:
    """Upload ``source`` part by part as it arrives; the ``InputFile``/``InputFileBig`` once confirmed.

    Raises:
        FetchFailed: the writer failed, or ended with another size than declared.
        TelegramError: Telegram refused a part.
    """
    size = source.size
    if not size:
        raise FetchFailed("the server declared no size for the file", hint="retry later")
    parts = -(-size // PART_BYTES)
    big = size > BIG_FILE_BYTES
    file_id = secrets.randbits(63)
    md5 = hashlib.md5(usedforsecurity=False)
    # Reads of at most 512 KiB from a local file the writer has just flushed: plain calls.
    with open(source.path, "rb") as handle:  # noqa: ASYNC230
        for index in range(parts):
            start, end = index * PART_BYTES, min(size, (index + 1) * PART_BYTES)
            await source.wait_for(end)
            handle.seek(start)
            data = handle.read(end - start)
            if len(data) != end - start:
                raise FetchFailed("the download ended with a different size than the server declared")
            if big:
                request: Any = functions.upload.SaveBigFilePartRequest(file_id, index, parts, data)
            else:
                md5.update(data)
                request = functions.upload.SaveFilePartRequest(file_id, index, data)
            if not await client(request):
                raise TelegramError("Telegram did not take a part of the file", hint="retry later")
            if progress is not None:
                await progress(end, size)
    await source.complete()
    if big:
        return types.InputFileBig(id=file_id, parts=parts, name=name)
    return types.InputFile(id=file_id, parts=parts, name=name, md5_checksum=md5.hexdigest())
