"""Stored photos and documents -> TL, and which bytes each of their file locations serves.

A photo is served in Telegram's sizes (``images.py``): ``PhotoStrippedSize`` ``i`` first, then the
``PhotoSize`` list in ascending order with the largest as ``PhotoSizeProgressive``. The sizes are
made the first time the photo is rendered or downloaded and kept on the stored file, so building a
world (the demo's, say) encodes nothing. A photo Pillow cannot decode is served as it was sent, as
one ``x`` size with the dimensions its header gives. A document gets ``thumbs`` (``i`` and ``m``)
from its own picture when it is an image, else from the thumbnail the client uploaded with it.

Every rendering carries the file's current reference (``World.file_reference``), so a message
fetched again gives a client what it needs to refresh a stale one.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import types

from .images import Rendition, SizeSet, photo_sizes, thumb_sizes
from .router import RpcError
from .world import Message, StoredFile, World

DC_ID = 2
DEFAULT_SIZE = (800, 600)  # what an undecodable photo without a readable header claims to be


def size_set(stored: StoredFile) -> SizeSet | None:
    """The stored file's sizes (a photo's) or thumbnails (a document's), made once and cached."""
    if "sizes" not in stored.cache:
        if stored.kind == "photo":
            stored.cache["sizes"] = photo_sizes(stored.data)
        else:
            source = stored.data if stored.mime_type.startswith("image/") else stored.thumb
            stored.cache["sizes"] = thumb_sizes(source) if source else None
    sizes: SizeSet | None = stored.cache["sizes"]
    return sizes


def _size_tl(size: Rendition) -> Any:
    if size.scans:
        return types.PhotoSizeProgressive(type=size.type, w=size.width, h=size.height, sizes=list(size.scans))
    return types.PhotoSize(type=size.type, w=size.width, h=size.height, size=len(size.data))


def sizes_tl(sizes: SizeSet) -> list[Any]:
    return [types.PhotoStrippedSize(type="i", bytes=sizes.stripped), *(_size_tl(s) for s in sizes.sizes)]


def photo_tl(world: World, stored: StoredFile) -> Any:
    sizes = size_set(stored)
    if sizes is None:
        width, height = (stored.width, stored.height) if stored.width else DEFAULT_SIZE
        listed = [types.PhotoSize(type="x", w=width, h=height, size=len(stored.data))]
    else:
        listed = sizes_tl(sizes)
    return types.Photo(
        id=stored.id,
        access_hash=stored.access_hash,
        file_reference=world.file_reference(stored),
        date=stored.date,
        sizes=listed,
        dc_id=DC_ID,
    )


def document_tl(world: World, stored: StoredFile) -> Any:
    attributes = list(stored.attributes)
    if stored.name and not any(isinstance(a, types.DocumentAttributeFilename) for a in attributes):
        attributes.append(types.DocumentAttributeFilename(stored.name))
    sizes = size_set(stored)
    return types.Document(
        id=stored.id,
        access_hash=stored.access_hash,
        file_reference=world.file_reference(stored),
        date=stored.date,
        mime_type=stored.mime_type,
        size=len(stored.data),
        dc_id=DC_ID,
        attributes=attributes,
        thumbs=sizes_tl(sizes) if sizes is not None else None,
    )


def document_flags(stored: StoredFile) -> dict[str, bool]:
    """The ``voice`` / ``round`` / ``video`` flags Telegram sets on ``messageMediaDocument``."""
    flags: dict[str, bool] = {}
    for attr in stored.attributes:
        if isinstance(attr, types.DocumentAttributeAudio) and attr.voice:
            flags["voice"] = True
        if isinstance(attr, types.DocumentAttributeVideo):
            flags["round" if attr.round_message else "video"] = True
    return flags


def stored_media_tl(world: World, stored: StoredFile) -> Any:
    """A stored photo or document as ``MessageMedia``."""
    if stored.kind == "photo":
        return types.MessageMediaPhoto(photo=photo_tl(world, stored))
    return types.MessageMediaDocument(document=document_tl(world, stored), **document_flags(stored))


def media_tl(world: World, message: Message) -> Any:
    content = message.content
    if content.media_id is None:
        return None
    return stored_media_tl(world, world.files[content.media_id])


def location_bytes(stored: StoredFile, thumb_size: str) -> bytes:
    """The bytes a file location serves: a photo's size ``thumb_size``, a document or its thumbnail.

    ``LOCATION_INVALID`` for a size the file does not have; the stripped ``i`` travels inline only.
    """
    if stored.kind == "document" and not thumb_size:
        return stored.data
    sizes = size_set(stored)
    if sizes is None:
        if stored.kind == "photo" and thumb_size == "x":
            return stored.data
        raise RpcError(400, "LOCATION_INVALID")
    size = sizes.get(thumb_size)
    if size is None:
        raise RpcError(400, "LOCATION_INVALID")
    return size.data


def served_bytes(stored: StoredFile) -> bytes:
    """What a plain download of the file gets: a photo's largest size (as sent, if undecodable), a
    document's own bytes. Tests compare downloads with it instead of ``stored.data``."""
    if stored.kind == "document":
        return stored.data
    sizes = size_set(stored)
    return sizes.sizes[-1].data if sizes is not None else stored.data
