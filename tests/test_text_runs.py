"""The text printer's third round of shortcuts gives what the general walk gives.

- a product whose factors but the last are the very nodes of the product before (a dense layer's gradients of one
  unit, δ_n·dh_n(e)/de·y_m for every m, and its updates' η·δ_n·dh_n(e)/de·y_m) takes those factors' texts from that
  product (`_runs`): runs of two to five factors, leading and after w_mn −, broken and resumed, over nodes that are
  equal but not the same, against a printer with the fast path off printing each column by `doprint`;
- an update's symbol w'_mn made from the text of the w_mn it starts from (in `TextPrinter.columns`): the same
  indices, other indices of the same text, other superscripts and bases, a w_mn not printed before, a primed start;
- a difference of leaves as a product's factor (y_4·(1 − y_4)), leading or not, nested differences apart;
- a block's lines (`equation_lines`, one %-template a block) against the lines padded column by column by
  `str.ljust`.
"""

from __future__ import annotations

import random

from bpexplain.expr import Derivative, Expr, Mul, Num, Partial, Sub, Sym, Var
from bpexplain.render.common import EquationColumns, block_columns, equation_columns
from bpexplain.render.printer import TextPrinter
from bpexplain.render.text import TextRenderer
from bpexplain.trace import Equation


def general() -> TextPrinter:
    p = TextPrinter(4, 8)
    p.fast = False
    return p


def reference(eq: Equation, p: TextPrinter) -> tuple[str, str, str, str]:
    return p.doprint(eq.symbol), p.doprint(eq.bound), p.doprint(eq.bound, True), p.number(eq.value)


def unit_runs(rng: random.Random, count: int) -> list[Equation]:
    """Gradients and updates as a dense layer makes them, unit by unit (a unit's factors one tuple), with runs
    broken: another unit's equation between, equal but distinct factor nodes, two to five factors, other E."""
    inputs = [Var(Sym("x", (str(k),)), rng.choice([-0.5, 0.25, 1.0, -2.0])) for k in range(1, 7)]
    units = []
    for n in range(1, 5):
        delta = Var(Sym("δ", (str(n),)), rng.choice([-0.25, 0.5]))
        deriv = Var(Derivative(Sym("h", (str(n),)), "e"), rng.uniform(-1, 1))
        extra = Var(Sym("g", (str(n),)), -1.5)
        units.append((delta, deriv, extra)[: rng.randint(0, 3)])
    eta = Var(Sym("η"), 0.1)
    losses = [Sym("E"), Sym("E", superscript="(2)")]
    out: list[Equation] = []
    while len(out) < count:
        n = rng.randrange(len(units))
        factors: tuple[Expr, ...] = units[n]
        if rng.random() < 0.2:  # the same leaves as new nodes: equal, not the same
            factors = tuple(Var(f.sym, f.value) for f in factors)  # type: ignore[attr-defined]
        update = rng.random() < 0.5
        for m in rng.sample(range(len(inputs)), rng.randint(1, len(inputs))):
            w = Sym("w", (inputs[m].sym, str(n + 1)))  # type: ignore[attr-defined, arg-type]
            product = Mul(((eta,) if update else ()) + factors + (inputs[m],))
            if update:
                w_new = Sym("w", w.indices, prime=True)
                out.append(Equation("update", w_new, Sub(Var(w, rng.uniform(-1, 1)), product), rng.uniform(-1, 1)))
            else:
                bound: Expr = product if len(product.factors) > 1 else product.factors[0]
                out.append(Equation("gradient", Partial(rng.choice(losses), w), bound, rng.uniform(-1, 1)))
    return out


def test_runs_of_a_unit_as_the_general_walk() -> None:
    rng = random.Random(5)
    for _ in range(20):
        eqs = unit_runs(rng, 300)
        fast, slow = TextPrinter(4, 8), general()
        for eq in eqs:
            assert fast.columns(eq.symbol, eq.bound, eq.value) == reference(eq, slow), eq
        assert block_columns(eqs, TextPrinter(4, 8)) == [equation_columns(eq, general()) for eq in eqs]


def test_a_run_of_products_leading_and_after_a_difference() -> None:
    p = TextPrinter(4)
    d, h = Var(Sym("δ", ("3",)), -0.5), Var(Derivative(Sym("h", ("3",)), "e"), 0.25)
    x1, x2 = Var(Sym("x", ("1",)), -2.0), Var(Sym("x", ("2",)), 4.0)
    assert p.both(Mul((d, h, x1))) == ("δ_3·dh_3(e)/de·x_1", "-0.5·0.25·(-2)")
    assert p.both(Mul((d, h, x2))) == ("δ_3·dh_3(e)/de·x_2", "-0.5·0.25·4")  # the run's texts, the last new
    w = Var(Sym("w", ("1", "3")), 1.0)
    assert p.both(Sub(w, Mul((d, h, x1)))) == ("w_13 − δ_3·dh_3(e)/de·x_1", "1 − (-0.5)·0.25·(-2)")
    assert p.both(Sub(w, Mul((d, h, x2)))) == ("w_13 − δ_3·dh_3(e)/de·x_2", "1 − (-0.5)·0.25·4")  # bracketed
    assert p.both(Mul((d, h, x2))) == ("δ_3·dh_3(e)/de·x_2", "-0.5·0.25·4")  # the leading run kept apart
    assert p.both(Mul((d, Num(-1.0), x2))) == ("δ_3·(-1)·x_2", "-0.5·(-1)·4")  # one factor not the same


