"""The terminal view's shortcuts give what the general paths give.

- a text of one-cell characters breaks where its skeleton breaks: texts that share a skeleton (the same
  length, the same operators, brackets and spaces at the same places, anything else between) are broken
  by the lines found for the first, and those are the former algorithm's lines (written apart in
  tests/test_rich_speed.py) for every one of them; two texts of one skeleton have the same length and
  the same kept characters at the same places, whatever their characters (two cells wide, beyond the BMP);
- the board's columns and stacked lines, styled as they are made, are its lines with each role's style;
- coloured lines written with each style's codes rendered once are what rich writes of the segments.
"""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from test_rich_speed import former_wrap, random_text

import bpexplain
from bpexplain.render import rich as rich_view
from bpexplain.render import screen, wrap
from bpexplain.render.board import Board
from bpexplain.render.common import equation_columns
from bpexplain.render.printer import TextPrinter
from bpexplain.trace import Block

ASCII = "abxyzw0123456789_.-'/"  # one cell each, none of them where a text breaks: one skeleton
OTHERS = ASCII + "δησŷ⁽⁾∂"  # of these, a skeleton may differ (a cache missed, never a wrong line)


def same_skeleton(text: str, rnd: random.Random, others: str) -> str:
    """`text` with every character that is not one of `wrap._KEPT` replaced at random."""
    return "".join(c if c in wrap._KEPT else rnd.choice(others) for c in text)


@pytest.mark.parametrize("seed", range(3))
def test_texts_of_one_skeleton_break_as_the_former_algorithm_breaks_each(seed: int) -> None:
    rnd = random.Random(seed)
    wrap._SPANS.clear()
    for _ in range(1500):
        text = random_text(rnd).replace("猫", "w")  # one cell a character: the skeleton's path
        if not wrap.is_narrow(text):
            continue
        limit = rnd.randint(-2, 60)
        text = same_skeleton(text, rnd, ASCII)
        for n, other in enumerate([text] + [same_skeleton(text, rnd, ASCII if k else OTHERS) for k in range(3)]):
            if n > 1:
                assert wrap.skeleton(other) == wrap.skeleton(text)  # the lines found for `text` are used
            lines, sizes, folded = wrap.wrap_math_cells(other, limit)
            assert (lines, folded) == former_wrap(other, limit), (other, limit)
            assert sizes == [len(line) for line in lines]
            if len(other) > max(limit, 1):
                assert wrap.wrap_narrow(other, limit) == (lines, sizes, folded, max(sizes))


def test_one_skeleton_means_one_length_and_the_same_kept_characters() -> None:
    rnd = random.Random(11)
    alphabet = (
        list(wrap._KEPT)
        + list('a0δ·猫\x00\u2012\u2213\u2022𝑥😀"')
        + [chr(rnd.randrange(0x80, 0x30000)) for _ in range(300)]
    )
    seen: dict[bytes, str] = {}
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
        key = wrap.skeleton(text)
        first = seen.setdefault(key, text)
        assert len(first) == len(text)
        assert all((a == b) for a, b in zip(first, text) if a in wrap._KEPT or b in wrap._KEPT), (first, text)


def boards(name: str) -> list[Board]:
    printer = TextPrinter(4, 8)
    events = bpexplain.train(name, steps=1, rule="slide").events
    return [
        Board([equation_columns(eq, printer) for eq in e.equations])
        for e in events
        if isinstance(e, Block) and e.equations
    ]


@pytest.mark.parametrize("name", ["homework-cnn", "lecture", "classifier", "attention"])
def test_styled_lines_are_the_lines_with_their_roles_styled(name: str) -> None:
    styles = {role: f"<{role}>" for role in ("symbol", "op", "expr", "value", "remark", "warning", "")}
    modes = set()
    for board in boards(name):
        for room in (20, 30, 46, 60, 76, 116, 196):
            for i in range(len(board.rows)):
                styled = board.styled(i, room, styles)
                expected = [(w, [(t, styles[role]) for t, role in pieces]) for w, pieces in board.lines(i, room)]
                assert styled == expected, (name, room, i, board.mode)
            modes.add(board.mode)
    assert modes == {"rows", "columns", "stacked"}


def printed(events: list, width: int, system: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=system)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(screen, "_codes_for", lambda console: None)  # rich writes every segment
        rich_view.print_batches(console, rich_view.trace_renderables(events))
    return out.getvalue()


@pytest.mark.parametrize("system", ["truecolor", "256", "standard"])
def test_coloured_lines_are_written_as_rich_writes_their_segments(system: str, monkeypatch: pytest.MonkeyPatch) -> None:
    events = list(bpexplain.train("homework-cnn", steps=1, rule="slide").events)
    for width in (6, 40, 80, 120):
        fast = printed(events, width, system, True, monkeypatch)
        assert "\x1b[" in fast
        assert fast == printed(events, width, system, False, monkeypatch), width


def test_a_console_that_records_or_has_no_colour_gets_the_segments() -> None:
    assert screen._codes_for(Console(file=io.StringIO(), force_terminal=True, record=True)) is None
    assert screen._codes_for(Console(file=io.StringIO(), force_terminal=True, no_color=True)) is None
    assert screen._codes_for(Console(file=io.StringIO(), force_terminal=True, force_jupyter=True)) is None
    assert screen._codes_for(Console(file=io.StringIO(), force_terminal=True, color_system="256")) is not None
