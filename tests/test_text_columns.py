"""The text printer's one-method columns and its shortcuts give what the general walk gives.

- `TextPrinter.columns` (an equation's symbol, expression, substituted numbers and value in one method) and
  `block_columns` against a printer with the fast path off, printing each column by `doprint`: every equation
  of the bundled networks, both notations, shortened and whole sums; and random equations whose symbols are
  new nodes (∂E/∂w with a fresh Partial, w' made from w's indices, symbols as indices) over shared leaves;
- the combining-mark flag: a printer that says it has printed no mark has printed none (every bundled network,
  names with marks and without), and one that printed x̂ says so;
- the text printer's number formatting (Python's `g` inline) against `format_number`, special values included.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Derivative, Elem, Expr, Func, Mul, Name, Num, Partial, Sub, Sym, Var
from bpexplain.render.common import block_columns, equation_columns
from bpexplain.render.numbers import format_number
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import load_network
from bpexplain.trace import Block, Equation

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two", "se-block", "attention"]


def general(max_terms: int | None) -> TextPrinter:
    p = TextPrinter(4, max_terms)
    p.fast = False
    return p


def reference(eq: Equation, p: TextPrinter) -> tuple[str, str, str, str]:
    """The four texts printed one by one by the general walk."""
    return p.doprint(eq.symbol), p.doprint(eq.bound), p.doprint(eq.bound, True), p.number(eq.value)


def bundled(name: str, notation: str) -> list[list[Equation]]:
    options = {"batch": "full"} if name in ("batchnorm",) else {}
    events = run(load_network(name), RunOptions(command="train", steps=2, notation=notation, **options))  # type: ignore[arg-type]
    return [list(ev.equations) for ev in events if isinstance(ev, Block) and ev.equations]


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
@pytest.mark.parametrize("name", NETWORKS)
def test_columns_print_as_the_general_walk(name: str, notation: str) -> None:
    blocks = bundled(name, notation)
    assert blocks
    for max_terms in (8, None, 2):
        fast, slow, other = TextPrinter(4, max_terms), general(max_terms), general(max_terms)
        for eqs in blocks:
            for eq in eqs:
                assert fast.columns(eq.symbol, eq.bound, eq.value) == reference(eq, slow), (name, eq.symbol)
            # a block at once, as text writes it, against equation_columns of a general printer
            assert block_columns(eqs, TextPrinter(4, max_terms)) == [equation_columns(eq, other) for eq in eqs]


def random_equations(rng: random.Random, count: int) -> list[Equation]:
    """Gradients and updates of weights whose symbols are met first in the equation (a new Partial every time,
    w' sharing w's indices, a symbol as an index), over leaves shared among the equations, and other shapes."""
    inputs = [Sym("x", (str(k),)) for k in range(1, 6)]
    errors = [Var(Sym("δ", (str(k),)), rng.uniform(-1, 1)) for k in range(1, 4)]
    derivs = [Var(Derivative(Sym("h", (str(k),)), "e"), rng.uniform(-1, 1)) for k in range(1, 4)]
    xs = [Var(s, rng.choice([-0.5, 0.0, 0.25, float("nan"), -1e-9, 3e12])) for s in inputs]
    eta = Var(Sym("η"), 0.1)
    out = []
    for _ in range(count):
        m, n = rng.randrange(5), rng.randrange(3)
        index: str | Sym = inputs[m] if rng.random() < 0.5 else str(m + 1)
        w = Sym("w", (index, str(n + 101)), superscript=rng.choice(["", "(2)"]))
        w_new = Sym(w.base, w.indices, prime=True, superscript=w.superscript)
        factors = (errors[n], derivs[n], xs[m])[: rng.randint(1, 3)]
        shape = rng.randrange(6)
        if shape == 0:
            out.append(Equation("gradient", Partial(Sym("E"), w), Mul(factors), rng.uniform(-1, 1)))
        elif shape == 1:
            bound = Sub(Var(w, rng.uniform(-1, 1)), Mul((eta, *factors)))
            out.append(Equation("update", w_new, bound, rng.uniform(-1, 1)))
        elif shape == 2:
            bound = Sub(Mul((eta, xs[m])), Var(w, -0.5))  # a product first: not the update's shape
            out.append(Equation("update", w_new, bound, 0.0))
        elif shape == 3:
            terms = tuple(Mul((Var(w, rng.uniform(-1, 1)), xs[k % 5])) for k in range(rng.randint(1, 12)))
            out.append(Equation("forward", Sym("e", (str(n + 1),)), Add(terms), rng.uniform(-1, 1)))
        elif shape == 4:
            h = Func(Sym("h", (str(n + 1),)), Name("σ"))
            out.append(Equation("error", Elem("δO1", ("1", str(m + 1))), Mul((errors[n], Derivative(h, "e"))), 1.0))
        else:
            out.append(Equation("forward", Partial(Sym("E"), Elem("K1", (inputs[m], "2"))), Num(-2.0), -2.0))
    return out


def test_columns_on_random_equations_of_new_symbols() -> None:
    rng = random.Random(11)
    eqs = random_equations(rng, 600)
    for max_terms in (None, 4):
        fast, slow = TextPrinter(4, max_terms), general(max_terms)
        for eq in eqs:
            assert fast.columns(eq.symbol, eq.bound, eq.value) == reference(eq, slow), eq
        assert block_columns(eqs, TextPrinter(4, max_terms)) == [equation_columns(eq, general(max_terms)) for eq in eqs]
    w = Sym("w", (Sym("x", ("3",)), "12"))
    p = TextPrinter(4)
    assert p.columns(Partial(Sym("E"), w), Mul((Var(Sym("δ", ("12",)), -0.5), Var(Sym("x", ("3",)), -2.0))), 1.0) == (
        "∂E/∂w_(x3),12",
        "δ_12·x_3",
        "-0.5·(-2)",
        "1",
    )  # written apart from both paths


def marked(text: str) -> bool:
    return any(unicodedata.combining(c) for c in text)


@pytest.mark.parametrize("name", ["lecture", "homework-cnn", "attention", "batchnorm"])
def test_a_printer_without_marks_printed_none(name: str) -> None:
    p = TextPrinter(4, 8)
    seen = False
    for eqs in bundled(name, "lecture"):
        texts = [t for eq in eqs for t in p.columns(eq.symbol, eq.bound, eq.value)]
        seen = seen or any(map(marked, texts))
        if not p.marks:
            assert not seen, name
    assert p.marks == seen  # batchnorm writes x̂: a mark, and the printer says so
    assert seen == (name == "batchnorm")


def test_marks_from_every_kind_of_name() -> None:
    hat = "x\u0302"
    nodes: list[Expr] = [
        Sym(hat, ("1",)),
        Sym("w", (Sym(hat, ("1",)), "2")),  # a symbol as an index
        Elem(hat + "BN1", ("1",)),
        Name("σ" + "\u0303"),
        Derivative(Sym("h", ("1",)), "e\u0301"),
        Sym("y", ("1\u0302",)),
    ]
    for node in nodes:
        p = TextPrinter()
        assert not p.marks
        text = p.doprint(node)
        assert marked(text) and p.marks, text
    p = TextPrinter()
    p.doprint(Mul((Var(Sym("ŷ", ("1",)), 1.0), Var(Sym("w", ("1", "2")), -1.0))), numbers=True)
    p.doprint(Sym("ŷ"))  # ŷ is one precomposed character: no mark
    assert not p.marks


@pytest.mark.parametrize("precision", [1, 3, 4, 9, 10, 12, 15])
def test_text_numbers_are_format_number(precision: int) -> None:
    rng = random.Random(precision)
    values = [0.0, -0.0, float("nan"), float("inf"), -float("inf"), 1e9, -1e9, 999999999.5, 1e-6, 9.99999e-7, -1e-300]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 14) for _ in range(2000)]
    values += [1, -3, 10**12]
    p = TextPrinter(precision)
    for v in values:
        assert p.number(v) == format_number(v, precision), (v, precision)
        assert p.number(v) == format_number(v, precision)  # and from its cache
