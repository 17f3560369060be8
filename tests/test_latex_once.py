"""LaTeX prints each equation once, and breaks it where it broke when the plain text was printed beside it.

- `LatexPrinter.measured` gives `doprint`'s LaTeX and the length of `TextPrinter`'s text for the same node:
  on every equation of every bundled network (both notations, the slide rule, --round, shortened and whole
  sums) and on random trees of every node class;
- `LatexRenderer.equation` writes what the former two-print code wrote (kept here as the reference), on
  those equations and on made-up ones whose widths sit at the break, including those whose columns have
  the same length (where the widths alone cannot tell);
- prose: the fast path of `latex_text` / `latex_literal` (text that means nothing to TeX) gives what the
  character-by-character spelling gives.
"""

from __future__ import annotations

import random
import string

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import (
    Add,
    Call,
    Derivative,
    Div,
    Elem,
    Expr,
    Func,
    Mul,
    Name,
    Neg,
    Num,
    Partial,
    Pow,
    Sub,
    Sym,
    Var,
)
from bpexplain.render import latex_printer
from bpexplain.render.common import equation_columns
from bpexplain.render.latex import LONG, LatexRenderer, _fits, wrap_sum
from bpexplain.render.latex_printer import LatexPrinter, latex_literal, latex_text
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import load_network
from bpexplain.trace import Block, Equation

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two"]
SETTINGS = [
    {},
    {"notation": "textbook"},
    {"rule": "slide"},
    {"round": 3},
    {"precision": 2},
]


def equations(name: str, **options: object) -> list[Equation]:
    events = run(load_network(name), RunOptions(command="train", steps=2, **options))  # type: ignore[arg-type]
    return [eq for ev in events if isinstance(ev, Block) for eq in ev.equations]


def old_equation(renderer: LatexRenderer, eq: Equation) -> str:
    """`LatexRenderer.equation` as it was: the LaTeX columns, and the text columns printed to judge the width."""
    c = equation_columns(eq, renderer.printer)
    parts = [c.value] if c.once else [c.expression] + ([c.substituted] if c.substituted else []) + [c.value]
    remark = ""
    if eq.exact is not None:
        remark = r" \quad \left(\neq " + renderer.printer.number(eq.exact) + r"\text{ by the exact chain rule}\right)"
    elif eq.note:
        remark = r" \quad \text{(" + renderer.prose(eq.note) + ")}"
    t = equation_columns(eq, TextPrinter(renderer.precision, renderer.printer.max_terms))
    width = len(t.symbol) + len(t.expression) + len(t.substituted) + len(t.value) + len(t.remark) + 9
    if width <= LONG:
        return f"{c.symbol} &= " + " = ".join(parts) + remark
    return f"{c.symbol} &= " + r" \\ &= ".join(wrap_sum(part) for part in parts) + remark


def check_measured(printer: LatexPrinter, text: TextPrinter, node: Expr) -> None:
    for numbers in (False, True):
        latex, width = printer.measured(node, numbers)
        assert latex == LatexPrinter(printer.precision, printer.max_terms).doprint(node, numbers)
        assert width == len(text.doprint(node, numbers)), (text.doprint(node, numbers), width)
        assert printer.numbers is False and printer.text is not None and printer.text.numbers is False


@pytest.mark.parametrize("name", NETWORKS)
def test_measured_is_the_latex_and_the_text_width_on_every_bundled_equation(name: str) -> None:
    for options in SETTINGS:
        precision = int(options.get("precision", 4))  # type: ignore[call-overload]
        eqs = equations(name, **options)
        for max_terms in (8, None, 2):
            printer, text = LatexPrinter(precision, max_terms), TextPrinter(precision, max_terms)
            for eq in eqs:
                check_measured(printer, text, eq.symbol)
                check_measured(printer, text, eq.bound)
                for value in (eq.value, eq.exact):
                    if value is not None:
                        assert printer.measured_number(value) == (printer.number(value), len(text.number(value)))


