"""download_media and mcpgram://media/ through a real MCP client -> mcpgram -> Telethon -> sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp import MCPError
from mcp.types import AudioContent, BlobResourceContents, EmbeddedResource, ImageContent, ResourceLink
from PIL import Image

from mcpgram.datadir import server_secret_bytes
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES, Scope
from mcpgram.tools.download import SAVE_WINDOW
from mcpgram.tools.handles import encode_handle, handle_key
from mcpgram.vault.vault import OWNER_TENANT_ID

from .conftest import Demo, serve_demo
from .message_truth import marked

GPS_IFD = 0x8825


def exif_jpeg(width: int, height: int) -> bytes:
    """A noisy JPEG (hard to compress) with EXIF GPS, camera make, a comment and an ICC profile."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif, comment=b"secret comment", icc_profile=b"\x00" * 128)
    return out.getvalue()


def code_of(caught: pytest.ExceptionInfo[Any]) -> str:
    return str(caught.value).split(":", 1)[0]


async def handle_of(served: Demo, label: str) -> str:
    peer, msg_id = served.demo.messages[label]
    page = await served.call("get_messages", chat=str(marked(peer)), ids=[msg_id])
    handle: str = page["messages"][0]["media"]["handle"]
    return handle


async def sent_handle(served: Demo, data: bytes, name: str) -> str:
    sent = await served.call("send_message", chat="me", text="", files=[{"base64": b64(data), "name": name}])
    page = await served.call("get_messages", chat="me", ids=[sent["id"]])
    handle: str = page["messages"][0]["media"]["handle"]
    return handle


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def download(served: Demo, **args: Any) -> tuple[dict[str, Any], list[Any]]:
    result = await served.client.call_tool("download_media", args)
    meta = json.loads(result.content[0].text)  # type: ignore[union-attr]
    return meta, list(result.content[1:])


def stored_of(served: Demo, label: str) -> bytes:
    message = served.demo.message(label)
    return served.world.files[message.content.media_id or 0].data


async def test_a_photo_comes_inline_within_budget_and_without_metadata(served: Demo) -> None:
    """A 3000x2000 JPEG with EXIF GPS, a comment and ICC comes back as image content: at most
    1568 px and 800 KB, decodable, upright, and with none of that metadata."""
    original = exif_jpeg(3000, 2000)
    assert b"SpyCam" in original and b"secret comment" in original
    handle = await sent_handle(served, original, "gps.jpg")
    meta, blocks = await download(served, handle=handle)
    assert len(blocks) == 1 and isinstance(blocks[0], ImageContent)
    data = base64.b64decode(blocks[0].data)
    assert (
        blocks[0].mime_type == "image/jpeg"
        and len(data) <= 800_000 == served.gateway.settings.download_image_max_bytes
    )
    image = Image.open(io.BytesIO(data))
    image.load()
    # 3000x2000 fits 1568 wide; Telegram's own 2560 px size (when served) rounds to 1046 rows.
    assert image.width == 1568 and image.height in (1045, 1046)
    assert not image.getexif() and "icc_profile" not in image.info and "comment" not in image.info
    assert b"SpyCam" not in data and b"secret comment" not in data and b"Exif" not in data
    assert meta["bytes"] == len(data) and (meta["width"], meta["height"]) == image.size
    # What Telegram served: the upload itself, or Telegram's own re-encoded largest size.
    assert 0 < meta["original_bytes"] <= len(original) and meta["mime"] == "image/jpeg"


async def test_a_demo_photo_comes_inline_for_every_size_choice(served: Demo) -> None:
    """The demo's PNG photo decodes at full, medium and thumb (the sandbox keeps one size)."""
    handle = await handle_of(served, "alex_sunset")
    for size in ("full", "medium", "thumb"):
        meta, blocks = await download(served, handle=handle, size=size)
        assert isinstance(blocks[0], ImageContent)
        image = Image.open(io.BytesIO(base64.b64decode(blocks[0].data)))
        assert image.format == "JPEG" and (meta["width"], meta["height"]) == image.size


async def test_a_voice_note_comes_as_audio(served: Demo) -> None:
    """The demo's voice note is audio content with its bytes, its MIME type and duration."""
    handle = await handle_of(served, "maria_voice")
    meta, blocks = await download(served, handle=handle)
    assert isinstance(blocks[0], AudioContent) and blocks[0].mime_type == "audio/ogg"
    assert base64.b64decode(blocks[0].data) == stored_of(served, "maria_voice")
    assert meta["duration"] == 9 and meta["bytes"] == len(stored_of(served, "maria_voice"))


