"""``messages.uploadMedia`` / ``sendMedia`` / ``sendMultiMedia``: photos, documents and albums.

An uploaded file becomes a stored photo or document when a media method first names it; re-sending
an existing photo or document by ``id`` + ``access_hash`` + ``file_reference`` shares the stored
file, as Telegram does. Albums take only already-stored media (``InputMediaPhoto`` /
``InputMediaDocument``, what ``uploadMedia`` returns); uploaded media there is ``MEDIA_INVALID``.
"""

from __future__ import annotations

import os
from typing import Any

from telethon.tl import functions, types

from .. import scheduled
from ..files import image_size, take_upload
from ..messaging import Changes, post, publish
from ..render import resolve_input_peer
from ..render_media import stored_media_tl
from ..router import Ctx, Router, RpcError
from ..world import Content, Message, PeerKey, StoredFile, World
from .messages import check_random_id, reply_header
from .upload import check_reference

router = Router()

MAX_CAPTION = 1024  # help.getConfig's caption_length_max
MAX_ALBUM = 10


def _find(world: World, kind: str, input_ref: Any) -> StoredFile:
    """An ``InputPhoto`` / ``InputDocument`` -> the stored file, or the error Telegram gives."""
    stored = world.files.get(getattr(input_ref, "id", 0))
    if stored is None or stored.kind != kind or stored.access_hash != input_ref.access_hash:
        raise RpcError(400, "MEDIA_EMPTY")
    check_reference(world, stored, input_ref.file_reference)
    return stored


def _store_photo(world: World, user_id: int, media: Any) -> StoredFile:
    data, _name = take_upload(world, user_id, media.file)
    width, height = image_size(data) or (0, 0)  # 0 lets the renderer use its default size
    return world.add_file("photo", data, mime_type="image/jpeg", width=width, height=height)


def _store_document(world: World, user_id: int, media: Any) -> StoredFile:
    data, upload_name = take_upload(world, user_id, media.file)
    thumb = take_upload(world, user_id, media.thumb)[0] if media.thumb is not None else None
    attributes = list(media.attributes or [])
    name = next((a.file_name for a in attributes if isinstance(a, types.DocumentAttributeFilename)), None)
    mime_type = media.mime_type or "application/octet-stream"
    size = image_size(data) if mime_type.startswith("image/") else None
    if size and not any(isinstance(a, types.DocumentAttributeImageSize) for a in attributes):
        attributes.append(types.DocumentAttributeImageSize(w=size[0], h=size[1]))
    return world.add_file(
        "document",
        data,
        mime_type=mime_type,
        name=None if name else (upload_name or None),
        attributes=attributes,
        thumb=thumb,
    )


def stored_media(world: World, user_id: int, media: Any) -> StoredFile:
    """Resolve an ``InputMedia`` of a photo or document, storing an upload on first use."""
    if isinstance(media, types.InputMediaUploadedPhoto):
        return _store_photo(world, user_id, media)
    if isinstance(media, types.InputMediaUploadedDocument):
        return _store_document(world, user_id, media)
    if isinstance(media, types.InputMediaPhoto):
        return _find(world, "photo", media.id)
    if isinstance(media, types.InputMediaDocument):
        return _find(world, "document", media.id)
    raise RpcError(400, "MEDIA_INVALID")


def _check_caption(text: str | None) -> None:
    if len(text or "") > MAX_CAPTION:
        raise RpcError(400, "MEDIA_CAPTION_TOO_LONG")


def _peek_random_id(ctx: Ctx, random_id: int) -> None:
    # Checked before an upload is consumed, so a retried send reports the duplicate, not a lost file.
    if (ctx.user_id, random_id) in ctx.world.random_ids:
        raise RpcError(500, "RANDOM_ID_DUPLICATE")


@router.method(functions.messages.UploadMediaRequest)
def upload_media(ctx: Ctx, req: Any) -> Any:
    resolve_input_peer(ctx.world, ctx.user_id, req.peer)
    return stored_media_tl(ctx.world, stored_media(ctx.world, ctx.user_id, req.media))


def _post_media(
    ctx: Ctx, changes: Changes, peer: PeerKey, *, req: Any, item: Any, stored: StoredFile, **extra: Any
) -> Message:
    """Post one media message; ``item`` carries the caption (``message``) and its ``entities``."""
    content = Content(
        text=item.message or "",
        entities=list(item.entities or []),
        media_id=stored.id,
        media_kind=stored.kind,
        **extra,
    )
    return post(
        ctx.world,
        changes,
        sender_id=ctx.user_id,
        peer=peer,
        content=content,
        reply_to=reply_header(req.reply_to),
        silent=bool(req.silent),
    )


@router.method(functions.messages.SendMediaRequest)
def send_media(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    _check_caption(req.message)
    _peek_random_id(ctx, req.random_id)
    when = scheduled.schedule_date(world, req.schedule_date)
    stored = stored_media(world, viewer, req.media)
    check_random_id(ctx, req.random_id)
    if when is not None:
        content = Content(
            text=req.message or "",
            entities=list(req.entities or []),
            media_id=stored.id,
            media_kind=stored.kind,
        )
        reply_to, silent = reply_header(req.reply_to), bool(req.silent)
        return scheduled.schedule(
            ctx,
            peer=peer,
            content=content,
            reply_to=reply_to,
            silent=silent,
            date=when,
            random_id=req.random_id,
        )
    changes = Changes()
    message = _post_media(ctx, changes, peer, req=req, item=req, stored=stored)
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])


def _album_class(stored: StoredFile) -> str:
    """Telegram groups photos with videos, music with music, and files with files."""
    if stored.kind == "photo":
        return "visual"
    for attr in stored.attributes:
        if isinstance(attr, types.DocumentAttributeVideo):
            return "round" if attr.round_message else "visual"
        if isinstance(attr, types.DocumentAttributeAudio):
            return "voice" if attr.voice else "audio"
        if isinstance(attr, types.DocumentAttributeSticker | types.DocumentAttributeAnimated):
            return "sticker"
    return "file"


@router.method(functions.messages.SendMultiMediaRequest)
def send_multi_media(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    items = list(req.multi_media)
    if not items:
        raise RpcError(400, "MEDIA_EMPTY")
    if len(items) > MAX_ALBUM:
        raise RpcError(400, "MULTI_MEDIA_TOO_LONG")
    resolved: list[tuple[Any, StoredFile]] = []
    for item in items:
        if not isinstance(item.media, types.InputMediaPhoto | types.InputMediaDocument):
            raise RpcError(400, "MEDIA_INVALID")
        if not item.random_id:
            raise RpcError(400, "RANDOM_ID_EMPTY")
        _peek_random_id(ctx, item.random_id)
        _check_caption(item.message)
        resolved.append((item, stored_media(world, viewer, item.media)))
    classes = {_album_class(stored) for _, stored in resolved}
    if len(classes) > 1 or classes & {"round", "voice", "sticker"}:
        raise RpcError(400, "MEDIA_INVALID")
    if len({item.random_id for item in items}) != len(items):
        raise RpcError(500, "RANDOM_ID_DUPLICATE")
    for item in items:
        check_random_id(ctx, item.random_id)
    grouped_id = int.from_bytes(os.urandom(8), "little") >> 1  # a positive long, shared by the album
    changes = Changes()
    extra = []
    for item, stored in resolved:
        message = _post_media(ctx, changes, peer, req=req, item=item, stored=stored, grouped_id=grouped_id)
        extra.append(types.UpdateMessageID(message.id, item.random_id))
    return publish(ctx, changes, extra=extra)