def test_measured_on_lenet5_every_fiftieth_equation() -> None:
    eqs = [
        eq for ev in run(load_network("lenet5"), RunOptions(steps=1)) if isinstance(ev, Block) for eq in ev.equations
    ]
    printer, text = LatexPrinter(4, 8), TextPrinter(4, 8)
    for eq in eqs[::50]:
        check_measured(printer, text, eq.symbol)
        check_measured(printer, text, eq.bound)


# ---- random trees of every node class --------------------------------------------------------------

NUMBERS = [0.5, -0.25, 1.0, 2.0, -1.0, 0.0, 1e-9, -3.5e-8, 1.5e12, float("inf"), float("-inf"), float("nan"), 1 / 3]


def random_leaf(rng: random.Random) -> Expr:
    bases = ["w", "δ", "y", "ŷ", "x̂", "E", "net", "h", "β", "weird_name", "é"]
    sym = Sym(
        rng.choice(bases), tuple(rng.choice(["1", "14", "x1", "c", Sym("x", ("2",))]) for _ in range(rng.randint(0, 2)))
    )
    if rng.random() < 0.2:
        sym = Sym(sym.base, sym.indices, prime=True, superscript=rng.choice(["", "s"]))
    if rng.random() < 0.2:
        sym = Elem("O" + rng.choice(["1", "2"]), ("1", "2", "3"), prime=rng.random() < 0.3)
    pick = rng.random()
    if pick < 0.35:
        return Var(sym, rng.choice(NUMBERS))
    if pick < 0.5:
        return Num(rng.choice(NUMBERS))
    if pick < 0.6:
        return sym
    if pick < 0.7:
        return Var(Derivative(Sym("h", ("4",)), "e"), rng.choice(NUMBERS))
    if pick < 0.8:
        return Partial(Sym("E"), sym)
    if pick < 0.9:
        return Name(rng.choice(["σ", "tanh", "ReLU", "exp", "h_4", "softmax'"]))
    return Var(Derivative(Func(Sym("h", ("5",)), Name("σ")), "e"), rng.choice(NUMBERS))


def random_tree(rng: random.Random, depth: int) -> Expr:
    if depth == 0 or rng.random() < 0.25:
        return random_leaf(rng)
    kind = rng.choice(["add", "sub", "mul", "div", "neg", "pow", "call", "half", "square"])
    sub = lambda: random_tree(rng, depth - 1)  # noqa: E731
    if kind == "add":
        return Add(tuple(sub() for _ in range(rng.randint(2, 12))))
    if kind == "sub":
        return Sub(sub(), sub())
    if kind == "mul":
        return Mul(tuple(sub() for _ in range(rng.randint(2, 4))))
    if kind == "div":
        return Div(sub(), sub())
    if kind == "neg":
        return Neg(sub())
    if kind == "pow":
        return Pow(sub(), sub())
    if kind == "half":
        return Mul((Div(Num(1.0), Num(2.0)), Pow(Sub(sub(), sub()), Num(2.0))))
    if kind == "square":
        return Pow(sub(), Var(Sym("n"), 2.0))
    func = rng.choice([Func(Sym("h", ("4",)), Name("σ")), Name("exp"), Func(Name("f"), Name("ReLU"))])
    return Call(func, tuple(sub() for _ in range(rng.randint(1, 3))))


def test_measured_on_random_trees_of_every_node_class() -> None:
    rng = random.Random(14)
    for _ in range(1500):
        tree = random_tree(rng, rng.randint(0, 4))
        precision, max_terms = rng.choice([1, 4, 12]), rng.choice([None, 2, 8])
        check_measured(LatexPrinter(precision, max_terms), TextPrinter(precision, max_terms), tree)


# ---- the break: as before ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NETWORKS)
def test_equation_is_written_as_by_the_two_print_code(name: str) -> None:
    for options in SETTINGS:
        precision = int(options.get("precision", 4))  # type: ignore[call-overload]
        for max_terms in (8, None, 2):
            renderer = LatexRenderer(precision, max_terms)
            for eq in equations(name, **options):
                assert renderer.equation(eq) == old_equation(renderer, eq)


