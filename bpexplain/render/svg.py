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

import io
import zlib
from collections.abc import Iterable, Sequence
from html import escape
from math import ceil
from typing import TextIO

from rich.style import Style

from .wrap import width as cells

CHAR_HEIGHT = 20  # export_svg's defaults: Fira Code at 20 px, 0.61 as wide as high, lines 1.22 apart
CHAR_WIDTH = CHAR_HEIGHT * 0.61
LINE_HEIGHT = CHAR_HEIGHT * 1.22
MARGIN = 1
PADDING_TOP, PADDING_SIDE, PADDING_BOTTOM = 40, 8, 8
ID = "<id>"  # where the document's id goes: escaped text never holds a '<'
CHUNK = 4096  # elements joined and written at a time

Piece = tuple[str, Style | None]
_END_LENGTH = format(CHAR_WIDTH * 1, "g")  # the textLength of the line's end, one character
_END = (0, format(CHAR_WIDTH * 1, "g"), "\n</text>")  # the line's end, a text of its own: no cells, one character


def _repr_end(style: Style | None) -> str:
    """The end of a segment's repr: `Segment('text')` or `Segment('text', Style(bold=True))`."""
    return ")" if style is None else f", {style!r})"


def _g(value: float) -> str:
    """A number as rich's tags write it."""
    return format(value, "g")


class _Broken(Exception):
    """A piece with a line break in it: the line goes the slow way (`SvgPicture._add_slowly`)."""