def test_a_primed_symbol_from_its_unprimed_text() -> None:
    x = Sym("x", ("425",))
    cases = [
        (Sym("w", (x, "10")), None, "w'_(x425),10"),
        (Sym("w", (x, "1"), superscript="(2)"), None, "w'^(2)_(x425)1"),
        (Sym("w", ("1", "2")), ("1", "2"), "w'_12"),  # equal indices, not the same tuple
        (Sym("w", ("1", "2")), "b", "b'_12"),  # another base
        (Sym("w", ("1", "2"), superscript="(1)"), "sup", "w'^(2)_12"),  # another superscript
        (Sym("w", ("3", "4"), prime=True), "primed", "w'_34"),  # a primed start: not made from its text
    ]
    for old, other, expected in cases:
        if other is None:
            new = Sym(old.base, old.indices, prime=True, superscript=old.superscript)
        elif other == "b":
            new = Sym("b", old.indices, prime=True)
        elif other == "sup":
            new = Sym(old.base, old.indices, prime=True, superscript="(2)")
        elif other == "primed":
            new = Sym(old.base, old.indices, prime=True)
        else:
            new = Sym(old.base, other, prime=True)  # type: ignore[arg-type]
        bound = Sub(Var(old, 0.5), Mul((Var(Sym("η"), 0.1), Var(Sym("δ", ("1",)), 2.0))))
        for printed_first in (True, False):
            p, slow = TextPrinter(4), general()
            if printed_first:
                p.symbol(old)
            columns = p.columns(new, bound, 0.3)
            assert columns[0] == slow.doprint(new) == expected, (old, other)
            assert columns[1:] == (slow.doprint(bound), slow.doprint(bound, True), "0.3")


def padded(cols: list[EquationColumns]) -> list[str]:
    """Equation lines with every column padded by `str.ljust` (written apart from the %-template)."""
    texts = [(c.symbol, c.expression, c.substituted) for c in cols]
    widths = [max(len(t[i]) for t in texts) for i in range(3)]
    return ["    " + " = ".join(t[i].ljust(widths[i]) for i in range(3)) + " = " + c.value for t, c in zip(texts, cols)]


def test_block_lines_as_padded_column_by_column() -> None:
    rng = random.Random(2)
    eqs = [eq for eq in unit_runs(rng, 200)]
    renderer = TextRenderer(4, 8)
    cols = block_columns(eqs, renderer.printer)
    assert all(c.substituted and not c.remark and not c.once for c in cols)
    assert renderer.equation_lines(cols) == padded(cols)
    # a block without numbers: symbol = expression = value, the template's middle field left out
    bare = [EquationColumns(c.symbol, c.expression, "", c.value, "", False) for c in cols[:30]]
    w = [max(len(c.symbol) for c in bare), max(len(c.expression) for c in bare)]
    assert renderer.equation_lines(bare) == [
        f"    {c.symbol.ljust(w[0])} = {c.expression.ljust(w[1])} = {c.value}" for c in bare
    ]


def test_differences_as_factors_as_the_general_walk() -> None:
    """y_4·(1 − y_4), (−1 − y)·x, a difference leading or not, of numbers, bound leaves and symbols of every sign,
    nested differences and sums (which take the general walk), against a printer with the fast path off."""
    rng = random.Random(9)
    leaves: list[Expr] = [
        Num(1.0),
        Num(-1.0),
        Num(0.5),
        Var(Sym("y", ("4",)), 0.25),
        Var(Sym("y", ("5",)), -0.75),
        Var(Derivative(Sym("h", ("2",)), "e"), -2.0),
        Var(Partial(Sym("E"), Sym("e", ("3",))), 3.0),
        Sym("η"),
    ]

    def difference(depth: int) -> Expr:
        left = difference(depth - 1) if depth and rng.random() < 0.3 else rng.choice(leaves)
        right = difference(depth - 1) if depth and rng.random() < 0.3 else rng.choice(leaves)
        return Sub(left, right)

    for _ in range(2000):
        factors = tuple(difference(2) if rng.random() < 0.5 else rng.choice(leaves) for _ in range(rng.randint(1, 4)))
        tree: Expr = Mul(factors)
        if rng.random() < 0.3:
            tree = Sub(rng.choice(leaves), tree)
        fast, slow = TextPrinter(4, 8), general()
        assert fast.both(tree) == (slow.doprint(tree), slow.doprint(tree, True)), tree
        eq = Equation("error", Sym("δ", ("1",)), tree, 0.5)
        assert fast.columns(eq.symbol, eq.bound, eq.value) == reference(eq, general()), tree
    p = TextPrinter(4)
    y = Var(Sym("y", ("4",)), -0.5)
    assert p.both(Mul((y, Sub(Num(1.0), y)))) == ("y_4·(1 − y_4)", "-0.5·(1 − (-0.5))")  # written apart
    assert p.both(Mul((Sub(Num(-1.0), y), y))) == ("(-1 − y_4)·y_4", "(-1 − (-0.5))·(-0.5)")
