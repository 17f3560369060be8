"""Every recorded equation is self-consistent, and the printer spells each node as the lecture does."""

from __future__ import annotations

import pytest
from helpers import evaluate

import bpexplain
from bpexplain.expr import (
    HALF,
    Add,
    Call,
    Derivative,
    Div,
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
    substitute,
    symbolic,
)
from bpexplain.render.numbers import format_number
from bpexplain.render.printer import TextPrinter

OPTION_SETS = [
    {},
    {"notation": "textbook"},
    {"rule": "slide"},
    {"update_order": "sequential"},
    {"update_order": "sequential", "notation": "textbook"},
    {"batch": "full"},
    {"batch": "full", "notation": "textbook"},
]
DENSE_NETWORKS = ["lecture", "xor", "classifier"]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("network", DENSE_NETWORKS)
def test_every_substituted_equation_evaluates_to_its_value(network: str, options: dict) -> None:
    t = bpexplain.train(network, steps=2, **options)
    assert t.equations
    for eq in t.equations:
        got = evaluate(eq.substituted)
        assert got == pytest.approx(eq.value, rel=1e-9, abs=1e-12), TextPrinter().doprint(eq.symbol)


@pytest.mark.parametrize("network", DENSE_NETWORKS)
def test_every_phase_is_recorded_in_order(network: str) -> None:
    t = bpexplain.train(network, steps=1)
    kinds = [eq.kind for eq in t.equations]
    first = {k: kinds.index(k) for k in ("forward", "loss", "error", "gradient", "update")}
    assert first["forward"] < first["loss"] < first["error"] < first["gradient"] < first["update"]
    n_params = sum(p.size for p in t.header.initial_parameters.values())
    assert kinds.count("gradient") == n_params
    assert kinds.count("update") == n_params


def test_sequential_order_interleaves_errors_and_updates_from_the_output() -> None:
    from bpexplain.trace import Block

    t = bpexplain.train("lecture", steps=1, update_order="sequential")
    blocks = [(e.phase, e.layer) for e in t.events if isinstance(e, Block) and e.phase != "forward"]
    assert blocks[1:4] == [("error", "output"), ("gradient", "output"), ("update", "output")]
    assert blocks[4] == ("error", "layer2")
    assert any("sequential" in line for line in t.header.conventions)


def test_symbols_and_substitution() -> None:
    w = Var(Sym("w", ("1", "4")), 0.2)
    y = Var(Sym("y", ("1",)), 0.5915)
    bound = Call(Func(Sym("h", ("4",)), Name("σ")), (Add((Mul((w, y)),)),))
    assert symbolic(bound) == Call(Sym("h", ("4",)), (Add((Mul((Sym("w", ("1", "4")), Sym("y", ("1",)))),)),))
    assert substitute(bound) == Call(Name("σ"), (Add((Mul((Num(0.2), Num(0.5915))),)),))


P = TextPrinter(precision=4)
x1 = Sym("x", ("1",))


@pytest.mark.parametrize(
    "node,text",
    [
        (Sym("w", ("1", "4")), "w_14"),
        (Sym("w", (x1, "1")), "w_(x1)1"),
        (Sym("w", (x1, "1"), prime=True), "w'_(x1)1"),
        (Sym("w", ("12", "14")), "w_12,14"),
        (Sym("E", superscript="(2)"), "E^(2)"),
        (Sym("ŷ"), "ŷ"),
        (Derivative(Sym("h", ("4",)), "e"), "dh_4(e)/de"),
        (Partial(Sym("E"), Sym("w", ("4", "6"))), "∂E/∂w_46"),
        (Add((Num(0.1), Num(-0.2))), "0.1 + (-0.2)"),
        (Add((Mul((Num(-0.2), Num(0.9))), Mul((Num(0.4), Num(-0.1))))), "-0.2·0.9 + 0.4·(-0.1)"),
        (Sub(Num(0.3), Num(-0.2)), "0.3 − (-0.2)"),
        (Sub(Num(1), Sub(Num(2), Num(3))), "1 − (2 − 3)"),
        (Mul((Num(2), Add((Num(1), Num(3))))), "2·(1 + 3)"),
        (Mul((HALF, Pow(Sub(Num(0.5281), Num(1)), Num(2)))), "½·(0.5281 − 1)²"),
        (Pow(Num(-0.4621), Num(2)), "(-0.4621)²"),
        (Neg(Add((Num(1), Num(2)))), "−(1 + 2)"),
        (Div(Num(1), Add((Num(1), Num(2)))), "1/(1 + 2)"),
        (Call(Name("σ"), (Num(0.37),)), "σ(0.37)"),
        (
            Div(Call(Name("exp"), (Num(1),)), Add((Call(Name("exp"), (Num(1),)), Call(Name("exp"), (Num(2),))))),
            "exp(1)/(exp(1) + exp(2))",
        ),
    ],
)
def test_text_printer(node, text) -> None:  # type: ignore[no-untyped-def]
    assert P.doprint(node) == text


def test_long_sums_are_shortened_in_the_middle() -> None:
    node = Add(tuple(Num(float(i)) for i in range(1, 21)))
    assert TextPrinter(max_terms=4).doprint(node) == "1 + 2 + … + 19 + 20"
    assert TextPrinter(max_terms=None).doprint(node).count("+") == 19


@pytest.mark.parametrize(
    "value,precision,text",
    [
        (0.37, 4, "0.37"),
        (0.591458, 4, "0.5915"),
        (-0.000312345, 4, "-0.0003123"),
        (1.0, 4, "1"),
        (12345.67, 4, "12346"),
        (1e-8, 4, "1e-8"),
        (-2.5e-7, 3, "-2.5e-7"),
        (0.0, 4, "0"),
        (-1e-20, 4, "-1e-20"),
        (0.30000000000000004, 4, "0.3"),
        (0.99999, 4, "1"),
        (2.5e10, 4, "2.5e10"),
        (0.5915, 2, "0.59"),
    ],
)
def test_number_format(value: float, precision: int, text: str) -> None:
    assert format_number(value, precision) == text
