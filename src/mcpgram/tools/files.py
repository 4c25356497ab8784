"""Files an agent attaches to ``send_message``: checked and gathered here, sent by ``telegram.outgoing``.

Each file is exactly one of a URL (fetched SSRF-safe by :mod:`mcpgram.fetch` to a temporary file),
base64 bytes in the call (capped per call by ``max_inline_bytes``; a ``data:`` URI prefix is
accepted), a media handle (``tools/handles.py``: re-sent by Telegram id, bound to the tenant), or a
local path. Local paths are the stdio owner's only: over HTTP they are ``NOT_ALLOWED`` before
anything is read, since the gateway's disk is not the tenant's. Over stdio they must lie under a
root: the ``local_file_roots`` setting plus the roots the MCP client declares (``roots/list``, if
the client has the roots capability). Fetched files are removed when the send ends, however it ends.

Progress notifications go to clients that sent a progress token, for uploads over 1 MB.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote, urlsplit

from fastmcp.server.dependencies import get_context
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ClientCapabilities, RootsCapability
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from .. import telegram
from ..configs import FilesConfig
from ..errors import InvalidArgument, NotAllowed, TooLarge
from ..fetch.streaming import Streaming
from ..telegram.filekinds import FileBytes, FileInput, LocalPath, MediaRef, Progress
from .context import ToolContext
from .handles import HANDLE_CHARS, decode_handle, handle_key

if TYPE_CHECKING:
    from ..fetch.fetcher import Fetched, Fetcher
    from ..telegram import Client
    from ..telegram.sending import Sent

#: Uploads from this size on report progress (to clients that asked for it).
PROGRESS_FROM_BYTES = 1024 * 1024
#: A lone URL file whose server declares at least this many bytes is uploaded while it downloads.
STREAM_FROM_BYTES = 1024 * 1024
_ROOTS_TIMEOUT = 5.0
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[^;,]*)*;base64,", re.I)
_HINT_HTTP = "over HTTP send files by https URL, as base64 bytes (with name), or by media handle"


class FileItem(BaseModel):
    """One file: exactly one of url, path, base64 (with name), handle. Its schema is :data:`FILE_SCHEMA`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field("", max_length=4096, description="https URL")
    path: str = Field("", max_length=4096, description="Absolute local path (stdio only)")
    base64: str = Field("", description="File bytes, base64 (with name)")
    name: str = Field("", max_length=255, description="File name")
    handle: str = Field("", max_length=HANDLE_CHARS, description="media.handle from get_messages")


#: What ``tools/list`` shows for one file: pydantic's own schema repeats ``"default": ""`` and a
#: ``maxLength`` per field (the model still checks them); this one is 40% shorter (bench/tools.py).
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One of url, path, base64, handle",
    "properties": {
        "url": {"type": "string", "description": "https URL"},
        "path": {"type": "string", "description": "Absolute local path (stdio only)"},
        "base64": {"type": "string", "description": "File bytes (give name)"},
        "name": {"type": "string", "description": "File name"},
        "handle": {"type": "string", "description": "media.handle from get_messages"},
    },
    "additionalProperties": False,
}
FileArg = Annotated[FileItem, WithJsonSchema(FILE_SCHEMA)]


@functools.lru_cache(maxsize=4)
def _default_fetcher(files: FilesConfig) -> Fetcher:
    # Lazy: httpx2 and the fetcher load only once a URL is sent, not at every start-up.
    from ..fetch.fetcher import Fetcher, FetchLimits  # noqa: PLC0415
    from ..fetch.policy import HostRules  # noqa: PLC0415

    limits = FetchLimits(
        max_bytes=files.fetch_max_bytes,
        connect_timeout=files.fetch_connect_timeout,
        read_timeout=files.fetch_read_timeout,
        total_timeout=files.fetch_total_timeout,
        max_files_per_call=files.fetch_max_files,
    )
    hosts = HostRules(allow=files.fetch_allow_hosts, deny=files.fetch_deny_hosts)
    return Fetcher(limits, allow_http=files.fetch_allow_http, hosts=hosts)


def _one_source(item: FileItem) -> str:
    given = [name for name in ("url", "path", "base64", "handle") if getattr(item, name)]
    if len(given) != 1:
        raise InvalidArgument(
            "each file takes exactly one of url, path, base64 or handle", hint="split it into several files"
        )
    return given[0]


def _decode_base64(item: FileItem, budget: int) -> FileBytes:
    text = item.base64.strip()
    declared = None
    prefix = _DATA_URI.match(text)
    if prefix:
        declared = (prefix.group(1) or "").lower() or None
        text = text[prefix.end() :]
    text = "".join(text.split())
    if len(text) // 4 * 3 > budget + 2:
        raise TooLarge("the base64 files are over the size limit of one call", hint="send a URL instead")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        text = text.replace("-", "+").replace("_", "/")
        try:
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument("a file's base64 is not valid", hint="encode the bytes as base64") from None
    if len(data) > budget:
        raise TooLarge("the base64 files are over the size limit of one call", hint="send a URL instead")
    return FileBytes(data, item.name or "file", declared)


async def _client_roots() -> list[str]:
    """The local directories the MCP client declares as roots (none if it has no roots capability)."""
    try:
        session = get_context().session
        if not session.check_client_capability(ClientCapabilities(roots=RootsCapability())):
            return []
        # Roots are deprecated from MCP 2026-07-28 (no back-channel there): only earlier-era
        # clients (2025-06-18, 2025-11-25) can answer roots/list.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            async with asyncio.timeout(_ROOTS_TIMEOUT):
                listed = await session.list_roots()
    except Exception:
        return []
    found = []
    for root in listed.roots:
        parts = urlsplit(str(root.uri))
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            found.append(unquote(parts.path))
    return found


