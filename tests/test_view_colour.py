"""The terminal view's coloured lines written by one format a line (issue 14, round 4) are what the general path
writes: a block's equations with their styles' codes in (`Board.ansi_texts`, `screen.Lines.coloured`) are the
bytes `Lines.ansi` writes of the styled lines, in every layout and width, in each colour system; an equation
said once, one without numbers, a block without a numbers column; a remark or a character two cells wide
leaves the general path to make them.
"""

from __future__ import annotations

import pytest
from rich.console import Console

import bpexplain
from bpexplain.render import rich as rich_view
from bpexplain.render import screen
from bpexplain.render.board import Board
from bpexplain.render.common import EquationColumns

NETWORKS = ["lecture", "homework-cnn", "cbam", "attention", "se-block", "resnet-block"]
TOTALS = (8, 12, 20, 30, 50, 80, 120, 200)


def codes_of(system: str) -> screen.Codes:
    codes = screen._codes_for(Console(force_terminal=True, color_system=system, width=80))
    assert codes is not None
    return codes


def general(lines: screen.Lines, total: int, codes: screen.Codes) -> str:
    """What `Lines.ansi` writes of the styled lines alone (the make asked for no codes)."""
    return screen.Lines(lambda width, plain: lines.make(width, plain)).ansi(total, codes)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("system", ["truecolor", "standard"])
def test_a_block_s_coloured_lines_are_its_styled_lines_written(network: str, system: str) -> None:
    codes = codes_of(system)
    events = list(bpexplain.train(network, steps=1).events)
    made = [r for r in rich_view.trace_renderables(events) if r.coloured]
    assert made
    shortcut = 0
    for total in TOTALS:
        for lines in made:
            written = lines.ansi(total, codes)
            assert written == general(lines, total, codes)
            shortcut += any(type(line) is str for line in lines.make(total, False, codes=codes))
    assert shortcut


def test_coloured_rows_said_once_without_numbers_with_remarks() -> None:
    """The board's other lines in colour, each the styled lines written with `Lines.ansi`'s codes."""
    cases = [
        [("y_1", "x_1", "", "0.5", "", True), ("y_2", "a + b", "1 + 2", "3", "", False)],
        [("y_1", "a·b", "", "2", "", False), ("y_22", "a + b", "1 + 2", "3", "", False)],
        [("y_1", "a", "", "2", "", False), ("y_2", "b", "", "3", "", False)],
        [("y_1", "", "", "", "", True), ("y_2", "b + c + d + e + f", "1 + 2 + 3 + 4 + 5", "15", "", False)],
        [("y_1", "a + b", "1 + 2", "3", "a note", False), ("y_2", "c", "4", "4", "", False)],
        [("猫", "a + b", "1 + 2", "3", "", False), ("y_2", "c + d", "4 + 5", "9", "", False)],
        [("y_1", "a + b + c + d + e + f + g", "1 + 2 + 3 + 4 + 5 + 6 + 7", "28", "", False)] * 3,
        [("y_1", "a + b + c + d + e + f + g + h + i", "", "", "", True), ("y", "x", "", "1", "", False)],
    ]
    style = rich_view._colour("cyan")
    roles = rich_view._roles("cyan")
    written, modes = 0, set()
    for system in ("truecolor", "256", "standard"):
        codes = codes_of(system)
        pairs = {role: codes.pair(roles[role]) for role in ("symbol", "op", "value")}
        pairs["frame"] = codes.pair(style)
        for case in cases:
            board = Board([EquationColumns(*c) for c in case])
            for total in (14, 20, 26, 34, 44, 60, 90):
                texts = board.ansi_texts(0, len(case), total - 4, pairs)
                modes.add(board.mode)
                for i, text in enumerate(texts or []):
                    if text is None:
                        continue
                    styled = [
                        (total, [("│ ", style), *pieces, (" " * (total - 4 - w) + " │", style)])
                        for w, pieces in board.styled(i, total - 4, roles)
                    ]
                    assert text + "\n" == screen.Lines(lambda width, plain, s=styled: s).ansi(total, codes)
                    written += 1
    assert written > 50 and {"rows", "columns", "stacked"} <= modes
