"""SVG written straight from the terminal view's own laid-out lines: one `<text>` per line.

The picture is the one rich's `Console.export_svg` draws of the same lines (its window frame, title,
theme, fonts, font metrics and cells: character n of a line at x = n · 12.2, lines 24.4 apart, each
clipped to its own band), in a leaner document. rich writes an element per piece of text, each with its
position, length, class and clip path, a clip path per line and an element for each line's end, and
names its document by a checksum over the `repr` of every piece (about 1 kB a line in all). Here a line
is one `<text>` with its characters as they are (`white-space: pre`: spaces count) and one `textLength`
that sets them 12.2 apart, a `<tspan class>` around each piece of a style (none for the plain one), a
background `<rect>` per run of one fill. Lines go in groups of BAND, each group moved by whole pixels, so
that five clip paths serve every line; the document's id is a checksum of its elements.

A line with a character wider or narrower than one cell is written as rich writes it (an element per
piece, at its cell, of its own length), as is a line that the layout never makes (a line break inside
a piece, a line wider than the picture: split and cropped as rich splits and crops it). The picture is
one piece, so it is held whole: memory linear in the trace, like the trace's own text.

A large block's lines come from the view already written, with the picture's `SvgCodes` in place of the
terminal's codes (see there): the picture only wraps each in its `<text>`, five at a time.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from html import escape
from math import ceil
from typing import TextIO

from rich.style import Style
from rich.terminal_theme import SVG_EXPORT_THEME as THEME

from .screen import Made, _fitted
from .wrap import is_narrow
from .wrap import width as cells

CHAR_HEIGHT = 20  # export_svg's defaults: Fira Code at 20 px, 0.61 as wide as high, lines 1.22 apart
CHAR_WIDTH = CHAR_HEIGHT * 0.61
LINE_HEIGHT = CHAR_HEIGHT * 1.22
MARGIN = 1
PADDING_TOP, PADDING_SIDE, PADDING_BOTTOM = 40, 8, 8
CHUNK = 4096  # elements (a line, or a group of lines) held before they are packed
SLICE = 64  # elements packed into one string: its UTF-8 (for the checksum) made while it is in the processor's cache
# (homework-cnn's 617 lines as one string, 332 kB in memory, took 1.5 times as long to encode)
BAND = 5  # lines of a group: 5 lines are 122 px, so each group is moved by whole pixels (as every line is drawn
# where rich draws it: a <text> moved by a fraction of a pixel is drawn a pixel lower or higher); `SvgPicture._wrap`
# writes a group of 5 lines in one string
# a line's start within its group: its clip path's class and its baseline
_STARTS = [f'<text class="c{j}" y="{format(j * LINE_HEIGHT + CHAR_HEIGHT, ".1f")}"' for j in range(BAND)]

Piece = tuple[str, Style | None]
Look = tuple[Style | None, str, str | None, bool]  # a style, its tspan's start ('' none), its background, decorated
_UNSEEN = object()  # no style yet
# characters one cell wide in rich's table (tests/test_svg.py checks each) and written as they are: a line of
# these alone is drawn as it comes; any other character (or a line break, `<`, `&`, `>`) is looked at first
_PLAIN_RANGES = "\x20-\x25\x27-\x3b\x3d\x3f-\x7e\xa0-\u02ff\u0370-\u0482\u2010-\u2027\u2030-\u205e\u2070-\u209f"
_PLAIN_RANGES += "\u20a0-\u20bf\u2100-\u214f\u2190-\u21ff\u2200-\u22ff\u2500-\u25fc\u2800-\u28ff"
_PLAIN = re.compile(f"[^{_PLAIN_RANGES}]")
# a line written with codes (`SvgCodes`) marks a tag's `<` and `>` by control characters, which no text of the
# view holds (a network file's are refused, and no one-cell text has any): a `<`, `&` or `>` in it is text
_OPEN, _CLOSE = "\x01", "\x02"
_END = f"{_OPEN}/tspan{_CLOSE}"
_TOKEN_MARK = "\x03"  # \x03{k}\x04: the start of style k of `SvgCodes.tokens`, not met by the picture when asked for
_TOKEN = re.compile("\x03([0-9]+)\x04")
_FILL, _FILL_END = "\x07", "\x08"  # \x07{k}\x08 after a tspan's start: its style's background is `SvgCodes.colours[k]`
_FILL_OF = re.compile("\x07([0-9]+)\x08")
# in a line with backgrounds: a start of a style with one (its mark: the fill's number) and its text, up to the next tag
_FILLED = re.compile("\x07([0-9]+)\x08([^\x01]*)")
_HIDDEN = re.compile("\x01[^\x02]*\x02|\x07[0-9]+\x08")  # what takes no cell: a tag, a fill's mark
_ROW, _ROW_END = "\x05", "\x06"  # \x05{k}\x06 before a line: line k of `SvgCodes.line`


def _n(value: float) -> str:
    """A coordinate: one decimal (every position here is a multiple of 0.1), without a trailing '.0'.
    (rich writes them with `format(value, 'g')`, which has six digits: from line 40,984 on it rounds.)"""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


@lru_cache(maxsize=8)
def _positions(width: int) -> list[str]:
    """The x of each cell of a line `width` cells wide, and of its end."""
    return [_n(x * CHAR_WIDTH) for x in range(width + 1)]


def _marked(start: str) -> tuple[str, str]:
    """A style's `<tspan>` start (or '') and end as a line written with codes holds them."""
    return (start.replace("<", _OPEN).replace(">", _CLOSE), _END) if start else ("", "")


