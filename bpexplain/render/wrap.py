"""Line breaking for the terminal view: where an equation, a sentence or a row of cells may break.

An equation breaks at an operator, never inside a number or a symbol: first before a `+` or `−`
outside brackets (the next line starts with the operator), then after a `·` or `, ` outside brackets
(the next line indented by two), then the same one bracket deeper, and so on. Only a piece with no
operator in it that is wider than the whole line is folded (a terminal narrower than one symbol).
Widths are terminal cells, as rich counts them; a character known to take one cell is counted by len().
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, repeat
from operator import itemgetter

from rich.cells import cell_len

_NARROW: set[str] = {chr(c) for c in range(0x20, 0x7F)}  # grows with every character found one cell wide
_BREAK = re.compile(r" [+−] |·|, |[()\[\]]")  # where an equation may break, and the brackets around
_SUM = re.compile(r" [+−] |, ")  # the first of those (`, ` as it takes the space of a ` + ` after it)
_start = re.Match.start
HANG = 2  # the indent of a line continued after a `·` or `, `


def _all_of(chars: set[str]) -> re.Pattern[str]:
    """A pattern whose full match says that every character of a text is in `chars` (one scan in C, a third
    faster than a search for a character that is not, and several times a set's test of each)."""
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]*")


_ALL_NARROW = _all_of(_NARROW)  # matches a text of characters all known to be one cell wide


def is_narrow(text: str) -> bool:
    """Whether every character of `text` is known to take one cell (then its width is its length)."""
    return text.isascii() and text.isprintable() or _ALL_NARROW.fullmatch(text) is not None


def width(text: str) -> int:
    """Terminal cells `text` takes."""
    global _ALL_NARROW
    if text.isascii() and text.isprintable() or _ALL_NARROW.fullmatch(text) is not None:
        return len(text)
    n = cell_len(text)
    grown = False
    for ch in set(text) - _NARROW:
        if cell_len(ch) == 1:
            _NARROW.add(ch)
            grown = True
    if grown:
        _ALL_NARROW = _all_of(_NARROW)
    return n


def pad(text: str, cells: int) -> str:
    """`text` filled with spaces to `cells` terminal cells."""
    return text + " " * (cells - width(text))


def fold(text: str, limit: int) -> list[str]:
    """`text` cut into pieces of at most `limit` cells (the last resort: nothing else breaks it)."""
    limit = max(limit, 1)
    if width(text) <= limit:
        return [text]
    pieces, current, used = [], "", 0
    for ch in text:
        w = width(ch)
        if used + w > limit and current:
            pieces.append(current)
            current, used = "", 0
        current += ch
        used += w
    pieces.append(current)
    return pieces


def wrap_words(text: str, limit: int, hang: int = 0) -> list[str]:
    """Prose broken at spaces into lines of at most `limit` cells; lines after the first indented by `hang`."""
    limit = max(limit, 1)
    narrow = is_narrow(text)
    if (len(text) if narrow else width(text)) <= limit:
        return [text]
    hang = hang if hang < limit // 2 else 0
    if narrow:
        return _words_narrow(text, limit, hang)
    lines: list[str] = []
    current: list[str] = []
    used = -1  # cells of the current line (its words and the spaces between them)
    for word in text.split(" "):
        w = len(word) if narrow else width(word)
        room = limit - (hang if lines else 0)
        if used + 1 + w <= room:
            current.append(word)
            used += 1 + w
            continue
        if current:
            lines.append(" ".join(current).rstrip())
        pieces = fold(word, limit - hang) if w > limit - hang else [word]
        lines.extend(pieces[:-1])
        current, used = [pieces[-1]], width(pieces[-1])
    lines.append(" ".join(current))
    return [lines[0]] + [" " * hang + line for line in lines[1:]]


