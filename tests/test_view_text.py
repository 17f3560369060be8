"""The terminal view's lines without styles made as text (issue 14, round 3) are what the general paths give.

- a block's equations as text (`Board.plain_texts`: one format a line in the rows layout, one loop in the
  columns layout) are `Board.framed_plain`'s lines, joined, in every layout and width;
- a receptive field as text (`Field.framed_text`) is its lines (`Field.lines`) framed as a panel's body
  frames them under an equation, joined, on maps of one and several channels, in bands, with and
  without the map's values;
- the maps under a block as text: a small grid's cells are `format_grid`'s, a grid's lines and blocks
  placed side by side are those of the styled path without their styles;
- the board's rows measured a column at a time are the rows measured one by one.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import bpexplain
from bpexplain.render import rich as rich_view
from bpexplain.render import screen, wrap
from bpexplain.render.board import Board, _Row
from bpexplain.render.common import EquationColumns, equation_columns
from bpexplain.render.numbers import format_grid
from bpexplain.render.printer import TextPrinter
from bpexplain.trace import Block

NETWORKS = ["lecture", "homework-cnn", "cbam", "attention", "se-block", "resnet-block"]
ROOMS = (4, 8, 16, 26, 46, 76, 116, 196)


def blocks(network: str) -> list[Block]:
    return [e for e in bpexplain.train(network, steps=1).events if isinstance(e, Block) and e.equations]


@pytest.mark.parametrize("network", NETWORKS)
def test_a_block_s_equations_as_text_are_its_plain_lines(network: str) -> None:
    printer = TextPrinter(4, 8)
    seen = set()
    for b in blocks(network):
        columns = [equation_columns(eq, printer) for eq in b.equations]
        for room in ROOMS:
            board = Board(columns)
            general = []
            for i in range(len(columns)):
                lines = board.framed_plain(i, room)
                general.append(None if lines is None else "\n".join(p[0][0] for _, p in lines))
            for first, end in ((0, len(columns)), (1, max(len(columns) - 1, 1))):
                assert board.plain_texts(first, end, room) == general[first:end]
            seen.add(board.mode)
    assert "rows" in seen
    if network in ("homework-cnn", "cbam"):
        assert {"columns", "stacked"} <= seen


def test_rows_said_once_or_without_numbers_as_text() -> None:
    """The rows layout's other lines: an equation said once, one without its numbers, and a block without
    a numbers column; a remark or a character two cells wide leaves the general path to make them."""
    cases = [
        [("y_1", "x_1", "", "0.5", "", True), ("y_2", "a + b", "1 + 2", "3", "", False)],
        [("y_1", "a·b", "", "2", "", False), ("y_22", "a + b", "1 + 2", "3", "", False)],
        [("y_1", "a", "", "2", "", False), ("y_2", "b", "", "3", "", False)],
        [("y_1", "a + b", "1 + 2", "3", "a note", False), ("y_2", "c", "4", "4", "", False)],
        [("猫", "a + b", "1 + 2", "3", "", False), ("y_2", "c + d", "4 + 5", "9", "", False)],
    ]
    for case in cases:
        columns = [EquationColumns(*c) for c in case]
        for room in (20, 40, 80):
            board = Board(columns)
            general = []
            for i in range(len(columns)):
                lines = board.framed_plain(i, room)
                general.append(None if lines is None else "\n".join(p[0][0] for _, p in lines))
            assert board.plain_texts(0, len(columns), room) == general


def former_rows(columns: list[EquationColumns]) -> list[tuple]:
    """The board's rows as they were made, one equation at a time."""
    out = []
    for symbol, expression, substituted, value, remark, once in columns:
        if once:
            value = ""
        if remark:
            remark = remark if remark.startswith("≠") else f"({remark})"
        row = (symbol, expression, substituted, value, remark, wrap.width(symbol), wrap.width(expression))
        row += (wrap.width(substituted), wrap.width(value), wrap.is_narrow(expression), wrap.is_narrow(substituted))
        out.append(row)
    return out