def _ready(line: str) -> str:
    """A line written with codes as the picture writes it: its text escaped, its tags' `<` and `>` put back."""
    if "<" in line or ">" in line or "&" in line:
        line = escape(line, quote=False)
    return line.replace(_OPEN, "<").replace(_CLOSE, ">")


def _add_run(runs: list[list], fill: str, x: int, n: int) -> None:
    """A piece of `n` cells from cell `x` on a background `fill`, added to a line's runs of one fill ([fill, first
    cell, cells]): the last run grown when it is of that fill and ends at `x`, else a new run."""
    if runs and runs[-1][0] == fill and runs[-1][1] + runs[-1][2] == x:
        runs[-1][2] += n
    else:
        runs.append([fill, x, n])


def _text(text: str) -> str:
    """A piece's characters as the content of an element (names are data: `<`, `&` and `>` escaped)."""
    return escape(text, quote=False)


class SvgPicture:
    """The lines of a terminal `width` columns wide, added one at a time, and the document they make."""

    def __init__(self, width: int, title: str = "bpexplain") -> None:
        self.width = width
        self.title = title
        self.classes: dict[str, int] = {}  # a style's CSS rules -> its class number, in order of first use
        self.by_id: dict[int, Look] = {}  # id(style) -> its look (the look holds the style: its id stays its own)
        self.starts: dict[int, str] = {}  # id(style) -> its tspan's start ('' none), for a style with no line
        self.fills: dict[int, str] = {}  # id(style) -> its background, for a style with one
        self.elements: list[str] = []  # the lines' <text> elements not yet packed
        self.packed: list[str] = []  # the elements before them, joined SLICE at a time
        self.checksum = zlib.adler32(b"")  # of the packed elements
        self.backgrounds: list[str] = []  # the <rect>s behind text of a background colour
        self.lines = 0
        self.x_of = _positions(width)  # a cell's x, and a run of n cells' length
        # the start of a line as wide as the picture, by its place in its group (a line written with codes)
        self.heads = [f'{start} textLength="{self.x_of[width]}">' for start in _STARTS]
        self.betweens = [f"</text>\n{head}" for head in self.heads[1:]]  # a line's end and the next one's start
        self.codes: SvgCodes | None = None  # the codes lines are written with for this picture, once asked for
        self.ready: dict[str, tuple[str, list[tuple[str, str]] | None]] = {}  # a line of `SvgCodes.line`, ready
        self.met: dict[str, str] = {}  # a token of `SvgCodes` -> the start of its style's tspan, once met

    def add(self, pieces: Sequence[Piece]) -> None:
        """One line of the layout: its pieces of text and their styles."""
        self.extend([(sum(cells(text) for text, _ in pieces), pieces)])

    def extend(self, lines: Iterable[tuple[int, Sequence[Piece]]]) -> None:
        """Lines of the layout, each as its width in cells and its pieces (render.screen's styled lines).

        A line's characters are joined once (to check them for a character that is not one cell wide, a line
        break, `<`, `&`, `>`); each piece becomes its text or a `<tspan>` of its style's class, found by the
        style's identity, in one comprehension. A line with a style not seen yet, or one that draws a line along
        the text, goes through `_runs`."""
        self.draw(lines, False)

    def draw(self, made: Iterable[Made | tuple[int, Sequence[Piece]]], fit: bool = True) -> None:
        """What a `screen.Lines` made with `codes` (an `SvgCodes` of this picture): styled lines as `extend` takes
        them (`fit`: one wider than the picture folded as the view folds it, `screen._fitted`), and lines written
        with their styles' codes (a str, see `SvgCodes`), each as wide as the picture: those are only wrapped in
        their `<text>`, a group of lines at a time (`_wrap`)."""
        starts, elements, x_of, width = self.starts, self.elements, self.x_of, self.width
        append, plain, starts_of = elements.append, _PLAIN.search, _STARTS
        ready = self.ready
        wrap = self._wrap
        waiting: list[str] = []  # lines as wide as the picture, ready to be wrapped
        used: int
        pieces: Sequence[Piece]
        for line in made:
            if type(line) is str:
                if line[:1] == _ROW:  # a line of `SvgCodes.line`: made ready once (a map's rows, met again and again)
                    got = ready.get(line)
                    if got is None:
                        wrap(waiting)
                        got = self._ready_row(line)
                        if got is None:  # drawn from its pieces
                            continue
                    text, fills = got
                    if fills is not None:
                        self._rects(fills, self.lines + len(waiting))
                    waiting.append(text)
                    continue
                if (_TOKEN_MARK in line or _FILL in line) and "\n" in line:  # a map's rows: each made ready once
                    self._wait_rows(line, waiting)
                    continue
                if _TOKEN_MARK in line:  # a style asked for before the picture met it
                    line = self._resolved(line)
                if _FILL in line:  # a style with a background: its rects drawn at the lines that have one
                    self._wait_rows(line, waiting)
                    continue
                line = _ready(line)  # names are data (a tag here is `_OPEN`...`_CLOSE`)
                if "\n" in line:  # an equation's lines
                    waiting += line.split("\n")
                else:
                    waiting.append(line)
                continue
            if waiting:
                wrap(waiting)
            used, pieces = line  # type: ignore[str-unpack,assignment]  # a styled line (`cast` is a call a line)
            raw = "".join([text for text, _ in pieces])
            shown = pieces
            if plain(raw) is not None or used > width:  # a character to look at: wide, a break, to escape
                if used > width and fit:
                    self.draw(_fitted([(used, list(pieces))], width), False)
                    continue
                if used > width or "\n" in raw:
                    self._add_slowly(pieces)
                    continue
                if not is_narrow(raw) and (cells(raw) != len(raw) or not is_narrow(raw)):  # cells() learns them
                    self._add_piecewise(pieces)
                    continue
                if "<" in raw or "&" in raw or ">" in raw:
                    shown = [(_text(text), style) for text, style in pieces]
            try:
                body = "".join(
                    [f"{start}{text}</tspan>" if (start := starts[id(style)]) else text for text, style in shown]
                )
                if 'bg">' in body:  # a style with a background (a text here has no `>`: it would be escaped)
                    self._fill(pieces, True)
            except KeyError:
                body = self._runs(shown, pieces)
            j = self.lines % BAND
            if not j:
                append(self._group())
            if raw and (not raw.isspace() or raw.strip(" ")):
                append(f'{starts_of[j]} textLength="{x_of[len(raw)]}">{body}</text>\n')
            self.lines += 1
        if waiting:
            wrap(waiting)
        if self.met:  # the tokens met: those of the lines just made (a row met again is ready, see `_ready_row`)
            self.met.clear()

    def _wrap(self, lines: list[str]) -> None:
        """Lines as wide as the picture, ready, each in its `<text>`: a whole group of BAND (5) in one string.
        `lines` is emptied."""
        elements, heads, group = self.elements, self.heads, self._group
        head, (second, third, fourth, fifth) = heads[0], self.betweens
        i, n = 0, len(lines)
        while i < n:
            j = self.lines % BAND
            if not j:
                elements.append(group())
                if n - i >= 5:
                    a, b, c, d, e = lines[i : i + 5]
                    elements.append(f"{head}{a}{second}{b}{third}{c}{fourth}{d}{fifth}{e}</text>\n")
                    self.lines += 5
                    i += 5
                    continue
            elements.append(f"{heads[j]}{lines[i]}</text>\n")
            self.lines += 1
            i += 1
        lines.clear()

    def _rects(self, fills: list[tuple[str, str]], row: int) -> None:
        """The background rects of line `row` (before and after their y)."""
        y = _n(row * LINE_HEIGHT + 1.5)
        self.backgrounds += [f"{before}{y}{after}" for before, after in fills]

    def _wait_rows(self, lines: str, waiting: list[str]) -> None:
        """Lines written with codes (joined by line breaks: a map's rows, which come again and again, a cell or two
        in another style), each ready and added to `waiting`, the background rects of each with a style with one
        (`_FILL` after its start) drawn at the line it will be: the lines are wrapped with the others (a line's
        rects are drawn in the order of the lines all the same). A line with a style with a background or a style
        the picture had not met (`_TOKEN_MARK`) is made ready once, its tokens met in the order of the lines."""
        row = self.lines + len(waiting)
        ready = self.ready
        for one in lines.split("\n"):
            if _TOKEN_MARK in one or _FILL in one:
                text, fills = ready.get(one) or self._ready_marked(one)
                if fills:
                    self._rects(fills, row)
                waiting.append(text)
            else:
                waiting.append(_ready(one))
            row += 1

    def _ready_marked(self, line: str) -> tuple[str, list[tuple[str, str]] | None]:
        """A line of `_wait_rows` ready, and its background rects (None: none), kept."""
        marked = self._resolved(line) if _TOKEN_MARK in line else line
        got = self._ready_filled(marked) if _FILL in marked else (_ready(marked), None)
        self.ready[line] = got
        return got

    def _ready_row(self, text: str) -> tuple[str, list[tuple[str, str]] | None] | None:
        """A line of `SvgCodes.line` (`_ROW`, its number, `_ROW_END`, the line) as `draw` writes it, and its
        background rects; None for a line given as its pieces, drawn here."""
        codes = self.codes
        assert codes is not None, "a line written with codes, in a picture without them"
        row = text
        at = text.index(_ROW_END)
        k = int(text[1:at])
        held = codes.held.get(k)
        if held is not None:
            self.add(held)
            return None
        text = text[at + 1 :]
        if _TOKEN_MARK in text:
            text = self._resolved(text)
        ready = self.ready[row] = self._ready_filled(text) if _FILL in text else (_ready(text), codes.fills.get(k))
        return ready

    def _ready_filled(self, line: str) -> tuple[str, list[tuple[str, str]]]:
        """A line written with codes that holds a style with a background (`_FILL` after its start), ready, and
        its background rects (before and after their y): one per run of pieces of one fill at their cells, as
        `_fill` draws them (each character here one cell). Kept: a map's rows come again and again.

        Only the texts after a start with a background are looked at (`_FILLED`), each one's cell counted from the
        characters before it that are not a tag or a mark (`_HIDDEN`)."""
        codes = self.codes
        assert codes is not None
        colours = codes.colours
        runs: list[list] = []  # [fill, first cell, cells]
        x = at = 0
        hidden = _HIDDEN.sub
        for filled in _FILLED.finditer(line):
            start = filled.start()
            x += len(hidden("", line[at:start])) if start > at else 0
            n = filled.end(2) - filled.start(2)
            if n:
                _add_run(runs, colours[int(filled[1])], x, n)
            x += n
            at = filled.end()
        rects = codes.rects
        ready = self.ready[line] = (
            _ready(_FILL_OF.sub("", line)),
            [rects.get((fill, first, n)) or codes._rect(fill, first, n) for fill, first, n in runs],
        )
        return ready

    def _resolved(self, text: str) -> str:
        """Lines with the tokens of `SvgCodes` (styles asked for before the picture met them) replaced by their
        starts: the ones met before by theirs, the others met here, in the order of the lines."""
        for token, start in self.met.items():
            text = text.replace(token, start)
        return _TOKEN.sub(self._met, text) if _TOKEN_MARK in text else text

    def _met(self, token: re.Match[str]) -> str:
        """The start of a style's `<tspan>` (as `SvgCodes` writes it) for a style asked for before the picture met
        it, now met: its look taken here, in the order of the document (as `_runs` takes it)."""
        codes = self.codes
        assert codes is not None
        style, marked = codes.tokens[int(token[1])]
        look = self.by_id.get(id(style)) or self._look(style)
        if not look[3]:
            codes.known[id(style)] = codes.marked(look)
            codes.of[id(style)] = (*_marked(look[1]), look[2])
        start = (codes.marked(look) if marked else _marked(look[1]))[0]
        self.met[token[0]] = start
        return start

    def _runs(self, shown: Sequence[Piece], pieces: Sequence[Piece]) -> str:
        """A line's content, its styles looked up (and kept) as met: a run of pieces of one style in one `<tspan>`,
        the line's background rects (from its `pieces` as the layout gave them), an underlined or struck-through
        piece on its own and not drawn if it is spaces (rich skips a piece of spaces)."""
        by_id = self.by_id
        parts: list[str] = []
        prev: object = _UNSEEN
        tag = ""
        filled = False
        for text, style in shown:
            if style is not prev:
                look = by_id.get(id(style)) or self._look(style)
                start = look[1]
                if look[2] is not None:
                    filled = True
                if look[3]:
                    prev = _UNSEEN
                    if not text.strip(" "):
                        start = ""
                else:
                    prev = style
                if start is not tag:
                    if tag:
                        parts.append("</tspan>")
                    if start:
                        parts.append(start)
                    tag = start
            parts.append(text)
        if tag:
            parts.append("</tspan>")
        if filled:
            self._fill(pieces)
        return "".join(parts)

    def _look(self, style: Style | None) -> Look:
        """A style's look, kept by the style's identity; if it draws no line along the text, its tspan's start
        in `starts` too (a style with a background: always a tspan, with the class `bg`, that tells
        `extend` to draw the line's rects) and its background in `fills`."""
        css, background, decorated = _css_of(style)
        classes = f"r{self.classes.setdefault(css, len(self.classes) + 1)}" if css else ""
        if background is not None:
            classes = f"{classes} bg".lstrip()
            self.fills[id(style)] = background
        start = f'<tspan class="{classes}">' if classes else ""
        look = self.by_id[id(style)] = (style, start, background, decorated)
        if not decorated:
            self.starts[id(style)] = start
        return look

    def _fill(self, pieces: Sequence[Piece], narrow: bool = False) -> None:
        """The background rects of a line: one per run of pieces of one fill, at their cells (`narrow`: every
        character one cell, as on `extend`'s way)."""
        fills, x_of = self.fills, self.x_of
        y = _n(self.lines * LINE_HEIGHT + 1.5)
        runs: list[list] = []  # [fill, first cell, cells]
        x = 0
        for text, style in pieces:
            n = len(text) if narrow else cells(text)
            fill = fills.get(id(style))
            if fill is not None and n:
                _add_run(runs, fill, x, n)
            x += n
        self.backgrounds += [
            f'<rect fill="{fill}" x="{x_of[first]}" y="{y}" width="{x_of[n]}" height="{_n(LINE_HEIGHT + 0.25)}"/>'
            for fill, first, n in runs
        ]

    def _add_piecewise(self, pieces: Sequence[Piece]) -> None:
        """A line with a character that is not one cell wide, as rich writes it: each piece at its cell, as
        long as its characters (rich's `textLength` counts characters), pieces of spaces left out."""
        spans: list[str] = []
        x = 0
        for text, style in pieces:
            look = self.by_id.get(id(style)) or self._look(style)
            if text.strip(" "):
                start = look[1] or "<tspan>"
                spans.append(
                    f'{start[:-1]} x="{_n(x * CHAR_WIDTH)}" textLength="{_n(len(text) * CHAR_WIDTH)}">'
                    f"{_text(text)}</tspan>"
                )
            x += cells(text)
        if any(id(style) in self.fills for _, style in pieces):
            self._fill(pieces)
        j = self.lines % BAND
        if not j:
            self.elements.append(self._group())
        if spans:
            self.elements.append(f"{_STARTS[j]}>{''.join(spans)}</text>\n")
        self.lines += 1

    def _group(self) -> str:
        """The start of the group of lines from this one (and the end of the one before); the elements so far
        packed into one string, once there are CHUNK of them (a string holds them in less memory)."""
        if len(self.elements) >= CHUNK:
            self._pack()
        end = "</g>\n" if self.lines else ""
        return f'{end}<g transform="translate(0 {_n(self.lines * LINE_HEIGHT)})">\n'

    def _add_slowly(self, pieces: Sequence[Piece]) -> None:
        """A line as `export_svg` reads it from `Segment.split_and_crop_lines`: split at each line break, each
        part cropped to the width."""
        lines: list[list[Piece]] = [[]]
        for text, style in pieces:
            first, *rest = text.split("\n")
            if first:
                lines[-1].append((first, style))
            for part in rest:
                lines.append([(part, style)] if part else [])
        for line in lines:
            used = sum(cells(text) for text, _ in line)
            if used > self.width:
                from rich.segment import Segment

                cropped = Segment.adjust_line_length([Segment(*p) for p in line], self.width, pad=False)
                line = [(s.text, s.style) for s in cropped]
                used = sum(cells(text) for text, _ in line)
            self.extend([(used, line)])

    def _pack(self) -> None:
        """The elements so far joined SLICE at a time, into `packed` and the checksum."""
        elements, packed, checksum = self.elements, self.packed, self.checksum
        for i in range(0, len(elements), SLICE):
            text = "".join(elements[i : i + SLICE])
            checksum = zlib.adler32(text.encode("utf-8", "surrogatepass"), checksum)
            packed.append(text)
        self.checksum = checksum
        elements.clear()  # in place: `extend` holds its append

    def document(self) -> str:
        """The whole SVG document."""
        out = io.StringIO()
        self.write(out)
        return out.getvalue()

    def write(self, out: TextIO) -> None:
        """The whole SVG document, into `out` in parts: the elements are joined a few dozen at a time, so
        that the picture is held once (as its elements), not again as one string."""
        theme = THEME
        self._pack()
        backgrounds = "".join(self.backgrounds)
        checksum = zlib.adler32(backgrounds.encode(), self.checksum)
        checksum = zlib.adler32((self.title + repr(self.classes)).encode("utf-8", "surrogatepass"), checksum)
        uid = f"terminal-{checksum}"
        last = max(self.lines - 1, 0)  # rich's `y`: the last line's number
        terminal_width = ceil(self.width * CHAR_WIDTH + 2 * PADDING_SIDE)
        terminal_height = (last + 1) * LINE_HEIGHT + PADDING_TOP + PADDING_BOTTOM
        title = ""
        if self.title:
            title = (
                f'<text class="{uid}-title" fill="{theme.foreground_color.hex}" text-anchor="middle" '
                f'x="{terminal_width // 2}" y="{MARGIN + CHAR_HEIGHT + 6}">'
                + escape(self.title).replace(" ", "&#160;")
                + "</text>"
            )
        styles = "\n".join(f"    .{uid}-matrix .r{n} {{ {css} }}" for css, n in self.classes.items())
        out.write(
            _filled_frame(
                self.width,
                uid=uid,
                height=_n(terminal_height + 2 * MARGIN),
                styles=styles,
                clip_height=_n((last + 1) * LINE_HEIGHT - 1),
                terminal_height=_n(terminal_height),
                title=title,
            )
        )
        out.write(backgrounds)
        out.write(f'</g>\n    <g class="{uid}-matrix" xml:space="preserve">\n')
        for text in self.packed:
            out.write(text)
        out.write(("</g>\n" if self.lines else "") + "    </g>\n    </g>\n</svg>\n")