def _words_narrow(text: str, limit: int, hang: int) -> list[str]:
    """`wrap_words` for a text of one-cell characters longer than `limit`, by positions: a line ends at the
    last end of a word (a space, or the text's end) within its room, its first word always on it; a first
    word longer than the room is cut into pieces of `limit - hang` characters, its last piece starting the
    line (as `fold` cuts it)."""
    n = len(text)
    find, rfind = text.find, text.rfind
    lines: list[str] = []
    start = 0  # where the line being made starts: at a word
    piece = limit - hang
    while True:
        room = limit - hang if lines else limit
        end = find(" ", start)  # the end of its first word
        if end < 0:
            end = n
        if end - start > room:  # too long for any line: cut
            while end - start > piece:
                lines.append(text[start : start + piece])
                start += piece
            room = piece
        if n - start <= room:  # the rest fits: the last line (kept as it is)
            lines.append(text[start:])
            break
        end = rfind(" ", end, start + room + 1)  # the last end of a word within the room
        lines.append(text[start:end].rstrip())
        start = end + 1
    if hang:
        lead = " " * hang
        return [lines[0]] + [lead + line for line in lines[1:]]
    return lines


def wrap_math(text: str, limit: int) -> list[str]:
    """An equation's side broken at operators into lines of at most `limit` cells (see the module's doc).

    Continuation lines start with their operator (`+ …`) or are indented by HANG; joined back without
    those breaks they give `text`. A piece is folded only when no operator is left to break it at.
    """
    return wrap_math_folded(text, limit)[0]


def wrap_math_folded(text: str, limit: int) -> tuple[list[str], bool]:
    """`wrap_math`, and whether a piece had to be folded (cut between two operators)."""
    lines, _, folded = wrap_math_cells(text, limit)
    return lines, folded


def wrap_math_cells(text: str, limit: int, cells: int = -1) -> tuple[list[str], list[int], bool]:
    """`wrap_math_folded` with the cells of each line; `cells`, when not -1, is the width of `text` known.

    A text whose characters all take one cell (nearly every one) is broken by `_narrow`, which counts
    by positions; the others by `_wrap_cells`, which measures the pieces."""
    if cells >= 0 and cells <= limit:
        return [text], [cells], False
    narrow = is_narrow(text)
    if not narrow:
        n = width(text)
        if n <= limit:
            return [text], [n], False
        narrow = is_narrow(text)  # `width` has learnt its characters
    elif len(text) <= limit:
        return [text], [len(text)], False
    if narrow:
        return _narrow(text, max(limit, 1))
    lines, folded = _wrap_cells(text, max(limit, 1))
    return lines, [width(line) for line in lines], folded


_KEPT = " +−·,()[]"  # the characters where a text of one-cell characters breaks depends on
_KEPT_BYTES = {b for c in _KEPT for b in c.encode("utf-32-le")}
_SKELETON = bytes(b if b in _KEPT_BYTES else ord("a") for b in range(256))  # a bytes.translate table
# a text's lines as a function of it (slices taken in C), the lines that start indented by HANG, the cells of
# each line, whether a piece was folded, the cells of the widest
Spans = tuple[Callable[[str], tuple[str, ...]], tuple[int, ...], tuple[int, ...], bool, int]
_SPANS: dict[tuple[bytes, int], Spans] = {}  # the breaks of the last skeletons, at each limit met


def skeleton(text: str) -> bytes:
    """What of `text` its breaks depend on: its length, and which of its characters are those of `_KEPT`.

    Each character is its four bytes in UTF-32, every byte that is not one of a kept character's made
    `a`: a character's four bytes come out as a kept character's only when it is that character (a
    kept character's bytes are all kept), so two texts of one skeleton have the same length and the same
    kept characters at the same places (a lone surrogate is its code point too). Two texts of different
    skeletons may still break alike: only a line found again is lost."""
    return text.encode("utf-32-le", "surrogatepass").translate(_SKELETON)


def _narrow(text: str, limit: int) -> tuple[list[str], list[int], bool]:
    """`wrap_math_cells` for a text of one-cell characters wider than `limit` (at least 1)."""
    lines, sizes, folded, _ = wrap_narrow(text, limit)
    return lines, sizes, folded


def wrap_narrow(text: str, limit: int) -> tuple[list[str], list[int], bool, int]:
    """`wrap_math_cells` for a text known to be of one-cell characters (`is_narrow`) and wider than `limit`,
    with the cells of its widest line.

    Where such a text breaks depends only on its length and on the places of the characters of `_KEPT`
    (the breaks, the brackets around them, the spaces dropped at a line's ends): not on what the other
    characters are. So the breaks are found once per skeleton (see `skeleton`), which the rows of a
    block share by the thousand (`x_1·w_1` and `x_2·w_9`), and each text's lines cut at those places."""
    lines, sizes, folded, widest = narrow_lines(text, limit)
    return list(lines), list(sizes), folded, widest


