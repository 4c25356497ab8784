"""Telegram's sizes of one picture: downscaled JPEGs, the stripped thumbnail, a progressive JPEG.

https://core.telegram.org/api/files#image-thumbnail-types: a photo is served as ``s`` (box 100),
``m`` (320), ``x`` (800), ``y`` (1280) and ``w`` (2560) JPEGs, each scaled to fit its box and never
up; a size is made only when the picture is bigger than the box below it, so a small picture has
``s`` and ``m`` at most. The largest is a progressive JPEG (``photoSizeProgressive``) whose
``sizes`` are the byte counts at which its scans end. ``i`` is the stripped thumbnail: a JPEG of at
most 40 px with Telegram's fixed header removed, which clients put back
(Telethon's ``utils.stripped_photo_to_jpg``); so it is encoded with exactly that header's tables.

Pure functions of bytes. Pillow is imported on first use, so a sandbox that never renders a photo
never loads it. A picture Pillow cannot decode gives None, and callers fall back to the original.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any

BOXES = (("s", 100), ("m", 320), ("x", 800), ("y", 1280), ("w", 2560))
THUMB_BOX = 320  # a document's ``m`` thumbnail
STRIPPED_BOX = 40
#: Pictures larger than this many pixels are not decoded (Telegram refuses photos past 10000 px w+h).
MAX_PIXELS = 40_000_000
MAX_SOURCE_BYTES = 20 * 1024 * 1024  # larger pictures are served as sent (Telegram's photo cap is 10 MB)
QUALITY = 87
_PROGRESSIVE_STEPS = 5


@dataclass(frozen=True)
class Rendition:
    """One size: its type letter, dimensions and JPEG bytes (``scans``: progressive scan ends)."""

    type: str
    width: int
    height: int
    data: bytes
    scans: tuple[int, ...] = ()


@dataclass(frozen=True)
class SizeSet:
    """What a photo (or a document's thumbnail list) is served as: ``stripped`` plus ``sizes``."""

    stripped: bytes
    sizes: tuple[Rendition, ...]

    def get(self, kind: str) -> Rendition | None:
        return next((size for size in self.sizes if size.type == kind), None)


def photo_sizes(data: bytes) -> SizeSet | None:
    """Every size of a photo, the largest progressive; None if ``data`` is no picture Pillow decodes."""
    image = _decode(data)
    if image is None:
        return None
    longest = max(image.size)
    sizes: list[Rendition] = []
    below = 0
    for kind, box in BOXES:
        if sizes and longest <= below:
            break
        sizes.append(_jpeg(image, kind, box, progressive=False))
        below = box
    largest = sizes[-1]
    sizes[-1] = _jpeg(image, largest.type, max(largest.width, largest.height), progressive=True)
    return SizeSet(_stripped(image), tuple(sizes))


def thumb_sizes(data: bytes) -> SizeSet | None:
    """A document's thumbnails (``i`` and ``m``) from a picture, or None if it does not decode."""
    image = _decode(data)
    if image is None:
        return None
    return SizeSet(_stripped(image), (_jpeg(image, "m", THUMB_BOX, progressive=False),))


# -- encoding --------------------------------------------------------------------------------------


def _decode(data: bytes) -> Any:
    from PIL import Image, ImageOps  # noqa: PLC0415 - loaded with the first photo, not at start-up

    if len(data) > MAX_SOURCE_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused just below
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS or not width or not height:
                    return None
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except Exception:  # whatever a client uploads: undecodable means "serve as sent"
        return None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _fit(image: Any, box: int) -> Any:
    from PIL import Image  # noqa: PLC0415

    width, height = image.size
    scale = min(1.0, box / max(width, height))
    if scale == 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg(image: Any, kind: str, box: int, *, progressive: bool) -> Rendition:
    scaled = _fit(image, box)
    out = io.BytesIO()
    scaled.save(out, "JPEG", quality=QUALITY, progressive=progressive, optimize=progressive)
    data = out.getvalue()
    scans = _progressive_steps(data) if progressive else ()
    return Rendition(kind, scaled.width, scaled.height, data, scans)


def scan_ends(jpeg: bytes) -> list[int]:
    """Byte counts at which each scan of a JPEG ends: prefixes a progressive decoder can show."""
    ends: list[int] = []
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xD9:  # end of image
            break
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if marker != 0xDA:
            continue
        # Entropy-coded data runs to the next marker: 0xFF not followed by a stuffed 0 or a restart.
        while True:
            pos = jpeg.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= len(jpeg):
                return [*ends, len(jpeg)]
            following = jpeg[pos + 1]
            if following == 0 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                pos += 1
                continue
            break
        ends.append(pos)
    return ends


def _progressive_steps(jpeg: bytes) -> tuple[int, ...]:
    """Up to five scan ends, evenly chosen, the last being the whole file (as Telegram lists them)."""
    ends = scan_ends(jpeg)[:-1]
    if len(ends) > _PROGRESSIVE_STEPS - 1:
        step = len(ends) / (_PROGRESSIVE_STEPS - 1)
        ends = [ends[int(i * step)] for i in range(_PROGRESSIVE_STEPS - 1)]
    return (*ends, len(jpeg))


# -- the stripped thumbnail ------------------------------------------------------------------------


@functools.cache
def _stripped_tables() -> Any:
    """The quantisation tables of Telegram's fixed stripped-thumbnail header (as Telethon rebuilds it)."""
    from PIL import Image  # noqa: PLC0415
    from telethon.utils import stripped_photo_to_jpg  # noqa: PLC0415

    header = stripped_photo_to_jpg(b"\x01\x01\x01")[:-2]  # without the end-of-image marker
    with Image.open(io.BytesIO(header + b"\xff\xd9")) as opened:
        return getattr(opened, "quantization")  # noqa: B009 - JpegImageFile only


def _stripped(image: Any) -> bytes:
    """``\\x01``, height, width, then the JPEG's scan data: what follows the fixed header."""
    tables = _stripped_tables()
    small = _fit(image, STRIPPED_BOX)
    out = io.BytesIO()
    small.save(out, "JPEG", qtables=tables, subsampling="4:2:0", optimize=False, progressive=False)
    jpeg = out.getvalue()
    start = _scan_start(jpeg)
    body = jpeg[start:]
    if body.endswith(b"\xff\xd9"):
        body = body[:-2]
    return bytes((1, small.height, small.width)) + body


def _scan_start(jpeg: bytes) -> int:
    """Where the entropy-coded data of the first scan begins (just past the SOS segment)."""
    pos = 2
    while pos + 4 <= len(jpeg):
        marker = jpeg[pos + 1]
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            return pos
    raise ValueError("no scan in JPEG")