class SvgCodes:
    """What the terminal view's coloured path asks of a `screen.Codes` (`pair`, `line`, `system`), for a picture:
    the view then writes a block's equations and the rows of its maps as finished lines (one `str.format` a
    line, a map's row once a block), and the picture only wraps each in its `<text>` (`SvgPicture.draw`).

    A style's pair is its `<tspan>`'s start (its class) and end, as the picture writes a piece of it, with `<`
    and `>` written as _OPEN and _CLOSE (so that a `<`, `&` or `>` in the line is text, escaped by the picture).
    A style the picture has not met yet is a token (`_TOKEN`), its look taken when the picture meets the token:
    the classes are numbered in the order the document shows them, and the picture's `_runs` sees a style
    first where it would have. A style with a background or a line along the text has no pair a board can use
    (`poisoned`: the caller makes its lines again without codes); `line` writes any line, its backgrounds with
    it, or hands its pieces to the picture when it cannot (a character not one cell wide, a line break, a line
    not as wide as the picture, a style drawn with `_runs` that might merge two pieces)."""

    def __init__(self, picture: SvgPicture) -> None:
        self.picture = picture
        picture.codes = self
        self.system = object()  # the key of the lines written with these codes (`rich.Field.written`)
        self.known: dict[int, tuple[str, str]] = {}  # id(style) -> its pair, for a style the picture met
        self.colours: list[str] = []  # the backgrounds met (see `_FILL`)
        self.colour_of: dict[str, int] = {}
        self.tokens: list[tuple[Style | None, bool]] = []  # the styles asked for before the picture met them, and
        # whether their start is to be `marked` (see `_pair`)
        self.waiting: dict[tuple[int, bool], tuple[str, str]] = {}  # (id(style), marked) -> its pair with its token
        self.rows = 0  # the lines `line` wrote
        self.held: dict[int, list[Piece]] = {}  # the lines `line` gives as pieces
        self.poisoned = False  # a style without a pair was asked for
        self.of: dict[int, tuple[str | None, str, str | None]] = {}  # id(style) -> see `_of`
        self.fills: dict[int, list[tuple[str, str]]] = {}  # a line's background rects, before and after their y
        self.rects: dict[tuple[str, int, int], tuple[str, str]] = {}  # see `_rect`

    def pair(self, style: Style | None) -> tuple[str, str]:
        """What a line holds before and after a text in `style`."""
        got = self.known.get(id(style))
        if got is not None:
            return got
        if _css_of(style)[2]:  # a line along the text: `_runs` draws it
            self.poisoned = True
        return self._pair(style)

    def marked(self, look: Look) -> tuple[str, str]:
        """A style's pair from its look in the picture (`_FILL` and its background after a start of one)."""
        start, end = _marked(look[1])
        if look[2] is not None:
            k = self.colour_of.get(look[2])
            if k is None:
                k = self.colour_of[look[2]] = len(self.colours)
                self.colours.append(look[2])
            start = f"{start}{_FILL}{k}{_FILL_END}"
        return start, end

    def _pair(self, style: Style | None, marked: bool = True) -> tuple[str, str]:
        """`pair`, for any style; not `marked`: without `_FILL` (for `line`, which draws the backgrounds itself)."""
        if marked:
            got = self.known.get(id(style))
            if got is not None:
                return got
        look = self.picture.by_id.get(id(style))
        if look is not None:
            if not marked:
                return _marked(look[1])
            got = self.marked(look)
            if not look[3]:
                self.known[id(style)] = got
            return got
        got = self.waiting.get((id(style), marked))
        if got is None:
            css, background, _ = _css_of(style)
            self.tokens.append((style, marked))
            got = self.waiting[id(style), marked] = (
                f"\x03{len(self.tokens) - 1}\x04",
                _END if css or background is not None else "",
            )
        return got

    def line(self, pieces: Sequence[Piece]) -> str:
        """A line's pieces written as the picture writes them (the line as wide as the picture): `_ROW`, the line's
        number, `_ROW_END`, then the line (a line with backgrounds has their rects in `fills` under its number; a
        line the picture must draw from its pieces is them in `held`, and nothing after its number)."""
        k = self.rows
        self.rows += 1
        raw = "".join([text for text, _ in pieces])
        if (
            len(raw) != self.picture.width
            or (_PLAIN.search(raw) is not None and ("\n" in raw or not _narrow(raw)))
            or not (not raw.isspace() or raw.strip(" "))
        ):
            return self._hold(pieces, k)
        of = self.of
        out: list[str] = []
        append = out.append
        runs: list[list] = []  # [fill, first cell, cells] of each run of pieces of one background
        x = 0
        for text, style in pieces:
            start, end, fill = of.get(id(style)) or self._of(style)
            if start is None:  # a style that draws a line along the text: `_runs` draws it
                return self._hold(pieces, k)
            append(f"{start}{text}{end}" if start else text)
            if fill is not None and text:
                _add_run(runs, fill, x, len(text))
            x += len(text)
        body = "".join(out)
        if _TOKEN_MARK in body and any(
            a[1] is b[1] and of[id(a[1])][1] for a, b in zip(pieces, pieces[1:])
        ):  # a style not met yet beside itself: `_runs` may write the two in one tspan
            return self._hold(pieces, k)
        if runs:
            rects = self.rects
            self.fills[k] = [rects.get((fill, first, n)) or self._rect(fill, first, n) for fill, first, n in runs]
        return f"{_ROW}{k}{_ROW_END}{body}"

    def _of(self, style: Style | None) -> tuple[str | None, str, str | None]:
        """A style's start and end as `line` writes them (start None: it draws a line along the text; no `_FILL`
        after it: `line` draws the backgrounds itself) and its background, kept."""
        _, fill, decorated = _css_of(style)
        start, end = (None, "") if decorated else self._pair(style, False)
        got = self.of[id(style)] = (start, end, fill)
        return got

    def _hold(self, pieces: Sequence[Piece], k: int) -> str:
        self.held[k] = list(pieces)
        return f"{_ROW}{k}{_ROW_END}"

    def _rect(self, fill: str, first: int, n: int) -> tuple[str, str]:
        """The background rect of `n` cells from cell `first`, before and after its y (as `SvgPicture._fill`)."""
        x_of = self.picture.x_of
        got = self.rects[fill, first, n] = (
            f'<rect fill="{fill}" x="{x_of[first]}" y="',
            f'" width="{x_of[n]}" height="{_n(LINE_HEIGHT + 0.25)}"/>',
        )
        return got


