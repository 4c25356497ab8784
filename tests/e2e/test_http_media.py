"""download_media over real HTTP with two tenants: media content survives the transport, handles stay
bound to the tenant that received them, and saving to the server's disk is refused."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp import MCPError
from mcp.types import ImageContent
from PIL import Image

from .conftest import People, Running

pytestmark = pytest.mark.e2e


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


async def _photo_handle(alice: Client[Any], bob: int) -> str:
    files = [{"base64": base64.b64encode(png(2400, 300)).decode(), "name": "wide.png"}]
    sent = await alice.call_tool("send_message", {"chat": str(bob), "text": "", "files": files})
    msg_id = json.loads(sent.content[0].text)["id"]  # type: ignore[union-attr]
    page = await alice.call_tool("get_messages", {"chat": str(bob), "ids": [msg_id]})
    handle: str = json.loads(page.content[0].text)["messages"][0]["media"]["handle"]  # type: ignore[union-attr]
    return handle


async def test_a_photo_comes_over_http_as_image_content_for_its_tenant_only(
    server: Running, people: People
) -> None:
    """Alice gets her photo as a decodable, downscaled JPEG; Carol, with Alice's handle, gets
    MEDIA_HANDLE_INVALID from the tool and from the resource; nobody may save on the server."""
    async with server.client(server.alice) as alice, server.client(server.carol) as carol:
        handle = await _photo_handle(alice, people.bob)
        result = await alice.call_tool("download_media", {"handle": handle})
        block = result.content[1]
        assert isinstance(block, ImageContent) and block.mime_type == "image/jpeg"
        image = Image.open(io.BytesIO(base64.b64decode(block.data)))
        assert image.size == (1568, 196)
        with pytest.raises(ToolError) as theirs:
            await carol.call_tool("download_media", {"handle": handle})
        assert str(theirs.value).startswith("MEDIA_HANDLE_INVALID: ")
        with pytest.raises(MCPError) as as_resource:
            await carol.read_resource(f"mcpgram://media/{handle}")
        assert str(as_resource.value).startswith("MEDIA_HANDLE_INVALID: ")
        with pytest.raises(ToolError) as save:
            await alice.call_tool("download_media", {"handle": handle, "save": True})
        assert str(save.value).startswith("NOT_ALLOWED: ")
