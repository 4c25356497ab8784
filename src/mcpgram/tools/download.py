"""``download_media`` and the ``mcpgram://media/{handle}`` resource: media out of Telegram, for an agent.

The tool takes a ``media.handle`` (``tools/handles.py``: bound to the calling tenant, so another
tenant's handle is ``MEDIA_HANDLE_INVALID`` before Telegram is asked) and a size choice, and answers
with one compact JSON block (name, mime, bytes, pixels) plus, by what the media is:

- an image (a photo, an image file, any thumbnail): MCP image content, re-encoded by
  :mod:`mcpgram.imaging` within ``download_image_max_edge`` / ``download_image_max_bytes``, so no
  EXIF, GPS or other metadata reaches the model and the size is bounded;
- a voice note or audio up to ``download_audio_max_bytes``: MCP audio content;
- any other file up to ``download_embed_max_bytes``: an embedded resource (blob);
- anything larger: over HTTP a download URL when the server makes them
  (:meth:`ToolContext.attachment_url`), else a resource link to ``mcpgram://media/{handle}``, which
  ``resources/read`` serves up to ``download_resource_max_bytes`` (a read of its own: under
  ``download = approve`` it asks again). A URL minted by a call a person approved says so, and only
  such a URL is served while the policy says ``approve`` (``web/attachments.py``);
- with ``save`` (stdio only): the file streamed into ``downloads_root`` under a safe name that never
  overwrites (`` (1)``, `` (2)``... added), and its path.

Every read is the ``download`` verb in the chat's read scope (``policy/guard.py``). Transfers from
1 MB on report progress to clients that sent a progress token. Must not: write outside the
downloads root, overwrite a file, or keep media in memory beyond the caps.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.resources import ResourceContent, ResourceResult
from fastmcp.tools import ToolResult
from mcp.types import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)
from mcp_types import InputRequiredResult
from pydantic import Field

from .. import telegram
from ..errors import InvalidArgument, MCPGramError, NotAllowed, TooLarge
from ..policy.guard import Action
from ..telegram.filekinds import MediaRef, safe_name
from . import files
from .approving import InputRequested
from .context import READ, ToolContext, add_tool, compact_json, refusal
from .handles import HANDLE_CHARS, decode_handle, handle_key
from .resources import refusal as resource_refusal

if TYPE_CHECKING:
    from mcp.types import ContentBlock

    from ..imaging import ImageBudget, Rendered
    from ..telegram.media import MediaInfo

#: The largest original an image is downloaded for re-encoding (a bigger one comes as a link).
IMAGE_SOURCE_MAX_BYTES = 20 * 1024 * 1024
#: Bytes saved per Telegram call (each call has its own deadline, ``telegram_timeout``).
SAVE_WINDOW = 16 * 1024 * 1024
#: Images decoded at once, process-wide: a 64-megapixel decode holds ~200 MB; more calls wait.
_RENDERING = threading.BoundedSemaphore(2)
#: Names tried in the downloads root before giving up: ``name``, ``name (1)``, ... ``name (99)``.
MAX_NAME_TRIES = 100
URI_PREFIX = "mcpgram://media/"
_NOT_IMAGES = frozenset({"image/svg+xml"})

Size = Literal["full", "medium", "thumb"]
SizeArg = Annotated[Size, Field(description="full; medium (photos, ~800 px); thumb")]


def is_image(info: MediaInfo) -> bool:
    return info.mime.startswith("image/") and info.mime not in _NOT_IMAGES


def is_audio(info: MediaInfo) -> bool:
    return info.kind in ("voice", "audio")


def media_uri(handle: str, size: str) -> str:
    return URI_PREFIX + handle + ("" if size == "full" else f"?size={size}")


async def media_ref(ctx: ToolContext, handle: str) -> MediaRef:
    """The calling tenant's media ref of ``handle`` (``MEDIA_HANDLE_INVALID`` as a refusal)."""
    try:
        keys = await ctx.resolve_keys()
        return MediaRef(*decode_handle(handle_key(ctx.cursor_key), keys.tenant_id, handle))
    except MCPGramError as exc:
        raise refusal(exc) from None


def _download(ref: MediaRef) -> Action:
    return Action(("download",), read=(ref.chat,))


