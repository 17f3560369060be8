"""A simulated student for the marking tests, written apart from `bpexplain.marking`.

The student works a run's equations in trace order from their own earlier numbers: each equation's
leaves take the student's value when they wrote one (a parameter at step s takes their updated value
from step s − 1), the tree is substituted and evaluated by `helpers.evaluate`. A *slip* replaces the
value of one quantity by what a known mistake gives; everything after it is computed correctly from
the wrong number, which is what follow-through must credit.
"""

from __future__ import annotations

from collections.abc import Callable

from helpers import evaluate

from bpexplain.answers import Item, run_for
from bpexplain.expr import Add, Call, Div, Expr, Func, Mul, Neg, Num, Pow, Sub, Var
from bpexplain.render.printer import TextPrinter
from bpexplain.trace import Block, StepStart

P = TextPrinter(4, None)
Slip = Callable[[Expr, Callable[[Var], float]], float]  # (bound tree, the student's leaf values) -> value


def numbers(node: Expr, leaf: Callable[[Var], float]) -> Expr:
    """The tree in numbers, each bound leaf replaced by `leaf`, functions by their concrete names."""
    if isinstance(node, Var):
        return Num(leaf(node))
    if isinstance(node, Func):
        return node.concrete
    if isinstance(node, Add):
        return Add(tuple(numbers(t, leaf) for t in node.terms))
    if isinstance(node, Mul):
        return Mul(tuple(numbers(f, leaf) for f in node.factors))
    if isinstance(node, Sub):
        return Sub(numbers(node.left, leaf), numbers(node.right, leaf))
    if isinstance(node, Div):
        return Div(numbers(node.numerator, leaf), numbers(node.denominator, leaf))
    if isinstance(node, Neg):
        return Neg(numbers(node.operand, leaf))
    if isinstance(node, Pow):
        return Pow(numbers(node.base, leaf), numbers(node.exponent, leaf))
    if isinstance(node, Call):
        return Call(numbers(node.func, leaf), tuple(numbers(a, leaf) for a in node.args))
    return node


FUNCTIONS = {"LReLU": lambda e: e if e > 0 else 0.01 * e, "LReLU'": lambda e: 1.0 if e > 0 else 0.01}


def work(
    network: str,
    options: dict,
    slips: dict[tuple[int, str], Slip] | None = None,
    digits: int = 6,
    blank: set[str] = frozenset(),  # type: ignore[assignment]
    carry_rounded: bool = True,  # work on from the numbers as written (False: in full, writing them rounded)
) -> tuple[dict[tuple[int, int | None, str], str], list[Item]]:
    """The student's written answers (text, `digits` significant digits) by (step, sample, symbol)."""
    slips = slips or {}
    events, items = run_for(network, options)
    mine: dict[tuple[int, int | None, str], float] = {}
    updated: dict[str, str] = {}
    step = 0
    for ev in events:
        if isinstance(ev, StepStart):
            step = ev.index
        if not isinstance(ev, Block):
            continue
        for eq in ev.equations:
            symbol = P.doprint(eq.symbol)

            def leaf(v: Var, sample: int | None = ev.sample, step: int = step) -> float:
                name = P.doprint(v.sym)
                for scope in (sample, None, 1, 2, 3, 4):
                    if (step, scope, name) in mine:
                        return mine[(step, scope, name)]
                if name in updated and (step - 1, None, updated[name]) in mine:
                    return mine[(step - 1, None, updated[name])]
                return v.value

            slip = slips.get((step, symbol))
            value = slip(eq.bound, leaf) if slip else evaluate(numbers(eq.bound, leaf), FUNCTIONS)
            if eq.kind == "update" and isinstance(eq.bound, Sub) and isinstance(eq.bound.left, Var):
                updated[P.doprint(eq.bound.left.sym)] = symbol
            if symbol not in blank:
                mine[(step, ev.sample, symbol)] = float(f"{value:.{digits}g}") if carry_rounded else value
    return {k: f"{v:.{digits}g}" for k, v in mine.items()}, items


def sheet_text(network: str, options: dict, answers: dict[tuple[int, int | None, str], str], items: list[Item]) -> str:
    """A filled sheet, in the layout `bpexplain sheet` writes."""
    from bpexplain.answers import write_sheet

    lines = []
    for line in "".join(write_sheet(network, options, items)).splitlines():
        lines.append(line)
    out = []
    step = sample = None
    for line in lines:
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("    ") and stripped.endswith(":"):
            step, sample = int(stripped[:-1]), None
        elif stripped.startswith("sample ") and stripped.endswith(":"):
            sample = int(stripped[7:-1])
        elif ": null" in line:
            key = stripped.split(": null")[0].strip('"')
            if not line.startswith("      "):
                sample = None
            value = answers.get((step, sample, key))  # type: ignore[arg-type]
            if value is not None:
                line = line.replace(": null", f": {value}", 1)
        out.append(line)
    return "\n".join(out) + "\n"


# slips, each a function of the bound tree and the student's leaf values
def leaf_set(test: Callable[[Var], bool], value: Callable[[Var, float], float]) -> Slip:
    """The equation with the leaves that pass `test` replaced by `value(leaf, student's value)`."""

    def slip(bound: Expr, leaf: Callable[[Var], float]) -> float:
        return evaluate(numbers(bound, lambda v: value(v, leaf(v)) if test(v) else leaf(v)), FUNCTIONS)

    return slip


def scaled(factor: float) -> Slip:
    return lambda bound, leaf: factor * evaluate(numbers(bound, leaf), FUNCTIONS)


def named(name: str) -> Callable[[Var], bool]:
    return lambda v: P.doprint(v.sym) == name
