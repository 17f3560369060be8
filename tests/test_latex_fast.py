"""The LaTeX format's shortcuts of issue 14 give what the general paths give.

- `visible_bound` (counts of characters) is never below `visible_length` (its patterns), on random texts of
  the pieces LaTeX is made of and on every column of every bundled equation; `visible_length`, which now
  counts what it used to remove, gives what it gave, and `wrap_sum`, which now asks the bound first, breaks
  every such text as the code before it (both kept here as the reference);
- `measured_symbol` makes a new symbol (w'_14) and a partial derivative of two symbols (∂E/∂w_14) directly:
  the same LaTeX and text width as `measured`, for odd symbols too (primes, superscripts, several-character
  indices, a symbol as an index, one whose own index is a symbol), and with ids of dropped nodes reused;
- `measured_both` takes a difference's bound symbol from the cache (w_14 − η·...): the same as two walks;
- `LatexRenderer.equation` (the columns dropped and the width decided inline) writes what the two-print
  code wrote, on every equation of the bundled networks and a 100-30-10 MLP.
"""

from __future__ import annotations

import gc
import random
import re

import pytest
from test_latex_once import equations, old_equation

from bpexplain.expr import Add, Derivative, Elem, Mul, Partial, Sub, Sym, Var
from bpexplain.render.latex import LONG, LatexRenderer, visible_bound, visible_length, wrap_sum
from bpexplain.render.latex_printer import LatexPrinter
from bpexplain.render.printer import TextPrinter
from bpexplain.trace import Block

PIECES = [
    r"\frac{",
    "}{",
    "}",
    "{",
    r"\left(",
    r"\right)",
    r" \cdot ",
    r"\cdot",
    r"\cdot ",
    " + ",
    " - ",
    "+",
    "-",
    " ",
    "_",
    "^",
    "x",
    "w_{14}",
    r"\delta",
    r"\alpha ",
    r"\partial E",
    "0.25",
    "(e)",
    r"\times 10^{-7}",
    r"\hat{y}",
    "é",
]


def random_latex(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))


def old_visible_length(latex: str) -> int:
    """`visible_length` as it was, every step a substitution (the reference)."""
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: max(m.group(1), m.group(2), key=len), latex)
    text = re.sub(r"\\(left|right)", "", text)
    text = re.sub(r" ?\\cdot ?", "xx", text)
    text = text.replace(" + ", "xxx").replace(" - ", "xxx")
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[{}_^ ]", "", text))


def old_wrap_sum(latex: str, width: int = LONG) -> str:
    """`wrap_sum` as it was before it asked `visible_bound` (the reference)."""
    if len(latex) <= width or old_visible_length(latex) <= width:
        return latex
    pieces, depth, start = [], 0, 0
    for m in re.finditer(r"\\left|\\right|[{}]| (?=[+-] )", latex):
        token = m.group()
        if token == " ":
            if depth == 0:
                pieces.append(latex[start : m.start()])
                start = m.start() + 1
        elif token == "{" or token == "\\left":
            depth += 1
        else:
            depth -= 1
    pieces.append(latex[start:])
    lines, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) > width and old_visible_length(current + piece) > width:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return r" \\ &\quad ".join(lines)


def test_visible_bound_is_never_below_visible_length_on_random_texts() -> None:
    rng = random.Random(1414)
    below = 0
    for _ in range(20000):
        latex = random_latex(rng)
        bound = visible_bound(latex)
        assert visible_length(latex) == old_visible_length(latex), latex
        assert bound >= visible_length(latex), latex
        below += bound <= 40 < len(latex)
        for width in (20, 40, LONG):
            assert wrap_sum(latex, width) == old_wrap_sum(latex, width), (latex, width)
    assert below  # the bound decides some texts longer than the width


def test_wrap_sum_where_nothing_nests_is_the_former_scan() -> None:
    """Texts without braces, \\left or \\right (a convolution's sums) are split by one pattern."""
    rng = random.Random(1416)
    flat = [p for p in PIECES if not any(c in p for c in "{}") and "left" not in p and "right" not in p]
    wrapped = 0
    for _ in range(5000):
        latex = "".join(rng.choice(flat) for _ in range(rng.randint(0, 60)))
        for width in (20, 40, LONG):
            assert wrap_sum(latex, width) == old_wrap_sum(latex, width), (latex, width)
            wrapped += wrap_sum(latex, width) != latex
    assert wrapped