def _meta(info: MediaInfo, **extra: Any) -> dict[str, Any]:
    shown = {"name": info.name, "mime": info.mime, "bytes": info.size, "width": info.width}
    shown |= {"height": info.height, "duration": info.duration, **extra}
    return {key: value for key, value in shown.items() if value is not None}


def _render(data: bytes, budget: ImageBudget) -> Rendered:
    from .. import imaging  # noqa: PLC0415 - Pillow loads with the first image, not at start-up

    with _RENDERING:
        return imaging.render(data, budget)


async def _image(ctx: ToolContext, info: MediaInfo, data: bytes) -> tuple[dict[str, Any], ContentBlock]:
    from .. import imaging  # noqa: PLC0415 - Pillow loads with the first image, not at start-up

    budget = imaging.ImageBudget(
        ctx.downloads.download_image_max_edge, ctx.downloads.download_image_max_bytes
    )
    try:
        shown = await anyio.to_thread.run_sync(_render, data, budget)
    except MCPGramError as exc:
        raise refusal(exc) from None
    meta = _meta(info, mime=shown.mime, bytes=len(shown.data), width=shown.width, height=shown.height)
    meta["original_bytes"] = info.size
    encoded = base64.b64encode(shown.data).decode()
    return meta, ImageContent(type="image", data=encoded, mime_type=shown.mime)


async def _link(
    ctx: ToolContext, ref: MediaRef, handle: str, size: str, info: MediaInfo, *, approved: bool
) -> ResourceLink:
    url = await ctx.attachment_url((ref.chat, ref.message, ref.media), size, approved=approved)
    return ResourceLink(
        type="resource_link",
        uri=url or media_uri(handle, size),
        name=info.name,
        mime_type=info.mime,
        size=info.size,
    )


def _limit_for(ctx: ToolContext) -> Callable[[MediaInfo], int]:
    caps = ctx.downloads

    def limit(info: MediaInfo) -> int:
        if is_image(info):
            return IMAGE_SOURCE_MAX_BYTES
        return caps.download_audio_max_bytes if is_audio(info) else caps.download_embed_max_bytes

    return limit


