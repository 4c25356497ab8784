"""Small, valid media files for the demo world, made procedurally: PNG pictures, a PDF, an Ogg voice note.

Everything is computed from its arguments (no randomness, no files on disk), so the demo world is
reproducible byte for byte. Pictures are drawn a row at a time from a background gradient plus a few
shapes given as horizontal spans, which keeps a 320 px image well under a millisecond per row.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Iterable
from functools import cache

RGB = tuple[int, int, int]
#: A shape answers, for one row ``y``, the horizontal spans ``(x0, x1)`` it covers.
Shape = Callable[[int], Iterable[tuple[int, int]]]


# -- PNG -----------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rows: Iterable[bytes]) -> bytes:
    """An 8-bit RGB PNG from ``height`` rows of ``3 * width`` bytes each."""
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _circle(cx: int, cy: int, r: int) -> Shape:
    def spans(y: int) -> list[tuple[int, int]]:
        dy = y - cy
        if abs(dy) > r:
            return []
        half = int(math.sqrt(r * r - dy * dy))
        return [(cx - half, cx + half + 1)]

    return spans


def _rect(x0: int, y0: int, x1: int, y1: int) -> Shape:
    return lambda y: [(x0, x1)] if y0 <= y < y1 else []


def _ridge(width: int, base: int, amplitude: int, period: float, phase: float) -> Shape:
    """Everything below a wavy skyline: mountains, hills or waves."""
    tops = [
        base - int(amplitude * (0.6 * math.sin(x / period + phase) + 0.4 * math.sin(x / (period / 2.7))))
        for x in range(width)
    ]

    def spans(y: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        start = None
        for x, top in enumerate(tops):
            if y >= top and start is None:
                start = x
            elif y < top and start is not None:
                out.append((start, x))
                start = None
        if start is not None:
            out.append((start, width))
        return out

    return spans


def draw(width: int, height: int, top: RGB, bottom: RGB, shapes: list[tuple[Shape, RGB]]) -> bytes:
    """A vertical gradient from ``top`` to ``bottom`` with ``shapes`` painted over it, in order."""

    def rows() -> Iterable[bytes]:
        for y in range(height):
            row = bytearray(bytes(_mix(top, bottom, y / max(1, height - 1))) * width)
            for shape, color in shapes:
                for start, end in shape(y):
                    x0, x1 = max(0, start), min(width, end)
                    if x1 > x0:
                        row[3 * x0 : 3 * x1] = bytes(color) * (x1 - x0)
            yield bytes(row)

    return encode_png(width, height, rows())


@cache
def picture(name: str) -> bytes:
    """One of the demo's named pictures (see :data:`PICTURES`), as PNG bytes."""
    return PICTURES[name]()


def _sunset() -> bytes:
    w, h = 320, 200
    return draw(
        w,
        h,
        (255, 170, 90),
        (120, 60, 140),
        [
            (_circle(200, 120, 34), (255, 230, 150)),
            (_ridge(w, 150, 28, 40.0, 0.5), (70, 40, 90)),
            (_ridge(w, 178, 12, 22.0, 2.0), (40, 25, 60)),
        ],
    )


def _lake() -> bytes:
    w, h = 288, 192
    shapes: list[tuple[Shape, RGB]] = [
        (_ridge(w, 90, 30, 30.0, 1.2), (46, 90, 60)),
        (_rect(0, 110, w, h), (60, 120, 170)),
    ]
    shapes += [
        (_rect(20 + 37 * i % 220, 120 + 9 * i, 60 + 37 * i % 220, 122 + 9 * i), (150, 200, 230))
        for i in range(8)
    ]
    return draw(w, h, (150, 200, 240), (210, 235, 250), shapes)


def _trail() -> bytes:
    w, h = 256, 256
    path: list[tuple[Shape, RGB]] = []
    for y in range(0, h, 4):
        cx = int(128 + 50 * math.sin(y / 30.0)) - (h - y) // 12
        half = 4 + y // 16
        path.append((_rect(cx - half, y, cx + half, y + 4), (190, 160, 110)))
    trees = [(_circle(30 + 45 * i, 40 + 23 * (i % 3), 14), (30, 100, 50)) for i in range(6)]
    return draw(w, h, (120, 180, 100), (70, 140, 70), trees + path)


def _garden() -> bytes:
    w, h = 240, 180
    shapes: list[tuple[Shape, RGB]] = [(_rect(0, 120, w, h), (110, 80, 50))]
    palette: list[RGB] = [(230, 70, 90), (250, 200, 60), (160, 90, 200), (250, 250, 250)]
    for i in range(14):
        x, y = 12 + 17 * i, 70 + (i * 29) % 40
        shapes.append((_rect(x - 1, y, x + 1, 122), (40, 120, 40)))
        shapes.append((_circle(x, y, 6), palette[i % len(palette)]))
    return draw(w, h, (170, 215, 250), (200, 235, 200), shapes)


