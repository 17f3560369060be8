"""The LaTeX format's faster paths give what the paths before them gave.

- `LatexPrinter.measured_both` (an equation's expression and numbers in one walk) is `measured` twice, and
  `measured_symbol` is `measured`: on every equation of every bundled network, both notations, whole and
  shortened sums, and on random trees of every node class (each checked against `doprint` and the length of
  `TextPrinter`'s text, written apart from the walk);
- a symbol's text width counted from its parts is the text printer's: odd indices (several characters, a
  leading bracket, a symbol as an index), primes, superscripts, a map element without indices;
- caches by identity (leaves, subscripts) never answer for a stranger: nodes made and dropped reuse ids;
  w and w' sharing their indices print their own primes;
- `LatexRenderer.write` (a block's lines at once) writes what the line-by-line dispatch wrote;
- `bmatrix` (only the cells shown formatted) writes what it wrote when it formatted every cell.
"""

from __future__ import annotations

import gc
import io
import random

import numpy as np
import pytest
from test_latex_once import random_tree

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Elem, Expr, Mul, Sub, Sym, Var
from bpexplain.render.latex import LatexRenderer, bmatrix
from bpexplain.render.latex_printer import LatexPrinter, latex_number
from bpexplain.render.lines import LineRenderer
from bpexplain.render.numbers import format_number
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import load_network
from bpexplain.trace import Block

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two", "attention", "cbam"]


def check_both(printer: LatexPrinter, text: TextPrinter, node: Expr) -> None:
    """`measured_both` against `doprint` of a fresh printer and the text's length, both ways."""
    expression, expression_width, substituted, substituted_width = printer.measured_both(node)
    fresh = LatexPrinter(printer.precision, printer.max_terms)
    assert expression == fresh.doprint(node)
    assert substituted == fresh.doprint(node, True)
    assert expression_width == len(text.doprint(node)), text.doprint(node)
    assert substituted_width == len(text.doprint(node, True)), text.doprint(node, True)
    assert printer.numbers is False and printer.text is not None and printer.text.numbers is False


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("notation", ["lecture", "textbook"])
def test_both_and_symbol_on_every_bundled_equation(name: str, notation: str) -> None:
    events = list(run(load_network(name), RunOptions(command="train", steps=2, notation=notation)))
    eqs = [eq for ev in events if isinstance(ev, Block) for eq in ev.equations]
    assert eqs
    for max_terms in (8, None, 2):
        printer, text = LatexPrinter(4, max_terms), TextPrinter(4, max_terms)
        for eq in eqs:
            check_both(printer, text, eq.bound)
            symbol = printer.measured_symbol(eq.symbol)
            assert symbol == (LatexPrinter(4).doprint(eq.symbol), len(text.doprint(eq.symbol)))


def test_both_on_random_trees_of_every_node_class() -> None:
    rng = random.Random(1414)
    for _ in range(1500):
        tree = random_tree(rng, rng.randint(0, 4))
        precision, max_terms = rng.choice([1, 4, 12]), rng.choice([None, 2, 8])
        check_both(LatexPrinter(precision, max_terms), TextPrinter(precision, max_terms), tree)


ODD_SYMBOLS = [
    Sym("w", ("14",)),
    Sym("w", ("1", "4")),
    Sym("w", ("x1", "10")),
    Sym("w", ("(h1)", "(o1)")),
    Sym("w", ("(h1)", "10")),
    Sym("w", (Sym("x", ("425",)), "10")),
    Sym("w", ("1", "2"), prime=True),
    Sym("w", ("12",), prime=True, superscript="s"),
    Sym("b", (), prime=True),
    Sym("β", (), superscript="2"),
    Sym("net", ("a", "b")),
    Elem("O1", ("2", "3")),
    Elem("δO1", ("1", "12", "3"), prime=True),
    Elem("K2", ("1",), superscript="t"),
    Elem("O1", ()),
    Elem("O1", (Sym("c", ("1",)), "2")),
]


@pytest.mark.parametrize("node", ODD_SYMBOLS, ids=repr)
def test_symbol_width_counted_from_its_parts_is_the_text_printers(node: Sym) -> None:
    printer, text = LatexPrinter(4), TextPrinter(4)
    for leaf in (node, Var(node, -0.5), Mul((Var(node, 0.25), Var(node, -2.0)))):
        check_both(printer, text, leaf)
        assert printer.measured(leaf) == (LatexPrinter(4).doprint(leaf), len(text.doprint(leaf)))


