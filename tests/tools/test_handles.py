"""Media handles: a known-answer vector, tenant binding, tampering, and their place in results."""

from __future__ import annotations

import pytest

from mcpgram.errors import InvalidArgument
from mcpgram.tools.handles import HANDLE_CHARS, decode_handle, encode_handle, handle_key

from .conftest import Demo

KEY = handle_key(b"k" * 32)
REF = (-1001600000004, 42, 5_000_000_000_123)
#: Pinned: a handle an agent holds must still decode after a refactor (or a restart on a new version).
VECTOR = "Af___xbL_N_8AAAAKgAABIwnOVB758SmD1kkdC_IMN9b"


def test_a_handle_is_compact_url_safe_and_pinned() -> None:
    """44 URL-safe characters; the known answer decodes to the same chat, message and media."""
    handle = encode_handle(KEY, "tenant-a", REF)
    assert len(handle) == HANDLE_CHARS and set(handle) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert handle == VECTOR
    assert decode_handle(KEY, "tenant-a", VECTOR) == REF


def _refused(key: bytes, tenant: str, handle: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_handle(key, tenant, handle)
    assert caught.value.code == "MEDIA_HANDLE_INVALID"
    assert not handle or handle not in str(caught.value)


def test_another_tenant_another_key_or_any_altered_character_is_refused() -> None:
    """The tag binds tenant and key; flipping any one character, truncating or padding is refused."""
    handle = encode_handle(KEY, "tenant-a", REF)
    _refused(KEY, "tenant-b", handle)
    _refused(handle_key(b"j" * 32), "tenant-a", handle)
    for index in range(len(handle)):
        flipped = "B" if handle[index] == "A" else "A"
        _refused(KEY, "tenant-a", handle[:index] + flipped + handle[index + 1 :])
    for bad in (handle[:-1], handle + "A", "", "é" * 44, "=" * 44, "+" * 44, handle.replace("-", "+")):
        if bad != handle:
            _refused(KEY, "tenant-a", bad)


async def test_get_messages_shows_a_handle_not_the_raw_ids(served: Demo) -> None:
    """Every message with a photo or document carries media.handle, and no ref with raw ids."""
    found = 0
    chats = (await served.call("find_chats", limit=50))["chats"]
    for chat in chats:
        page = await served.call("get_messages", chat=str(chat["id"]), limit=50)
        for message in page["messages"]:
            media = message.get("media")
            if not media:
                continue
            assert "ref" not in media
            if media["kind"] in ("photo", "document", "voice", "audio", "video"):
                assert len(media["handle"]) == HANDLE_CHARS
                found += 1
    assert found, "the demo world has media"


async def test_a_handle_from_another_chat_is_resent_to_saved_messages(served: Demo) -> None:
    """A photo someone sent in another chat is re-sent by handle: same stored file, no new upload."""
    chats = (await served.call("find_chats", limit=50))["chats"]
    for chat in chats:
        page = await served.call("get_messages", chat=str(chat["id"]), limit=50, media="photo")
        if page["messages"]:
            message = page["messages"][0]
            break
    else:
        pytest.fail("no photo in the demo world")
    files_before = len(served.world.files)
    sent = await served.call(
        "send_message", chat="me", text="", files=[{"handle": message["media"]["handle"]}]
    )
    mine = served.world.box(served.me).messages[sent["id"]]
    assert mine.content.media_kind == "photo" and len(served.world.files) == files_before