def narrow_lines(text: str, limit: int) -> tuple[tuple[str, ...], tuple[int, ...], bool, int]:
    """`wrap_narrow` in tuples (the board keeps a block's lines: tuples of strings are no work for the
    garbage collector once it has seen them, lists are at each of its passes)."""
    limit = max(limit, 1)
    cut, indented, sizes, folded, widest = _spans(skeleton(text), text, limit)
    return _shown(cut(text), indented), sizes, folded, widest


def _spans(skel: bytes, text: str, limit: int) -> Spans:
    """The breaks of `text` (of one-cell characters, its skeleton given) at `limit`, kept by skeleton."""
    key = (skel, limit)
    spans = _SPANS.get(key)
    if spans is None:
        if len(_SPANS) >= 1 << 12:  # at most some tens of MB of keys (4 bytes a character)
            _SPANS.clear()
        spans = _SPANS[key] = _narrow_spans(text, limit)
    return spans


def _shown(lines: tuple[str, ...], indented: tuple[int, ...]) -> tuple[str, ...]:
    """A text's lines cut at its breaks, those continued after a `·` or `, ` indented."""
    if not indented:
        return lines
    shown = list(lines)
    for k in indented:
        shown[k] = _INDENT + shown[k]
    return tuple(shown)


_INDENT = " " * HANG


def wrap_column(
    texts: Sequence[str], cells: Sequence[int], narrow: Sequence[bool], limit: int
) -> tuple[list[Sequence[str]], list[Sequence[int]], int] | None:
    """`wrap_math_cells` of each text of a column (given its cells and whether it is of one-cell characters):
    each text's lines (tuples, see `narrow_lines`), the cells of each, and the cells of the widest line; None
    when a piece had to be folded. A text that fits is taken as it is, in the loop: a large block's column is
    tens of thousands of texts. The skeletons of the texts of one-cell characters (`skeleton`) are cut from
    one encoding of the column (UTF-32 has four bytes a character: a text's are at four times its place)."""
    wrapped: list[Sequence[str]] = []
    sizes: list[Sequence[int]] = []
    widest = 0
    lines: Sequence[str]
    counts: Sequence[int]
    least = max(limit, 1)
    if max(cells, default=0) > limit:  # some text is wrapped: the column's skeleton, and where each text ends
        column = skeleton("".join(texts))
        ends: Iterable[int] = accumulate(map(len, texts))
    else:
        column, ends = b"", repeat(0)
    for text, n, one_cell, end in zip(texts, cells, narrow, ends):
        if n <= limit:  # fits (what `wrap_math_cells` says first), or there is none ("" and 0)
            wrapped.append((text,))
            sizes.append((n,))
            if n > widest:
                widest = n
            continue
        if one_cell:  # its cells are its length
            skel = column[4 * (end - n) : 4 * end]
            spans = _SPANS.get((skel, least)) or _spans(skel, text, least)
            cut, indented, counts, folded, used = spans
            if folded:
                return None
            lines = _shown(cut(text), indented) if indented else cut(text)
        else:
            lines, counts, folded = wrap_math_cells(text, limit, n)
            if folded:
                return None
            used = max(counts)
        wrapped.append(lines)
        sizes.append(counts)
        if used > widest:
            widest = used
    return wrapped, sizes, widest


def _narrow_spans(text: str, limit: int) -> Spans:
    """The lines of `_narrow` as the places of `text` they show, with the indent before them: the same passes
    as `_wrap_cells` (see `_broken`), each line's cells counted from its positions."""
    places, sizes, folded, widest = _narrow_places(text, limit)
    slices = [slice(start, end) for _, start, end in places]
    indented = tuple(k for k, (indent, _, _) in enumerate(places) if indent)
    if len(slices) > 1:
        return itemgetter(*slices), indented, tuple(sizes), folded, widest
    only = slices[0]
    return (lambda text: (text[only],)), indented, tuple(sizes), folded, widest