def _claim(root: Path, name: str) -> Path:
    """Create ``root/name`` (or ``name (n)``) exclusively; the path made. Never overwrites."""
    stem, dot, ext = name.rpartition(".")
    stem, ext = (stem, dot + ext) if stem else (name, "")
    for index in range(MAX_NAME_TRIES):
        candidate = root / (name if index == 0 else f"{stem} ({index}){ext}")
        try:
            fd = os.open(
                candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise InvalidArgument("too many files of that name in the downloads root", code="FILE_EXISTS")


def _downloads_root(ctx: ToolContext) -> Path:
    if not ctx.local_files:
        raise NotAllowed(
            "files can be saved only by a local (stdio) server",
            hint="over HTTP leave save off: a link comes back",
        )
    root = ctx.downloads.downloads_root
    if root is None:
        raise InvalidArgument(
            "no downloads root is configured",
            code="NO_DOWNLOADS_ROOT",
            hint="set MCPGRAM_DOWNLOADS_ROOT to an absolute directory and restart the server",
        )
    resolved = Path(os.path.realpath(root))
    if not resolved.is_dir():
        raise InvalidArgument("the downloads root is not a directory", code="NO_DOWNLOADS_ROOT")
    return resolved


async def _save(ctx: ToolContext, ref: MediaRef, size: Size) -> dict[str, Any]:
    """Stream the media into a hidden temporary file in the root, then move it under its own name.

    One Telegram call per :data:`SAVE_WINDOW` bytes, so a large file is not held to one call's
    deadline (``telegram_timeout``) as a whole.
    """
    try:
        root = _downloads_root(ctx)
    except MCPGramError as exc:
        raise refusal(exc) from None
    try:
        fd, temporary = tempfile.mkstemp(dir=root, prefix=".mcpgram-", suffix=".part")
    except OSError:
        raise refusal(_save_failed("the downloads root cannot be written to")) from None
    try:
        with os.fdopen(fd, "wb") as out:

            async def write(piece: bytes) -> None:
                try:
                    await anyio.to_thread.run_sync(out.write, piece)
                except OSError:  # here, not in ctx.run: it would read as Telegram being unreachable
                    raise _save_failed("the file could not be written (is the disk full?)") from None

            act, report, offset = _download(ref), files.progress_reporter(), 0
            while True:
                info = await ctx.run(
                    act, telegram.media.save_media, ref, size, write,
                    offset=offset, limit=SAVE_WINDOW, progress=report,
                )  # fmt: skip
                offset += SAVE_WINDOW
                if offset >= info.size:
                    break
        final = _claim(root, safe_name(info.name, fallback="download"))
        os.replace(temporary, final)  # onto the empty file just claimed: nothing else is overwritten
    except MCPGramError as exc:
        raise refusal(exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return _meta(info, saved=str(final))


def _save_failed(message: str) -> InvalidArgument:
    return InvalidArgument(
        message, code="SAVE_FAILED", hint="check the downloads root (MCPGRAM_DOWNLOADS_ROOT)"
    )


async def download_result(ctx: ToolContext, handle: str, size: Size) -> ToolResult:
    """What ``download_media`` answers without ``save``."""
    ref = await media_ref(ctx, handle)
    (info, data), approved = await ctx.run_approved(
        _download(ref),
        telegram.media.media_bytes,
        ref,
        size,
        _limit_for(ctx),
        progress=files.progress_reporter(),
    )
    block: ContentBlock
    if data is None:  # a link: approved or not, as this call was (the link's server checks it)
        meta, block = _meta(info), await _link(ctx, ref, handle, size, info, approved=approved)
    elif is_image(info):
        meta, block = await _image(ctx, info, data)
    elif is_audio(info):
        meta = _meta(info)
        block = AudioContent(type="audio", data=base64.b64encode(data).decode(), mime_type=info.mime)
    else:
        meta = _meta(info)
        blob = BlobResourceContents(
            uri=media_uri(handle, size), mime_type=info.mime, blob=base64.b64encode(data).decode()
        )
        block = EmbeddedResource(type="resource", resource=blob)
    return ToolResult(content=[_text(meta), block])


def _text(meta: dict[str, Any]) -> TextContent:
    return TextContent(type="text", text=compact_json(meta))


async def read_resource(
    ctx: ToolContext, handle: str, size_text: str
) -> ResourceResult | InputRequiredResult:
    """``mcpgram://media/{handle}``: the bytes, up to ``download_resource_max_bytes`` (under
    ``download = approve``, a 2026-07-28 client first gets the approval's input-required result)."""
    sizes: dict[str, Size] = {"full": "full", "medium": "medium", "thumb": "thumb"}
    size = sizes.get(size_text)
    if size is None:
        raise resource_refusal(InvalidArgument("size is one of full, medium, thumb"))
    cap = ctx.downloads.download_resource_max_bytes
    try:
        ref = await media_ref(ctx, handle)
        info, data = await ctx.run(
            _download(ref),
            telegram.media.media_bytes,
            ref,
            size,
            lambda _: cap,
            progress=files.progress_reporter(),
        )
    except InputRequested as asked:
        return asked.result
    except ToolError as exc:
        raise ResourceError(str(exc)) from None
    if data is None:
        hint = "save it with download_media (stdio) or use its download URL (HTTP)"
        raise resource_refusal(TooLarge(f"the file is over {cap} bytes, the limit for resources", hint=hint))
    return ResourceResult([ResourceContent(data, mime_type=info.mime)])


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def download_media(
        handle: Annotated[
            str,
            Field(
                min_length=HANDLE_CHARS, max_length=HANDLE_CHARS, description="media.handle from get_messages"
            ),
        ],
        size: SizeArg = "full",
        save: Annotated[
            bool, Field(description="stdio: save to the downloads root, return the path")
        ] = False,
    ) -> ToolResult:
        """A message's photo or file: images (downscaled) and audio inline, files embedded or linked."""
        if save:
            ref = await media_ref(ctx, handle)
            return ToolResult(content=[_text(await _save(ctx, ref, size))])
        return await download_result(ctx, handle, size)

    add_tool(mcp, download_media, READ)

    @mcp.resource(
        URI_PREFIX + "{handle}{?size}",
        name="media",
        mime_type="application/octet-stream",
        description="A photo or file by media handle (download_media's links): its bytes.",
    )
    async def media_resource(handle: str, size: str = "full") -> ResourceResult | InputRequiredResult:
        return await read_resource(ctx, handle, size)
