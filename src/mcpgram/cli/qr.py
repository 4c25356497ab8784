"""A QR code drawn in the terminal that scans on light and dark themes alike.

Two modules per character cell (upper and lower half blocks), with the colours set explicitly: black
(xterm-256 colour 16) on white (231), from the 6x6x6 cube that themes leave alone, rather than the
theme's own foreground and background. Drawing "dark" in the default foreground, as plain block
characters do, inverts the code on a dark theme (or a light one), and many scanners do not read an
inverted code. The quiet zone is the 4 modules the QR standard asks for.

Must not: print anything itself; the caller decides where the lines go.
"""

from __future__ import annotations

import segno

QUIET_ZONE = 4
#: Black on white from the xterm-256 colour cube, then reset.
_COLOURS = "\x1b[38;5;16;48;5;231m"
_RESET = "\x1b[0m"
_HALVES = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_lines(data: str) -> list[str]:
    """The QR code for ``data`` as terminal lines, each coloured black on white and reset at its end."""
    rows = [
        [bool(module) for module in row] for row in segno.make(data, error="l").matrix_iter(border=QUIET_ZONE)
    ]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))  # one more light row: two rows per line
    return [
        _COLOURS + "".join(_HALVES[top, bottom] for top, bottom in zip(upper, lower, strict=True)) + _RESET
        for upper, lower in zip(rows[::2], rows[1::2], strict=True)
    ]