def test_nodes_made_and_dropped_measure_right() -> None:
    """Ids of dropped nodes are reused by new ones: a cache by identity must never answer for a stranger."""
    printer, text = LatexPrinter(4), TextPrinter(4)
    for k in range(3000):
        indices = (str(k), str(k % 7))
        w, w_new = Sym("w", indices), Sym("w", indices, prime=True)  # w' made from w's indices, as the layers do
        tree = Sub(Var(w, k / 7), Mul((Var(Sym("η"), 0.5), Var(Sym("δ", (str(k),)), -1.0))))
        check_both(printer, text, tree)
        assert printer.measured_symbol(w_new) == (LatexPrinter(4).doprint(w_new), len(TextPrinter(4).doprint(w_new)))
        assert printer.measured_symbol(w)[0] == LatexPrinter(4).doprint(w)
        del w, w_new, tree
        if k % 500 == 0:
            gc.collect()


def test_sums_with_an_ellipsis_measure_as_two_walks() -> None:
    terms = tuple(Mul((Var(Sym("w", (str(i), "4")), i / 3 - 2), Var(Sym("y", (str(i),)), 0.5))) for i in range(20))
    for max_terms in (None, 2, 3, 8):
        check_both(LatexPrinter(4, max_terms), TextPrinter(4, max_terms), Add(terms))
        check_both(LatexPrinter(4, max_terms), TextPrinter(4, max_terms), Sub(Add(terms), Add(terms[:3])))


@pytest.mark.parametrize("name", ["lecture", "homework-cnn", "attention"])
@pytest.mark.parametrize("options", [{}, {"body_only": True}, {"max_terms": None}])
def test_write_at_once_is_the_line_by_line_dispatch(name: str, options: dict) -> None:
    events = list(run(load_network(name), RunOptions(command="train", steps=2)))
    fast, slow = io.StringIO(), io.StringIO()
    LatexRenderer(**options).write(events, fast)
    LineRenderer.write(LatexRenderer(**options), events, slow)  # every block through `lines`, a line at a time
    assert fast.getvalue() == slow.getvalue()
    assert r"\begin{align*}" in fast.getvalue()


def old_bmatrix(arr: np.ndarray, precision: int, cells: list[str] | None = None) -> str:
    """`bmatrix` as it was: every cell formatted, then the shown ones picked (kept here as the reference)."""
    a = np.asarray(arr, dtype=np.float64)
    grid = a.reshape(1, -1) if a.ndim <= 1 else a
    n_cols = grid.shape[1]
    texts = cells or [latex_number(format_number(float(v), precision)) for v in grid.ravel()]
    rows = [texts[r * n_cols : (r + 1) * n_cols] for r in range(grid.shape[0])]
    keep = lambda n: list(range(n)) if n <= 6 else [0, 1, 2, None, n - 3, n - 2, n - 1]  # noqa: E731
    out_rows = []
    for i in keep(grid.shape[0]):
        if i is None:
            out_rows.append(" & ".join(r"\vdots" if j is not None else r"\ddots" for j in keep(n_cols)))
            continue
        out_rows.append(" & ".join(r"\cdots" if j is None else rows[i][j] for j in keep(n_cols)))
    return r"\begin{bmatrix} " + r" \\ ".join(out_rows) + r" \end{bmatrix}"


def test_bmatrix_formats_only_the_cells_shown_as_before() -> None:
    rng = np.random.default_rng(14)
    for shape in [(), (1,), (5,), (9,), (1, 1), (3, 7), (7, 3), (6, 6), (7, 7), (28, 28), (2, 40)]:
        arr = rng.normal(size=shape) * 10.0 ** rng.integers(-9, 9, size=shape)
        arr.flat[0] = -0.0 if arr.size else 0.0
        for precision in (1, 4):
            assert bmatrix(arr, precision) == old_bmatrix(arr, precision)
        cells = [f"w_{{{k}}}" for k in range(max(arr.size, 1))]
        assert bmatrix(arr, 4, cells) == old_bmatrix(arr, 4, cells)
    assert r"\ddots" in bmatrix(np.zeros((28, 28)), 4)
