"""The text format's shortcuts give what the general code gives.

- a `Sym` or `Elem` printed for the first time (`TextPrinter.symbol` and `_print`, without the dispatch) against
  `Printer._print`'s dispatch to `_print_Sym` / `_print_Elem`, the combining-mark flag included: every symbol of
  the bundled networks' equations and legends, and odd symbols (primes, superscripts, symbols as indices, marks);
- a bound function's call on bound leaves (`TextPrinter._call`) and a sum walked in one method (`_both`) against
  the general walk (`doprint` with the fast path off), on random trees of every leaf kind and sign;
- a product's kept leaf texts (`_pair`) against the loop written out here (a join by `map` was tried: slower);
- the summary table by one format (`_table`), the legend and the network table by one format each, against the
  column-by-column padding they replaced (the padding by drawn width is forced to compare the two).
"""

from __future__ import annotations

import io
import random

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Call, Derivative, Elem, Expr, Func, Mul, Name, Num, Partial, Sym, Var
from bpexplain.render import text as text_module
from bpexplain.render.printer import Printer, TextPrinter
from bpexplain.render.text import TextRenderer, _table
from bpexplain.spec import load_network
from bpexplain.trace import Block, TraceHeader

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two", "se-block", "attention", "batchnorm"]


def events(name: str, steps: int = 2) -> list:
    options = {"batch": "full"} if name == "batchnorm" else {}
    return list(run(load_network(name), RunOptions(command="train", steps=steps, **options)))  # type: ignore[arg-type]


def nodes(node: object, out: list[Expr]) -> list[Expr]:
    """Every node of a tree, in order (indices that are symbols included)."""
    if isinstance(node, Expr):
        out.append(node)
        for name in node.__match_args__:
            child = getattr(node, name)
            for c in child if type(child) is tuple else (child,):
                nodes(c, out)
    return out


def general(max_terms: int | None = 8) -> TextPrinter:
    p = TextPrinter(4, max_terms)
    p.fast = False
    return p


def dispatched(p: TextPrinter, node: Expr) -> str:
    """`Printer._print`: the cache looked up, then `_print_<Class>` found by the node's class."""
    return Printer._print(p, node, True)


def odd_symbols() -> list[Expr]:
    unit = Sym("h", ("1",))
    hat = Sym("x\u0302", ("2",))
    return [
        Sym("w", ("1", "2")),
        Sym("w", ("1", "2"), prime=True),
        Sym("w", ("12", "3"), superscript="(2)"),
        Sym("w", (unit, "3"), prime=True, superscript="(1)"),
        Sym("w", (unit, hat)),
        Sym("b", ("10",)),
        Sym("η"),
        hat,
        Sym("y\u0302"),
        Sym("δ", ("1", "2", "3")),
        Sym("δ", ("1", "23", "4")),
        Elem("O1", ("2", "3")),
        Elem("K1", ("1", "1"), prime=True),
        Elem("δO1", (unit, "2"), superscript="(3)"),
        Elem("x\u0302", ("1",)),
    ]


@pytest.mark.parametrize("name", NETWORKS)
def test_first_printed_symbols_as_dispatched(name: str) -> None:
    found: list[Expr] = []
    for ev in events(name):
        if isinstance(ev, TraceHeader):
            for sym, _ in ev.legend:
                nodes(sym, found)
        elif isinstance(ev, Block):
            for eq in ev.equations:
                nodes(eq.symbol, found)
                nodes(eq.bound, found)
    symbols = [n for n in found if type(n) in (Sym, Elem)] + odd_symbols()
    assert len(symbols) > 20
    fast, slow = TextPrinter(4, 8), TextPrinter(4, 8)
    for node in symbols:
        assert fast.symbol(node) == dispatched(slow, node), node
        assert fast._print(node) == dispatched(slow, node), node
        assert fast.marks == slow.marks
    # each kind alone on a new printer: the flag set by the very text that has a mark
    for node in odd_symbols():
        fast, slow = TextPrinter(), TextPrinter()
        assert fast._print(node, True) == dispatched(slow, node)
        assert fast.marks == slow.marks == ("\u0302" in dispatched(TextPrinter(), node))


def leaf(rng: random.Random) -> Expr:
    value = rng.choice([-2.5, -1e-9, 0.0, -0.0, 0.3, 7.0, 1e12, float("nan"), float("-inf")])
    k = str(rng.randint(1, 12))
    kind = rng.randrange(6)
    if kind == 0:
        return Var(Sym("y", (k,)), value)
    if kind == 1:
        return Var(Derivative(Sym("h", (k,)), "e"), value)
    if kind == 2:
        return Var(Partial(Sym("E"), Sym("e", (k,))), value)
    if kind == 3:
        return Num(value)
    if kind == 4:
        return Var(Elem("O1", (k, "1")), value)
    return Var(Sym("x\u0302", (k,)), value)


