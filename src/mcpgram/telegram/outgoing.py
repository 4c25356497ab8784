"""Sending files: one as a media message, 2-10 as an album; uploads, or media the account already has.

Each file is bytes (from a URL's temporary file, base64 in the call, or a local path read here under
the roots), or a :class:`MediaRef` to a message with media the account can read: that media is
re-sent by its Telegram id and a fresh file reference (the message is read again), never downloaded.
What the content is decides photo or document (``filekinds.py``). Everything the caller gave is
checked before the first upload: the text, the schedule, every file's kind, every handle (its
message is read) and the album's make-up (Telegram does not mix photos and other files in one album).

An album is uploaded item by item (``messages.uploadMedia`` turns each upload into stored media),
then sent with one ``messages.sendMultiMedia`` whose items each carry their own ``random_id``; the
text is the caption of the first item, which Telegram shows as the album's caption. Upload progress
goes to ``progress(sent_bytes, total_bytes)`` when given. Must not: keep files, or log names or text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from telethon import TelegramClient, errors, functions, types, utils

from ..errors import InvalidArgument, MessageNotFound, TelegramError
from .chats import resolve_chat
from .filekinds import (
    MAGIC_BYTES,
    Arriving,
    FileBytes,
    FileInput,
    FileKind,
    LocalPath,
    MediaRef,
    Progress,
    classify,
    safe_name,
)
from .local_files import LocalFile, read_local_file
from .partupload import upload_arriving
from .refs import parse_ref
from .sending import (
    MAY_HAVE_SENT,
    Outgoing,
    ParseMode,
    Sent,
    caption_too_long,
    known_chat_id,
    parse_schedule,
    prepare_text,
    random_id,
    reply_header,
    send_prepared,
)
from .shapes import iso

__all__ = ["MAX_ALBUM", "send_files"]

#: Telegram's album limit.
MAX_ALBUM = 10


def _head_and_size(data: bytes | Path) -> tuple[bytes, int]:
    if isinstance(data, bytes):
        return data[:MAGIC_BYTES], len(data)
    with data.open("rb") as handle:
        return handle.read(MAGIC_BYTES), os.fstat(handle.fileno()).st_size


async def _head_and_declared(data: bytes | Path | Arriving) -> tuple[bytes, int]:
    """The head and size; a file still arriving gives its declared size once its head is on disk."""
    if isinstance(data, bytes | Path):
        return _head_and_size(data)
    size = data.size or 0
    await data.wait_for(min(MAGIC_BYTES, size))  # noqa: ASYNC240 - not a Path here
    return _head_and_size(data.path)[0], size


def _size(data: bytes | Path | Arriving) -> int:
    return _head_and_size(data)[1] if isinstance(data, bytes | Path) else data.size or 0


async def _prepared(item: FileInput) -> tuple[FileBytes, FileKind] | MediaRef:
    if isinstance(item, MediaRef):
        return item
    if isinstance(item, LocalPath):
        path = item

        def read() -> LocalFile:
            return read_local_file(path.path, roots=path.roots, max_bytes=path.max_bytes)

        local = await anyio.to_thread.run_sync(read)
        item = FileBytes(local.data, local.name)
    head, size = await _head_and_declared(item.data)
    if not size:
        raise InvalidArgument("a file is empty", code="FILE_INVALID", hint="send a file with content")
    name = safe_name(item.name)
    return item, classify(head, size, name=name, declared=item.declared)


async def _referenced(client: TelegramClient, ref: MediaRef) -> Any:
    """The ``InputMedia`` re-sending a handle's media, with the file reference Telegram gives now."""
    gone = MessageNotFound(
        "the media of this handle is no longer there", hint="get the message again with get_messages"
    )
    entity = await resolve_chat(client, ref.chat)
    message = await client.get_messages(entity, ids=ref.message)
    media = getattr(message, "media", None)
    photo = getattr(media, "photo", None) if isinstance(media, types.MessageMediaPhoto) else None
    document = getattr(media, "document", None) if isinstance(media, types.MessageMediaDocument) else None
    found = photo or document
    if found is None or getattr(found, "id", None) != ref.media:
        raise gone
    return utils.get_input_media(found)


def _uploaded_media(uploaded: Any, kind: FileKind) -> Any:
    if kind.kind == "photo":
        return types.InputMediaUploadedPhoto(file=uploaded)
    attributes = [types.DocumentAttributeFilename(file_name=kind.name)]
    return types.InputMediaUploadedDocument(file=uploaded, mime_type=kind.mime, attributes=attributes)


def _album_class(media: Any) -> str:
    return "photo" if isinstance(media, types.InputMediaPhoto | types.InputMediaUploadedPhoto) else "file"