def _mockup() -> bytes:
    w, h = 320, 224
    shapes: list[tuple[Shape, RGB]] = [
        (_rect(0, 0, w, 28), (40, 120, 220)),
        (_rect(10, 8, 90, 20), (230, 240, 255)),
    ]
    for i in range(3):
        x = 14 + i * 102
        shapes.append((_rect(x, 44, x + 90, 150), (255, 255, 255)))
        shapes.append((_rect(x + 8, 52, x + 82, 100), [(250, 190, 90), (120, 200, 160), (240, 130, 130)][i]))
        shapes.append((_rect(x + 8, 110, x + 70, 116), (200, 200, 210)))
        shapes.append((_rect(x + 8, 124, x + 50, 130), (220, 220, 228)))
    shapes.append((_rect(110, 172, 210, 200), (40, 120, 220)))
    return draw(w, h, (236, 238, 244), (226, 229, 238), shapes)


def _cake() -> bytes:
    w, h = 200, 200
    candles = [(_rect(70 + 20 * i, 60, 76 + 20 * i, 92), (250, 250, 240)) for i in range(4)]
    flames = [(_circle(73 + 20 * i, 54, 5), (255, 190, 40)) for i in range(4)]
    return draw(
        w,
        h,
        (255, 228, 235),
        (250, 200, 215),
        [
            (_rect(40, 92, 160, 170), (150, 90, 60)),
            (_rect(40, 92, 160, 108), (255, 245, 250)),
            (_rect(30, 170, 170, 178), (200, 200, 210)),
            *candles,
            *flames,
        ],
    )


def _avatar(color: RGB, accent: RGB) -> Callable[[], bytes]:
    return lambda: draw(
        64,
        64,
        color,
        _mix(color, (0, 0, 0), 0.35),
        [
            (_circle(32, 24, 12), accent),
            (_circle(32, 66, 24), accent),
        ],
    )


PICTURES: dict[str, Callable[[], bytes]] = {
    "sunset": _sunset,
    "lake": _lake,
    "trail": _trail,
    "garden": _garden,
    "mockup": _mockup,
    "cake": _cake,
    "avatar_teal": _avatar((40, 150, 150), (220, 245, 240)),
    "avatar_coral": _avatar((230, 110, 90), (255, 235, 225)),
    "avatar_indigo": _avatar((80, 90, 190), (225, 228, 255)),
}


# -- documents -----------------------------------------------------------------------------------


def pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with ``title`` and ``lines`` in Helvetica (ASCII only), with a correct xref."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = [f"BT /F1 18 Tf 56 780 Td ({escape(title)}) Tj ET"]
    ops += [f"BT /F1 11 Tf 56 {750 - 16 * i} Td ({escape(line)}) Tj ET" for i, line in enumerate(lines)]
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- Ogg voice note ------------------------------------------------------------------------------


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_page(serial: int, sequence: int, granule: int, packet: bytes, *, first: bool, last: bool) -> bytes:
    flags = (0x02 if first else 0) | (0x04 if last else 0)
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    header = (
        b"OggS\x00"
        + struct.pack("<BqIII", flags, granule, serial, sequence, 0)
        + bytes([len(lacing)])
        + lacing
    )
    page = header + packet
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) & 0xFF) ^ byte]
    return page[:22] + struct.pack("<I", crc) + page[26:]


def voice_note(duration: int, *, seed: int = 1) -> bytes:
    """An Ogg/Opus-framed voice note of ``duration`` seconds: valid pages, placeholder audio packets."""
    serial = 0x5AD0 + seed
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 7) + b"mcpgram" + struct.pack("<I", 0)
    pages = [
        _ogg_page(serial, 0, 0, head, first=True, last=False),
        _ogg_page(serial, 1, 0, tags, first=False, last=False),
    ]
    for second in range(duration):
        # A deterministic byte pattern stands in for one second of encoded speech.
        packet = bytes((i * 37 + second * 11 + seed) & 0xFF for i in range(120))
        pages.append(
            _ogg_page(
                serial, second + 2, 48000 * (second + 1), packet, first=False, last=second == duration - 1
            )
        )
    return b"".join(pages)


def waveform(duration: int, *, seed: int = 1) -> bytes:
    """Telegram's 5-bit packed waveform (100 samples) for a voice note's ``DocumentAttributeAudio``."""
    samples = [int(15.5 + 15 * math.sin(i / 4.0 + seed) * math.sin(i / (7.0 + duration))) for i in range(100)]
    bits = 0
    for index, sample in enumerate(samples):
        bits |= (sample & 0x1F) << (5 * index)
    return bits.to_bytes((5 * len(samples) + 7) // 8, "little")
