"""The printers' caches and one-walk paths give the text the general walk gives.

- `Printer.both` (an equation's expression and its substituted numbers in one walk) and `Printer.symbol`
  against two `doprint`s of a printer with the fast path off: every equation of the bundled networks, both
  notations, the text and LaTeX printers, shortened and whole sums; and random trees of shared leaves;
- the caches by identity (symbols, indices, subscripts): equal-valued distinct symbols, a
  symbol and its primed twin sharing their indices, nodes made and dropped (their ids reused), and caches
  full at their limit (then bounded, and still right);
- `format_grid` (now formatting Python floats, row by row) against a reference written here.
"""

from __future__ import annotations

import gc
import random

import numpy as np
import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Call, Derivative, Elem, Expr, Func, Mul, Name, Neg, Num, Partial, Sub, Sym, Var
from bpexplain.render import numbers as numbers_module
from bpexplain.render import printer as printer_module
from bpexplain.render.common import equation_columns
from bpexplain.render.latex_printer import LatexPrinter
from bpexplain.render.numbers import format_grid, format_number
from bpexplain.render.printer import Printer, TextPrinter
from bpexplain.spec import load_network
from bpexplain.trace import Block

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two"]


def general(kind: type[Printer], max_terms: int | None) -> Printer:
    p = kind(4, max_terms)
    p.fast = False
    return p


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
@pytest.mark.parametrize("name", NETWORKS)
def test_both_and_symbol_print_as_two_general_walks(name: str, notation: str) -> None:
    events = run(load_network(name), RunOptions(command="train", steps=2, notation=notation))
    eqs = [eq for ev in events if isinstance(ev, Block) for eq in ev.equations]
    assert eqs
    for kind in (TextPrinter, LatexPrinter):
        for max_terms in (8, None, 2):
            fast, slow = kind(4, max_terms), general(kind, max_terms)
            for eq in eqs:
                assert fast.symbol(eq.symbol) == slow.doprint(eq.symbol), (name, eq.symbol)
                assert fast.both(eq.bound) == (slow.doprint(eq.bound), slow.doprint(eq.bound, True)), (name, eq.symbol)
                assert fast.numbers is False


def random_tree(rng: random.Random, leaves: list[Expr]) -> Expr:
    """A product, sum or difference of shared leaves (the shapes `both` walks once), or another node."""

    def product() -> Expr:
        factors = tuple(rng.choice(leaves) for _ in range(rng.randint(1, 4)))
        return factors[0] if len(factors) == 1 and rng.random() < 0.5 else Mul(factors)

    shape = rng.randrange(5)
    if shape == 0:
        return product()
    if shape == 1:
        return Add(tuple(product() for _ in range(rng.randint(1, 12))))
    if shape == 2:
        return Sub(product(), product())
    if shape == 3:
        return Mul((rng.choice(leaves), Sub(Num(1.0), rng.choice(leaves))))  # not a common shape: two walks
    return rng.choice(leaves)


def test_both_on_random_trees_of_shared_leaves() -> None:
    rng = random.Random(7)
    a, b, c = Sym("a", ("1",)), Elem("K", ("1", "2")), Sym("w", (Sym("x", ("3",)), "12"), prime=True)
    h = Func(Sym("h", ("4",)), Name("σ"))
    leaves: list[Expr] = [
        Var(a, -0.5),
        Var(a, 2.0),
        Var(b, -0.0),
        Var(c, float("nan")),
        Var(Derivative(Sym("h", ("4",)), "e"), -1e-9),
        Var(Partial(Sym("E"), a), 3e12),
        Num(-2.0),
        Num(0.25),
        a,
        b,
        Derivative(h, "e"),  # bound inside: prints otherwise with numbers
        Partial(Sym("E"), c),
        Neg(Var(a, 1.0)),  # not a leaf: the general walk
        Call(h, (Var(a, 0.5),)),
    ]
    for kind in (TextPrinter, LatexPrinter):
        for max_terms in (None, 4):
            fast, slow = kind(4, max_terms), general(kind, max_terms)
            for _ in range(400):
                tree = random_tree(rng, leaves)
                assert fast.both(tree) == (slow.doprint(tree), slow.doprint(tree, True)), tree
    assert TextPrinter(4).both(Sub(Var(a, -1.0), Mul((Num(0.1), Var(a, -3.0))))) == ("a_1 − 0.1·a_1", "-1 − 0.1·(-3)")


def test_equal_valued_distinct_symbols_and_primed_twins() -> None:
    p = TextPrinter(4)
    one, two = Sym("w", ("1", "2")), Sym("w", ("1", "2"))
    assert one is not two and p.doprint(one) == p.doprint(two) == "w_12"
    x = Sym("x", ("425",))
    indices = (x, "10")
    w, w_new = Sym("w", indices), Sym("w", indices, prime=True)  # as a dense layer makes them: one tuple
    assert [p.doprint(w), p.doprint(w_new), p.doprint(w), p.doprint(Partial(Sym("E"), w))] == [
        "w_(x425),10",
        "w'_(x425),10",
        "w_(x425),10",
        "∂E/∂w_(x425),10",
    ]
    assert p.doprint(Sym("b", indices, superscript="(2)")) == "b^(2)_(x425),10"  # another base, the same indices
    assert p.doprint(Sym("w", ("1", "2"), prime=True)) == "w'_12"


