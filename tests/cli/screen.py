"""Terminal text back to pixels, and a real QR decoder over them: what a phone sees on a screen.

Each character cell is one pixel wide and two tall, half-block characters splitting it, in its SGR
colours or else the theme's defaults. zxing-cpp reads the image with inversion off, as many phone
scanners do.
"""

from __future__ import annotations

import re

import zxingcpp

RGB = tuple[int, int, int]

#: name: (the theme's default foreground, its default background).
THEMES: dict[str, tuple[RGB, RGB]] = {
    "light": ((30, 30, 30), (255, 255, 255)),
    "dark": ((220, 220, 220), (24, 24, 24)),
}
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _cube(index: int) -> RGB:
    """xterm-256 colours 16-255 (the greys and the 6x6x6 cube); themes leave these alone."""
    if index >= 232:
        grey = 8 + 10 * (index - 232)
        return (grey, grey, grey)
    index -= 16
    levels = [0, 95, 135, 175, 215, 255]
    return (levels[index // 36], levels[index // 6 % 6], levels[index % 6])


def paint(text: str, theme: str) -> tuple[int, int, bytearray]:
    """``(width, height, grey pixels)`` of ``text`` as a terminal with ``theme`` shows it."""
    default_fg, default_bg = THEMES[theme]
    rows: list[list[int]] = []
    for line in text.split("\n"):
        fg, bg, reverse = default_fg, default_bg, False
        top: list[int] = []
        bottom: list[int] = []
        position = 0
        for match in [*SGR.finditer(line), None]:
            end = match.start() if match else len(line)
            for char in line[position:end]:
                ink, paper = (bg, fg) if reverse else (fg, bg)
                upper = ink if char in "▀█" or char not in " ▄" else paper  # letters: solid ink (worst case)
                lower = ink if char in "▄█" or char not in " ▀" else paper
                top.append(sum(upper) // 3)
                bottom.append(sum(lower) // 3)
            if match is None:
                break
            position = match.end()
            codes = [int(c) for c in match.group(1).split(";") if c] or [0]
            while codes:
                code = codes.pop(0)
                if code == 0:
                    fg, bg, reverse = default_fg, default_bg, False
                elif code == 7:
                    reverse = True
                elif code in (38, 48) and codes[:1] == [5]:
                    colour = _cube(codes[1])
                    codes = codes[2:]
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                elif code == 39:
                    fg = default_fg
                elif code == 49:
                    bg = default_bg
        rows += [top, bottom]
    width = max(len(row) for row in rows)
    background = sum(default_bg) // 3
    pixels = bytearray()
    for row in rows:
        pixels += bytes(row + [background] * (width - len(row)))
    return width, len(rows), pixels


def decode(text: str, theme: str) -> list[str]:
    """What a scanner that does not try inverted codes reads off the painted terminal (scaled 4x)."""
    width, height, pixels = paint(text, theme)
    scale = 4
    big = bytearray()
    for y in range(height):
        row = pixels[y * width : (y + 1) * width]
        big += bytes(b for b in row for _ in range(scale)) * scale
    image = memoryview(big).cast("B", (height * scale, width * scale))
    return [code.text for code in zxingcpp.read_barcodes(image, try_invert=False)]