@pytest.mark.parametrize("name", ["lecture", "homework-cnn", "attention", "cbam"])
def test_visible_bound_on_every_bundled_column(name: str) -> None:
    printer = LatexPrinter(4, 8)
    for eq in equations(name):
        expression, _, substituted, _ = printer.measured_both(eq.bound)
        for latex in (expression, substituted, printer.measured_symbol(eq.symbol)[0]):
            assert visible_bound(latex) >= visible_length(latex) == old_visible_length(latex), latex
            assert wrap_sum(latex) == old_wrap_sum(latex)
            assert wrap_sum(latex, 30) == old_wrap_sum(latex, 30)


X425 = Sym("x", ("425",))
ODD = [
    Sym("w", ("14",)),
    Sym("w", ("1", "4")),
    Sym("w", ("x1", "10")),
    Sym("w", ("(h1)", "(o1)")),
    Sym("w", ("(h1)", "10")),
    Sym("w", (X425, "10")),
    Sym("w", (X425, "1")),
    Sym("w", (Sym("x", (Sym("c", ("1",)),)), "2")),  # an index whose own index is a symbol: the general way
    Sym("w", (Elem("O1", ("1",)), "2")),
    Sym("w", ("1", "2"), prime=True),
    Sym("w", ("12",), prime=True, superscript="s"),
    Sym("w", ("12",), superscript="T"),
    Sym("b", (), prime=True),
    Sym("b", (), prime=True, superscript="2"),
    Sym("β", (), superscript="2"),
    Sym("net", ("a", "b")),
    Sym("weird_name", ("3",), prime=True),
    Sym("ŷ", ("101",)),
    Sym("é", ("1", "22")),
    Sym("x̂", ("4",), prime=True),
]


def reference(node: object) -> tuple[str, int]:
    return LatexPrinter(4).doprint(node), len(TextPrinter(4).doprint(node))  # type: ignore[arg-type]


@pytest.mark.parametrize("node", ODD, ids=repr)
def test_a_new_symbol_and_its_partial_derivative_are_made_as_measured(node: Sym) -> None:
    printer = LatexPrinter(4)
    for symbol in (Partial(Sym("E"), node), node, Partial(node, Sym("w", ("3",)))):
        assert printer.measured_symbol(symbol) == reference(symbol)
        assert printer.measured_symbol(symbol) == reference(symbol)  # the second time from the cache
    primed = Sym(node.base, node.indices, prime=not node.prime, superscript=node.superscript)  # the same indices
    assert printer.measured_symbol(primed) == reference(primed)
    assert printer.measured(Mul((Var(node, 0.5), Var(primed, -2.0))), True)[1] == len(
        TextPrinter(4).doprint(Mul((Var(node, 0.5), Var(primed, -2.0))), True)
    )


def test_partial_derivatives_of_other_nodes_go_the_general_way() -> None:
    printer = LatexPrinter(4)
    for symbol in (
        Partial(Sym("E"), Elem("O1", ("1", "2"))),
        Partial(Elem("δO1", ("1", "2")), Sym("w", ("1",))),
        Partial(Sym("E"), Derivative(Sym("h", ("4",)), "e")),
    ):
        assert printer.measured_symbol(symbol) == reference(symbol)


def test_new_symbols_with_reused_ids_measure_right() -> None:
    """w and w' made from the same indices, dropped, and their ids (and the indices' ids) taken by others."""
    printer = LatexPrinter(4)
    for k in range(4000):
        indices = (Sym("x", (str(k % 13),)), str(k)) if k % 2 else (str(k % 5), str(k))
        w, w_new = Sym("w", indices), Sym("w", indices, prime=True)
        gradient = Partial(Sym("E"), w)
        assert printer.measured_symbol(gradient) == reference(gradient)
        assert printer.measured_symbol(w_new) == reference(w_new)
        update = Sub(Var(w, k / 7 - 300), Mul((Var(Sym("η"), 0.5), Var(Sym("δ", (str(k),)), -1.0))))
        expression, width, substituted, numbers_width = printer.measured_both(update)
        assert (expression, width) == reference(update)
        fresh = LatexPrinter(4)
        assert substituted == fresh.doprint(update, True)
        assert numbers_width == len(TextPrinter(4).doprint(update, True))
        del w, w_new, gradient, update, indices
        if k % 500 == 0:
            gc.collect()


