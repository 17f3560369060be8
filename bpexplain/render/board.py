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

from dataclasses import dataclass
from typing import Any

from .common import EquationColumns
from .wrap import pad, width, wrap_math_cells, wrap_words

Piece = tuple[str, str]  # text and role: symbol, op, expr, value, remark, warning ("" for spaces)
Line = tuple[int, list[Piece]]  # width in cells, and the pieces
EQ = " = "
MIN_COLUMN = 10  # a wrapped column narrower than this reads worse than the stacked layout


@dataclass
class _Row:
    symbol: str
    expression: str
    substituted: str
    value: str
    remark: str
    ws: int
    we: int
    wu: int
    wv: int


def _row(c: EquationColumns) -> _Row:
    expression, value = c.expression, c.value
    if c.once:  # `dh_5(e)/de = 1`: said once (common.said_once, the rule of every format)
        value = ""
    remark = ""
    if c.remark:
        remark = c.remark if c.remark.startswith("≠") else f"({c.remark})"
    return _Row(
        c.symbol,
        expression,
        c.substituted,
        value,
        remark,
        width(c.symbol),
        width(expression),
        width(c.substituted),
        width(value),
    )


class Board:
    """The equations of one block, and their lines at a given width."""

    def __init__(self, columns: list[EquationColumns]) -> None:
        self.rows = [_row(c) for c in columns]
        rows = self.rows
        self.ws = max((r.ws for r in rows), default=0)
        self.we = max((r.we for r in rows), default=0)
        self.wu = max((r.wu for r in rows), default=0)
        self.wv = max((r.wv for r in rows), default=0)
        self._room = -1
        self.mode = "rows"
        self._wrapped: list[tuple[list[str], list[str]]] = []
        self._sizes: list[tuple[list[int], list[int]]] = []  # the cells of each of those lines
        self._columns_sizes: list[tuple[list[int], list[int]]] = []
        self._ce = self._cu = 0
        self._wraps: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
        # a row's width but its value's in the rows layout: symbol = expression [= numbers] =
        self._rows_width = 1 + self.ws + 3 + self.we + (3 + self.wu if self.wu else 0) + 3

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
            count = sum(max(len(e), len(u)) for e, u in columns)
            if count < self._stacked_count(room, count + 1):
                self.mode = "columns"
                self._wrapped = columns
                self._sizes = self._columns_sizes

    def _columns(self, avail: int) -> list[tuple[list[str], list[str]]] | None:
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
        wrapped_e = []
        sizes_e = []
        used_e = 0
        for r in self.rows:
            lines, sizes, folded = wrap_math_cells(r.expression, ce, r.we)
            if folded:
                return None
            wrapped_e.append(lines)
            sizes_e.append(sizes)
            used = max(sizes)
            if used > used_e:
                used_e = used
        cu = min(wu, avail - used_e) if wu else 0
        wrapped_u = []
        sizes_u = []
        used_u = 0
        for r in self.rows:
            if r.substituted:
                lines, sizes, folded = wrap_math_cells(r.substituted, cu, r.wu)
                if folded:
                    return None
            else:
                lines, sizes = [""], [0]
            wrapped_u.append(lines)
            sizes_u.append(sizes)
            used = max(sizes)
            if used > used_u:
                used_u = used
        self._ce = used_e
        self._cu = used_u if wu else 0
        self._columns_sizes = list(zip(sizes_e, sizes_u))
        return list(zip(wrapped_e, wrapped_u))

    def _stacked_count(self, room: int, enough: int) -> int:
        """The lines of the stacked layout, counted until there are `enough` (all that `prepare` asks)."""
        hang, _ = self._hang(room)
        least = sum(1 + (hang == 3) + bool(r.substituted) + bool(r.value) for r in self.rows)  # a line a side
        if least >= enough:
            return least
        n = 0
        for r in self.rows:
            n += len(self._wrap(r.expression, room - hang, r.we)[0]) + (hang == 3)
            if r.substituted:
                n += len(self._wrap(r.substituted, room - hang, r.wu)[0])
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
        if self.mode != "rows" or r.remark:
            return [(w, [(t, styles[role]) for t, role in pieces]) for w, pieces in self.lines(i, room)]
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
