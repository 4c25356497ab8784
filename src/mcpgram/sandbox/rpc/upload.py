"""``upload.*``: saving file parts and downloading stored photos and documents.

``upload.getFile`` enforces Telegram's offset / limit rules (https://core.telegram.org/api/files):
without ``precise`` both are multiples of 4 KiB and the limit divides 1 MiB; with it they are
multiples of 1 KiB and the limit is at most 1 MiB; either way one answer stays inside one 1 MiB
block. Photo and document access hashes are global (not per viewer), as in Telegram.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..files import save_part, storage_type
from ..render import photo_tl, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import StoredFile

router = Router()

_MIB = 1024 * 1024


@router.method(functions.upload.SaveFilePartRequest)
def save_file_part(ctx: Ctx, req: Any) -> bool:
    save_part(ctx.world, ctx.user_id, req.file_id, req.file_part, req.bytes)
    return True


@router.method(functions.upload.SaveBigFilePartRequest)
def save_big_file_part(ctx: Ctx, req: Any) -> bool:
    save_part(ctx.world, ctx.user_id, req.file_id, req.file_part, req.bytes, total=req.file_total_parts)
    return True


def check_range(offset: int, limit: int, *, precise: bool) -> None:
    """Telegram's rules for one ``upload.getFile`` window."""
    if offset < 0 or offset % (1024 if precise else 4096):
        raise RpcError(400, "OFFSET_INVALID")
    if limit <= 0 or limit % (1024 if precise else 4096) or limit > _MIB or (not precise and _MIB % limit):
        raise RpcError(400, "LIMIT_INVALID")
    if offset // _MIB != (offset + limit - 1) // _MIB:
        raise RpcError(400, "LIMIT_INVALID")


def check_reference(stored: StoredFile, file_reference: bytes) -> None:
    if not file_reference:
        raise RpcError(400, "FILE_REFERENCE_EMPTY")
    if file_reference != stored.file_reference:
        raise RpcError(400, "FILE_REFERENCE_EXPIRED")


def _stored(ctx: Ctx, kind: str, file_id: int, access_hash: int) -> StoredFile:
    stored = ctx.world.files.get(file_id)
    if stored is None or stored.kind != kind or stored.access_hash != access_hash:
        raise RpcError(400, "FILE_ID_INVALID")
    return stored


def _photo_sizes(stored: StoredFile) -> set[str]:
    return {size.type for size in photo_tl(stored).sizes if hasattr(size, "type")}


def _locate(ctx: Ctx, location: Any) -> StoredFile:
    """The stored file an ``InputFileLocation`` names, checked as Telegram checks it."""
    if isinstance(location, types.InputDocumentFileLocation):
        stored = _stored(ctx, "document", location.id, location.access_hash)
        check_reference(stored, location.file_reference)
        if location.thumb_size:
            raise RpcError(400, "LOCATION_INVALID")  # the sandbox keeps no document thumbnails
        return stored
    if isinstance(location, types.InputPhotoFileLocation):
        stored = _stored(ctx, "photo", location.id, location.access_hash)
        check_reference(stored, location.file_reference)
        if location.thumb_size not in _photo_sizes(stored):
            raise RpcError(400, "LOCATION_INVALID")
        return stored
    if isinstance(location, types.InputPeerPhotoFileLocation):
        world = ctx.world
        peer = resolve_input_peer(world, ctx.user_id, location.peer)
        owners: dict[str, Any] = {"user": world.users, "chat": world.chats, "channel": world.channels}
        current = getattr(owners[peer.kind].get(peer.id), "photo_id", None)
        photo = world.files.get(location.photo_id)
        if photo is None or current != location.photo_id:
            raise RpcError(400, "FILE_ID_INVALID")
        return photo
    raise RpcError(400, "LOCATION_INVALID")


@router.method(functions.upload.GetFileRequest)
def get_file(ctx: Ctx, req: Any) -> Any:
    check_range(req.offset, req.limit, precise=bool(req.precise))
    stored = _locate(ctx, req.location)
    chunk = stored.data[req.offset : req.offset + req.limit]
    whole = req.offset == 0 and len(stored.data) <= req.limit
    return types.upload.File(type=storage_type(chunk, whole=whole), mtime=stored.date, bytes=chunk)