async def test_a_document_is_embedded_with_its_bytes(served: Demo) -> None:
    """The demo's PDF is an embedded blob resource whose bytes are the stored file's."""
    handle = await handle_of(served, "q3_report")
    meta, blocks = await download(served, handle=handle)
    assert isinstance(blocks[0], EmbeddedResource)
    resource = blocks[0].resource
    assert isinstance(resource, BlobResourceContents) and resource.mime_type == "application/pdf"
    assert base64.b64decode(resource.blob) == stored_of(served, "q3_report")
    assert str(resource.uri) == f"mcpgram://media/{handle}" and meta["name"].endswith(".pdf")


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Demo]:
    """Embeds up to 100 bytes, resources up to 3000 (the demo PDF lies between), audio up to 10."""
    caps = {
        "download_embed_max_bytes": 100,
        "download_resource_max_bytes": 3000,
        "download_audio_max_bytes": 10,
    }
    async for demo in serve_demo(tmp_path / "data", settings=caps):
        yield demo


async def test_a_file_over_the_cap_is_a_link_that_resources_read_serves(capped: Demo) -> None:
    """Over the embed cap: a resource link (name, MIME, size), which resources/read returns in full;
    over the resource cap, resources/read refuses with TOO_LARGE."""
    pdf = stored_of(capped, "q3_report")
    assert 100 < len(pdf) <= 3000
    handle = await handle_of(capped, "q3_report")
    _, blocks = await download(capped, handle=handle)
    link = blocks[0]
    assert isinstance(link, ResourceLink) and link.size == len(pdf) and link.mime_type == "application/pdf"
    contents = await capped.client.read_resource(str(link.uri))
    assert base64.b64decode(contents[0].blob) == pdf  # type: ignore[union-attr]
    voice = await handle_of(capped, "maria_voice")
    _, blocks = await download(capped, handle=voice)
    assert isinstance(blocks[0], ResourceLink)
    big = await sent_handle(capped, os.urandom(5000), "big.bin")
    with pytest.raises(MCPError) as caught:
        await capped.client.read_resource(f"mcpgram://media/{big}")
    assert code_of(caught) == "TOO_LARGE"


async def test_another_tenants_handle_is_refused_before_telegram(served: Demo) -> None:
    """A handle minted for another tenant (same server key) is MEDIA_HANDLE_INVALID, as a tool and
    as a resource."""
    peer, msg_id = served.demo.messages["q3_report"]
    media_id = served.demo.message("q3_report").content.media_id or 0
    secret = server_secret_bytes(served.gateway.settings)
    cursor_key = hmac.new(secret, b"mcpgram/cursor/v1", hashlib.sha256).digest()
    theirs = encode_handle(handle_key(cursor_key), "tnt_someone_else", (marked(peer), msg_id, media_id))
    mine = encode_handle(handle_key(cursor_key), OWNER_TENANT_ID, (marked(peer), msg_id, media_id))
    assert mine == await handle_of(served, "q3_report")
    with pytest.raises(ToolError) as caught:
        await download(served, handle=theirs)
    assert code_of(caught) == "MEDIA_HANDLE_INVALID"
    with pytest.raises(MCPError) as as_resource:
        await served.client.read_resource(f"mcpgram://media/{theirs}")
    assert "MEDIA_HANDLE_INVALID" in str(as_resource.value)


async def test_a_denied_download_verb_or_read_scope_refuses(served: Demo) -> None:
    """download: deny hides the tool and the media template, and reading a media URI answers as for
    a resource that does not exist; a chat outside the read scope refuses by rule read."""
    handle = await handle_of(served, "q3_report")
    media = "mcpgram://media/{handle}{?size}"
    assert media in {t.uri_template for t in await served.client.list_resource_templates()}
    book = PolicyBook(served.gateway.vault, "all")
    book.set(OWNER_TENANT_ID, PROFILES["all"].with_rules({"download": "deny"}))
    assert "download_media" not in [tool.name for tool in await served.client.list_tools()]
    assert media not in {t.uri_template for t in await served.client.list_resource_templates()}
    with pytest.raises(MCPError) as caught:
        await served.client.read_resource(f"mcpgram://media/{handle}")
    assert str(caught.value) == f"Resource not found: 'mcpgram://media/{handle}'"
    book.set(OWNER_TENANT_ID, replace(PROFILES["all"], read=Scope.parse([str(served.me)])))
    with pytest.raises(ToolError) as outside:
        await download(served, handle=handle)
    assert code_of(outside) == "NOT_ALLOWED" and "rule read" in str(outside.value)


async def test_saving_needs_a_downloads_root(served: Demo) -> None:
    """stdio save with no root configured: NO_DOWNLOADS_ROOT naming the setting."""
    handle = await handle_of(served, "q3_report")
    with pytest.raises(ToolError) as caught:
        await download(served, handle=handle, save=True)
    assert code_of(caught) == "NO_DOWNLOADS_ROOT" and "MCPGRAM_DOWNLOADS_ROOT" in str(caught.value)


