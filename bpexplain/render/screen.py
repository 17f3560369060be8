"""Styled lines for the terminal: the one renderable the terminal view prints, and what it draws around lines.

The view lays out every line itself (render.board, render.wrap), so rich only writes segments: no
Table, no measuring, no markup (text from the network file is never parsed). A line is (cells,
pieces), a piece (text, style). `Lines` makes its lines once rich tells it the width; a panel is its
top, its body lines and its bottom, each printable on its own, so a large block streams.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

from rich.console import COLOR_SYSTEMS
from rich.segment import Segment
from rich.style import Style

from .wrap import bands, fold, is_narrow, pad, width, wrap_words

StyledLine = tuple[int, list[tuple[str, Style | None]]]
T = TypeVar("T")
# a made line; without styles, a line may be given as its text alone, a str (several lines joined by line
# breaks, none wider than the width): what `Lines.text` writes of it; with styles, lines are StyledLines only
Made = StyledLine | str
Make = Callable[[int, bool], Iterable[Made]]  # (width, plain) -> lines; plain: the console has no styles


class Lines:
    """A renderable: the lines `make` gives for the console's width."""

    def __init__(self, make: Make, size: int = 10, coloured: bool = False) -> None:
        self.make = make
        self.size = size  # about how many lines: the printer prints a few hundred at a time
        # `make` takes `codes=` (a `Codes`) too, given by `ansi`: then a line may be its text with the codes of its
        # styles written in (a str, as `ansi` would write the styled line)
        self.coloured = coloured

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Segment]:
        plain = console.color_system is None
        total = max(options.max_width, 1)
        if plain:  # no styles to write: a line is one segment
            yield Segment(self.text(total))
            return
        yield from self.segments(total)

    def ansi(self, total: int, codes: Codes) -> str:
        """The lines with their styles' codes written as rich writes them (see `_codes_for`)."""
        out: list[str] = []
        append = out.append
        get = codes.get
        made = self.make(total, False, codes=codes) if self.coloured else self.make(total, False)  # type: ignore[call-arg]
        for line in cast("Iterable[StyledLine]", made):
            if type(line) is str:  # written with its codes (see `coloured`)
                append(line)
                append("\n")
                continue
            w, pieces = line
            lines = [(w, pieces)] if w <= total else _fitted([(w, pieces)], total)
            for _, pieces in lines:
                for text, style in pieces:
                    if style is None or not text:
                        append(text)
                        continue
                    code = get(id(style))
                    if code is None:
                        code = codes[id(style)] = _code(style, codes)
                    append(code[0] + text + code[1])
                append("\n")
        return "".join(out)

    def text(self, total: int) -> str:
        """The lines without styles, each ended by a line break."""
        out: list[str] = []
        append = out.append  # a loop, not a comprehension a line: each is a call (Python 3.11)
        for line in self.make(total, True):
            if isinstance(line, str):  # lines as their text (see `Made`)
                append(line)
                append("\n")
                continue
            w, pieces = line
            if w > total:  # folded (see `_fitted`)
                for _, folded in _fitted([(w, pieces)], total):
                    for text, _ in folded:
                        append(text)
                    append("\n")
                continue
            for text, _ in pieces:
                append(text)
            append("\n")
        return "".join(out)

    def segments(self, total: int) -> Iterator[Segment]:
        """The styled segments of the lines, a line break after each."""
        new_line = Segment.line()
        for _, pieces in _fitted(self.make(total, False), total):
            for text, style in pieces:
                if text:
                    yield Segment(text, style)
            yield new_line