def test_a_difference_from_a_kept_symbol_is_two_walks() -> None:
    """The left side of w − ... from the cache: a negative number leads without brackets; a sum or a product
    on the left goes the general way."""
    w, y = Sym("w", ("1", "4")), Sym("y", ("1",))
    for left in (Var(w, -0.5), Var(w, 0.25), Var(y, -3e-9), Mul((Var(w, -1.0), Var(y, 2.0))), Add((Var(w, 1.0),))):
        for right in (Var(y, -2.0), Mul((Var(Sym("η"), 0.1), Var(y, -0.5))), Add((Var(w, 1.0), Var(y, -1.0)))):
            printer, text = LatexPrinter(4), TextPrinter(4)
            printer.measured_symbol(w)  # kept before the difference is measured
            printer.measured_symbol(y)
            tree = Sub(left, right)
            assert printer.measured_both(tree) == (
                LatexPrinter(4).doprint(tree),
                len(text.doprint(tree)),
                LatexPrinter(4).doprint(tree, True),
                len(text.doprint(tree, True)),
            )


def mlp_equations() -> list:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench import mlp_yaml

    from bpexplain.engine import RunOptions, run
    from bpexplain.spec import parse_network

    spec = parse_network(mlp_yaml((100, 30, 10), "A 100-30-10 MLP"), "mlp.yaml")
    return [
        eq for ev in run(spec, RunOptions(command="train", steps=1)) if isinstance(ev, Block) for eq in ev.equations
    ]


@pytest.mark.parametrize("name", ["lecture", "homework-cnn", "attention", "mlp"])
@pytest.mark.parametrize("max_terms", [8, None])
def test_equation_is_written_as_by_the_two_print_code(name: str, max_terms: int | None) -> None:
    eqs = mlp_equations() if name == "mlp" else equations(name)
    renderer = LatexRenderer(4, max_terms)
    broken = 0
    for eq in eqs:
        line = renderer.equation(eq)
        assert line == old_equation(LatexRenderer(4, max_terms), eq)
        broken += r"\\ &=" in line
    assert broken  # some equations are broken onto lines


ELEMS = [
    Elem("O1", ("2", "3")),
    Elem("δO1", ("1", "12", "3"), prime=True),
    Elem("K2", ("1",), superscript="t"),
    Elem("O1", ()),
    Elem("O1", (Sym("c", ("1",)), "2")),
]


@pytest.mark.parametrize("node", ELEMS, ids=repr)
def test_a_map_element_and_its_partial_derivative_are_made_as_measured(node: Elem) -> None:
    printer = LatexPrinter(4)
    for symbol in (node, Partial(Sym("E"), node), Partial(node, Elem("K1", ("1", "1")))):
        assert printer.measured_symbol(symbol) == reference(symbol)
        assert printer.measured_symbol(symbol) == reference(symbol)


@pytest.mark.parametrize("value", [0.5, -0.5, -3e-9, 2e12, 0.0, -0.0, float("nan"), float("-inf")])
def test_a_kept_bound_symbol_and_a_number_alone_are_two_walks(value: float) -> None:
    from bpexplain.expr import Num

    for leaf in (Sym("w", ("1", "4")), Elem("O1", ("2", "3")), Derivative(Sym("h", ("4",)), "e")):
        printer, text = LatexPrinter(4), TextPrinter(4)
        for _ in range(2):  # the second time from the cache
            for tree in (Var(leaf, value), Num(value)):
                assert printer.measured_both(tree) == (
                    LatexPrinter(4).doprint(tree),
                    len(text.doprint(tree)),
                    LatexPrinter(4).doprint(tree, True),
                    len(text.doprint(tree, True)),
                )
