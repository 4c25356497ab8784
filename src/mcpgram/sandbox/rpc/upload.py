"""``upload.*``: saving file parts and downloading stored photos and documents.

``upload.getFile`` enforces Telegram's offset / limit rules (https://core.telegram.org/api/files):
without ``precise`` both are multiples of 4 KiB and the limit divides 1 MiB; with it they are
multiples of 1 KiB and the limit is at most 1 MiB; either way one answer stays inside one 1 MiB
block (``OFFSET_INVALID`` / ``LIMIT_INVALID``). Photo and document access hashes are global (not
per viewer), as in Telegram; the file reference must be the file's current one.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..files import save_part, storage_type
from ..render import resolve_input_peer
from ..render_media import location_bytes
from ..router import Ctx, Router, RpcError
from ..world import StoredFile, World

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


def check_reference(world: World, stored: StoredFile, file_reference: bytes) -> None:
    """A reference must be the file's current one (``World.file_reference``)."""
    if not file_reference:
        raise RpcError(400, "FILE_REFERENCE_EMPTY")
    if file_reference != world.file_reference(stored):
        raise RpcError(400, "FILE_REFERENCE_EXPIRED")


def _stored(ctx: Ctx, kind: str, file_id: int, access_hash: int) -> StoredFile:
    stored = ctx.world.files.get(file_id)
    if stored is None or stored.kind != kind or stored.access_hash != access_hash:
        raise RpcError(400, "FILE_ID_INVALID")
    return stored


def _locate(ctx: Ctx, location: Any) -> tuple[bytes, int]:
    """The bytes an ``InputFileLocation`` names and the file's date, checked as Telegram checks it.

    A profile photo (``InputPeerPhotoFileLocation``) is served as it was stored, big or small.
    """
    if isinstance(location, types.InputDocumentFileLocation | types.InputPhotoFileLocation):
        kind = "document" if isinstance(location, types.InputDocumentFileLocation) else "photo"
        stored = _stored(ctx, kind, location.id, location.access_hash)
        check_reference(ctx.world, stored, location.file_reference)
        return location_bytes(stored, location.thumb_size), stored.date
    if isinstance(location, types.InputPeerPhotoFileLocation):
        world = ctx.world
        peer = resolve_input_peer(world, ctx.user_id, location.peer)
        owners: dict[str, Any] = {"user": world.users, "chat": world.chats, "channel": world.channels}
        current = getattr(owners[peer.kind].get(peer.id), "photo_id", None)
        photo = world.files.get(location.photo_id)
        if photo is None or current != location.photo_id:
            raise RpcError(400, "FILE_ID_INVALID")
        return photo.data, photo.date
    raise RpcError(400, "LOCATION_INVALID")


@router.method(functions.upload.GetFileRequest)
def get_file(ctx: Ctx, req: Any) -> Any:
    check_range(req.offset, req.limit, precise=bool(req.precise))
    data, mtime = _locate(ctx, req.location)
    # One slice of at most 1 MiB is copied (TL serialises bytes only); the stored file never is.
    chunk = bytes(memoryview(data)[req.offset : req.offset + req.limit])
    whole = req.offset == 0 and len(data) <= req.limit
    return types.upload.File(type=storage_type(chunk, whole=whole), mtime=mtime, bytes=chunk)
