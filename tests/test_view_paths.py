"""The terminal view's shortcuts (issue 14, round 2) give what the general paths give.

- prose of one-cell characters is broken by positions (`wrap._words_narrow`): the same lines as the
  general path, which measures word by word, on texts with double, leading and trailing spaces and
  words longer than a line;
- an equation's lines for a console without styles, framed and joined as they are made
  (`Board.framed_plain`), are its styled lines framed by `Frame.body`, joined;
- the view's text written into the console's file without `console.print` is what the print writes, in
  each colour system, and where rich must do more (recording, quiet, a render hook) it is printed.
"""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console, RenderHook

import bpexplain
from bpexplain.render import rich as rich_view
from bpexplain.render import screen, wrap
from bpexplain.render.board import Board
from bpexplain.render.common import equation_columns
from bpexplain.render.printer import TextPrinter
from bpexplain.trace import Block


def general_words(text: str, limit: int, hang: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    with monkeypatch.context() as m:
        m.setattr(wrap, "is_narrow", lambda text: False)  # the path that measures each word
        return wrap.wrap_words(text, limit, hang)


@pytest.mark.parametrize("seed", range(3))
def test_prose_by_positions_is_prose_by_words(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(seed)
    words = ["", "a", "bb", "the", "receptive", "field", "O1(1,1)", "δ", "x" * 30, "y" * 7, "z" * 13]
    for _ in range(4000):
        text = rnd.choice([" ", "  "]).join(rnd.choice(words) for _ in range(rnd.randint(1, 25)))
        text = rnd.choice(["", " "]) + text + rnd.choice(["", " ", "  "])
        limit, hang = rnd.randint(-1, 40), rnd.randint(0, 12)
        fast = wrap.wrap_words(text, limit, hang)
        assert wrap.is_narrow(text)
        assert fast == general_words(text, limit, hang, monkeypatch), (text, limit, hang)
        assert all(wrap.width(line) <= max(limit, 1) for line in fast)


def test_prose_by_positions_on_the_cases_that_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {
        ("a bb ccc dddd", 6, 2): ["a bb", "  ccc", "  dddd"],
        ("abcdefghij kl", 4, 1): ["abc", " def", " ghi", " j", " kl"],  # cut in pieces of limit - hang
        ("ab  cd", 2, 0): ["ab", "", "cd"],  # a double space: an empty word
        ("ab  cd  ", 3, 0): ["ab", "cd", ""],
    }
    for (text, limit, hang), lines in cases.items():
        assert wrap.wrap_words(text, limit, hang) == lines
        assert general_words(text, limit, hang, monkeypatch) == lines


NETWORKS = ["lecture", "homework-cnn", "cbam", "attention", "se-block"]


def blocks(network: str) -> list[Block]:
    return [e for e in bpexplain.train(network, steps=1).events if isinstance(e, Block) and e.equations]


@pytest.mark.parametrize("network", NETWORKS)
def test_a_plain_line_of_one_piece_is_the_styled_line_framed(network: str) -> None:
    """`Board.framed_plain` (an equation without a remark, in any layout) gives the text of `Board.styled`'s
    lines framed as `Frame.body` frames them; None only where those need more (a remark, a line too wide)."""
    printer = TextPrinter(4, 8)
    roles = rich_view._roles("cyan")
    frame = screen.Frame([("t", None)], None)
    seen = set()
    for b in blocks(network):
        columns = [equation_columns(eq, printer) for eq in b.equations]
        for room in (8, 16, 26, 46, 76, 116, 196):
            board = Board(columns)
            for i in range(len(columns)):
                fast = board.framed_plain(i, room)
                styled = board.styled(i, room, roles)
                seen.add((board.mode, fast is None))
                if fast is None:
                    assert board.rows[i].remark or any(w > room for w, _ in styled)
                    continue
                general = list(frame.body(styled, room + 4))
                assert fast == [(w, [("".join(t for t, _ in p), None)]) for w, p in general]
    assert ("rows", False) in seen
    if network in ("homework-cnn", "cbam"):
        assert ("columns", False) in seen and ("stacked", False) in seen


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"force_terminal": True, "color_system": "truecolor"},
        {"force_terminal": True, "color_system": "256"},
        {"force_terminal": True, "color_system": "standard", "no_color": True},
        {"force_terminal": True, "color_system": "truecolor", "record": True},
        {"quiet": True},
    ],
)
def test_the_view_written_directly_is_what_rich_prints(options: dict) -> None:
    """`rich.print_batches` writes a batch's text into the console's file itself where rich would write it
    as it is (`screen.writes_directly`): the same bytes as `console.print(Batch(...), crop=False)`."""
    events = list(bpexplain.train("homework-cnn", steps=1).events)
    outputs = []
    for direct in (True, False):
        out = io.StringIO()
        console = Console(file=out, width=80, **options)
        if not direct:
            console.push_render_hook(_Same())  # a hook: rich must print it (and prints it unchanged)
        assert screen.writes_directly(console) == (direct and not options.get("record") and not options.get("quiet"))
        rich_view.print_batches(console, rich_view.trace_renderables(events))
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert bool(outputs[0]) != bool(options.get("quiet"))


class _Same(RenderHook):
    def process_renderables(self, renderables: list) -> list:
        return renderables
