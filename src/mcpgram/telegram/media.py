"""Media out of Telegram: what a message's photo or document is, and its bytes, streamed.

A media ref is ``(chat, message id, media id)``, what ``tools/handles.decode_handle`` returns. Every
call reads the message again (``messages.getMessages``), so the file reference is fresh and a
message whose media changed or went away answers ``MEDIA_NOT_FOUND`` / ``MESSAGE_NOT_FOUND``.

Size choices: a photo has ``full`` (its largest size), ``medium`` (the largest whose long edge is at
most 800 px, Telegram's ``x``) and ``thumb`` (at most 320 px, ``m``/``s``), each falling back to the
smallest size when none fits. A document has ``full`` and, when Telegram keeps one, ``thumb`` (its
largest thumbnail); ``medium`` of a document is the document itself.

Bytes come through ``upload.getFile`` windows, whose rules (https://core.telegram.org/api/files) are:
offset and limit multiples of 4 KiB, the limit dividing 1 MiB, one window inside one 1 MiB block.
Windows here are a power of two (4 KiB to 512 KiB) starting at a multiple of their own size, which
keeps each inside one block; the first and last are trimmed to exactly the bytes asked for. One
window is in memory at a time. When Telegram answers ``FILE_REFERENCE_EXPIRED`` (references expire:
https://core.telegram.org/api/file_reference) the message is read again for a fresh reference and
the stream goes on where it stopped; once per stretch of progress, so a reference that keeps
expiring fails instead of looping.

Must not: hold more than one window of a file in memory, or let a Telethon object leave.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from telethon import TelegramClient, errors
from telethon.tl import types

from ..errors import InvalidArgument, MediaNotFound, MessageNotFound
from .chats import resolve_chat
from .filekinds import MediaRef, Progress, safe_name

__all__ = [
    "MEDIUM_EDGE",
    "SIZE_CHOICES",
    "THUMB_EDGE",
    "MediaInfo",
    "MediaKind",
    "SizeChoice",
    "media_bytes",
    "media_chunks",
    "media_info",
    "save_media",
]

MediaKind = Literal["photo", "document", "voice", "audio", "video", "animation", "sticker"]
SizeChoice = Literal["full", "medium", "thumb"]
SIZE_CHOICES: tuple[SizeChoice, ...] = ("full", "medium", "thumb")
#: Long edge, in pixels, of the largest photo size ``medium`` and ``thumb`` may pick.
MEDIUM_EDGE = 800
THUMB_EDGE = 320
_MIN_WINDOW = 4096
_MAX_WINDOW = 512 * 1024
_EXPIRED = (errors.FileReferenceExpiredError, errors.FilerefUpgradeNeededError)

Ref = MediaRef | tuple[int, int, int]


@dataclass(frozen=True)
class MediaInfo:
    """One size choice of a message's photo or document, as plain data.

    ``size`` is the byte count of the chosen size (what :func:`media_chunks` streams in full);
    ``width``/``height``/``duration`` are there when Telegram says them.
    """

    kind: MediaKind
    name: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: int | None = None


@dataclass(frozen=True)
class _Located:
    info: MediaInfo
    location: Any
    dc_id: int


@dataclass(frozen=True)
class _Size:
    type: str
    width: int
    height: int
    size: int


def _as_ref(ref: Ref) -> MediaRef:
    return ref if isinstance(ref, MediaRef) else MediaRef(*ref)


def _sizes(thumbs: Any) -> list[_Size]:
    """The sizes that ``upload.getFile`` serves (stripped, cached and path sizes are inline data)."""
    found = []
    for item in thumbs or ():
        if isinstance(item, types.PhotoSize):
            found.append(_Size(item.type, item.w, item.h, item.size))
        elif isinstance(item, types.PhotoSizeProgressive) and item.sizes:
            found.append(_Size(item.type, item.w, item.h, max(item.sizes)))
    return found


def _pick(sizes: list[_Size], choice: SizeChoice) -> _Size | None:
    ordered = sorted(sizes, key=lambda s: (max(s.width, s.height), s.size))
    if not ordered:
        return None
    if choice == "full":
        return ordered[-1]
    edge = THUMB_EDGE if choice == "thumb" else MEDIUM_EDGE
    fitting = [s for s in ordered if max(s.width, s.height) <= edge]
    return fitting[-1] if fitting else ordered[0]


def _document_facts(
    document: Any, media: Any
) -> tuple[MediaKind, str | None, int | None, int | None, int | None]:
    """(kind, file name, width, height, duration) from a document's attributes and the media flags."""
    kind: MediaKind = "document"
    name = width = height = duration = None
    for attribute in document.attributes:
        if isinstance(attribute, types.DocumentAttributeFilename):
            name = attribute.file_name
        elif isinstance(attribute, types.DocumentAttributeSticker):
            kind = "sticker"
        elif isinstance(attribute, types.DocumentAttributeAnimated) and kind != "sticker":
            kind = "animation"
        elif isinstance(attribute, types.DocumentAttributeImageSize):
            width, height = attribute.w, attribute.h
        elif isinstance(attribute, types.DocumentAttributeVideo):
            width, height, duration = attribute.w, attribute.h, round(attribute.duration)
            if kind == "document":
                kind = "video"
        elif isinstance(attribute, types.DocumentAttributeAudio):
            duration = round(attribute.duration)
            if kind == "document":
                kind = "voice" if attribute.voice else "audio"
    if getattr(media, "voice", None):
        kind = "voice"
    elif getattr(media, "round", None) and kind == "document":
        kind = "video"
    return kind, name, width, height, duration