def _narrow(raw: str) -> bool:
    """Whether `extend` writes a line of these characters as it comes (escaped): each one cell wide."""
    return is_narrow(raw) or (cells(raw) == len(raw) and is_narrow(raw))  # cells() learns them


_SEEN: dict[Style | None, tuple[str, str | None, bool]] = {}  # a style -> what `_css` made of it


def _css_of(style: Style | None) -> tuple[str, str | None, bool]:
    """`_css` of a style, kept."""
    seen = _SEEN.get(style)
    if seen is None:
        if len(_SEEN) > 4096:
            _SEEN.clear()
        seen = _SEEN[style] = _css(style)
    return seen


def _css(style: Style | None) -> tuple[str, str | None, bool]:
    """A style's CSS rules as `export_svg` writes them with its theme ('' for the plain foreground, which is the
    matrix's own), its background (None: none), and whether it draws a line along the text."""
    theme = THEME
    s = style or Style()
    color = theme.foreground_color if (s.color is None or s.color.is_default) else s.color.get_truecolor(theme)
    bgcolor = theme.background_color if (s.bgcolor is None or s.bgcolor.is_default) else s.bgcolor.get_truecolor(theme)
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
    if css == f"fill: {theme.foreground_color.hex}":
        css = ""
    background = None
    if s.reverse:
        background = theme.foreground_color.hex if s.color is None else s.color.get_truecolor(theme).hex
    elif s.bgcolor is not None and not s.bgcolor.is_default:
        background = s.bgcolor.get_truecolor(theme).hex
    return css, background, bool(s.underline or s.strike)


