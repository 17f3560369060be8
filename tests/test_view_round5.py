"""The terminal view's shortcuts of issue 14's round 5 give what the general paths give.

- a panel's top, prose and bottom as text (`Frame.top_text`, `prose_text`, `bottom_text`) are `Frame.top`, the
  prose's `text_lines` framed by `Frame.body` and `Frame.bottom`, without their styles; so are the header's and
  each block's lines;
- a small grid under a block made at once (`rich._small_grid`) is `_grid_block_text` of its cells, and with its
  styles `_grid_block`;
- a receptive field put into the kept rows of its map (`Field._framed_one`) is its lines framed, with cells
  given twice and in any order; with codes (`Field._coded_one`), its styled lines framed and written with them;
- the rows layout's coloured lines by one %-template write codes that hold a `%` as they are.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from rich.console import Console
from rich.style import Style

import bpexplain
from bpexplain.render import rich as rich_view
from bpexplain.render import screen
from bpexplain.render.board import Board
from bpexplain.render.common import EquationColumns
from bpexplain.render.printer import TextPrinter
from bpexplain.render.wrap import is_narrow
from bpexplain.trace import Block, TraceHeader

PROSE = "Each O1 element sums input × kernel over its receptive field: ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 rows"
CODES = screen._codes_for(Console(force_terminal=True, color_system="truecolor", width=80))
BORDER, NOTE = Style(color="cyan"), Style(italic=True, dim=True)
WORDS = PROSE.split() + ["δO1(2,3)", "ŷ", "全连接层", "x̂", "a" * 30, "", "η·∂E/∂w"]


def as_text(lines: list[screen.StyledLine]) -> list[str]:
    return ["".join(t for t, _ in pieces) for _, pieces in lines]


@pytest.mark.parametrize("seed", range(3))
def test_a_panel_s_top_and_prose_as_text_are_its_styled_lines(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(150):
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 8))) or "t"
        prose = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 30)))
        if rnd.random() < 0.2:
            prose = "  " + prose + "  "  # spaces at the ends and doubled
        frame = screen.Frame([(title, None)], None, rnd.choice(["", "conventions", title]), title_style=None)
        hang = rnd.choice([0, 2])
        for total in (8, 9, 12, 20, 33, 50, 80, 120, 200):
            body = frame.body(screen.text_lines(prose, total - 4, hang=hang), total)
            general = frame.top(total) + list(body) + frame.bottom(total)
            fast = frame.top_text(total) + frame.prose_text(prose, total, hang) + frame.bottom_text(total)
            assert fast == as_text(general), (title, prose, total)
            coded = screen.Frame([(title, None)], BORDER).prose_text(prose, total, hang, CODES, NOTE)
            body = screen.Frame([(title, None)], BORDER).body(screen.text_lines(prose, total - 4, NOTE, hang), total)
            written = [line if isinstance(line, str) else CODES.line(line[1]) for line in coded]
            assert written == [CODES.line(p) for _, p in body], (title, prose, total)
            # a line written with codes holds one-cell characters only (the SVG picture's codes take it to)
            assert all(isinstance(line, str) for line in coded) == is_narrow(prose), prose


@pytest.mark.parametrize("seed", range(3))
def test_a_small_grid_as_text_is_its_cells_aligned(seed: int) -> None:
    rnd = np.random.default_rng(seed)
    labels = ["", "O1", "δO1 = ∂E/∂O1", "[2]", "K1 rotated 180°", "a long label of a map " * 3]
    for _ in range(300):
        shape = tuple(int(n) for n in rnd.integers(1, 15, size=int(rnd.integers(1, 3))))
        value = rnd.normal(0, 10.0 ** rnd.integers(-8, 10), size=shape)
        value[rnd.random(shape) < 0.1] = 0.0
        if rnd.random() < 0.1:
            value[rnd.random(shape) < 0.2] = -0.0
        if rnd.random() < 0.2:
            value = np.round(value).astype(int)
        label = labels[int(rnd.integers(len(labels)))]
        for precision in (2, 4, 12):
            for room in (3, 10, 20, 40, 76, 120):
                cells = rich_view._grid_cells(value, precision)
                general = rich_view._grid_block_text(label, cells, room)
                assert rich_view._grid_text(label, value, precision, room) == general, (shape, label, room)
                styled = rich_view._grid_block(label, cells, room)
                assert rich_view._grid_styled(label, value, precision, room) == styled, (shape, label, room)


@pytest.mark.parametrize("shape", [(1, 6, 6), (6, 6), (1, 5, 12), (2, 2)])
def test_a_field_put_into_its_map_s_rows_is_its_lines_framed(shape: tuple[int, ...]) -> None:
    rnd = random.Random(shape[-1])
    size = int(np.prod(shape))
    for values in (np.arange(size, dtype=float).reshape(shape) / 9 - 1, None):
        fast, slow = rich_view.Field(shape, values, 4), rich_view.Field(shape, values, 4)
        for _ in range(80):
            cells = [rnd.randrange(size) for _ in range(rnd.randint(1, 9))]  # repeated, in any order
            for room in (30, 50, 80, 116):
                framed = []
                for w, pieces in slow.lines(tuple(cells), room - 2, True):
                    assert w + 2 <= room
                    framed.append("│   " + "".join(t for t, _ in pieces) + " " * (room - 2 - w) + " │")
                assert fast.framed_text(tuple(cells), room) == "\n".join(framed), (cells, room)


@pytest.mark.parametrize("system", ["truecolor", "standard"])
@pytest.mark.parametrize("shape", [(1, 6, 6), (5, 5), (1, 3, 12)])
def test_a_field_written_with_codes_is_its_styled_lines_framed_and_written(system: str, shape: tuple[int, ...]) -> None:
    codes = screen._codes_for(Console(force_terminal=True, color_system=system, width=80))
    assert codes is not None
    border = Style(color="cyan")
    rnd = random.Random(shape[-1] + len(system))
    size = int(np.prod(shape))
    coded = 0
    for values in (np.arange(size, dtype=float).reshape(shape) / 9 - 1, None):
        fast, slow = rich_view.Field(shape, values, 4), rich_view.Field(shape, values, 4)
        for _ in range(60):
            cells = tuple(rnd.randrange(size) for _ in range(rnd.randint(1, 9)))
            for room in (30, 50, 80, 116):
                text = fast.framed_text(cells, room, codes, border)
                lines = slow.lines(cells, room - 2, False)
                if text is None:  # drawn otherwise: a map in bands
                    assert not slow._one_band(room)
                    continue
                coded += 1
                pieces = [[("│ ", border), ("  ", None), *p, (" " * (room - 2 - w) + " │", border)] for w, p in lines]
                assert text == "\n".join(codes.line(p) for p in pieces), (cells, room)
    assert coded


def test_codes_with_percent_signs_are_written_as_they_are() -> None:
    """The rows layout's coloured template doubles the codes' own `%` (a codes object may give any text)."""
    columns = [
        EquationColumns("y_1", "a + b", "1 + 2", "3", "", False),
        EquationColumns("y_22", "c", "4", "4", "", False),
    ]
    marks = {role: (f"<{role}>", f"</{role}>") for role in ("frame", "symbol", "op", "value")}
    odd = {role: (f"%s{k}%%(", f"%d{k}%") for k, role in enumerate(marks)}
    for room in (30, 60):
        board = Board(columns)
        plain, percent = board.ansi_texts(0, 2, room, marks), board.ansi_texts(0, 2, room, odd)
        assert plain is not None and percent is not None and board.mode == "rows"
        for role, (before, after) in marks.items():
            plain = [t.replace(before, odd[role][0]).replace(after, odd[role][1]) for t in plain]  # type: ignore[union-attr]
        assert percent == plain


def test_an_equation_with_a_remark_is_framed_as_text_as_its_styled_lines() -> None:
    """`Board.framed_plain` writes a remark (after the value, or under the equation) as `Board.styled` draws it,
    in every layout: one piece of text a line, framed as `Frame.body` frames the styled lines."""
    rnd = random.Random(7)
    pieces = ["x_1", "w_12", "δ_3", "+", " − ", "·", "(-0.5)", "0.25", " + ", "σ(0.3)"]
    remarks = ["", "", "frozen: not trained", "≠ 0.1234 by the exact chain rule", "a note " * 6, "猫の注"]
    roles = rich_view._roles("green")
    frame = screen.Frame([("t", None)], None)
    seen = set()
    for _ in range(150):
        columns = []
        for _ in range(rnd.randint(1, 5)):
            texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 9))) for _ in range(4)]
            columns.append(EquationColumns(texts[0], texts[1], texts[2], texts[3], rnd.choice(remarks), False))
        for room in (12, 26, 46, 76, 116):
            board = Board(columns)
            texts = board.plain_texts(0, len(columns), room)
            for i in range(len(columns)):
                styled = board.styled(i, room, roles)
                fast = board.framed_plain(i, room)
                if fast is None:
                    assert any(w > room for w, _ in styled)
                    assert texts[i] is None
                    continue
                seen.add((board.mode, bool(columns[i].remark)))
                general = list(frame.body(styled, room + 4))
                assert fast == [(w, [("".join(t for t, _ in p), None)]) for w, p in general]
                assert texts[i] == "\n".join(p[0][0] for _, p in fast)
    assert {("rows", True), ("columns", True), ("stacked", True)} <= seen


@pytest.mark.parametrize("preamble", ["full", "short", "none"])
def test_the_header_and_blocks_as_text_are_their_styled_lines_without_styles(preamble: str) -> None:
    """Without styles the header's conventions and each block's top and prose are made as text: the same text as
    the styled lines (a block drawn here without its receptive fields, whose cells are bracketed without styles)."""
    for network in ("lecture", "homework-cnn", "two-two-two"):
        events = list(bpexplain.train(network, steps=1, preamble=preamble).events)
        header = events[0]
        assert isinstance(header, TraceHeader)
        printer = TextPrinter(4, 8)
        made = [rich_view._header(header, printer)]
        for e in events:
            if isinstance(e, Block):
                made += rich_view._block(e, printer, header.network["layers"], None)
        for lines in made:
            for total in (8, 9, 20, 50, 80, 120, 200):
                styled = screen._fitted(lines.make(total, False), total)
                assert lines.text(total) == "".join(["".join(t for t, _ in p) + "\n" for _, p in styled]), total