class SvgPicture:
    """The lines of a terminal `width` columns wide, added one at a time, and the document they make."""

    def __init__(self, width: int, title: str = "bpexplain") -> None:
        from rich.terminal_theme import SVG_EXPORT_THEME

        self.width = width
        self.title = title
        self.theme = SVG_EXPORT_THEME
        self.checksum = zlib.adler32(b"")
        self.classes: dict[str, int] = {}  # a style's CSS rules -> its class number, in order of first use
        # a style -> the start of its <text> element, its background (None: none), the end of its segment's repr,
        # its class number
        self.styles: dict[Style | None, tuple[str, str | None, str, int]] = {}
        self.texts: list[str] = []  # the <text> elements
        self.backgrounds: list[str] = []  # the <rect> behind reversed text
        self.lines = 0
        self.x_of = [_g(x * CHAR_WIDTH) for x in range(width + 1)]
        # a text -> its cells, its textLength, its element's content and end (None: all spaces, no element),
        # and the start of its segment's repr
        self.known: dict[str, tuple[int, str, str | None, str]] = {}
        self.by_id: dict[int, tuple[Style | None, tuple[str, str | None, str, int]]] = {}  # id(style) -> style, entry
        self.reprs: list[str] = []  # the segments' reprs not yet in the checksum

    def add(self, pieces: Sequence[Piece]) -> None:
        """One line of the layout: its pieces of text and their styles (empty pieces are left out).

        Each piece is looked up once: its text's cells, escaped content and repr, its style's class; the
        line's elements are made as it is read. A line the layout never makes (a line break in a piece,
        wider than the picture) is undone and made the slow way, as rich splits and crops it."""
        known, by_id, texts = self.known, self.by_id, self.texts
        y, marks = self.lines, (len(texts), len(self.backgrounds), len(self.classes))
        head = f'" y="{_g(y * LINE_HEIGHT + CHAR_HEIGHT)}" textLength="'
        clip = f'" clip-path="url(#{ID}-line-{y})">'
        x_of, append = self.x_of, texts.append
        reprs = self.reprs
        mark = len(reprs)
        x, width = 0, self.width
        try:
            for text, style in pieces:
                if text:
                    entry = known.get(text) or self._text(text, True)
                    found = by_id.get(id(style))  # by identity (the cache holds the style, so its id is its own)
                    look = found[1] if found is not None else self._look(style)
                    reprs.append(entry[3])
                    reprs.append(look[2])
                    if look[1] is not None:
                        self._background(look[1], x, entry[0])
                    if entry[2] is not None:
                        append(f"{look[0]}{x_of[x] if x <= width else ''}{head}{entry[1]}{clip}{entry[2]}")
                    x += entry[0]
        except _Broken:
            x = width + 1
        if x > width:  # undone (its elements and the classes it met first) and made the slow way
            del texts[marks[0] :], self.backgrounds[marks[1] :], reprs[mark:]
            if len(self.classes) > marks[2]:
                self.classes = dict(list(self.classes.items())[: marks[2]])
                self.styles = {k: v for k, v in self.styles.items() if v[3] <= marks[2]}
                self.by_id = {}
            self._add_slowly(pieces)
            return
        reprs.append("Segment('\\n')")  # the line's end
        if len(reprs) > CHUNK:
            self._checksum()
        self._end(head, clip)

    def _look(self, style: Style | None) -> tuple[str, str | None, str, int]:
        """A style's entry (see `styles`), kept by identity too."""
        look = self.styles.get(style) or self._style(style)
        self.by_id[id(style)] = (style, look)
        return look

    def _checksum(self) -> None:
        """The reprs of the segments so far added into the document's checksum (it reads them in parts)."""
        self.checksum = zlib.adler32("".join(self.reprs).encode("utf-8", "ignore"), self.checksum)
        self.reprs.clear()

    def _end(self, head: str, clip: str) -> None:
        """The line's end: spaces to the width (no element, but their style's class is counted, as rich counts
        it) and the line break, which rich writes as a text of its own."""
        look = self.styles.get(None) or self._style(None)
        self.texts.append(look[0] + self.x_of[self.width] + head + _END_LENGTH + clip + "\n</text>")
        self.lines += 1

    def _background(self, fill: str, x: int, used: int) -> None:
        self.backgrounds.append(
            f'<rect fill="{fill}" x="{_g(x * CHAR_WIDTH)}" y="{_g(self.lines * LINE_HEIGHT + 1.5)}" '
            f'width="{_g(CHAR_WIDTH * used)}" height="{_g(LINE_HEIGHT + 0.25)}" shape-rendering="crispEdges"/>'
        )

    def _text(self, text: str, whole: bool = False) -> tuple[int, str, str | None, str]:
        """What a text's element needs (see `known`); `whole`: a piece as the layout gave it, kept for next time."""
        if whole and "\n" in text:
            raise _Broken
        entry = (
            cells(text),
            _g(CHAR_WIDTH * len(text)),
            escape(text).replace(" ", "&#160;") + "</text>" if text.strip(" ") else None,
            "Segment(" + repr(text),
        )
        if whole and len(self.known) < 1 << 16:
            self.known[text] = entry
        return entry

    def _add_slowly(self, pieces: Sequence[Piece]) -> None:
        """A line as `export_svg` reads it from `Segment.split_and_crop_lines`: split at each line break, each
        part cropped to the width."""
        pieces = [(text, style) for text, style in pieces if text]
        reprs = [self._text(text)[3] + _repr_end(style) for text, style in pieces]  # no class counted yet
        reprs.append("Segment('\\n')")
        self.reprs += reprs
        self._checksum()
        lines: list[list[Piece]] = [[]]
        for text, style in pieces:
            first, *rest = text.split("\n")
            if first:
                lines[-1].append((first, style))
            for part in rest:
                lines.append([(part, style)] if part else [])
        for line in lines:
            if sum(cells(text) for text, _ in line) > self.width:
                from rich.segment import Segment

                cropped = Segment.adjust_line_length([Segment(*p) for p in line], self.width, pad=False)
                line = [(s.text, s.style) for s in cropped]
            y = self.lines
            head = f'" y="{_g(y * LINE_HEIGHT + CHAR_HEIGHT)}" textLength="'
            clip = f'" clip-path="url(#{ID}-line-{y})">'
            x = 0
            for text, style in line:
                entry = self._text(text)
                look = self.styles.get(style) or self._style(style)
                if look[1] is not None:
                    self._background(look[1], x, entry[0])
                if entry[2] is not None:
                    self.texts.append(look[0] + self.x_of[x] + head + entry[1] + clip + entry[2])
                x += entry[0]
            self._end(head, clip)

    def _style(self, style: Style | None) -> tuple[str, str | None, str, int]:
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
        end = _repr_end(style)
        number = self.classes[css]
        entry = self.styles[style] = (f'<text class="{ID}-r{number}" x="', background, end, number)
        return entry

    def document(self) -> str:
        """The whole SVG document."""
        out = io.StringIO()
        self.write(out)
        return out.getvalue()

    def write(self, out: TextIO) -> None:
        """The whole SVG document, into `out` in parts: the elements are joined a few thousand at a time, so
        that the picture is held once (as its elements), not again as one string."""
        from rich.console import CONSOLE_SVG_FORMAT

        self._checksum()
        uid = "terminal-" + str(zlib.adler32(self.title.encode("utf-8", "ignore"), self.checksum))
        last = max(self.lines - 1, 0)  # rich's `y`: the last line's number
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
        frame = CONSOLE_SVG_FORMAT.format(
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
            styles="\n".join(f".{uid}-r{n} {{ {css} }}" for css, n in self.classes.items()),
            chrome=chrome,
            lines="\0lines\0",
            backgrounds="\0backgrounds\0",
            matrix="\0matrix\0",
        )
        top, rest = frame.split("\0lines\0")
        middle, rest = rest.split("\0backgrounds\0")
        between, bottom = rest.split("\0matrix\0")
        out.write(top)
        clip_rect = f'width="{_g(CHAR_WIDTH * self.width)}" height="{_g(LINE_HEIGHT + 0.25)}"/>'
        for first in range(0, last, CHUNK):  # a clip path for every line but the last, as rich has it
            out.write(
                ("\n" if first else "")
                + "\n".join(
                    f'<clipPath id="{uid}-line-{n}">\n    <rect x="0" y="{_g(n * LINE_HEIGHT + 1.5)}" {clip_rect}\n'
                    "            </clipPath>"
                    for n in range(first, min(first + CHUNK, last))
                )
            )
        out.write(middle)
        for first in range(0, len(self.backgrounds), CHUNK):
            out.write("".join(self.backgrounds[first : first + CHUNK]).replace(ID, uid))
        out.write(between)
        for first in range(0, len(self.texts), CHUNK):
            out.write("".join(self.texts[first : first + CHUNK]).replace(ID, uid))
        out.write(bottom)


def picture(lines: Iterable[Sequence[Piece]], width: int, title: str) -> str:
    """The SVG document of these lines."""
    svg = SvgPicture(width, title)
    for line in lines:
        svg.add(line)
    return svg.document()