def _narrow_places(text: str, limit: int) -> tuple[list[tuple[str, int, int]], list[int], bool, int]:
    """(indent, start, end) a line of `_narrow`, the cells of each, whether a piece was folded, the widest."""
    if not text:
        return [("", 0, 0)], [0], False, 0
    lines = [(0, len(text), -1)]
    wide = text[-1] != " " or len(text) - 1 > limit  # the line too wide (a last space is dropped)
    if wide:
        for priority, points in _passes(text):
            lines, wide = _broken_narrow(text, lines, points, priority & 1, limit)
            if not wide:
                break
    cut: list[tuple[str, int, int]] = []
    sizes: list[int] = []
    folded = False
    for start, end, kind in lines:
        indent = ""
        if kind == 0 and start < end:
            start += 1
        elif kind == 1 and end - start + HANG - (text[end - 1] == " ") <= limit:
            indent = " " * HANG  # else no room for the indent
        while end > start and text[end - 1] == " ":
            end -= 1
        if end == start:
            indent = ""  # a line of spaces: nothing is left of it, its indent neither
        n = len(indent) + end - start
        if n <= limit:
            cut.append((indent, start, end))
            sizes.append(n)
        else:  # folded (no indent: it would have fitted): pieces of `limit` characters
            for at in range(start, end, limit):
                cut.append(("", at, min(at + limit, end)))
                sizes.append(min(at + limit, end) - at)
            folded = True
    return cut, sizes, folded, max(sizes)


def _passes(text: str) -> list[tuple[int, list[int]]]:
    """The breaks of `_breaks` grouped by priority, in order: one pass of `wrap_math` each (the points of
    priority 0 are those of `_sums`; a point's kind is its priority's parity)."""
    groups: dict[int, list[int]] = {}
    depth = 0  # brackets open before the candidate
    last = last_priority = -1
    group: list[int] = []
    for at in map(_start, _BREAK.finditer(text)):
        c = text[at]
        if c == " ":
            pos, priority = at, (depth * 2 if depth > 0 else 0)
        elif c == "·":
            pos, priority = at + 1, (depth * 2 + 1 if depth > 0 else 1)
        elif c == ",":
            pos, priority = at + 2, (depth * 2 + 1 if depth > 0 else 1)
        elif c == "(" or c == "[":
            depth += 1
            continue
        else:
            depth -= 1
            continue
        if pos == last:  # a ` + ` right after a `·`: the later candidate at the same place counts, as in `_breaks`
            group.pop()
            if not group:
                del groups[last_priority]
        group = groups.get(priority)  # type: ignore[assignment]
        if group is None:
            group = groups[priority] = []
        group.append(pos)
        last, last_priority = pos, priority
    return sorted(groups.items())


def _broken_narrow(
    text: str, lines: list[tuple[int, int, int]], points: list[int], after: int, limit: int
) -> tuple[list[tuple[int, int, int]], bool]:
    """`_broken` for a text of one-cell characters, each point of the kind `after`, and whether a line is
    still too wide."""
    out = []
    wide = False
    for start, end, kind in lines:
        size = end - start - (text[end - 1] == " ")  # the line's cells without its indent or first space
        if kind == 1 and size <= limit:
            kind = 2  # fits without its indent: better than breaking inside it
        if size - (kind == 0) + (HANG if kind == 1 else 0) <= limit:
            out.append((start, end, kind))
            continue
        inner = points[bisect_right(points, start) : bisect_left(points, end)]
        if not inner:
            out.append((start, end, kind))
            wide = True
            continue
        inner.append(end)
        j = 0
        while True:  # the last point whose line fits (a line's cells grow with its end)
            reach = start + limit + (kind == 0) - (HANG if kind == 1 else 0)
            best = bisect_right(inner, reach + 1, j + 1) - 1
            if best > j and inner[best] == reach + 1 and text[reach] != " ":
                best -= 1  # one past the reach fits only when its last character is a space, dropped
            stop = inner[best]
            out.append((start, stop, kind))
            if not wide and stop - start - (kind == 0) + (HANG if kind == 1 else 0) - (text[stop - 1] == " ") > limit:
                wide = True
            if stop == end:
                break
            start, kind = stop, after
            j = best + 1
    return out, wide