# rich's CONSOLE_SVG_FORMAT (its fonts, taken from it, font metrics, title and window frame) with a clip path for
# each line of a group of BAND, the plain colour set on the matrix, spaces kept (`white-space: pre`) and the style
# classes under the matrix's class
FRAME_TOP = """\
<svg class="rich-terminal" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">
    <!-- Generated by bpexplain: the picture of Rich's export_svg https://www.textualize.io -->
    <style>

{fonts}    .{uid}-matrix {{
        font-family: Fira Code, monospace;
        font-size: {char_height}px;
        line-height: {line_height}px;
        font-variant-east-asian: full-width;
        fill: {foreground};
    }}

    .{uid}-matrix text {{
        white-space: pre;
    }}
{clips}

    .{uid}-title {{
        font-size: 18px;
        font-weight: bold;
        font-family: arial;
    }}

{styles}
    </style>

    <defs>
    <clipPath id="{uid}-clip-terminal">
      <rect x="0" y="0" width="{clip_width}" height="{clip_height}" />
    </clipPath>
{clip_paths}
    </defs>

    <rect fill="{background}" stroke="rgba(255,255,255,0.35)" stroke-width="1" x="{margin}" y="{margin}" \
width="{terminal_width}" height="{terminal_height}" rx="8"/>{title}
            <g transform="translate(26,22)">
            <circle cx="0" cy="0" r="7" fill="#ff5f57"/>
            <circle cx="22" cy="0" r="7" fill="#febc2e"/>
            <circle cx="44" cy="0" r="7" fill="#28c840"/>
            </g>

    <g transform="translate({terminal_x}, {terminal_y})" clip-path="url(#{uid}-clip-terminal)">
    <g shape-rendering="crispEdges">
"""


