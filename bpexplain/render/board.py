"""A block's equations laid out for a width, as on the lecture's board: symbol = expression = numbers = value.

The columns are aligned once per block, from the widths of what the printer wrote. Of three layouts
the block takes the first that fits, and of the last two the one with fewer lines (stacked on a tie):

- rows: one line an equation;
- columns: the same columns, the expression and the numbers each wrapped at operators inside its own
  column (a continued sum starts its line with `+`);
- stacked: symbol = expression, then `= numbers`, then `= value` under it, each wrapped at operators.

Nothing is cut: only a piece with no operator in it that is wider than the terminal is folded. An
equation whose expression is its value (`dh_5(e)/de = 1`) is shown once. Lines are pieces
(text, role); the renderer styles each role.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any, NamedTuple

from .common import EquationColumns
from .wrap import is_narrow, pad, width, wrap_column, wrap_math_cells, wrap_words

Piece = tuple[str, str]  # text and role: symbol, op, expr, value, remark, warning ("" for spaces)
Line = tuple[int, list[Piece]]  # width in cells, and the pieces
EQ = " = "
MIN_COLUMN = 10  # a wrapped column narrower than this reads worse than the stacked layout


class _Row(NamedTuple):
    symbol: str
    expression: str
    substituted: str
    value: str
    remark: str
    ws: int
    we: int
    wu: int
    wv: int
    ne: bool  # the expression is of one-cell characters (`is_narrow`): wrapped by `narrow_lines`
    nu: bool  # the numbers are


_new_row = tuple.__new__  # a _Row made without its Python-level __new__: thousands a block


Column = tuple[Sequence[str], Sequence[int], Sequence[bool]]  # a column's texts, their cells, is each narrow


def _fields(columns: list[EquationColumns]) -> tuple[tuple[Sequence[Any], ...], bool, bool, bool]:
    """The board's rows as columns, the fields of `_Row` in order: each equation's texts as shown and their
    widths, and whether its expression and its numbers are of one-cell characters (`is_narrow`: then a text's
    cells are its length); whether every text is; whether a row has a remark; whether one is said once."""
    n = len(columns)
    symbols, expressions, substituted, values, remarks, onces = zip(*columns)
    said_once = any(onces)
    if said_once:  # `dh_5(e)/de = 1`: said once (common.said_once, the rule of every format)
        values = tuple(["" if once else value for value, once in zip(values, onces)])
    has_remarks = any(remarks)
    if has_remarks:
        remarks = tuple([r if not r or r.startswith("≠") else f"({r})" for r in remarks])
    # every text of one-cell characters (the usual block, one scan): each measured by its length, in C
    if is_narrow("".join(symbols) + "".join(expressions) + "".join(substituted) + "".join(values)):
        narrow: Sequence[bool] = (True,) * n
        lengths = [[*map(len, texts)] for texts in (symbols, expressions, substituted, values)]
        fields = (symbols, expressions, substituted, values, remarks, *lengths, narrow, narrow)
        return fields, True, has_remarks, said_once
    ne, we = _measured(expressions)
    nu, wu = _measured(substituted)
    narrow_sv = is_narrow("".join(symbols) + "".join(values))
    ws = [*map(len, symbols)] if narrow_sv else [*map(width, symbols)]
    wv = [*map(len, values)] if narrow_sv else [*map(width, values)]
    fields = (symbols, expressions, substituted, values, remarks, ws, we, wu, wv, ne, nu)
    return fields, narrow_sv and all(ne) and all(nu), has_remarks, said_once


def _measured(texts: Sequence[str]) -> tuple[list[bool], list[int]]:
    """Whether each text is of one-cell characters, and its cells."""
    narrow: list[bool] = []
    cells: list[int] = []
    for text in texts:
        if text.isascii() and text.isprintable() or is_narrow(text):  # `is_narrow`, its first test inlined
            narrow.append(True)
            cells.append(len(text))
        else:
            narrow.append(False)
            cells.append(width(text))
    return narrow, cells


class Board:
    """The equations of one block, and their lines at a given width."""

    def __init__(self, columns: list[EquationColumns]) -> None:
        self.columns = columns
        self._rows: list[_Row] | None = None  # see `rows`
        if columns:
            fields, self.narrow, self.remarks, self.said_once = _fields(columns)
            self.ws, self.we, self.wu, self.wv = max(fields[5]), max(fields[6]), max(fields[7]), max(fields[8])
        else:
            fields, self.narrow, self.remarks, self.said_once = ((),) * 11, True, False, False
            self.ws = self.we = self.wu = self.wv = 0
        self._fields = fields
        self._column_e: Column = (fields[1], fields[6], fields[9])  # the expressions (see `Column`)
        self._column_u: Column = (fields[2], fields[7], fields[10])  # the numbers
        self._room = -1
        self.mode = "rows"
        self._wrapped: list[tuple[Sequence[str], Sequence[str]]] = []
        self._sizes: list[tuple[Sequence[int], Sequence[int]]] = []  # the cells of each of those lines
        self._columns_sizes: list[tuple[Sequence[int], Sequence[int]]] = []
        self._wrapped_e: list[Sequence[str]] = []  # the columns' lines (`_columns`) by column
        self._wrapped_u: list[Sequence[str]] = []
        self._ce = self._cu = 0
        self._wraps: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
        # a row's width but its value's in the rows layout: symbol = expression [= numbers] =
        self._rows_width = 1 + self.ws + 3 + self.we + (3 + self.wu if self.wu else 0) + 3

    @property
    def rows(self) -> list[_Row]:
        """Each equation's row (made when a layout asks: the rows layout without styles writes the columns)."""
        rows = self._rows
        if rows is None:
            rows = self._rows = [*map(_new_row, repeat(_Row, len(self.columns)), zip(*self._fields))]
        return rows

    # ---- choosing the layout ------------------------------------------------------------------

    def prepare(self, room: int) -> None:
        """Choose the layout for `room` cells (once per width)."""
        if room == self._room:
            return
        self._room = room
        self._wrapped = []
        self._sizes = []
        fixed = 1 + self.ws + 3 + (3 if self.wu else 0) + (3 + self.wv if self.wv else 0)
        if fixed + self.we + self.wu <= room:
            self.mode = "rows"
            return
        self.mode = "stacked"
        columns = self._columns(room - fixed)
        if columns is not None:
            count = sum(map(max, map(len, self._wrapped_e), map(len, self._wrapped_u)))  # in C
            if count < self._stacked_count(room, count + 1):
                self.mode = "columns"
                self._wrapped = columns
                self._sizes = self._columns_sizes

    def _columns(self, avail: int) -> list[tuple[Sequence[str], Sequence[str]]] | None:
        """Each row's expression and numbers wrapped into their columns (the cells of each line kept in
        `_columns_sizes`); None when a column would be too narrow or a piece had to be folded."""
        we, wu = self.we, self.wu
        if wu:
            ce = min(we, max(avail * we // (we + wu), MIN_COLUMN))
            cu = avail - ce
            if cu > wu:
                cu, ce = wu, min(we, avail - wu)
        else:
            ce, cu = avail, 0
        if ce < min(we, MIN_COLUMN) or (wu and cu < min(wu, MIN_COLUMN)):
            return None
        expressions = wrap_column(*self._column_e, ce)
        if expressions is None:
            return None
        wrapped_e, sizes_e, used_e = expressions
        cu = min(wu, avail - used_e) if wu else 0
        substituted = wrap_column(*self._column_u, cu)
        if substituted is None:
            return None
        wrapped_u, sizes_u, used_u = substituted
        self._ce = used_e
        self._cu = used_u if wu else 0
        self._columns_sizes = list(zip(sizes_e, sizes_u))
        self._wrapped_e, self._wrapped_u = wrapped_e, wrapped_u
        return list(zip(wrapped_e, wrapped_u))

    def _stacked_count(self, room: int, enough: int) -> int:
        """The lines of the stacked layout, counted until there are `enough` (all that `prepare` asks)."""
        hang, _ = self._hang(room)
        fields = self._fields  # a line a side, counted in C: the rows' numbers and values that are not empty
        least = len(self.columns) * (1 + (hang == 3)) + sum(map(bool, fields[2])) + sum(map(bool, fields[3]))
        limit = room - hang
        if least >= enough or (self.we <= limit and self.wu <= limit):  # else every side is one line
            return least
        n = 0
        for r in self.rows:
            n += (1 if r.we <= limit else len(self._wrap(r.expression, limit, r.we)[0])) + (hang == 3)
            if r.substituted:
                n += 1 if r.wu <= limit else len(self._wrap(r.substituted, limit, r.wu)[0])
            n += 1 if r.value else 0
            if n >= enough:
                break
        return n

    def _wrap(self, text: str, limit: int, cells: int) -> tuple[list[str], list[int]]:
        """`wrap_math` and the cells of each line, kept: the stacked layout's lines are counted when it is
        chosen, then shown. `cells`: the width of `text`."""
        key = (text, limit)
        lines = self._wraps.get(key)
        if lines is None:
            lines = self._wraps[key] = wrap_math_cells(text, limit, cells)[:2]
        return lines

    def _hang(self, room: int) -> tuple[int, bool]:
        """Where a stacked equation's sides start, and whether the symbol has a line of its own."""
        hang = 1 + self.ws + 3
        if room - hang >= max(MIN_COLUMN, room // 2):
            return hang, False
        return 3, True

    # ---- the lines ----------------------------------------------------------------------------

    def styled(self, i: int, room: int, styles: dict[str, Any]) -> list[tuple[int, list[tuple[str, Any]]]]:
        """The lines of equation `i` at `room` cells, each piece with the style of its role."""
        self.prepare(room)
        r = self.rows[i]
        if r.remark:
            return [(w, [(t, styles[role]) for t, role in pieces]) for w, pieces in self.lines(i, room)]
        if self.mode == "columns":
            return self._styled_columns(i, r, styles)
        if self.mode == "stacked":
            return self._styled_stacked(r, room, styles)
        op = styles["op"]  # the common case, written from the widths known
        head = (" " + r.symbol + " " * (self.ws - r.ws), styles["symbol"])
        if not r.value:
            return [(1 + self.ws + 3 + r.we, [head, (EQ, op), (r.expression, styles["value"])])]
        pieces = [head, (EQ, op), (r.expression + " " * (self.we - r.we), styles["expr"])]
        if self.wu:
            if r.substituted:
                pieces += [(EQ, op), (r.substituted + " " * (self.wu - r.wu), styles["expr"])]
            else:
                pieces.append((" " * (3 + self.wu), styles[""]))
        pieces += [(EQ, op), (r.value, styles["value"])]
        return [(self._rows_width + r.wv, pieces)]

    def _plain_columns_narrow(self, first: int, end: int, room: int) -> list[str]:
        """`_plain_columns` of a block of one-cell characters without remarks: each line one %-format, its
        columns padded as `str.ljust` pads them (a line's cells are its length, and every line fits: the
        columns were wrapped to the room their widths leave)."""
        wrapped = self._wrapped
        symbols, _, substituted, values = self._fields[:4]
        ws, ce, cu = self.ws, self._ce, self._cu
        start = 1 + ws + 3
        w = start + ce + (3 + cu if cu else 0)  # a line's cells to the value
        lead, tail = f"\n│ {' ' * start}", f"{' ' * (room - w)} │"
        # the first line, and the lines after it (without a numbers column: given no numbers, as nothing)
        first_line = f"│  %-{ws}s = %-{ce}s%s%-{cu}s = %-{room - w - 3}s │"
        more = f"{lead}%-{ce}s   %-{cu}s{tail}" if cu else f"{lead}%-{ce}s%.0s{tail}"
        once = f"│  %-{ws}s = %-{room - start}s │"  # the expression is the value
        alone = f"{lead}%-{room - start}s │"
        out: list[str] = []
        append = out.append
        for i in range(first, end):
            es, us = wrapped[i]
            if not values[i]:
                text = once % (symbols[i], es[0])
                for k in range(1, len(es)):
                    text += alone % es[k]
                append(text)
                continue
            numbers = (EQ if substituted[i] else "   ", us[0]) if cu else ("", "")
            text = first_line % (symbols[i], es[0], *numbers, values[i])
            n_e, n_u = len(es), len(us)
            for k in range(1, n_e if n_e > n_u else n_u):
                text += more % (es[k] if k < n_e else "", us[k] if k < n_u else "")
            append(text)
        return out

    def framed_plain(self, i: int, room: int) -> list[tuple[int, list[tuple[str, Any]]]] | None:
        """The lines of equation `i` framed as a panel's body frames them (`│ ` line, spaces, ` │`), each as
        one piece of text without a style: for a console without styles, where each piece is only its text.
        None where `styled` must make them: a line wider than `room`."""
        self.prepare(room)
        r = self.rows[i]
        mode = self.mode
        if r.remark:  # `lines`' pieces joined (with a remark: after the value, or under the equation)
            return self._framed([(w, "".join([t for t, _ in pieces])) for w, pieces in self.lines(i, room)], room)
        total = room + 4
        if mode == "stacked":
            return self._framed(self._plain_stacked(r, room), room)
        head = " " + r.symbol + " " * (self.ws - r.ws) + EQ
        if mode == "rows":
            if not r.value:
                w = 1 + self.ws + 3 + r.we
                text = head + r.expression
            else:
                text = head + r.expression + " " * (self.we - r.we)
                if self.wu:
                    if r.substituted:
                        text += EQ + r.substituted + " " * (self.wu - r.wu)
                    else:
                        text += " " * (3 + self.wu)
                text += EQ + r.value
                w = self._rows_width + r.wv
            if w > room:
                return None
            return [(total, [("│ " + text + " " * (room - w) + " │", None)])]
        es, us = self._wrapped[i]
        wes, wus = self._sizes[i]
        start = 1 + self.ws + 3
        lead = " " * start
        lines: list[tuple[int, str]]
        if not r.value:  # the expression is the value
            lines = [(start + wes[0], head + es[0])]
            for k in range(1, len(es)):
                lines.append((start + wes[k], lead + es[k]))
        else:
            ce, cu = self._ce, self._cu
            n_e, n_u = len(es), len(us)
            text = head + es[0] + " " * (ce - wes[0])
            w = start + ce
            if cu:
                text += (EQ if r.substituted else "   ") + (us[0] + " " * (cu - wus[0]) if n_u else " " * cu)
                w += 3 + cu
            lines = [(w + 3 + r.wv, text + EQ + r.value)]
            for k in range(1, max(n_e, n_u)):
                e = es[k] + " " * (ce - wes[k]) if k < n_e else " " * ce
                if cu:
                    u = us[k] + " " * (cu - wus[k]) if k < n_u else " " * cu
                    lines.append((start + ce + 3 + cu, lead + e + "   " + u))
                else:
                    lines.append((start + ce, lead + e))
        return self._framed(lines, room)

    def plain_texts(self, first: int, end: int, room: int) -> list[str | None]:
        """`framed_plain` of equations `first` to `end - 1`, each as the text of its lines joined by line
        breaks (one str an equation, what `screen.Lines.text` writes of it); None where `styled` must make
        them. A block of one-cell characters in the rows layout is written by one format a line."""
        self.prepare(room)
        mode = self.mode
        if mode == "rows" and self.narrow and not self.remarks:
            return self._plain_rows(first, end, room)  # type: ignore[return-value]
        if mode == "columns":
            return self._plain_columns(first, end, room)
        if mode == "stacked" and self.narrow and not self.remarks and room - self._hang(room)[0] >= 1:
            return self._plain_stacked_narrow(first, end, room)  # type: ignore[return-value]
        return [*map(self._plain_text, range(first, end), repeat(room, end - first))]

    def _plain_text(self, i: int, room: int) -> str | None:
        """`framed_plain` of equation `i` as the text of its lines joined by line breaks."""
        lines = self.framed_plain(i, room)
        return None if lines is None else "\n".join([pieces[0][0] for _, pieces in lines])

    def ansi_texts(self, first: int, end: int, room: int, codes: dict[str, tuple[str, str]]) -> list[str | None] | None:
        """`plain_texts` with the codes of each piece's style around it, as `screen.Lines.ansi` writes the lines
        `styled` gives framed by a block (`codes`: a role's (before, after), "frame" the border's), one format a
        line: for a block of one-cell characters without remarks in the rows or columns layout, else None (and
        None for an equation `styled` must make)."""
        self.prepare(room)
        if not self.narrow or self.remarks or self.mode == "stacked":
            return None
        (l0, l1), (s0, s1), (o0, o1), (v0, v1) = codes["frame"], codes["symbol"], codes["op"], codes["value"]
        ws, eq = self.ws, o0 + EQ + o1
        start = 1 + ws + 3
        head = f"{l0}│ {l1}{s0} {{:<{ws}}}{s1}{eq}"
        value = f"{v0}{{}}{v1}{l0}{{}} │{l1}"  # the value, then spaces to the border
        lead = f"{l0}│ {l1}{' ' * start}"
        out: list[str | None] = []
        if self.mode == "rows":
            wu = self.wu
            fields = self._fields
            if not self.said_once and all(fields[3][first:end]) and (not wu or all(fields[2][first:end])):
                # the usual block: one %-template mapped over the columns, in C (the codes' own % doubled), the
                # spaces after each value (outside its codes) from its width
                b0, b1, y0, y1, z0, z1, op = (code.replace("%", "%%") for code in (l0, l1, s0, s1, v0, v1, eq))
                numbers = f"%-{wu}s{op}" if wu else ""
                line = f"{b0}│ {b1}{y0} %-{ws}s{y1}{op}%-{self.we}s{op}{numbers}{z0}%s{z1}{b0}%s │{b1}"
                pads = map(" ".__mul__, map((room - self._rows_width).__sub__, fields[8][first:end]))
                texts = fields[:4] if wu else (fields[0], fields[1], fields[3])
                return [*map(line.__mod__, zip(*(column[first:end] for column in texts), pads))]
            row = f"{head}{{:<{self.we}}}{{}}{eq}{value}".format
            once = f"{head}{value}".format
            w = self._rows_width
            for r in self.rows[first:end]:
                if not r.value:  # the expression is the value (a text without codes where it is empty)
                    out.append(once(r.symbol, r.expression, " " * (room - start - r.we)) if r.expression else None)
                    continue
                u = (eq + r.substituted.ljust(wu) if r.substituted else " " * (3 + wu)) if wu else ""
                out.append(row(r.symbol, r.expression, u, r.value, " " * (room - w - r.wv)))
            return out
        ce, cu = self._ce, self._cu
        w = start + ce + (3 + cu if cu else 0)  # a line's cells to the value
        more = f"{lead}{{:<{ce}}}{{}}{l0}{' ' * (room - w)} │{l1}".format
        again = f"{lead}{value}".format
        first_line = f"{head}{{:<{ce}}}{{}}{eq}{value}".format
        once = f"{head}{value}".format
        for i in range(first, end):
            r = self.rows[i]
            es, us = self._wrapped[i]
            if not all(es):  # an empty piece is written without codes
                out.append(None)
                continue
            if not r.value:
                lines = [once(r.symbol, es[0], " " * (room - start - len(es[0])))]
                lines += [again(e, " " * (room - start - len(e))) for e in es[1:]]
                out.append("\n".join(lines))
                continue
            n_e, n_u = len(es), len(us)
            u = ((eq if r.substituted else "   ") + (us[0] if n_u else "").ljust(cu)) if cu else ""
            lines = [first_line(r.symbol, es[0], u, r.value, " " * (room - w - 3 - r.wv))]
            for k in range(1, n_e if n_e > n_u else n_u):
                lines.append(more(es[k] if k < n_e else "", "   " + (us[k] if k < n_u else "").ljust(cu) if cu else ""))
            out.append("\n".join(lines))
        return out

    def _plain_rows(self, first: int, end: int, room: int) -> list[str]:
        """`plain_texts` in the rows layout, every text of one-cell characters, no remark: the columns padded
        by `str.format` as `str.ljust` pads them (a line's cells are its length)."""
        ws, we, wu = self.ws, self.we, self.wu
        rest = room - self._rows_width  # the value's column, to the frame
        if not self.said_once and end > first and all(self._fields[3][first:end]):
            # the usual block: each equation's columns (`EquationColumns`) into one %-template by map, in C, padded
            # as str.ljust pads, its remark and flag (empty) written as nothing, and the numbers where there are none
            columns = self.columns[first:end] if first or end < len(self.columns) else self.columns
            if not wu:
                return [*map(f"│  %-{ws}s = %-{we}s%.0s = %-{rest}s │%.0s%.0s".__mod__, columns)]
            if all(self._fields[2][first:end]):
                return [*map(f"│  %-{ws}s = %-{we}s = %-{wu}s = %-{rest}s │%.0s%.0s".__mod__, columns)]
        head = f"│  {{:<{ws}}} = "
        bare = f"{head}{{:<{we}}} = {{:<{rest}}} │".format  # a block without a numbers column
        rows = self.rows[first:end]
        once = f"{head}{{:<{room - 1 - ws - 3}}} │".format  # `symbol = value`: the expression is the value
        row = f"{head}{{:<{we}}}{{}}{{:<{wu}}} = {{:<{rest}}} │".format if wu else None
        out: list[str] = []
        for r in rows:
            if not r.value:
                out.append(once(r.symbol, r.expression))
            elif row is not None:
                out.append(row(r.symbol, r.expression, " = " if r.substituted else "   ", r.substituted, r.value))
            else:
                out.append(bare(r.symbol, r.expression, r.value))
        return out

    def _plain_stacked_narrow(self, first: int, end: int, room: int) -> list[str]:
        """`plain_texts` in the stacked layout, every text of one-cell characters, no remark: `_plain_stacked`'s
        lines, each side padded by a %-format to the room its hang leaves (every line fits that room: a side
        is wrapped to it)."""
        hang, own_line = self._hang(room)
        limit = room - hang
        first_side = f"│  = %-{limit}s │" if own_line else f"│  %-{self.ws}s = %-{limit}s │"
        again = f"\n│ {' ' * (hang - 2)}= %-{limit}s │"
        lead = f"\n│ {' ' * hang}%-{limit}s │"
        symbol_line = f"│  %-{room - 1}s │"
        wrap = self._wrap
        symbols, expressions, substituted, values, _, _, we, wu, wv = self._fields[:9]
        out: list[str] = []
        for i in range(first, end):
            text = "\n".join([symbol_line % s for s in wrap_words(symbols[i], room - 1)]) + "\n" if own_line else ""
            sides = ((expressions[i], we[i]), (substituted[i], wu[i]), (values[i], wv[i]))
            for n, (side, cells) in enumerate(sides):
                if n and not side:
                    continue  # no numbers, or no value: no line
                parts = (side,) if cells <= limit else wrap(side, limit, cells)[0]
                if n:
                    text += again % parts[0]
                else:
                    text += first_side % parts[0] if own_line else first_side % (symbols[i], parts[0])
                for part in parts[1:]:
                    text += lead % part
            out.append(text)
        return out

    def _plain_columns(self, first: int, end: int, room: int) -> list[str | None]:
        """`plain_texts` in the columns layout: `framed_plain`'s lines, made in one loop."""
        if self.narrow and not self.remarks:
            return self._plain_columns_narrow(first, end, room)  # type: ignore[return-value]
        rows, wrapped, sizes = self.rows, self._wrapped, self._sizes
        ws = self.ws
        start = 1 + ws + 3
        lead = "│ " + " " * start
        ce, cu = self._ce, self._cu
        blank_u = " " * cu
        out: list[str | None] = []
        append = out.append
        for i in range(first, end):
            r = rows[i]
            if r.remark:  # written by `framed_plain`
                append(self._plain_text(i, room))
                continue
            es, us = wrapped[i]
            wes, wus = sizes[i]
            head = "│  " + r.symbol + " " * (ws - r.ws) + EQ
            if not r.value:  # the expression is the value
                if start + max(wes) > room:
                    append(None)
                    continue
                lines = [head + es[0] + " " * (room - start - wes[0]) + " │"]
                for k in range(1, len(es)):
                    lines.append(lead + es[k] + " " * (room - start - wes[k]) + " │")
                append("\n".join(lines))
                continue
            n_e, n_u = len(es), len(us)
            w = start + ce + (3 + cu if cu else 0)
            if w + 3 + r.wv > room:
                append(None)
                continue
            text = head + es[0] + " " * (ce - wes[0])
            if cu:
                text += (EQ if r.substituted else "   ") + (us[0] + " " * (cu - wus[0]) if n_u else blank_u)
            lines = [text + EQ + r.value + " " * (room - w - 3 - r.wv) + " │"]
            tail = " " * (room - w) + " │"
            for k in range(1, max(n_e, n_u)):
                e = es[k] + " " * (ce - wes[k]) if k < n_e else " " * ce
                if cu:
                    u = us[k] + " " * (cu - wus[k]) if k < n_u else blank_u
                    lines.append(lead + e + "   " + u + tail)
                else:
                    lines.append(lead + e + tail)
            append("\n".join(lines))
        return out

    @staticmethod
    def _framed(lines: list[tuple[int, str]], room: int) -> list[tuple[int, list[tuple[str, Any]]]] | None:
        """Lines of text framed as `framed_plain` frames them; None when one is wider than `room`."""
        out: list[tuple[int, list[tuple[str, Any]]]] = []
        total = room + 4
        for w, text in lines:
            if w > room:
                return None
            out.append((total, [("│ " + text + " " * (room - w) + " │", None)]))
        return out

    def _plain_stacked(self, r: _Row, room: int) -> list[tuple[int, str]]:
        """`_styled_stacked`'s lines as text (an equation without a remark)."""
        hang, own_line = self._hang(room)
        out: list[tuple[int, str]] = []
        if own_line:
            for s in wrap_words(r.symbol, room - 1):
                out.append((1 + width(s), " " + s))
            first = " = "
        else:
            first = " " + r.symbol + " " * (self.ws - r.ws) + EQ
        again = " " * (hang - 2) + "= "
        lead = " " * hang
        sides = [(r.expression, r.we)]
        if r.substituted:
            sides.append((r.substituted, r.wu))
        if r.value:
            sides.append((r.value, r.wv))
        limit = room - hang
        for n, (text, cells) in enumerate(sides):
            if cells <= limit:  # one line (`_wrap` keeps nothing for it)
                out.append((hang + cells, (first if n == 0 else again) + text))
                continue
            lines, sizes = self._wrap(text, limit, cells)
            out.append((hang + sizes[0], (first if n == 0 else again) + lines[0]))
            for k in range(1, len(lines)):
                out.append((hang + sizes[k], lead + lines[k]))
        return out

    def _styled_columns(self, i: int, r: _Row, styles: dict[str, Any]) -> list[tuple[int, list[tuple[str, Any]]]]:
        """`lines` in the columns layout for an equation without a remark, each piece styled as it is made."""
        head = (" " + r.symbol + " " * (self.ws - r.ws), styles["symbol"])
        op = styles["op"]
        start = 1 + self.ws + 3
        es, us = self._wrapped[i]
        wes, wus = self._sizes[i]
        if not r.value:  # the expression is the value
            value = styles["value"]
            lead = (" " * start, styles[""])
            out = [(start + wes[0], [head, (EQ, op), (es[0], value)])]
            for k in range(1, len(es)):
                out.append((start + wes[k], [lead, (es[k], value)]))
            return out
        ce, cu = self._ce, self._cu
        expr = styles["expr"]
        lead = (" " * start, styles[""])
        n_e, n_u = len(es), len(us)
        u0 = us[0] if n_u else ""
        pieces = [head, (EQ, op), (es[0] + " " * (ce - wes[0]), expr)]
        w = start + ce
        if cu:
            if r.substituted:
                pieces += [(EQ, op), (u0 + " " * (cu - (wus[0] if n_u else 0)), expr)]
            else:
                pieces.append(("   " + u0 + " " * (cu - (wus[0] if n_u else 0)), expr))
            w += 3 + cu
        pieces += [(EQ, op), (r.value, styles["value"])]
        out = [(w + 3 + r.wv, pieces)]
        for k in range(1, max(n_e, n_u)):
            e, we = (es[k], wes[k]) if k < n_e else ("", 0)
            if cu:
                u, wu = (us[k], wus[k]) if k < n_u else ("", 0)
                out.append(
                    (start + ce + 3 + cu, [lead, (e + " " * (ce - we), expr), ("   " + u + " " * (cu - wu), expr)])
                )
            else:
                out.append((start + ce, [lead, (e + " " * (ce - we), expr)]))
        return out

    def _styled_stacked(self, r: _Row, room: int, styles: dict[str, Any]) -> list[tuple[int, list[tuple[str, Any]]]]:
        """`lines` in the stacked layout for an equation without a remark, each piece styled as it is made."""
        hang, own_line = self._hang(room)
        out: list[tuple[int, list[tuple[str, Any]]]] = []
        op = styles["op"]
        if own_line:
            symbol = styles["symbol"]
            for s in wrap_words(r.symbol, room - 1):
                out.append((1 + width(s), [(" " + s, symbol)]))
            first: list[tuple[str, Any]] = [(" = ", op)]
        else:
            first = [(" " + r.symbol + " " * (self.ws - r.ws), styles["symbol"]), (EQ, op)]
        again = [(" " * (hang - 2), styles[""]), ("= ", op)]
        lead = (" " * hang, styles[""])
        value = styles["value"]
        sides = [(r.expression, value if not r.value else styles["expr"], r.we)]
        if r.substituted:
            sides.append((r.substituted, styles["expr"], r.wu))
        if r.value:
            sides.append((r.value, value, r.wv))
        limit = room - hang
        for n, (text, style, cells) in enumerate(sides):
            if cells <= limit:  # one line (`_wrap` keeps nothing for it)
                out.append((hang + cells, (first if n == 0 else again) + [(text, style)]))
                continue
            lines, sizes = self._wrap(text, limit, cells)
            out.append((hang + sizes[0], (first if n == 0 else again) + [(lines[0], style)]))
            for k in range(1, len(lines)):
                out.append((hang + sizes[k], [lead, (lines[k], style)]))
        return out

    def lines(self, i: int, room: int) -> list[Line]:
        """The lines of equation `i` at `room` cells."""
        self.prepare(room)
        r = self.rows[i]
        if self.mode == "stacked":
            return self._stacked(r, room)
        out: list[Line] = []
        head = [(" " + r.symbol + " " * (self.ws - r.ws), "symbol"), (EQ, "op")]
        start = 1 + self.ws + 3
        if self.mode == "rows":  # the common case, from the widths known
            if not r.value:
                out.append((start + r.we, head + [(r.expression, "value")]))
            else:
                pieces = head + [(r.expression + " " * (self.we - r.we), "expr")]
                if self.wu:
                    if r.substituted:
                        pieces += [(EQ, "op"), (r.substituted + " " * (self.wu - r.wu), "expr")]
                    else:
                        pieces.append((" " * (3 + self.wu), ""))
                pieces += [(EQ, "op"), (r.value, "value")]
                out.append((self._rows_width + r.wv, pieces))
            return self._remark(out, r, start, room) if r.remark else out
        es, us = self._wrapped[i]
        wes, wus = self._sizes[i]
        ce, cu = self._ce, self._cu
        if not r.value:  # the expression is the value
            for k, e in enumerate(es):
                pieces = (head if k == 0 else [(" " * start, "")]) + [(e, "value")]
                out.append((start + wes[k], pieces))
            return self._remark(out, r, start, room)
        for k in range(max(len(es), len(us))):
            e, we = (es[k], wes[k]) if k < len(es) else ("", 0)
            u, wu = (us[k], wus[k]) if k < len(us) else ("", 0)
            pieces = head[:] if k == 0 else [(" " * start, "")]
            pieces.append((e + " " * (ce - we), "expr"))
            w = start + ce
            if cu:
                if k == 0 and r.substituted:
                    pieces += [(EQ, "op"), (u + " " * (cu - wu), "expr")]
                else:
                    pieces.append(("   " + u + " " * (cu - wu), "expr"))
                w += 3 + cu
            if k == 0:
                pieces += [(EQ, "op"), (r.value, "value")]
                w += 3 + r.wv
            out.append((w, pieces))
        return self._remark(out, r, start, room)

    def _stacked(self, r: _Row, room: int) -> list[Line]:
        hang, own_line = self._hang(room)
        out: list[Line] = []
        if own_line:
            for s in wrap_words(r.symbol, room - 1):
                out.append((1 + width(s), [(" " + s, "symbol")]))
            first: list[Piece] = [(" = ", "op")]
        else:
            first = [(" " + pad(r.symbol, self.ws), "symbol"), (EQ, "op")]
        again: list[Piece] = [(" " * (hang - 2), ""), ("= ", "op")]
        sides = [(r.expression, "value" if not r.value else "expr", r.we)]
        if r.substituted:
            sides.append((r.substituted, "expr", r.wu))
        if r.value:
            sides.append((r.value, "value", r.wv))
        for n, (text, role, cells) in enumerate(sides):
            lines, sizes = self._wrap(text, room - hang, cells)
            for k, line in enumerate(lines):
                pieces = (first if n == 0 else again) if k == 0 else [(" " * hang, "")]
                out.append((hang + sizes[k], pieces + [(line, role)]))
        return self._remark(out, r, hang, room)

    def _remark(self, out: list[Line], r: _Row, start: int, room: int) -> list[Line]:
        if not r.remark:
            return out
        role = "warning" if r.remark.startswith("≠") else "remark"
        w, pieces = out[0] if self.mode != "stacked" else out[-1]
        rw = width(r.remark)
        if self.mode != "stacked":
            # after the value column, aligned over the block
            at = 1 + self.ws + 3 + (self._ce if self.mode == "columns" else self.we)
            at += (3 + (self._cu if self.mode == "columns" else self.wu)) if self.wu else 0
            at += 3 + self.wv
            if at + 3 + rw <= room:
                line = (at + 3 + rw, pieces + [(" " * (at - w + 3), ""), (r.remark, role)])
                return [line] + out[1:]
        elif w + 3 + rw <= room:
            out[-1] = (w + 3 + rw, pieces + [("   ", ""), (r.remark, role)])
            return out
        for text in wrap_words(r.remark, room - start, 1):
            out.append((start + width(text), [(" " * start, ""), (text, role)]))
        return out