def _fallback_name(kind: str, message: int, mime: str) -> str:
    extension = mimetypes.guess_extension(mime, strict=False) or ""
    return f"{kind}_{message}{extension}"


def _thumb_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return safe_name(f"{stem}_thumb.jpg")


def _photo(photo: Any, ref: MediaRef, choice: SizeChoice) -> _Located:
    picked = _pick(_sizes(photo.sizes), choice)
    if picked is None:
        raise MediaNotFound("this photo has no size to download", hint="get the message again later")
    name = f"photo_{ref.message}.jpg" if choice == "full" else f"photo_{ref.message}_{choice}.jpg"
    info = MediaInfo("photo", name, "image/jpeg", picked.size, picked.width, picked.height)
    location = types.InputPhotoFileLocation(
        id=photo.id,
        access_hash=photo.access_hash,
        file_reference=photo.file_reference,
        thumb_size=picked.type,
    )
    return _Located(info, location, photo.dc_id)


def _document(document: Any, media: Any, ref: MediaRef, choice: SizeChoice) -> _Located:
    kind, name, width, height, duration = _document_facts(document, media)
    mime = (document.mime_type or "application/octet-stream").lower()
    name = safe_name(name or "", fallback=_fallback_name(kind, ref.message, mime))
    if choice != "thumb":
        info = MediaInfo(kind, name, mime, document.size, width, height, duration)
        thumb = ""
    else:
        picked = _pick(_sizes(document.thumbs), "full")
        if picked is None:
            raise InvalidArgument(
                "this file has no thumbnail", code="SIZE_UNAVAILABLE", hint="ask for size full"
            )
        thumb_mime = "image/webp" if mime == "image/webp" else "image/jpeg"
        info = MediaInfo(kind, _thumb_name(name), thumb_mime, picked.size, picked.width, picked.height)
        thumb = picked.type
    location = types.InputDocumentFileLocation(
        id=document.id,
        access_hash=document.access_hash,
        file_reference=document.file_reference,
        thumb_size=thumb,
    )
    return _Located(info, location, document.dc_id)


async def _locate(client: TelegramClient, ref: MediaRef, choice: SizeChoice) -> _Located:
    """Read the message again and find the ref's media in it, with a fresh file reference."""
    if choice not in SIZE_CHOICES:
        raise InvalidArgument(f"size is one of {', '.join(SIZE_CHOICES)}")
    entity = await resolve_chat(client, ref.chat)
    message = await client.get_messages(entity, ids=ref.message)
    if message is None or isinstance(message, types.MessageEmpty):
        raise MessageNotFound(
            "the message of this media is no longer there", hint="get the chat's messages again"
        )
    media = getattr(message, "media", None)
    gone = MediaNotFound(
        "the message no longer holds this media", hint="get the message again with get_messages"
    )
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        if media.photo.id != ref.media:
            raise gone
        return _photo(media.photo, ref, choice)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        if media.document.id != ref.media:
            raise gone
        return _document(media.document, media, ref, choice)
    raise gone


async def media_info(client: TelegramClient, ref: Ref, size: SizeChoice = "full") -> MediaInfo:
    """What the ref's media is, for one size choice (reads the message; no file bytes).

    Raises:
        MessageNotFound: the message is gone. MediaNotFound: it holds other media or none.
        InvalidArgument: ``SIZE_UNAVAILABLE`` (a thumbnail of a file without one), a bad choice.
        ChatNotFound: the chat does not resolve.
    """
    return (await _locate(client, _as_ref(ref), size)).info