def test_a_dense_layer_makes_w_prime_from_w() -> None:
    from bpexplain.engine import build_layers

    layers = build_layers(load_network("lecture"))
    dense = [layer for layer in layers if hasattr(layer, "param_symbol") and "weight" in layer.spec.params][0]
    w, w_new = dense.param_symbol("weight", (0, 1)), dense.param_symbol("weight", (0, 1), prime=True)
    assert w_new.indices is w.indices and w_new.prime and not w.prime
    assert dense.param_symbol("weight", (0, 1), prime=True) is w_new  # made once


def test_nodes_made_and_dropped_print_right() -> None:
    """Ids of dropped nodes are reused by new ones: a cache by identity must never answer for a stranger."""
    p = TextPrinter(4)
    for k in range(3000):
        sym = Sym("w", (Sym("x", (str(k),)), str(k % 7)))
        leaf = Var(sym, k / 7)
        assert p.doprint(sym) == f"w_(x{k}){k % 7}"
        assert p.both(Mul((leaf, Var(Sym("δ", (str(k),)), -1.0)))) == (
            f"w_(x{k}){k % 7}·δ_{k}",
            f"{format_number(k / 7)}·(-1)",
        )
        del sym, leaf
        if k % 500 == 0:
            gc.collect()


@pytest.mark.parametrize("kind", [TextPrinter, LatexPrinter])
def test_caches_full_at_their_limit_stay_bounded_and_right(monkeypatch: pytest.MonkeyPatch, kind: type) -> None:
    monkeypatch.setattr(printer_module, "_CACHE_LIMIT", 8)
    fast, slow = kind(4, 8), general(kind, 8)
    rng = random.Random(3)
    syms = [Sym("w", (Sym("x", (str(k),)), str(k))) for k in range(40)]
    leaves = [Var(s, rng.uniform(-2, 2)) for s in syms]
    for _ in range(3):  # past the limit, and again once full
        for k in range(40):
            tree = Sub(leaves[k], Mul((leaves[(k * 7) % 40], leaves[(k * 3) % 40], Num(-0.5))))
            assert fast.both(tree) == (slow.doprint(tree), slow.doprint(tree, True))
            assert fast.symbol(syms[k]) == slow.doprint(syms[k])
    for cache in (fast._symbols, fast._indexes, fast._subscripts, fast._numbers, fast._leaves):
        assert len(cache) <= 8
    assert len(fast._kept) <= 4 * 8  # what keeps the cached nodes alive: bounded too


def reference_grid(arr: np.ndarray, precision: int, limit: int = 12) -> list[str]:
    """A 2-D grid as format_grid writes it, cell by cell from numpy's own scalars (written apart)."""
    rows = []
    for r in range(arr.shape[0]):
        cells = [format_number(float(arr[r, c]), precision) for c in range(arr.shape[1])]
        if len(cells) > limit:
            cells = cells[: limit // 2] + ["…"] + cells[-(limit // 2) :]
        rows.append(cells)
    if len(rows) > limit:
        rows = rows[: limit // 2] + [["⋮"] * len(rows[0])] + rows[-(limit // 2) :]
    width = max(len(c) for row in rows for c in row)
    return ["  ".join(c.rjust(width) for c in row) for row in rows]


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (12, 12), (13, 13), (20, 5), (5, 20), (2, 30), (100, 784)])
@pytest.mark.parametrize("precision", [1, 4, 10, 12, 15])
def test_format_grid_against_a_reference(shape: tuple[int, int], precision: int) -> None:
    rng = np.random.default_rng(sum(shape) * precision)
    arr = rng.normal(size=shape) * rng.choice([1e-8, 1.0, 1e5, 1e12], size=shape)
    arr.flat[0] = -0.0
    if arr.size > 2:
        arr.flat[1], arr.flat[2] = np.nan, -np.inf
    assert format_grid(arr, precision) == reference_grid(arr, precision)
    assert format_grid(arr[0], precision) == reference_grid(arr[:1], precision)  # a vector: one row
    for limit in (2, 5):  # other limits: the cells shown sliced first, as every cell made a float first shows them
        assert format_grid(arr, precision, limit) == numbers_module._whole_grid(arr, precision, limit)


def test_equation_columns_are_named_and_compare_as_before() -> None:
    eq = next(
        eq
        for ev in run(load_network("lecture"), RunOptions(command="train", steps=1))
        if isinstance(ev, Block)
        for eq in ev.equations
    )
    c = equation_columns(eq, TextPrinter(4, 8))
    assert (c.symbol, c.expression, c.value, c.once) == ("e_1", "w_(x1)1·x_1 + w_(x2)1·x_2", "0.37", False)
    assert c == equation_columns(eq, TextPrinter(4, 8)) and c._replace(symbol="z").symbol == "z"