class Codes(dict):  # type: ignore[type-arg]
    """id(style) -> what rich writes before and after a text in that style, and the style (kept alive
    with its id); `system`: the console's colour system."""

    def __init__(self, system: Any) -> None:
        super().__init__()
        self.system = system

    def pair(self, style: Style | None) -> tuple[str, str]:
        """What `Lines.ansi` writes before and after a (non-empty) text in `style`."""
        if style is None:
            return "", ""
        code = self.get(id(style))
        if code is None:
            code = self[id(style)] = _code(style, self)
        return code[0], code[1]

    def line(self, pieces: Iterable[tuple[str, Style | None]]) -> str:
        """A line's pieces as `Lines.ansi` writes them (without the line break)."""
        out: list[str] = []
        for text, style in pieces:
            if style is None or not text:
                out.append(text)
            else:
                before, after = self.pair(style)
                out.append(before + text + after)
        return "".join(out)


def _codes_for(console: Any) -> Codes | None:
    """An empty table of the codes of styles for `console`, or None where rich must write the segments
    itself: recording them (export), without colour (NO_COLOR), into Jupyter or a legacy Windows console.

    Elsewhere rich writes a styled segment as `style.render(text)` and any other as its text; a style's
    `render` is `codes + text + reset` for any text, so each style is rendered once (on a text of one
    NUL, split there) and the lines are written as one segment of text with those codes in it."""
    if console.record or console.no_color or console.is_jupyter or console.legacy_windows:
        return None
    system = COLOR_SYSTEMS.get(console.color_system)  # the ColorSystem rich renders with
    return None if system is None else Codes(system)


def _code(style: Style, codes: Codes) -> tuple[str, str, Style]:
    """What rich writes before and after a text in `style` (nothing for a style that is empty)."""
    if not style:
        return "", "", style
    rendered = style.render("\0", color_system=codes.system, legacy_windows=False)
    before, _, after = rendered.partition("\0")
    return before, after, style


def _fitted(lines: Iterable[Made], total: int) -> Iterator[StyledLine]:
    """The styled lines (never text: see `Made`), any wider than `total` folded (the layouts avoid it; below the
    width of a symbol they cannot)."""
    for line in cast("Iterable[StyledLine]", lines):
        if line[0] <= total:
            yield line
            continue
        text = "".join(t for t, _ in line[1])
        style = next((s for t, s in line[1] if t.strip()), None)
        for part in fold(text.rstrip(), total):
            yield (width(part), [(part, style)])