def _window(span: int) -> int:
    window = _MIN_WINDOW
    while window < span and window < _MAX_WINDOW:
        window *= 2
    return window


async def _stream(
    client: TelegramClient, ref: MediaRef, choice: SizeChoice, located: _Located, *, offset: int, end: int
) -> AsyncIterator[bytes]:
    window = _window(end - offset)
    position, refreshed_at = offset, -1
    while position < end:
        start = position - position % window
        stream = client.iter_download(
            located.location, offset=start, request_size=window, dc_id=located.dc_id
        )
        try:
            async for chunk in stream:
                piece = bytes(memoryview(chunk)[position - start : end - start])
                start += len(chunk)
                if piece:
                    position += len(piece)
                    yield piece
                if position >= end or len(chunk) < window:
                    return
            return  # the file ended before the size Telegram gave: nothing more to read
        except _EXPIRED:
            if refreshed_at == position:
                raise
            refreshed_at = position
            located = await _locate(client, ref, choice)
        finally:
            await stream.close()


def _bounds(info: MediaInfo, offset: int, limit: int | None) -> int:
    if offset < 0 or offset > info.size or (limit is not None and limit < 0):
        raise InvalidArgument(
            f"the range is outside the file ({info.size} bytes)", code="RANGE_INVALID", hint="start inside it"
        )
    return info.size if limit is None else min(info.size, offset + limit)


async def media_chunks(
    client: TelegramClient, ref: Ref, size: SizeChoice = "full", offset: int = 0, limit: int | None = None
) -> AsyncIterator[bytes]:
    """Exactly the bytes ``[offset, offset + limit)`` of one size choice (to the end when ``limit`` is
    None), in pieces of at most 512 KiB, with constant memory.

    Example::

        async for piece in media_chunks(client, (chat, message_id, media_id), offset=10, limit=5000):
            out.write(piece)

    Raises:
        the errors of :func:`media_info`; ``RANGE_INVALID`` for an offset past the end.
    """
    media = _as_ref(ref)
    located = await _locate(client, media, size)
    end = _bounds(located.info, offset, limit)
    async for piece in _stream(client, media, size, located, offset=offset, end=end):
        yield piece


async def media_bytes(
    client: TelegramClient,
    ref: Ref,
    size: SizeChoice,
    limit_for: Callable[[MediaInfo], int],
    *,
    progress: Progress | None = None,
) -> tuple[MediaInfo, bytes | None]:
    """The media's info and all its bytes, or None for the bytes when it is over ``limit_for(info)``.

    One message read for both, so the caller decides from the info (a cap per kind) without asking
    Telegram twice.
    """
    pieces: list[bytes] = []

    async def keep(piece: bytes) -> None:
        pieces.append(piece)

    info = await _download(client, _as_ref(ref), size, keep, progress=progress, limit_for=limit_for)
    return info, b"".join(pieces) if info.size <= limit_for(info) else None


async def save_media(
    client: TelegramClient,
    ref: Ref,
    size: SizeChoice,
    write: Callable[[bytes], Awaitable[None]],
    *,
    offset: int = 0,
    limit: int | None = None,
    progress: Progress | None = None,
) -> MediaInfo:
    """Stream bytes ``[offset, offset + limit)`` (all by default) into ``write``, awaited per piece,
    reporting ``progress(end of the bytes written, file size)``.

    A caller saving a large file calls this once per window, so each call stays inside one
    Telegram call deadline.
    """
    return await _download(
        client, _as_ref(ref), size, write, progress=progress, limit_for=None, offset=offset, limit=limit
    )


async def _download(
    client: TelegramClient,
    ref: MediaRef,
    size: SizeChoice,
    write: Callable[[bytes], Awaitable[None]],
    *,
    progress: Progress | None,
    limit_for: Callable[[MediaInfo], int] | None,
    offset: int = 0,
    limit: int | None = None,
) -> MediaInfo:
    located = await _locate(client, ref, size)
    total = located.info.size
    if limit_for is not None and total > limit_for(located.info):
        return located.info
    done = offset
    async for piece in _stream(
        client, ref, size, located, offset=offset, end=_bounds(located.info, offset, limit)
    ):
        await write(piece)
        done += len(piece)
        if progress is not None:
            await progress(done, total)
    return located.info