async def collect(
    ctx: ToolContext, items: Sequence[FileItem]
) -> tuple[list[FileInput | str], list[Fetched | Streaming]]:
    """Check every file and gather its bytes; handles stay strings (they are read inside ``ctx.run``).

    Returns the inputs in order and the fetched temporary files, which the caller must remove.
    Nothing is fetched until every item has passed its checks. A message with one file, a URL whose
    server declares a ``Content-Length`` of :data:`STREAM_FROM_BYTES` or more, gets that file still
    arriving (``fetch/streaming.py``): the upload overlaps the download and checks the final size.

    Raises:
        InvalidArgument, NotAllowed, TooLarge, BlockedURL, FetchFailed: the first refusal.
    """
    limit = ctx.files.fetch_max_files
    if len(items) > limit:
        raise InvalidArgument(
            f"at most {limit} files per message", code="TOO_MANY_FILES", hint="split them over calls"
        )
    kinds = [_one_source(item) for item in items]
    if "path" in kinds and not ctx.local_files:
        raise NotAllowed("local file paths can be sent only through a local (stdio) server", hint=_HINT_HTTP)
    roots: tuple[str, ...] = ()
    if "path" in kinds:
        roots = (*(str(root) for root in ctx.files.local_file_roots), *await _client_roots())
    budget = ctx.files.max_inline_bytes
    inputs: list[FileInput | str] = []
    for item, kind in zip(items, kinds, strict=True):
        if kind == "base64":
            decoded = _decode_base64(item, budget)
            budget -= len(decoded.data) if isinstance(decoded.data, bytes) else 0
            inputs.append(decoded)
        elif kind == "path":
            inputs.append(LocalPath(item.path, roots, ctx.files.fetch_max_bytes))
        elif kind == "handle":
            inputs.append(item.handle)
        else:
            inputs.append(item.url)
    urls = [(index, value) for index, value in enumerate(inputs) if kinds[index] == "url"]
    if not urls:
        return inputs, []
    fetcher = ctx.fetcher if ctx.fetcher is not None else _default_fetcher(ctx.files)
    if len(items) == 1:
        streaming = await fetcher.stream(str(urls[0][1]))
        name = items[0].name or _url_name(streaming.final_url)
        if streaming.size is not None and streaming.size >= STREAM_FROM_BYTES:
            return [FileBytes(streaming, name, streaming.content_type)], [streaming]
        try:  # small or of unknown size: fetched whole first, as an album's files are
            await streaming.finish()
        except BaseException:
            streaming.remove()
            raise
        return [FileBytes(streaming.path, name, streaming.content_type)], [streaming]
    fetched: list[Fetched | Streaming] = list(await fetcher.fetch_all([str(url) for _, url in urls]))
    for (index, _), got in zip(urls, fetched, strict=True):
        name = items[index].name or _url_name(got.final_url)
        inputs[index] = FileBytes(got.path, name, got.content_type)
    return inputs, fetched


def content_parts(inputs: Sequence[FileInput | str]) -> list[str | bytes | Path]:
    """What the audit journal digests of the files: bytes (or our temporary file) and handles.

    A local path (stdio) is left out: it is read only through ``telegram.local_files``' checks.
    """
    parts: list[str | bytes | Path] = []
    for item in inputs:
        if isinstance(item, FileBytes):
            parts.append(item.data if isinstance(item.data, bytes | Path) else item.data.path)
        elif isinstance(item, str):
            parts.append(item)
    return parts


def arrived(inputs: Sequence[FileInput | str]) -> Callable[[], bool] | None:
    """For a file still arriving: whether it has fully arrived (the journal digests it then)."""
    for item in inputs:
        if isinstance(item, FileBytes) and isinstance(item.data, Streaming):
            streaming = item.data
            return lambda: streaming.complete_now
    return None


def ready(inputs: Sequence[FileInput | str]) -> Callable[[], Awaitable[object]] | None:
    """For a file still arriving: waits until it has fully arrived (an approval binds its bytes)."""
    for item in inputs:
        if isinstance(item, FileBytes) and isinstance(item.data, Streaming):
            return item.data.complete
    return None


def _url_name(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "file"


def remove_all(fetched: Sequence[Fetched | Streaming]) -> None:
    for item in fetched:
        with contextlib.suppress(OSError):
            item.remove()


def progress_reporter() -> Progress:
    """Progress notifications for the current request, from 1 MB on (FastMCP sends them only to
    clients that sent a progress token)."""
    context = get_context()

    async def report(sent: int, total: int) -> None:
        if total >= PROGRESS_FROM_BYTES:
            await context.report_progress(sent, total)

    return report


async def send_with_files(
    client: Client, /, ctx: ToolContext, chat: str, text: str, inputs: list[Any], **kw: Any
) -> Sent:
    """Inside ``ctx.run``: turn handles into media refs for this tenant, then send (``telegram.outgoing``)."""

    key = handle_key(ctx.cursor_key)
    files: list[FileInput] = [
        MediaRef(*decode_handle(key, ctx.tenant(), item)) if isinstance(item, str) else item
        for item in inputs
    ]
    sent: Sent = await telegram.outgoing.send_files(client, chat, text, files, **kw)
    return sent