def _wrap_cells(text: str, limit: int) -> tuple[list[str], bool]:
    """`wrap_math_folded` for a text wider than `limit` (at least 1), measuring each piece."""

    def shown(start: int, end: int, kind: int) -> str:
        piece = text[start:end]
        if kind == 0:
            piece = piece[1:]
        elif kind == 1:
            piece = " " * HANG + piece
        return piece.rstrip(" ")

    def cells(start: int, end: int, kind: int) -> int:
        return width(shown(start, end, kind))

    def fits(lines: list[tuple[int, int, int]]) -> bool:
        return all(cells(*line) <= limit for line in lines)

    # start, end, and the kind of break it starts at (-1: the first line; 2: after a `·` without the indent)
    lines = [(0, len(text), -1)]
    sums = _sums(text)  # the breaks of the first priority: most equations need no other, so the rest wait
    if sums and not fits(lines):
        lines = _broken(text, lines, sums, dict.fromkeys(sums, (0, 0)), limit, cells)
    if text and not fits(lines):
        breaks = _breaks(text)
        for priority in sorted({p for p, _ in breaks.values()} - {0}):
            if fits(lines):
                break
            points = [pos for pos, (p, _) in breaks.items() if p == priority]
            lines = _broken(text, lines, points, breaks, limit, cells)
    result: list[str] = []
    folded = False
    for start, end, kind in lines:
        if kind == 1 and cells(start, end, kind) > limit:
            kind = 2  # no room for the indent
        piece = shown(start, end, kind)
        if width(piece) <= limit:
            result.append(piece)
        else:
            result.extend(fold(piece, limit))
            folded = True
    return result, folded


def _sums(text: str) -> list[int]:
    """Where `text` may break before a `+` or `−` outside brackets (priority 0), in order."""
    # `, ` is matched too, as in _BREAK: a space it takes starts no ` + `
    found = [pos for pos in map(_start, _SUM.finditer(text)) if text[pos] == " "]
    if "(" not in text and "[" not in text:
        return found  # nothing is inside brackets (a `)` alone counts below zero, which is zero)
    out = []
    depth = last = 0
    count = text.count
    square = "[" in text or "]" in text
    for pos in found:
        depth += count("(", last, pos) - count(")", last, pos)
        if square:
            depth += count("[", last, pos) - count("]", last, pos)
        last = pos
        if depth <= 0:
            out.append(pos)
    return out


def _breaks(text: str) -> dict[int, tuple[int, int]]:
    """Every place `text` may break: position -> (priority, kind), in order of position. Kind 0 is before
    ` + ` or ` − `, 1 after `·` or `, `; the priority is twice the brackets open there, plus the kind."""
    breaks: dict[int, tuple[int, int]] = {}
    depth = 0  # brackets open before the candidate (none is inside one)
    for m in _BREAK.finditer(text):
        at = m.start()
        c = text[at]
        if c == " ":
            breaks[at] = (max(depth, 0) * 2, 0)
        elif c == "·":
            breaks[at + 1] = (max(depth, 0) * 2 + 1, 1)
        elif c == ",":
            breaks[at + 2] = (max(depth, 0) * 2 + 1, 1)
        elif c == "(" or c == "[":
            depth += 1
        else:
            depth -= 1
    return breaks


def _broken(
    text: str,
    lines: list[tuple[int, int, int]],
    points: list[int],
    breaks: dict[int, tuple[int, int]],
    limit: int,
    cells: Callable[[int, int, int], int],
) -> list[tuple[int, int, int]]:
    """Each line too wide broken at `points` (in order), as late as fits: one pass of `wrap_math`."""
    out = []
    for start, end, kind in lines:
        if kind == 1 and cells(start, end, 2) <= limit:
            kind = 2  # fits without its indent: better than breaking inside it
        if cells(start, end, kind) <= limit:
            out.append((start, end, kind))
            continue
        inner = points[bisect_right(points, start) : bisect_left(points, end)] + [end]
        j = 0
        last = len(inner) - 1
        while True:
            best = j
            while best < last and cells(start, inner[best + 1], kind) <= limit:
                best += 1
            stop = inner[best]
            out.append((start, stop, kind))
            if stop == end:
                break
            start, kind = stop, breaks[stop][1]
            j = best + 1
    return out


def bands(widths: list[int], room: int, gap: int) -> list[list[int]]:
    """Column indices grouped so that each group's columns, `gap` apart, fit in `room` cells (a column
    wider than `room` alone in its group)."""
    groups: list[list[int]] = []
    used = 0
    for i, w in enumerate(widths):
        if groups and used + gap + w <= room:
            groups[-1].append(i)
            used += gap + w
        else:
            groups.append([i])
            used = w
    return groups
