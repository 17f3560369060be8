"""SVG written straight from the terminal view's own laid-out lines, in one pass over them.

The document is the one rich's `Console.export_svg` writes for the same lines (its template, theme, font
metrics, style classes and document id; the same bytes, tested), made without a recording console. rich
kept every segment, then split them into lines again, measured each segment twice and built each tag
through a general helper; the slowest part was the document's id, a checksum over the `repr` of every
segment. Here each line of the layout (render.rich, render.screen) becomes its elements as it comes, the
checksum is updated line by line from the texts, and only the id, known at the end, is put into the
tags when the document is joined. The picture is one piece, so it is held whole: memory linear in the
trace, like the trace's own text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from html import escape
from math import ceil

from rich.style import Style

from .wrap import width as cells

CHAR_HEIGHT = 20  # export_svg's defaults: Fira Code at 20 px, 0.61 as wide as high, lines 1.22 apart
CHAR_WIDTH = CHAR_HEIGHT * 0.61
LINE_HEIGHT = CHAR_HEIGHT * 1.22
MARGIN = 1
PADDING_TOP, PADDING_SIDE, PADDING_BOTTOM = 40, 8, 8
ID = "<id>"  # where the document's id goes: escaped text never holds a '<'

Piece = tuple[str, Style | None]
_END = (0, format(CHAR_WIDTH * 1, "g"), "\n</text>")  # the line's end, a text of its own: no cells, one character


def _g(value: float) -> str:
    """A number as rich's tags write it."""
    return format(value, "g")