class Batch:
    """Several renderables printed as one (each print of a rich console costs a look at the terminal).

    Printed with `crop=False` only (`rich.print_batches`): its lines are written as rich would write their
    segments, but in segments of many lines each, which rich would crop by their characters."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        total = max(options.max_width, 1)
        text = self.rendered(console, total)
        if text is not None:
            yield Segment(text)
            return
        if not all(type(part) is Lines for part in self.parts):
            yield from self.parts
            return
        for part in self.parts:
            yield from part.segments(total)

    def rendered(self, console: Any, total: int) -> str | None:
        """The parts as the text rich writes of them, colour codes and all, or None where rich must see the
        segments (see `_codes_for`) or a part is not `Lines`."""
        if not all(type(part) is Lines for part in self.parts):
            return None
        # written here rather than handed to rich one by one: rich's look at each renderable costs more
        # than a small part's lines
        if console.color_system is None:
            return "".join([part.text(total) for part in self.parts])
        codes = _codes_for(console)
        if codes is None:
            return None
        return "".join([part.ansi(total, codes) for part in self.parts])


def writes_directly(console: Any) -> bool:
    """Whether text rich would write as it is (one segment without a style: what `Batch.rendered` gives)
    may be written into the console's file here, as rich's `print` then `_write_buffer` write it (a
    `write`, then a `flush`), without the cost of a `print` (some 0.15 ms each): not where rich does more
    than that with it (quiet, recording, Jupyter, Windows, a render hook such as a live display, inside
    `with console:`), nor where this version of rich has not the attributes looked at."""
    return (
        not sys.platform.startswith("win")
        and not console.quiet
        and not console.record
        and not console.is_jupyter
        and getattr(console, "_buffer_index", None) == 0
        and getattr(console, "_render_hooks", None) == []
    )


def text_lines(text: str, room: int, style: Style | None = None, hang: int = 0, indent: int = 0) -> list[StyledLine]:
    """Prose word-wrapped to `room` cells, indented by `indent`."""
    lead = " " * indent
    lines = wrap_words(text, room - indent, hang)
    if text.isascii() and text.isprintable() or is_narrow(text):  # so is each line: its cells are its length
        return [(indent + len(t), [(lead + t, style)]) for t in lines]
    return [(indent + width(t), [(lead + t, style)]) for t in lines]


class Frame:
    """A panel drawn by hand: a rounded border, a title in its top edge (wrapped into the panel's first lines
    when it is longer than the edge), a subtitle in its bottom edge. Narrower than 8 cells, no border."""

    def __init__(
        self,
        title: list[tuple[str, Style | None]],
        border: Style | None,
        subtitle: str = "",
        title_style: Style | None = None,
    ) -> None:
        self.title = title
        self.border = border
        self.subtitle = subtitle
        self.title_style = title_style

    @staticmethod
    def inner(total: int) -> int:
        return total - 4 if total >= 8 else total

    def top(self, total: int) -> list[StyledLine]:
        text = "".join(t for t, _ in self.title)
        if total < 8:
            return text_lines(text, total, self.title_style)
        b = self.border
        room = total - 6
        if width(text) <= room:
            rest = total - 5 - width(text)
            return [(total, [("╭─ ", b), *self.title, (" " + "─" * rest + "╮", b)])]
        lines = wrap_words(text, room, 0)
        first = lines[0]
        edge = " " + "─" * (total - 5 - width(first)) + "╮"
        out: list[StyledLine] = [(total, [("╭─ ", b), (first, self.title_style), (edge, b)])]
        for line in lines[1:]:
            out.append(self.line((width(line), [(line, self.title_style)]), total))
        return out

    def top_text(self, total: int) -> list[str]:
        """`top` as text without styles (`total` >= 8)."""
        text = "".join([t for t, _ in self.title])
        w = width(text)
        if w <= total - 6:
            return ["╭─ " + text + " " + "─" * (total - 5 - w) + "╮"]
        return ["".join([t for t, _ in line[1]]) for line in self.top(total)]

    def prose_text(
        self, prose: str, total: int, hang: int = 0, codes: Codes | None = None, style: Style | None = None
    ) -> list[Made]:
        """`prose` in the panel's body as `text_lines` wraps it (`hang`: see `wrap_words`) and `body` frames it, as
        text without styles, or in `style` with the codes of `codes` as `Lines.ansi` writes it (`total` >= 8).
        With codes, prose of a character not one cell wide (x̂) is given as styled lines: a line written with codes
        holds only one-cell characters (what the SVG picture's codes, render.svg.SvgCodes, take it to hold)."""
        inner = total - 4
        narrow = prose.isascii() and prose.isprintable() or is_narrow(prose)  # each line's cells are its length
        if codes is not None and not narrow:
            return list(self.body(text_lines(prose, inner, style, hang), total))
        lines = wrap_words(prose, inner, hang)
        if codes is None:
            return (
                ["│ " + t.ljust(inner) + " │" for t in lines]
                if narrow
                else ["│ " + pad(t, inner) + " │" for t in lines]
            )
        (b0, b1), (s0, s1) = codes.pair(self.border), codes.pair(style)
        ends = [" " * (inner - (len(t) if narrow else width(t))) + " │" for t in lines]
        return [f"{b0}│ {b1}{s0 + t + s1 if t else ''}{b0}{end}{b1}" for t, end in zip(lines, ends)]

    def bottom_text(self, total: int) -> list[str]:
        """`bottom` as text without styles."""
        return ["".join([t for t, _ in line[1]]) for line in self.bottom(total)]

    def line(self, line: StyledLine, total: int) -> StyledLine:
        if total < 8:
            return line
        w, pieces = line
        return (total, [("│ ", self.border), *pieces, (" " * (total - 4 - w) + " │", self.border)])

    def body(self, lines: Iterable[StyledLine], total: int) -> Iterator[StyledLine]:
        if total < 8:
            yield from lines
            return
        border = self.border
        inner = total - 4
        for w, pieces in lines:
            if w > inner:  # never cut: fold what does not fit (only at widths below any symbol)
                text = "".join(t for t, _ in pieces)
                style = next((s for t, s in pieces if t.strip()), None)
                for part in fold(text, inner):
                    yield (total, [("│ ", border), (pad(part, inner), style), (" │", border)])
                continue
            yield (total, [("│ ", border), *pieces, (" " * (inner - w) + " │", border)])

    def bottom(self, total: int) -> list[StyledLine]:
        if total < 8:
            return []
        b = self.border
        sub = f" {self.subtitle} " if self.subtitle and width(self.subtitle) + 6 <= total else ""
        return [(total, [("╰" + "─" * (total - 3 - width(sub)), b), (sub, b), ("─╯", b)])]

    def all(self, lines: Iterable[StyledLine], total: int) -> Iterator[StyledLine]:
        yield from self.top(total)
        yield from self.body(lines, total)
        yield from self.bottom(total)


def rule(title: str, total: int, style: Style | None, line_style: Style | None) -> list[StyledLine]:
    """A horizontal rule with a centred title (the title on lines of its own above it when too long)."""
    tw = width(title)
    if tw + 6 <= total:
        left = (total - tw - 2) // 2
        right = total - tw - 2 - left
        return [(total, [("─" * left + " ", line_style), (title, style), (" " + "─" * right, line_style)])]
    out = [(width(t), [(t, style)]) for t in wrap_words(title, total)]
    return out + [(total, [("─" * total, line_style)])]


def grid(rows: list[list[str]], room: int, right: bool = True, gap: int = 2) -> list[tuple[str, bool]]:
    """Rows of cells aligned in columns, as (line, is a band's heading). Wider than `room`, the columns
    come in bands one under another, each headed by the columns it holds (by "(continued)" when the grid
    is shortened with `…`, whose columns are not numbered as the matrix's)."""
    if not rows:
        return []
    n = max(len(r) for r in rows)
    rows = [r + [""] * (n - len(r)) for r in rows]
    if is_narrow("".join(["".join(r) for r in rows])):  # the usual grid of numbers: widths are lengths
        return _narrow_grid(rows, room, right, gap)
    widths = [max(width(r[i]) for r in rows) for i in range(n)]
    groups = bands(widths, room, gap)
    out: list[tuple[str, bool]] = []
    shortened = any("…" in r for r in rows)  # the columns shown are not the matrix's: no numbers for them
    for k, g in enumerate(groups):
        out.extend(_band_heading(k, g, len(groups), shortened))
        for r in rows:
            cells = [(" " * (widths[i] - width(r[i])) + r[i]) if right else pad(r[i], widths[i]) for i in g]
            line = (" " * gap).join(cells).rstrip()
            out.extend((part, False) for part in fold(line, room))
    return out


def _band_heading(k: int, band: list[int], bands_count: int, shortened: bool) -> list[tuple[str, bool]]:
    """The heading line of band `k` of a grid (none for a grid in one band, or the first of a shortened one)."""
    if bands_count == 1 or (shortened and not k):
        return []
    if shortened:
        return [("(continued)", True)]
    return [(f"columns {band[0] + 1}–{band[-1] + 1}" if len(band) > 1 else f"column {band[0] + 1}", True)]


def _narrow_grid(rows: list[list[str]], room: int, right: bool, gap: int) -> list[tuple[str, bool]]:
    """`grid` of cells whose characters each take one cell."""
    widths = [max(map(len, column)) for column in zip(*rows)]
    groups = bands(widths, room, gap)
    out: list[tuple[str, bool]] = []
    shortened = any("…" in r for r in rows)
    space = " " * gap
    for k, g in enumerate(groups):
        out.extend(_band_heading(k, g, len(groups), shortened))
        for r in rows:
            if right:
                line = space.join([r[i].rjust(widths[i]) for i in g]).rstrip()
            else:
                line = space.join([r[i].ljust(widths[i]) for i in g]).rstrip()
            if len(line) <= room:
                out.append((line, False))
            else:
                out.extend((part, False) for part in fold(line, room))
    return out


def table(
    head: list[str] | None, rows: list[list[str]], room: int, right: list[bool], gap: int = 3
) -> list[tuple[str, str, int]]:
    """A table as (line, kind, row) with kind head, rule or row (row: the index in `rows`, -1 for the
    others); the columns after the first in bands that fit `room`, the first column in every band."""
    all_rows = ([head] if head else []) + rows
    if not all_rows:
        return []
    n = len(all_rows[0])
    # the usual table, every cell of one-cell characters: measured and padded by lengths
    narrow = all(len(r) == n for r in all_rows) and is_narrow("".join(["".join(r) for r in all_rows]))
    if narrow:
        widths = [max(map(len, column)) for column in zip(*all_rows)]
    else:
        widths = [max(width(r[i]) for r in all_rows) for i in range(n)]
    groups = bands(widths[1:], max(room - widths[0] - gap, 1), gap) if n > 1 else [[]]
    out: list[tuple[str, str, int]] = []
    space = " " * gap
    for k, g in enumerate(groups):
        cols = [0] + [i + 1 for i in g]
        if k:
            out.append(("", "row", -1))
        for j, r in enumerate(all_rows):
            if narrow:
                cells = [r[i].rjust(widths[i]) if right[i] else r[i].ljust(widths[i]) for i in cols]
            else:
                cells = [(" " * (widths[i] - width(r[i])) + r[i]) if right[i] else pad(r[i], widths[i]) for i in cols]
            line = space.join(cells).rstrip()
            is_head = bool(head) and j == 0
            index = -1 if is_head else j - (1 if head else 0)
            kind = "head" if is_head else "row"
            if narrow and len(line) <= room:
                out.append((line, kind, index))
            else:
                out.extend((part, kind, index) for part in fold(line, room))
            if is_head:
                out.append(("─" * min(sum(widths[i] for i in cols) + gap * (len(cols) - 1), room), "rule", -1))
    return out


def placed(blocks: Sequence[Sequence[tuple[int, T]]], room: int, gap: int) -> Iterator[list[tuple[int, int, T]]]:
    """Blocks of lines (each line its cells and its content) placed left to right while they fit in `room`,
    then on further rows: each line of the result as the blocks' lines in it, each with its offset from the
    left, its cells and its content."""
    row: list[Sequence[tuple[int, T]]] = []
    used = 0
    for b in [*blocks, None]:  # None: the end, the last row's lines made
        w = max((lw for lw, _ in b), default=0) if b is not None else 0
        if row and (b is None or used + gap + w > room):
            widths = [max((lw for lw, _ in r), default=0) for r in row]
            offsets = [sum(widths[:j]) + gap * j for j in range(len(row))]
            for k in range(max(len(r) for r in row)):
                yield [(offsets[j], *r[k]) for j, r in enumerate(row) if k < len(r)]
            row, used = [], 0
        if b is not None:
            used = used + gap + w if row else w
            row.append(b)


def side_by_side(blocks: list[list[StyledLine]], room: int, gap: int = 4) -> list[StyledLine]:
    """Blocks of lines placed left to right while they fit in `room`, then on further rows (see `placed`)."""
    if len(blocks) == 1:
        return blocks[0]
    out: list[StyledLine] = []
    for parts in placed(blocks, room, gap):
        pieces: list[tuple[str, Style | None]] = []
        cur = 0
        for offset, w, ps in parts:
            pieces.append((" " * (offset - cur), None))
            pieces.extend(ps)
            cur = offset + w
        out.append((cur, pieces))
    return out