async def send_files(
    client: TelegramClient,
    ref: str | int,
    text: str,
    files: Sequence[FileInput],
    *,
    parse_mode: ParseMode = "text",
    reply_to: int = 0,
    topic: int = 0,
    silent: bool = False,
    schedule: str = "",
    progress: Progress | None = None,
) -> Sent:
    """Send ``files`` to a strictly resolved chat (``text`` as the caption): one message, or an album.

    Raises:
        InvalidArgument: ``TOO_MANY_FILES`` (over 10), ``ALBUM_MIXED`` (photos with other files),
            ``MIME_MISMATCH``, ``FILE_*`` for local paths; ``SendRefused`` for text and schedule.
        MessageNotFound: a handle's message or media is gone.
    """
    if not files:
        raise InvalidArgument("no files to send", hint="give at least one file")
    if len(files) > MAX_ALBUM:
        raise InvalidArgument(
            f"an album holds at most {MAX_ALBUM} files", code="TOO_MANY_FILES", hint="split them over calls"
        )
    outgoing = prepare_text(text, parse_mode, allow_empty=True)
    when = parse_schedule(schedule, now=datetime.now(UTC))
    link = parse_ref(ref)
    if link.message and not reply_to:
        reply_to, topic = link.message, topic or link.topic
    prepared = [await _prepared(item) for item in files]
    entity = await resolve_chat(client, ref)
    # Handles resolve first (reads, no upload), so the album's make-up is checked before any upload.
    referenced = {
        index: await _referenced(client, item)
        for index, item in enumerate(prepared)
        if isinstance(item, MediaRef)
    }
    kinds = {_album_class(item) for item in referenced.values()}
    kinds |= {"photo" if p[1].kind == "photo" else "file" for p in prepared if not isinstance(p, MediaRef)}
    if len(prepared) > 1 and len(kinds) > 1:
        raise InvalidArgument(
            "Telegram does not mix photos and other files in one album",
            code="ALBUM_MIXED",
            hint="send the photos and the other files in separate calls",
        )
    total = sum(_size(p[0].data) for p in prepared if not isinstance(p, MediaRef))
    media: list[Any] = []
    done = 0
    for index, item in enumerate(prepared):
        if isinstance(item, MediaRef):
            media.append(referenced[index])
            continue
        source, kind = item

        async def report(sent: float, _size: float, *, base: int = done) -> None:
            if progress is not None:
                await progress(base + int(sent), total)

        if isinstance(source.data, bytes | Path):
            data = source.data if isinstance(source.data, bytes) else str(source.data)
            uploaded = await client.upload_file(data, file_name=kind.name, progress_callback=report)
        else:  # still arriving: parts go up as they land, and the final size is confirmed first
            uploaded = await upload_arriving(client, source.data, kind.name, report)
        done += _size(source.data)
        media.append(_uploaded_media(uploaded, kind))
    if len(media) == 1:
        return await send_prepared(
            client, entity, outgoing, reply_to=reply_to, topic=topic, silent=silent, schedule=when,
            media=media[0],
        )  # fmt: skip
    return await _send_album(
        client, entity, outgoing, media, reply_to=reply_to, topic=topic, silent=silent, schedule=when
    )


async def _send_album(
    client: TelegramClient,
    entity: Any,
    outgoing: Outgoing,
    media: list[Any],
    *,
    reply_to: int,
    topic: int,
    silent: bool,
    schedule: datetime | None,
) -> Sent:
    stored = []
    for item in media:
        if isinstance(item, types.InputMediaUploadedPhoto | types.InputMediaUploadedDocument):
            answer = await client(functions.messages.UploadMediaRequest(peer=entity, media=item))
            stored.append(utils.get_input_media(answer))
        else:
            stored.append(item)
    random_ids = [random_id() for _ in stored]
    singles = [
        types.InputSingleMedia(
            media=item,
            random_id=rid,
            message=outgoing.text if index == 0 else "",
            entities=(outgoing.entities or None) if index == 0 else None,
        )
        for index, (item, rid) in enumerate(zip(stored, random_ids, strict=True))
    ]
    request = functions.messages.SendMultiMediaRequest(
        peer=entity,
        multi_media=singles,
        reply_to=reply_header(reply_to, topic),
        silent=silent or None,
        schedule_date=schedule,
    )
    chat = known_chat_id(entity) or int(await client.get_peer_id(entity))
    try:
        result = await client(request)
    except errors.RandomIdDuplicateError:
        return Sent(chat=chat, scheduled=schedule is not None, id_unknown=True)
    except errors.MediaCaptionTooLongError:
        raise caption_too_long() from None
    except (errors.ServerError, OSError) as exc:
        interrupted = "the send was interrupted; the album may have been sent"
        raise TelegramError(interrupted, hint=MAY_HAVE_SENT) from exc
    updates = list(getattr(result, "updates", None) or [])
    by_random = {u.random_id: u.id for u in updates if isinstance(u, types.UpdateMessageID)}
    ids = [by_random[rid] for rid in random_ids if rid in by_random]
    messages = [getattr(u, "message", None) for u in updates]
    date = next((iso(m.date) for m in messages if m is not None and m.id in ids), None)
    return Sent(
        chat=chat,
        id=ids[0] if ids else None,
        ids=ids,
        date=date,
        scheduled=schedule is not None,
        id_unknown=len(ids) != len(stored),
        reply_to=reply_to or None,
    )