@pytest.fixture
async def saving(tmp_path: Path) -> AsyncIterator[Demo]:
    root = tmp_path / "downloads"
    root.mkdir()
    async for demo in serve_demo(
        tmp_path / "data", settings={"downloads_root": str(root), "max_inline_bytes": 25_000_000}
    ):
        yield demo


async def test_saved_files_are_identical_safely_named_and_never_overwritten(
    saving: Demo, tmp_path: Path
) -> None:
    """A 20 MB file is saved byte for byte with progress reported; a name with a path in it lands in
    the root as its base name; an existing file or a symlink of that name is never written through
    (a suffix is added); no temporary file is left."""
    root = tmp_path / "downloads"
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    (root / "evil..txt").symlink_to(outside)
    body = os.urandom(20 * 1024 * 1024 + 77)
    handle = await sent_handle(saving, body, "../../../etc/evil..txt")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await saving.client.call_tool(
        "download_media", {"handle": handle, "save": True}, progress_handler=on_progress, timeout=120
    )
    meta = json.loads(result.content[0].text)  # type: ignore[union-attr]
    saved = Path(meta["saved"])
    assert saved.parent == root.resolve() and saved.name == "evil. (1).txt"
    assert saved.read_bytes() == body and meta["bytes"] == len(body)  # noqa: ASYNC240
    assert seen and seen[-1] == (len(body), len(body))
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    again, _ = await download(saving, handle=handle, save=True)
    assert Path(again["saved"]).name == "evil. (2).txt"
    assert sorted(p.name for p in root.iterdir()) == ["evil. (1).txt", "evil. (2).txt", "evil..txt"]
    assert Path(again["saved"]).read_bytes() == body  # noqa: ASYNC240
    assert outside.read_bytes() == b"keep"


async def test_an_inline_download_over_1_mb_reports_progress(capped_big: Demo) -> None:
    """A 1.5 MB file embedded inline sends progress to a client that sent a token."""
    body = os.urandom(1_500_000)
    handle = await sent_handle(capped_big, body, "mid.bin")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    result = await capped_big.client.call_tool(
        "download_media", {"handle": handle}, progress_handler=on_progress
    )
    assert isinstance(result.content[1], EmbeddedResource)
    assert seen and seen[-1] == (len(body), len(body))


@pytest.fixture
async def capped_big(tmp_path: Path) -> AsyncIterator[Demo]:
    async for demo in serve_demo(tmp_path / "data", settings={"download_embed_max_bytes": 2_000_000}):
        yield demo


async def test_over_http_saving_is_refused_and_large_files_are_links(tmp_path: Path) -> None:
    """An HTTP tenant may not save on the server's disk; a file over the embed cap is a link."""
    async for http in serve_demo(
        tmp_path / "data", transport="http", settings={"download_embed_max_bytes": 100}
    ):
        handle = await handle_of(http, "q3_report")
        with pytest.raises(ToolError) as caught:
            await download(http, handle=handle, save=True)
        assert code_of(caught) == "NOT_ALLOWED"
        _, blocks = await download(http, handle=handle)
        assert isinstance(blocks[0], ResourceLink) and str(blocks[0].uri).startswith("mcpgram://media/")


async def test_saving_under_download_approve_asks_once_for_the_whole_file(
    saving: Demo, tmp_path: Path
) -> None:
    """download = approve, a 2025-era client with elicitation (stdio-like, in memory): a file over
    one save window (two Telegram windows) is asked for once and saved whole; the next save asks
    again; refused, nothing is saved."""
    body = os.urandom(SAVE_WINDOW + 4096)
    handle = await sent_handle(saving, body, "approved.bin")
    PolicyBook(saving.gateway.vault, "all").set(
        OWNER_TENANT_ID, PROFILES["all"].with_rules({"download": "approve"})
    )
    answers = iter([True, False])
    asked: list[str] = []

    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return next(answers)

    async with Client(saving.gateway.mcp, mode="legacy", elicitation_handler=person) as client:
        result = await client.call_tool("download_media", {"handle": handle, "save": True}, timeout=120)
        refused = await client.call_tool(
            "download_media", {"handle": handle, "save": True}, raise_on_error=False
        )
    saved = Path(json.loads(result.content[0].text)["saved"])  # type: ignore[union-attr]
    assert saved.read_bytes() == body  # noqa: ASYNC240
    assert len(asked) == 2 and "download_media" in asked[0]
    assert refused.is_error and refused.content[0].text.startswith("APPROVAL_REFUSED: ")  # type: ignore[union-attr]
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == ["approved.bin"]
