"""The shortcuts of the LaTeX, HTML and JSON formats for runs of a unit's products give what the general code gives.

- `LatexPrinter._mpair` reuses the texts and widths of the leading factors of the product before when they are
  the very same objects in the same place (a dense layer's gradients δ_n·dh_n(e)/de·x_m of a unit): checked
  against a printer whose run is forgotten before every product, on runs broken and resumed, equal but distinct
  leaves, two to five factors, leading and not, negative numbers (bracketed unless leading);
- `PageRenderer.uses` (a product of leaves, or a leaf less such a product, from the run) is the words of
  `reads` joined: on every equation of bundled networks and a 20-8-3 MLP, and on made-up runs where the last
  factor's word is one of the leading ones, a factor is a number, or the leaf before the difference is read again;
- an update row's symbol escaped apart from its numbers (`_escape_symbol`) is `html.escape`;
- JSON's equations from `TextPrinter.columns` are `json.dumps` of each equation's dictionary (tests/test_json_fast.py
  checks the whole document; here the MLP's runs).
"""

from __future__ import annotations

import html
import json
import random

import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Expr, Mul, Num, Sub, Sym, Var
from bpexplain.render.json import JsonParts
from bpexplain.render.latex_printer import LatexPrinter
from bpexplain.render.page import PageRenderer, _escape_symbol
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import load_network
from bpexplain.trace import Block

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "two-two-two", "attention", "cbam"]