class SvgPicture:
    """The lines of a terminal `width` columns wide, added one at a time, and the document they make."""

    def __init__(self, width: int, title: str = "bpexplain") -> None:
        from rich.terminal_theme import SVG_EXPORT_THEME

        self.width = width
        self.title = title
        self.theme = SVG_EXPORT_THEME
        self.checksum = zlib.adler32(b"")
        self.classes: dict[str, int] = {}  # a style's CSS rules -> its class number, in order of first use
        self.styles: dict[Style | None, tuple[str, str | None]] = {}  # -> (class, background or None)
        self.reprs: dict[Style, str] = {}
        self.texts: list[str] = []  # the <text> elements
        self.backgrounds: list[str] = []  # the <rect> behind reversed text
        self.lines = 0
        self.x_of = [_g(x * CHAR_WIDTH) for x in range(width + 1)]
        self.known: dict[str, tuple[int, str, str | None]] = {}  # by text: see `_text`

    def add(self, pieces: Iterable[Piece]) -> None:
        """One line of the layout: its pieces of text and their styles (empty pieces are left out)."""
        pieces = [(text, style) for text, style in pieces if text]
        self._checksum(pieces)
        if any("\n" in text for text, _ in pieces):  # never from the layout: split as rich splits it
            current: list[Piece] = []
            for text, style in pieces:
                *whole, rest = text.split("\n")
                for part in whole:
                    if part:
                        current.append((part, style))
                    self._line(current)
                    current = []
                if rest:
                    current.append((rest, style))
            pieces = current
        self._line(pieces)

    def _checksum(self, pieces: list[Piece]) -> None:
        """rich's id is the checksum of `repr` of every segment recorded: `Segment('text', Style(...))`."""
        reprs = self.reprs
        parts = []
        for text, style in pieces:
            if style is None:
                parts.append(f"Segment({text!r})")
            else:
                known = reprs.get(style)
                if known is None:
                    known = reprs[style] = repr(style)
                parts.append(f"Segment({text!r}, {known})")
        parts.append("Segment('\\n')")  # the line's end
        self.checksum = zlib.adler32("".join(parts).encode("utf-8", "ignore"), self.checksum)

    def _line(self, pieces: list[Piece]) -> None:
        """A line's elements, as `export_svg` makes them from `Segment.split_and_crop_lines`' line."""
        known, styles = self.known, self.styles
        entries = []
        total = 0
        for text, style in pieces:
            entry = known.get(text)
            if entry is None:
                entry = self._text(text)
            total += entry[0]
            entries.append((entry, styles.get(style) or self._style(style)))
        if total > self.width:  # cropped to the width (the layout folds long lines first)
            entries = [
                (self._text(text), styles.get(style) or self._style(style)) for text, style in self._cropped(pieces)
            ]
        elif total < self.width:
            entries.append((self._text(" " * (self.width - total)), styles.get(None) or self._style(None)))
        entries.append((_END, styles.get(None) or self._style(None)))  # rich writes the line's end as a text
        y = self.lines
        self.lines += 1
        head = f'" y="{_g(y * LINE_HEIGHT + CHAR_HEIGHT)}" textLength="'
        clip = f'" clip-path="url(#{ID}-line-{y})">'
        x_of, append = self.x_of, self.texts.append
        x = 0
        for (used, text_length, content), (name, background) in entries:
            if background is not None:
                self.backgrounds.append(
                    f'<rect fill="{background}" x="{x_of[x]}" y="{_g(y * LINE_HEIGHT + 1.5)}" '
                    f'width="{_g(CHAR_WIDTH * used)}" height="{_g(LINE_HEIGHT + 0.25)}" shape-rendering="crispEdges"/>'
                )
            if content is not None:
                append(name + x_of[x] + head + text_length + clip + content)
            x += used

    def _text(self, text: str) -> tuple[int, str, str | None]:
        """A text's cells, its textLength and, unless it is all spaces (no element), its escaped content."""
        entry = (
            cells(text),
            _g(CHAR_WIDTH * len(text)),
            escape(text).replace(" ", "&#160;") + "</text>" if text.strip(" ") else None,
        )
        if len(self.known) < 1 << 16:
            self.known[text] = entry
        return entry

    def _cropped(self, pieces: list[Piece]) -> list[Piece]:
        from rich.segment import Segment

        return [(s.text, s.style) for s in Segment.adjust_line_length([Segment(*p) for p in pieces], self.width)]

    def _style(self, style: Style | None) -> tuple[str, str | None]:
        """The class of a style (CSS rules numbered as first met) and its background, as `export_svg` has them."""
        theme = self.theme
        s = style or Style()
        color = theme.foreground_color if (s.color is None or s.color.is_default) else s.color.get_truecolor(theme)
        bgcolor = (
            theme.background_color if (s.bgcolor is None or s.bgcolor.is_default) else s.bgcolor.get_truecolor(theme)
        )
        if s.reverse:
            color, bgcolor = bgcolor, color
        if s.dim:
            from rich.color import blend_rgb

            color = blend_rgb(color, bgcolor, 0.4)
        rules = [f"fill: {color.hex}"]
        if s.bold:
            rules.append("font-weight: bold")
        if s.italic:
            rules.append("font-style: italic;")
        if s.underline:
            rules.append("text-decoration: underline;")
        if s.strike:
            rules.append("text-decoration: line-through;")
        css = ";".join(rules)
        if css not in self.classes:
            self.classes[css] = len(self.classes) + 1
        background = None
        if s.reverse:
            background = theme.foreground_color.hex if s.color is None else s.color.get_truecolor(theme).hex
        elif s.bgcolor is not None and not s.bgcolor.is_default:
            background = s.bgcolor.get_truecolor(theme).hex
        entry = self.styles[style] = (f'<text class="{ID}-r{self.classes[css]}" x="', background)
        return entry

    def document(self) -> str:
        """The whole SVG document."""
        from rich.console import CONSOLE_SVG_FORMAT

        uid = "terminal-" + str(zlib.adler32(self.title.encode("utf-8", "ignore"), self.checksum))
        last = max(self.lines - 1, 0)  # rich's `y`: the last line's number
        clip_rect = f'width="{_g(CHAR_WIDTH * self.width)}" height="{_g(LINE_HEIGHT + 0.25)}"/>'
        lines = "\n".join(
            f'<clipPath id="{uid}-line-{n}">\n    <rect x="0" y="{_g(n * LINE_HEIGHT + 1.5)}" {clip_rect}\n'
            "            </clipPath>"
            for n in range(last)  # as rich has it: every line's but the last
        )
        styles = "\n".join(f".{uid}-r{n} {{ {css} }}" for css, n in self.classes.items())
        terminal_width = ceil(self.width * CHAR_WIDTH + 2 * PADDING_SIDE)
        terminal_height = (last + 1) * LINE_HEIGHT + PADDING_TOP + PADDING_BOTTOM
        chrome = (
            f'<rect fill="{self.theme.background_color.hex}" stroke="rgba(255,255,255,0.35)" stroke-width="1" '
            f'x="{MARGIN}" y="{MARGIN}" width="{terminal_width}" height="{_g(terminal_height)}" rx="8"/>'
        )
        if self.title:
            chrome += (
                f'<text class="{uid}-title" fill="{self.theme.foreground_color.hex}" text-anchor="middle" '
                f'x="{terminal_width // 2}" y="{MARGIN + CHAR_HEIGHT + 6}">'
                + escape(self.title).replace(" ", "&#160;")
                + "</text>"
            )
        chrome += """
            <g transform="translate(26,22)">
            <circle cx="0" cy="0" r="7" fill="#ff5f57"/>
            <circle cx="22" cy="0" r="7" fill="#febc2e"/>
            <circle cx="44" cy="0" r="7" fill="#28c840"/>
            </g>
        """
        return CONSOLE_SVG_FORMAT.format(
            unique_id=uid,
            char_width=CHAR_WIDTH,
            char_height=CHAR_HEIGHT,
            line_height=LINE_HEIGHT,
            terminal_width=CHAR_WIDTH * self.width - 1,
            terminal_height=(last + 1) * LINE_HEIGHT - 1,
            width=terminal_width + 2 * MARGIN,
            height=terminal_height + 2 * MARGIN,
            terminal_x=MARGIN + PADDING_SIDE,
            terminal_y=MARGIN + PADDING_TOP,
            styles=styles,
            chrome=chrome,
            backgrounds="".join(self.backgrounds).replace(ID, uid),
            matrix="".join(self.texts).replace(ID, uid),
            lines=lines,
        )


def picture(lines: Iterable[Iterable[Piece]], width: int, title: str) -> str:
    """The SVG document of these lines."""
    svg = SvgPicture(width, title)
    for line in lines:
        svg.add(line)
    return svg.document()