def test_rows_measured_by_column_are_rows_measured_one_by_one() -> None:
    rnd = random.Random(5)
    pieces = ["x_1", "w_12", "δ_3", "猫", "+", " − ", "·", "(-0.5)", "ŷ", "∂E/∂w", "", "0.25"]
    for _ in range(300):
        columns = []
        for _ in range(rnd.randint(1, 6)):
            texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4))) for _ in range(4)]
            remark = rnd.choice(["", "≠ 0.5 by the exact chain rule", "a note"])
            columns.append(EquationColumns(*texts, remark, rnd.random() < 0.2))
        board = Board(columns)
        assert [tuple(r) for r in board.rows] == former_rows(columns)
        assert all(type(r) is _Row for r in board.rows)
        narrow = all(wrap.is_narrow(t) for r in board.rows for t in r[:4])  # as shown: a value said once is ""
        assert board.narrow == narrow
        assert board.remarks == any(c.remark for c in columns)


def framed_field(field: rich_view.Field, cells: tuple[int, ...], room: int) -> str | None:
    """A field's lines framed as the block frames them under an equation (the general path)."""
    frame = screen.Frame([("t", None)], None)
    out = []
    for w, pieces in field.lines(cells, room - 2, True):
        if w + 2 > room:
            return None
        general = list(frame.body([(2 + w, [("  ", None), *pieces])], room + 4))
        out += ["".join(t for t, _ in p) for _, p in general]
    return "\n".join(out)


@pytest.mark.parametrize("shape", [(1, 6, 6), (6, 6), (2, 3, 3), (3, 4, 5), (1, 12, 12)])
def test_a_field_as_text_is_its_lines_framed(shape: tuple[int, ...]) -> None:
    rnd = random.Random(len(shape) * 100 + shape[-1])
    size = int(np.prod(shape))
    for values in (np.arange(size, dtype=float).reshape(shape) / 7 - 1, None):
        fast = rich_view.Field(shape, values, 4)
        slow = rich_view.Field(shape, values, 4)
        for _ in range(60):
            cells = tuple(rnd.sample(range(size), rnd.randint(1, min(size, 9))))
            for room in (6, 14, 20, 30, 50, 80, 116):
                assert fast.framed_text(cells, room) == framed_field(slow, cells, room), (cells, room)


@pytest.mark.parametrize("seed", range(3))
def test_a_small_grid_s_cells_are_format_grid_s(seed: int) -> None:
    rnd = np.random.default_rng(seed)
    for _ in range(200):
        shape = tuple(int(n) for n in rnd.integers(1, 15, size=int(rnd.integers(1, 3))))
        value = rnd.normal(0, 10.0 ** rnd.integers(-8, 10), size=shape)
        value[rnd.random(shape) < 0.1] = 0.0
        if rnd.random() < 0.2:
            value = np.round(value).astype(int)
        for precision in (2, 4, 12):
            assert rich_view._grid_cells(value, precision) == [line.split() for line in format_grid(value, precision)]


def test_grids_side_by_side_as_text_are_the_styled_grids_without_styles() -> None:
    rnd = np.random.default_rng(3)
    for _ in range(100):
        grids = []
        for k in range(int(rnd.integers(1, 5))):
            shape = tuple(int(n) for n in rnd.integers(1, 16, size=2))
            label = ["", "O1", "K1 rotated 180°", "[2]"][k % 4]
            grids.append((label, rich_view._grid_cells(rnd.normal(size=shape), 4)))
        room = int(rnd.integers(5, 130))
        styled = [rich_view._grid_block(label, rows, room) for label, rows in grids]
        text = [rich_view._grid_block_text(label, rows, room) for label, rows in grids]
        assert text == [[rich_view._as_text(line) for line in block] for block in styled]
        gap = int(rnd.integers(1, 5))
        placed = [rich_view._as_text(line) for line in screen.side_by_side(styled, room, gap)]
        assert rich_view._side_by_side_text(text, room, gap) == placed


@pytest.mark.parametrize("shape", [(1, 6, 6), (6, 6), (1, 12, 12), (1, 3, 5)])
def test_a_field_on_one_channel_is_drawn_as_on_any_map(shape: tuple[int, ...]) -> None:
    """`Field._lines_one` (one channel in one band) gives the lines of the general drawing, in both kinds of
    console, with and without the map's values, the rows it keeps shared with it."""
    rnd = random.Random(shape[-1] * 7 + shape[-2])
    size = int(np.prod(shape))
    for values in (np.arange(size, dtype=float).reshape(shape) / 3 - 2, None):
        fast, slow = rich_view.Field(shape, values, 4), rich_view.Field(shape, values, 4)  # each its own rows kept
        room = shape[-1] * fast.step + 5
        for _ in range(80):
            cells = tuple(rnd.sample(range(size), rnd.randint(1, min(size, 9))))
            for plain in (True, False):
                assert fast._lines_one(cells, plain) == slow._lines_general(cells, room, plain), cells


