"""Photos in Telegram's sizes and document thumbnails, downloaded through plain Telethon.

https://core.telegram.org/api/files#image-thumbnail-types: the stripped ``i`` (rebuilt into a JPEG by
Telethon's ``utils.stripped_photo_to_jpg``), ``s`` / ``m`` / ``x`` / ``y`` / ``w`` JPEGs that fit
their boxes, the largest one progressive.
"""

from __future__ import annotations

import io
import os

from PIL import Image, ImageDraw
from telethon import functions, types, utils

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.render_media import served_bytes

from .conftest import ClientFactory
from .test_files import make_pair, named

BOXES = {"s": 100, "m": 320, "x": 800, "y": 1280, "w": 2560}


def picture(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A picture with a colour gradient, a shape and some grain, so every size has something to encode
    and bigger sizes take more bytes, as with photographs (Telethon downloads the largest in bytes)."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 8):
        draw.rectangle((x, 0, x + 8, height), fill=(x * 255 // width, 90, 200 - x * 150 // width))
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(250, 240, 30))
    grain = Image.frombytes("L", (width, height), os.urandom(width * height)).convert("RGB")
    image = Image.blend(image, grain, 0.08)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_colour(image: Image.Image) -> tuple[float, ...]:
    small = image.convert("RGB").resize((1, 1), Image.Resampling.BOX)
    return tuple(float(v) for v in small.getpixel((0, 0)))  # type: ignore[union-attr]


async def test_each_photo_size_downloads_and_decodes(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A 1600x1000 photo arrives as i, s, m, x, y and a progressive w; each size downloads on its own
    (upload.getFile with its thumb_size) and decodes to the dimensions it lists, within its box."""
    pair = await make_pair(make_client, sandbox, "1")
    original = picture(1600, 1000)
    await pair.alice.send_file(pair.bob_peer, named(original, "big.png"))
    (message,) = await pair.received()
    sizes = message.photo.sizes
    assert [s.type for s in sizes] == ["i", "s", "m", "x", "y", "w"]
    assert isinstance(sizes[0], types.PhotoStrippedSize)
    assert all(isinstance(s, types.PhotoSize) for s in sizes[1:-1])
    assert isinstance(sizes[-1], types.PhotoSizeProgressive)
    downloaded: dict[str, bytes] = {}
    for size in sizes[1:]:
        data = await pair.bob.download_media(message, bytes, thumb=size.type)
        downloaded[size.type] = data
        image = decode(data)
        assert image.format == "JPEG" and image.size == (size.w, size.h), size.type
        assert max(size.w, size.h) <= BOXES[size.type]
        if isinstance(size, types.PhotoSize):
            assert size.size == len(data)
    assert (sizes[-1].w, sizes[-1].h) == (1600, 1000)
    assert len({len(d) for d in downloaded.values()}) == len(downloaded)  # each its own bytes
    # With no choice, Telethon takes the largest: the progressive one, whole.
    assert await pair.bob.download_media(message, bytes) == downloaded["w"]
    assert served_bytes(sandbox.world.files[message.photo.id]) == downloaded["w"]
    original_colour = mean_colour(decode(original))
    for data in downloaded.values():
        assert all(abs(a - b) < 12 for a, b in zip(mean_colour(decode(data)), original_colour, strict=True))


async def test_stripped_thumbnail_is_a_valid_jpeg(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """The stripped size rebuilt with Telethon's stripped_photo_to_jpg decodes to a <= 40 px picture of
    the same shape and colours; Telethon's download of it needs no request."""
    pair = await make_pair(make_client, sandbox, "2")
    original = picture(600, 300, "JPEG")
    sent = await pair.alice.send_file("me", named(original, "wide.jpg"))
    stripped = sent.photo.sizes[0]
    assert isinstance(stripped, types.PhotoStrippedSize) and stripped.bytes[0] == 1
    image = decode(utils.stripped_photo_to_jpg(stripped.bytes))
    assert image.format == "JPEG" and image.size == (40, 20)
    assert (stripped.bytes[1], stripped.bytes[2]) == (20, 40)  # height, width
    assert all(
        abs(a - b) < 20 for a, b in zip(mean_colour(image), mean_colour(decode(original)), strict=True)
    )
    assert await pair.alice.download_media(sent, bytes, thumb=stripped) == utils.stripped_photo_to_jpg(
        stripped.bytes
    )


async def test_progressive_size_lists_decodable_scan_ends(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """The progressive size's byte counts ascend to the whole file, and every prefix decodes at full size."""
    alice = await make_client(phone="9996630001", first_name="Alice")
    sent = await alice.send_file("me", named(picture(900, 700), "p.png"))
    largest = sent.photo.sizes[-1]
    assert isinstance(largest, types.PhotoSizeProgressive) and largest.type == "y"
    assert 2 <= len(largest.sizes) <= 5 and largest.sizes == sorted(set(largest.sizes))
    data = await alice.download_media(sent, bytes)
    assert max(largest.sizes) == len(data)
    assert decode(data).info.get("progressive") or decode(data).info.get("progression")
    for end in largest.sizes:
        prefix = data[:end] if end == len(data) else data[:end] + b"\xff\xd9"
        assert decode(prefix).size == (900, 700), end


async def test_small_photo_has_only_the_sizes_it_fills(make_client: ClientFactory) -> None:
    """A 300x200 photo is not scaled up: i, s and a progressive m at its own size."""
    alice = await make_client(phone="9996630002", first_name="Alice")
    sent = await alice.send_file("me", named(picture(300, 200), "small.png"))
    sizes = sent.photo.sizes
    assert [s.type for s in sizes] == ["i", "s", "m"]
    assert (sizes[1].w, sizes[1].h) == (100, 67) and (sizes[2].w, sizes[2].h) == (300, 200)


async def test_document_thumbnails(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An image sent as a file gets i and m thumbnails of itself; a video gets them from the thumbnail
    the client uploaded; a plain file has none."""
    alice = await make_client(phone="9996630003", first_name="Alice")
    image_doc = await alice.send_file("me", named(picture(1000, 500), "scan.png"), force_document=True)
    thumbs = image_doc.document.thumbs
    assert [t.type for t in thumbs] == ["i", "m"] and (thumbs[1].w, thumbs[1].h) == (320, 160)
    thumb = decode(await alice.download_media(image_doc, bytes, thumb=thumbs[1]))
    assert thumb.format == "JPEG" and thumb.size == (320, 160)
    assert decode(await alice.download_media(image_doc, bytes)).size == (1000, 500)  # the file itself

    video_attr = types.DocumentAttributeVideo(duration=4, w=640, h=360, supports_streaming=True)
    video = await alice.send_file(
        "me",
        named(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), "clip.mp4"),
        thumb=named(picture(160, 90, "JPEG"), "thumb.jpg"),
        attributes=[video_attr],
        supports_streaming=True,
    )
    assert [t.type for t in video.document.thumbs] == ["i", "m"]
    assert decode(await alice.download_media(video, bytes, thumb=-1)).size == (160, 90)

    plain = await alice.send_file("me", named(os.urandom(2000), "blob.bin"), force_document=True)
    assert not plain.document.thumbs


async def test_a_photo_too_large_to_decode_is_served_as_sent(make_client: ClientFactory) -> None:
    """95 megapixels (past the sandbox's 40 and Pillow's bomb warning) are not decoded: one x size with
    the header's dimensions, downloading the bytes as sent. (Uploaded raw: Telethon's send_file would
    shrink it to 2560 px first.)"""
    alice = await make_client(phone="9996630004", first_name="Alice")
    out = io.BytesIO()
    Image.new("1", (10_000, 9_500)).save(out, "PNG")
    uploaded = await alice.upload_file(out.getvalue(), file_name="huge.png")
    media = await alice(
        functions.messages.UploadMediaRequest(types.InputPeerSelf(), types.InputMediaUploadedPhoto(uploaded))
    )
    (size,) = media.photo.sizes
    assert (size.type, size.w, size.h, size.size) == ("x", 10_000, 9_500, len(out.getvalue()))
    assert await alice.download_media(media.photo, bytes) == out.getvalue()