def mlp(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A 20-8-3 MLP with random weights (benchmarks/bench.py's `mlp_yaml`, written out)."""
    data = ", ".join(f"{((k * 37) % 200 - 100) / 100:g}" for k in range(20))
    path = tmp_path / "mlp.yaml"
    path.write_text(
        "name: mlp\ninputs: {shape: [20]}\ninit: {seed: 1, decimals: 2}\nlayers:\n"
        "  - {name: h1, type: dense, units: 8, weight: random, bias: zeros, activation: tanh}\n"
        "  - {name: h2, type: dense, units: 3, weight: random, bias: zeros, activation: softmax}\n"
        f"loss: cross_entropy\nlearning_rate: 0.1\ndata:\n  - {{input: [{data}], target: [1, 0, 0]}}\n"
    )
    return str(path)


def equations(network: str, steps: int = 1) -> list:  # type: ignore[type-arg]
    events = list(run(load_network(network), RunOptions(command="train", steps=steps, max_equations=0)))
    return [(ev, eq) for ev in events if isinstance(ev, Block) for eq in ev.equations]


def leaves(rng: random.Random, count: int) -> list[Var]:
    out = []
    for k in range(count):
        sym = Sym(rng.choice(["w", "δ", "x", "y", "η"]), (str(k % 3 + 1), str(k % 5 + 1))[: rng.randint(1, 2)])
        out.append(Var(sym, rng.choice([0.25, -1.5, 3.0, -0.001, 2e-9, 0.0])))
    return out


def test_latex_runs_are_the_walk_with_the_run_forgotten() -> None:
    rng = random.Random(7)
    for _ in range(40):
        pool = leaves(rng, 6)
        twins = [Var(v.sym, v.value) for v in pool]  # equal but distinct nodes: never taken for the run's
        printer, fresh = LatexPrinter(4, 8), LatexPrinter(4, 8)
        printer.text = fresh.text = TextPrinter(4, 8)
        head = tuple(rng.choice(pool) for _ in range(rng.randint(1, 4)))
        for _ in range(60):
            if rng.random() < 0.2:  # the run broken: another head, or the same one's equal twins
                head = tuple(rng.choice(pool + twins) for _ in range(rng.randint(1, 4)))
            factors = head + (rng.choice(pool + twins),)
            lead = rng.random() < 0.7
            got = printer._mpair(factors, lead)
            fresh._mrun = ((), False, "", 0, "", 0)
            assert got == fresh._mpair(factors, lead), factors
            assert got[:2] == (fresh.doprint(Mul(factors)), len(fresh.text.doprint(Mul(factors)))) or not lead


@pytest.mark.parametrize("name", NETWORKS)
def test_page_uses_are_the_words_read_on_every_bundled_equation(name: str) -> None:
    page, fresh = PageRenderer(), PageRenderer()
    for _, eq in equations(name, 2):
        assert page.uses(eq.bound) == " ".join(fresh.reads(eq.bound))


def test_page_uses_on_an_mlp_and_made_up_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    page, fresh = PageRenderer(), PageRenderer()
    for _, eq in equations(mlp(tmp_path)):
        assert page.uses(eq.bound) == " ".join(fresh.reads(eq.bound))
    rng = random.Random(3)
    pool = leaves(rng, 5)
    numbers = [Num(2.0), Num(-0.5)]
    head: tuple[Expr, ...] = (pool[0], pool[1])
    for _ in range(400):
        if rng.random() < 0.3:
            head = tuple(rng.choice(pool + numbers) for _ in range(rng.randint(1, 3)))
        node: Expr = Mul(head + (rng.choice(pool + numbers),))
        if rng.random() < 0.5:
            node = Sub(rng.choice(pool), node)
        assert page.uses(node) == " ".join(fresh.reads(node)), node


def test_a_symbol_escaped_apart_is_html_escape() -> None:
    for text in ["w'_14", "w''_1", "a<b'", "x&y", 'q"', "plain", "'", "δ'_(x1)2"]:
        assert _escape_symbol(text) == html.escape(text)


def test_json_equations_from_the_texts_columns_are_the_dumps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pairs = equations(mlp(tmp_path))
    for max_terms in (8, None):
        renderer = JsonParts(4, max_terms)
        blocks = []
        for ev, _ in pairs:
            if not blocks or blocks[-1] is not ev:
                blocks.append(ev)
        for b in blocks:
            fast = renderer.equations_json(b)
            slow = JsonParts(4, max_terms)
            assert [json.loads(t) for t in fast] == [slow.equation(eq, b) for eq in b.equations]
            assert fast == [json.dumps(slow.equation(eq, b), ensure_ascii=False) for eq in b.equations]


def test_latex_primed_twin_is_the_symbol_spelled() -> None:
    """w'_mn from w_mn's kept text (`measured_symbol` given the update's bound) is what `_mleaf` spells, for
    shared indices of every kind `_msym` takes; other symbols (a superscript, another base, indices equal but
    not shared, w_mn not printed first, a primed start) are spelled by the general code."""
    eta = Var(Sym("η"), 0.1)
    cases = []
    for indices in [("1", "4"), ("14", "3"), ("(x1)", "2"), ("x1", "10"), ("4",), (Sym("x", ("12",)), "3")]:
        cases.append((Sym("w", indices), Sym("w", indices, prime=True), True))
    shared = ("2", "5")
    cases += [
        (Sym("w", shared, superscript="(1)"), Sym("w", shared, prime=True, superscript="(1)"), True),
        (Sym("b", shared), Sym("w", shared, prime=True), True),
        (Sym("w", ("2", "5")), Sym("w", ("2", "5"), prime=True), True),
        (Sym("w", shared), Sym("w", shared, prime=True), False),
        (Sym("w", shared, prime=True), Sym("w", shared, prime=True), True),
    ]
    for old, new, printed_first in cases:
        printer = LatexPrinter(4, 8)
        if printed_first:
            printer.measured_symbol(old)
        bound = Sub(Var(old, 0.5), Mul((eta, Var(Sym("δ", ("1",)), -0.25))))
        got = printer.measured_symbol(new, bound)
        fresh = LatexPrinter(4, 8)
        fresh.text = TextPrinter(4, 8)
        assert got == (fresh.doprint(new), len(fresh.text.doprint(new))), (old, new)