@lru_cache(maxsize=8)
def _frame(width: int) -> list[str]:
    """FRAME_TOP for a picture `width` cells wide, made once: its text in parts, the ones at odd places the names
    of what depends on the document (its id, height, classes and title), see `_filled_frame`."""
    theme = THEME
    terminal_width = ceil(width * CHAR_WIDTH + 2 * PADDING_SIDE)
    uid = "\0uid\0"
    return FRAME_TOP.format(
        uid=uid,
        width=terminal_width + 2 * MARGIN,
        height="\0height\0",
        char_height=CHAR_HEIGHT,
        line_height=_n(LINE_HEIGHT),
        fonts=_fonts(),
        foreground=theme.foreground_color.hex,
        styles="\0styles\0",
        clip_width=_n(CHAR_WIDTH * width - 1),
        clip_height="\0clip_height\0",
        clips="\n".join(f"    .{uid}-matrix .c{j} {{ clip-path: url(#{uid}-line-{j}) }}" for j in range(BAND)),
        clip_paths="\n".join(
            f'    <clipPath id="{uid}-line-{j}">\n'
            f'      <rect x="0" y="{_n(j * LINE_HEIGHT + 1.5)}" width="{_n(CHAR_WIDTH * width)}" '
            f'height="{_n(LINE_HEIGHT + 0.25)}"/>\n    </clipPath>'
            for j in range(BAND)
        ),
        background=theme.background_color.hex,
        terminal_width=terminal_width,
        terminal_height="\0terminal_height\0",
        margin=MARGIN,
        title="\0title\0",
        terminal_x=MARGIN + PADDING_SIDE,
        terminal_y=MARGIN + PADDING_TOP,
    ).split("\0")


def _filled_frame(width: int, **values: str) -> str:
    """FRAME_TOP for a picture `width` cells wide and a document's values."""
    parts = _frame(width).copy()
    parts[1::2] = [values[name] for name in parts[1::2]]
    return "".join(parts)


def _fonts() -> str:
    """The @font-face rules of rich's SVG template (Fira Code, regular and bold), as they are."""
    from rich.console import CONSOLE_SVG_FORMAT

    start = CONSOLE_SVG_FORMAT.index("    @font-face")
    return (
        CONSOLE_SVG_FORMAT[start : CONSOLE_SVG_FORMAT.index("    .{unique_id}-matrix", start)]
        .replace("{{", "{")
        .replace("}}", "}")
    )


def picture(lines: Iterable[Sequence[Piece]], width: int, title: str) -> str:
    """The SVG document of these lines."""
    svg = SvgPicture(width, title)
    for line in lines:
        svg.add(line)
    return svg.document()
