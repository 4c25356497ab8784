"""imaging.render: bounded, upright, metadata-free JPEGs; bombs and garbage refused with codes."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from mcpgram.errors import InvalidArgument, TooLarge
from mcpgram.imaging import MAX_PIXELS, ImageBudget, render


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` with almost no data (what a bomb's header says)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_large_photo_is_downscaled_to_the_long_edge() -> None:
    """4000x1000 -> 1568x392, a JPEG of exactly the reported size."""
    shown = render(encoded(Image.new("RGB", (4000, 1000), (10, 200, 30)), "PNG"), ImageBudget())
    image = Image.open(io.BytesIO(shown.data))
    assert image.format == "JPEG" and image.size == (1568, 392) == (shown.width, shown.height)


def test_a_small_image_keeps_its_size() -> None:
    shown = render(encoded(Image.new("RGB", (40, 30), "red"), "PNG"), ImageBudget())
    assert (shown.width, shown.height) == (40, 30)


def test_the_byte_budget_holds_for_noise() -> None:
    """Random pixels barely compress: quality steps down, then the image shrinks, until it fits."""
    noise = Image.frombytes("RGB", (1500, 1500), os.urandom(1500 * 1500 * 3))
    shown = render(encoded(noise, "PNG"), ImageBudget(max_edge=1568, max_bytes=150_000))
    assert len(shown.data) <= 150_000 and max(shown.width, shown.height) < 1500


def test_exif_orientation_is_applied_then_dropped() -> None:
    """A landscape JPEG tagged 'rotate 90' comes out portrait, with no EXIF, ICC, XMP or comment."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x010F] = "SpyCam"
    source = encoded(
        Image.new("RGB", (200, 100), "blue"), "JPEG", exif=exif, comment=b"hidden", icc_profile=b"\x01" * 64
    )
    shown = render(source, ImageBudget())
    image = Image.open(io.BytesIO(shown.data))
    assert image.size == (100, 200)
    assert not image.getexif() and not {"icc_profile", "comment", "xmp", "exif"} & set(image.info)
    assert b"SpyCam" not in shown.data and b"hidden" not in shown.data


def test_png_text_chunks_and_transparency_do_not_survive() -> None:
    """tEXt chunks go; a transparent pixel is laid on white."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "52.52N 13.40E")
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    shown = render(encoded(image, "PNG", pnginfo=info), ImageBudget())
    assert b"52.52N" not in shown.data
    pixel = Image.open(io.BytesIO(shown.data)).convert("RGB").getpixel((5, 5))
    assert isinstance(pixel, tuple) and min(pixel) > 245


def test_an_animation_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue")]
    source = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    pixel = Image.open(io.BytesIO(render(source, ImageBudget()).data)).getpixel((10, 10))
    assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 60


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    """A header claiming more than MAX_PIXELS is TOO_LARGE before decoding (no warning, no memory)."""
    side = int(MAX_PIXELS**0.5) + 10
    with pytest.raises(TooLarge) as caught:
        render(png_header_only(side, side), ImageBudget())
    assert caught.value.code == "TOO_LARGE" and "megapixels" in caught.value.message


@pytest.mark.parametrize(
    "data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"\xff\xd8\xff" + b"\x00" * 64]
)
def test_undecodable_bytes_are_image_invalid(data: bytes) -> None:
    with pytest.raises(InvalidArgument) as caught:
        render(data, ImageBudget())
    assert caught.value.code == "IMAGE_INVALID"