def made_up_equations(rng: random.Random) -> list[Equation]:
    """Equations whose text is about LONG wide, some with columns of equal length or equal text."""
    out = []
    for _ in range(3000):
        n = rng.randint(1, 9)
        sym = Sym("w", (str(rng.randint(1, 99)), str(rng.randint(1, 9))), prime=rng.random() < 0.5)
        terms = tuple(Mul((Var(Sym("a", (str(k),)), rng.choice(NUMBERS)), Var(Sym("b"), 0.5))) for k in range(n))
        shape = rng.random()
        if shape < 0.2:
            bound: Expr = Var(Sym("y", (str(rng.randint(1, 999)),)), rng.choice(NUMBERS))  # substituted = value
        elif shape < 0.3:
            bound = Num(rng.choice(NUMBERS))  # said once
        elif shape < 0.4:
            bound = Neg(Num(rng.choice(NUMBERS)))
        elif shape < 0.5:
            bound = Mul((Num(0.5), Num(0.25)))  # expression = substituted
        elif shape < 0.6:  # the symbol the same length as its number: "a_1" and "0.5"
            bound = Add(tuple(Var(Sym("a", (str(k % 10),)), 0.5) for k in range(n)))
        else:
            bound = Add(terms) if n > 1 else terms[0]
        value = rng.choice(NUMBERS + [0.125, 0.5])
        exact = rng.choice([None, None, 0.123456, -2e-9])
        note = rng.choice(["", "", "departs", "x" * rng.randint(1, 40)])
        out.append(Equation.of("update", sym, bound, value, exact=exact, note=note))
    return out


def test_equation_breaks_as_before_at_the_border_and_where_widths_cannot_tell() -> None:
    rng = random.Random(80)
    undecided = 0
    for max_terms in (8, None):
        for precision in (1, 4, 12):
            renderer = LatexRenderer(precision, max_terms)
            renderer.printer.measured(Num(0.0))  # the text printer beside it exists from here on
            for eq in made_up_equations(rng):
                assert renderer.equation(eq) == old_equation(renderer, eq)
                text = TextPrinter(precision, max_terms)
                x, u = len(text.doprint(eq.bound)), len(text.doprint(eq.bound, True))
                v = len(text.number(eq.value))
                s = len(text.doprint(eq.symbol)) + (
                    len(eq.note) if eq.exact is None else 26 + len(text.number(eq.exact))
                )
                undecided += _fits(eq, s, x, u, v) is None
    assert undecided > 0  # the text itself was consulted: the case is exercised


def test_fits_leaves_it_open_only_where_equal_lengths_might_be_equal_texts() -> None:
    eq = Equation.of("update", Sym("w"), Var(Sym("a", ("1",)), 0.5), 0.5)
    assert _fits(eq, 60, 3, 6, 5) is False  # lengths all differ: the full width, 60 + 3 + 6 + 5 + 9 = 83
    assert _fits(eq, 50, 3, 5, 5) is True  # 72 with the substituted column, 67 without: fits either way
    assert _fits(eq, 64, 3, 5, 5) is False  # 86 or 81: over either way
    assert _fits(eq, 60, 3, 5, 5) is None  # 82 if the substituted column differs from the value, 77 if not
    number = Equation.of("update", Sym("w"), Num(0.5), 0.5)  # a bare number: said once when it reads as the value
    assert _fits(number, 60, 5, 5, 3) is None  # 82 in full; 77, or 75 said once, when the substituted is dropped
    assert _fits(number, 60, 3, 3, 3) is True  # 78, 75 or said once 75


# ---- prose -----------------------------------------------------------------------------------------


def test_prose_fast_path_is_the_spelled_text() -> None:
    rng = random.Random(7)
    alphabet = string.printable[:95] + "δ–é…"
    samples = ["", "*", "*a", "[x]", "a--b", "?`", "!`", ",,", "''", "``", "e_4", "x_(1)2", "50%", "a\\b", "plain"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    samples += [
        "".join(rng.choice(string.ascii_letters + " .,:;()=+-/*!?'") for _ in range(rng.randint(0, 12)))
        for _ in range(3000)
    ]
    for text in samples:
        for subscripts, public in ((True, latex_text), (False, latex_literal)):
            assert public(text) == latex_printer._spelled(text, subscripts), (text, subscripts)
            assert public(text) == public(text)  # the second time from the cache