@pytest.mark.parametrize("seed", range(3))
def test_a_column_wrapped_in_one_loop_is_each_text_wrapped(seed: int) -> None:
    rnd = random.Random(seed)
    pieces = ["x_1", "w_12", "δ_3", "猫", " + ", " − ", "·", "(-0.5)", "(", ")", ", ", "0.25", " "]
    for _ in range(300):
        texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12))) for _ in range(rnd.randint(1, 8))]
        cells = [wrap.width(t) for t in texts]
        narrow = [wrap.is_narrow(t) for t in texts]
        limit = rnd.randint(-1, 40)
        got = wrap.wrap_column(texts, cells, narrow, limit)
        each = [wrap.wrap_math_cells(t, limit, n) for t, n in zip(texts, cells)]
        if any(folded for _, _, folded in each):
            assert got is None
            continue
        assert got is not None
        lines, sizes, widest = got
        assert [list(x) for x in lines] == [x[0] for x in each]
        assert [list(x) for x in sizes] == [x[1] for x in each]
        assert widest == max(max(x[1]) for x in each)


def test_a_table_of_narrow_cells_is_the_table_aligned_by_widths(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(9)
    cells = ["layer", "conv1", "0.5", "-12.25", "1×6×6", "weight 2×2", "…", "", "identity", "w_12 = 0.1"]
    for _ in range(400):
        n = rnd.randint(1, 7)
        head = [rnd.choice(cells) for _ in range(n)] if rnd.random() < 0.7 else None
        rows = [[rnd.choice(cells) for _ in range(n)] for _ in range(rnd.randint(0, 6))]
        right = [rnd.random() < 0.5 for _ in range(n)]
        room, gap = rnd.randint(1, 90), rnd.randint(1, 3)
        fast = screen.table(head, rows, room, right, gap)
        with monkeypatch.context() as m:
            m.setattr(screen, "is_narrow", lambda text: False)  # the path by terminal widths
            assert screen.table(head, rows, room, right, gap) == fast


def test_parameter_cells_of_narrow_characters_are_aligned_as_by_widths(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(4)
    for _ in range(300):
        cells = [f"{rnd.choice(['w_1', 'K1(2,2)', 'b_12', 'w_(x1)1'])} = {rnd.choice(['0.1', '-0.25', '3'])}"]
        cells *= rnd.randint(1, 12)
        cells = [c.replace("0.1", rnd.choice(["0.1", "12.5", "-1e-05"])) for c in cells]
        per_row, room, narrow_room = rnd.randint(1, 6), rnd.randint(1, 80), rnd.randint(1, 80)
        fast = rich_view._cell_rows(cells, per_row, room, narrow_room)
        with monkeypatch.context() as m:
            m.setattr(rich_view, "is_narrow", lambda text: False)  # the path by terminal widths
            assert rich_view._cell_rows(cells, per_row, room, narrow_room) == fast


def test_prose_and_legend_lines_are_measured_as_by_widths(monkeypatch: pytest.MonkeyPatch) -> None:
    """`text_lines` and the legend's lines measure lines of one-cell characters by their lengths: the cells
    `wrap.width` gives, and the same lines as the path by widths."""
    rnd = random.Random(12)
    words = ["a", "the", "receptive", "δ_n", "∂E/∂w", "猫猫", "x̂", "weight", "η·δ", ""]
    for _ in range(300):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 20)))
        room, hang, indent = rnd.randint(1, 60), rnd.randint(0, 4), rnd.randint(0, 4)
        for w, pieces in screen.text_lines(text, room, None, hang, indent):
            assert w == wrap.width(pieces[0][0])
        legend = [(rnd.choice(words), " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 9)))) for _ in range(4)]
        fast = rich_view._legend_lines(legend, room)
        with monkeypatch.context() as m:
            m.setattr(rich_view, "is_narrow", lambda text: False)  # the path by terminal widths
            assert rich_view._legend_lines(legend, room) == fast
