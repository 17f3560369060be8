"""What makes the terminal view faster breaks lines where it broke them before.

- `wrap_math_folded` finds the breaks before a `+` outside brackets first and the others only when those
  are not enough, and finds the last point that fits by bisection: its lines are those of the former
  algorithm (every break found at once, each point tried in turn), written here apart, on random sums,
  products and brackets, with characters two cells wide and limits down to nothing;
- a grid of cells one cell wide each, aligned by lengths, is the grid aligned by terminal widths;
- prose wrapped by lengths is prose wrapped by widths.
"""

from __future__ import annotations

import random
import re

import pytest

from bpexplain.render import screen, wrap
from bpexplain.render.wrap import fold, width, wrap_math_folded, wrap_words

_CANDIDATE = re.compile(r" [+−] |·|, ")


def former_wrap(text: str, limit: int) -> tuple[list[str], bool]:
    """The line breaking as it was first written: every break and its priority found at once, the lines of
    each priority broken by trying each point in turn."""
    if width(text) <= limit:
        return [text], False
    limit = max(limit, 1)
    breaks: dict[int, tuple[int, int]] = {}
    depth = last = 0
    for m in _CANDIDATE.finditer(text):
        kind = 0 if m.group()[0] == " " else 1
        pos = m.start() if kind == 0 else m.end()
        count = text.count
        depth += count("(", last, pos) + count("[", last, pos) - count(")", last, pos) - count("]", last, pos)
        last = pos
        breaks[pos] = (max(depth, 0) * 2 + kind, kind)

    def shown(start: int, end: int, kind: int) -> str:
        piece = text[start:end]
        if kind == 0:
            piece = piece[1:]
        elif kind == 1:
            piece = "  " + piece
        return piece.rstrip(" ")

    narrow = wrap.is_narrow(text)  # every character known to take one cell: counted by lengths

    def cells(start: int, end: int, kind: int) -> int:
        if narrow:
            n = end - start - (kind == 0) + (2 if kind == 1 else 0)
            return n - (text[end - 1] == " ")
        return width(shown(start, end, kind))

    lines = [(0, len(text), -1)]
    for priority in sorted({p for p, _ in breaks.values()}):
        if all(cells(*line) <= limit for line in lines):
            break
        points = sorted(pos for pos, (p, _) in breaks.items() if p == priority)
        out = []
        for start, end, kind in lines:
            if kind == 1 and cells(start, end, 2) <= limit:
                kind = 2
            if cells(start, end, kind) <= limit:
                out.append((start, end, kind))
                continue
            inner = [pos for pos in points if start < pos < end] + [end]
            j = 0
            while j < len(inner):
                best = j
                while best + 1 < len(inner) and cells(start, inner[best + 1], kind) <= limit:
                    best += 1
                stop = inner[best]
                out.append((start, stop, kind))
                if stop == end:
                    break
                start, kind = stop, breaks[stop][1]
                j = best + 1
        lines = out
    result: list[str] = []
    folded = False
    for start, end, kind in lines:
        if kind == 1 and cells(start, end, kind) > limit:
            kind = 2
        piece = shown(start, end, kind)
        if width(piece) <= limit:
            result.append(piece)
        else:
            result.extend(fold(piece, limit))
            folded = True
    return result, folded


ATOMS = ["w", "x_1", "0.25", "-1.5", "σ'(e)", "δO2(1,1)", "ŷ", "猫", "e⁽²⁾", "12345678901234", "…"]
OPERATORS = [" + ", " − ", "·", ", ", " = ", " ", ""]


def random_text(rnd: random.Random) -> str:
    parts = []
    for _ in range(rnd.randint(1, 60)):
        r = rnd.random()
        if r < 0.12:
            parts.append(rnd.choice("(["))
        elif r < 0.24:
            parts.append(rnd.choice(")]"))
        elif r < 0.6:
            parts.append(rnd.choice(ATOMS))
        else:
            parts.append(rnd.choice(OPERATORS))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(4))
def test_wrap_math_breaks_where_the_former_algorithm_broke(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(5000):
        text, limit = random_text(rnd), rnd.randint(-2, 80)
        assert wrap_math_folded(text, limit) == former_wrap(text, limit), (text, limit)


def test_wrap_math_on_the_sums_of_a_convolution() -> None:
    text = " + ".join(f"δO2({i},{j})·Y1({i},{j})" for i in range(1, 5) for j in range(1, 5))
    for limit in range(1, len(text) + 2):
        assert wrap_math_folded(text, limit) == former_wrap(text, limit), limit
    lines, folded = wrap_math_folded(text, 40)
    assert not folded and all(line.startswith("+ ") for line in lines[1:])


@pytest.mark.parametrize("right", [True, False])
def test_a_grid_of_narrow_cells_is_the_grid_aligned_by_widths(right: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(7)
    for _ in range(300):
        rows = [
            [rnd.choice(["0.5", "-12.25", "3", "…", "1e-05", "⋮", ""]) for _ in range(rnd.randint(1, 14))]
            for _ in range(rnd.randint(1, 6))
        ]
        room = rnd.randint(1, 80)
        fast = screen.grid(rows, room, right)
        with monkeypatch.context() as m:
            m.setattr(screen, "is_narrow", lambda text: False)  # the path by terminal widths
            assert screen.grid(rows, room, right) == fast


def test_prose_wraps_by_lengths_as_by_widths(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(3)
    words = ["the", "receptive", "field", "of", "O1(1,1)", "δ", "averaged", "x" * 30]
    for _ in range(500):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 30)))
        limit, hang = rnd.randint(1, 60), rnd.randint(0, 6)
        fast = wrap_words(text, limit, hang)
        with monkeypatch.context() as m:
            m.setattr(wrap, "is_narrow", lambda text: False)
            assert wrap_words(text, limit, hang) == fast
        assert all(width(line) <= max(limit, 1) for line in fast)


@pytest.mark.parametrize("seed", range(4, 8))
def test_wrap_math_cells_counts_the_cells_of_its_lines(seed: int) -> None:
    """`wrap_math_cells` (the board's, given the width known) gives `wrap_math_folded`'s lines and their cells,
    on texts where a `+` follows a `·` or `, ` at the same place and brackets close before they open."""
    rnd = random.Random(seed)
    for _ in range(3000):
        text, limit = random_text(rnd), rnd.randint(-2, 60)
        if rnd.random() < 0.3:
            text = text.replace("·", rnd.choice(["· + ", ",  − ", ")· + ("]))
        lines, sizes, folded = wrap.wrap_math_cells(text, limit, width(text) if rnd.random() < 0.5 else -1)
        assert (lines, folded) == former_wrap(text, limit), (text, limit)
        assert sizes == [width(line) for line in lines]