def test_calls_and_sums_as_the_general_walk() -> None:
    rng = random.Random(14)
    for _ in range(400):
        max_terms = rng.choice([None, 8, 2])
        fast, slow = TextPrinter(4, max_terms), general(max_terms)
        name = Name(rng.choice(["σ", "tanh", "ReLU", "x\u0302"]))
        args = tuple(leaf(rng) for _ in range(rng.randint(1, 3)))
        call = Call(Func(Sym("h", (str(rng.randint(1, 9)),)), name), args)
        texts = fast._call(call)
        if all(type(a) is Var for a in args):
            assert texts == (slow.doprint(call), slow.doprint(call, True))
            assert fast.marks == slow.marks
        else:
            assert texts is None
        terms: list[Expr] = []
        for _ in range(rng.randint(1, 14)):
            factors = tuple(leaf(rng) for _ in range(rng.randint(1, 3)))
            terms.append(factors[0] if len(factors) == 1 else Mul(factors))
        total = Add(tuple(terms))
        fast, slow = TextPrinter(4, max_terms), general(max_terms)
        assert fast._both(total) == (slow.doprint(total), slow.doprint(total, True))
        assert fast.columns(Sym("e", ("1",)), call, 0.5) == (
            "e_1",
            slow.doprint(call),
            slow.doprint(call, True),
            slow.number(0.5),
        )
    # a call the one method leaves to the general walk: a call of a bare name, an argument not a leaf
    p = TextPrinter()
    assert p._call(Call(Name("exp"), (Var(Sym("e"), 1.0),))) is None
    assert p._call(Call(Func(Sym("h"), Name("σ")), (Mul((Num(2.0), Var(Sym("e"), 1.0))),))) is None


def old_pair(p: TextPrinter, factors: tuple[Expr, ...], lead: bool) -> tuple[str, str] | None:
    """`_pair` written out: each factor's kept texts, the first as it leads."""
    symbols, numbers = [], []
    for factor in factors:
        entry = p._leaves.get(id(factor)) or p._kept_leaf(factor)
        if entry is None:
            return None
        if lead:
            symbols.append(entry[0])
            numbers.append(entry[2])
            lead = False
        else:
            symbols.append(entry[1])
            numbers.append(entry[3])
    return "·".join(symbols), "·".join(numbers)


def test_products_as_the_loop() -> None:
    rng = random.Random(3)
    shared = [leaf(rng) for _ in range(20)]
    p, q = TextPrinter(), TextPrinter()
    for _ in range(500):
        factors = tuple(rng.choice(shared) for _ in range(rng.randint(1, 4)))
        lead = rng.random() < 0.5
        assert p._pair(factors, lead) == old_pair(q, factors, lead)
    odd = (Var(Sym("y"), 1.0), Add((Num(1.0), Num(2.0))))  # a factor that is no leaf
    assert p._pair(odd, True) is None is old_pair(q, odd, True)


def old_table(rows: list[list[str]], n: int) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    return [
        "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        for row in rows
    ]


def test_summary_table_as_padded_cell_by_cell() -> None:
    rng = random.Random(5)
    cells = ["", "…", "E", "w_14", "0.1234", "-1.5e-07", "step 12", "{}", "x̂_1", "E after"]
    for _ in range(200):
        n = rng.randint(2, 7)
        rows = [[rng.choice(cells) for _ in range(n)] for _ in range(rng.randint(1, 6))]
        assert _table(rows, n) == old_table(rows, n)
    ragged = [["a", "bb"], ["dd", "e", "extra"]]  # a cell beyond the heads: left out, as zip left it
    assert _table(ragged, 2) == old_table(ragged, 2)


class _EveryTextMarked:
    """`text._COMBINING` for a test: every text said to have a mark (the padding by drawn width taken), the
    marks themselves still counted."""

    def __init__(self, pattern: object) -> None:
        self.pattern = pattern

    def search(self, text: str) -> bool:
        return True

    def findall(self, text: str) -> list[str]:
        return self.pattern.findall(text)  # type: ignore[attr-defined, no-any-return]

    def sub(self, *args: object) -> str:
        return self.pattern.sub(*args)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("name", NETWORKS + ["lenet5"])
def test_legend_and_network_table_as_padded_by_drawn_width(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    header = run(load_network(name), RunOptions(command="train", steps=1, batch="full"))  # type: ignore[arg-type]
    first = next(iter(header))
    assert isinstance(first, TraceHeader)

    def written() -> str:
        r = TextRenderer()
        out = io.StringIO()
        r.write([first], out)
        return out.getvalue()

    fast = written()
    monkeypatch.setattr(text_module, "_COMBINING", _EveryTextMarked(text_module._COMBINING))
    assert written() == fast
    assert "Legend" in fast and "Network" in fast
