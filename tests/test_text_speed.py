"""What makes text and the terminal view faster keeps their bytes and takes the paths it is meant to.

- every gradient and update of the lecture's notation (δ_n·dh_n(e)/de·y_m) takes the printers' fast path
  (a bound dh_n(e)/de once sent each of them down the general walk), in text and LaTeX;
- a block's lines, written from one format string, are the lines the column-by-column join wrote,
  remarks (`≠ … by the exact chain rule`, `frozen`) and equations said once included;
- the terminal view chooses the same layout when it counts the stacked layout's lines only until the
  columns win as when it counts them all.
"""

from __future__ import annotations

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.render.board import Board
from bpexplain.render.common import equation_columns
from bpexplain.render.latex_printer import LatexPrinter
from bpexplain.render.printer import TextPrinter
from bpexplain.render.text import TextRenderer
from bpexplain.spec import load_network
from bpexplain.trace import Block

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two"]


def blocks(name: str, **options: object) -> list[Block]:
    events = run(load_network(name), RunOptions(command="train", steps=1, **options))  # type: ignore[arg-type]
    return [ev for ev in events if isinstance(ev, Block)]


@pytest.mark.parametrize("name", NETWORKS)
def test_gradients_and_updates_take_the_fast_path(name: str) -> None:
    for kind in (TextPrinter, LatexPrinter):
        printer = kind(4, 8)
        checked = 0
        for b in blocks(name):
            for eq in b.equations:
                if eq.kind not in ("gradient", "update") or eq.note:
                    continue
                for numbers in (False, True):
                    printer.numbers = numbers
                    assert printer._fast(eq.bound) is not None, (name, kind.__name__, eq.symbol)
                    checked += 1
        printer.numbers = False
        assert checked > 0


def joined_lines(renderer: TextRenderer, b: Block) -> list[str]:
    """A block's equation lines as text.py wrote them column by column (the reference)."""
    cols = [equation_columns(eq, renderer.printer) for eq in b.equations]
    w_sym = max(len(c.symbol) for c in cols)
    w_expr = max(len(c.expression) for c in cols)
    w_sub = max(len(c.substituted) for c in cols)
    w_val = max(len(c.value) for c in cols) if any(c.remark for c in cols) else 0
    out = []
    for c in cols:
        if c.once:
            remark = ("   " + (c.remark if c.remark.startswith("≠") else f"({c.remark})")) if c.remark else ""
            out.append("    " + c.symbol.ljust(w_sym) + " = " + c.value + remark)
            continue
        parts = [c.symbol.ljust(w_sym), " = ", c.expression.ljust(w_expr)]
        if w_sub:
            parts += [" = " if c.substituted else "   ", c.substituted.ljust(w_sub)]
        parts += [" = ", c.value.ljust(w_val)]
        if c.remark:
            parts += ["   ", c.remark if c.remark.startswith("≠") else f"({c.remark})"]
        out.append("    " + "".join(parts).rstrip())
    return out


@pytest.mark.parametrize(
    "options", [{}, {"rule": "slide"}, {"notation": "textbook"}, {"round": 2}], ids=["plain", "slide", "tb", "round"]
)
@pytest.mark.parametrize("name", NETWORKS)
def test_block_lines_are_the_column_join(name: str, options: dict) -> None:
    renderer = TextRenderer(4, 8)
    remarks = 0
    for b in blocks(name, **options):
        if not b.equations:
            continue
        lines = list(renderer.block_lines(b))
        expected = joined_lines(renderer, b)
        assert lines[3 : 3 + len(expected)] == expected
        remarks += sum(1 for line in expected if line.endswith(")") or "≠" in line)
    if options.get("rule") == "slide" and name in ("lecture", "xor"):
        assert remarks > 0  # the remark column was exercised


def full_count_mode(board: Board, room: int) -> str:
    """The layout `prepare` chose when it counted every line of the stacked layout."""
    fixed = 1 + board.ws + 3 + (3 if board.wu else 0) + (3 + board.wv if board.wv else 0)
    if fixed + board.we + board.wu <= room:
        return "rows"
    columns = board._columns(room - fixed)
    if columns is not None and sum(max(len(e), len(u)) for e, u in columns) < board._stacked_count(room, 10**9):
        return "columns"
    return "stacked"


@pytest.mark.parametrize("name", ["homework-cnn", "lecture", "classifier"])
def test_layout_chosen_as_with_every_line_counted(name: str) -> None:
    printer = TextPrinter(4, 8)
    modes = set()
    for b in blocks(name):
        if not b.equations:
            continue
        for room in (30, 40, 60, 80, 116):
            board = Board([equation_columns(eq, printer) for eq in b.equations])
            board.prepare(room)
            assert board.mode == full_count_mode(Board([equation_columns(eq, printer) for eq in b.equations]), room)
            modes.add(board.mode)
    assert len(modes) >= 2  # more than one layout was chosen somewhere
