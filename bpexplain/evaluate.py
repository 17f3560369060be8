"""Evaluating a bound expression tree with some of its leaves read another way.

The trees are the engine's own (see `bpexplain.expr`): each `Var` leaf carries a symbol and the
number it stood for. Marking reads the leaves through a function instead (the student's answer for
y_4, the true value where they left it blank), so the same equation gives the value the student's
own numbers give. Functions are evaluated by their concrete names (σ, tanh, ReLU', GELU, exp, ln, max).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .expr import Add, Call, Div, Expr, Func, Mul, Name, Neg, Num, Pow, Sub, Var


def _sigmoid(e: float) -> float:
    return 1 / (1 + math.exp(-e)) if e >= 0 else math.exp(e) / (1 + math.exp(e))


def functions_for(slope: float = 0.01) -> dict[str, Callable[..., float]]:
    return {
        "σ": _sigmoid,
        "tanh": math.tanh,
        "ReLU": lambda e: max(e, 0.0),
        "ReLU'": lambda e: 1.0 if e > 0 else 0.0,
        "LReLU": lambda e: e if e > 0 else slope * e,
        "LReLU'": lambda e: 1.0 if e > 0 else slope,
        "id": lambda e: e,
        "GELU": lambda e: e * 0.5 * (1.0 + math.erf(e * math.sqrt(0.5))),
        "GELU'": lambda e: (
            0.5 * (1.0 + math.erf(e * math.sqrt(0.5))) + e * math.exp(-0.5 * e * e) / math.sqrt(2 * math.pi)
        ),
        "exp": math.exp,
        "ln": math.log,
        "max": lambda *a: max(a),
        "min": lambda *a: min(a),
    }


Leaf = Callable[[Var], float]


def evaluate(node: Expr, leaf: Leaf, functions: dict[str, Callable[..., float]]) -> float:
    """The value of a bound tree with each `Var` read through `leaf`; NaN where the maths fails."""
    try:
        return _eval(node, leaf, functions)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan


def _eval(node: Expr, leaf: Leaf, fns: dict[str, Callable[..., float]]) -> float:
    if isinstance(node, Var):
        return leaf(node)
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, Add):
        return math.fsum(_eval(t, leaf, fns) for t in node.terms)
    if isinstance(node, Mul):
        return math.prod(_eval(f, leaf, fns) for f in node.factors)
    if isinstance(node, Sub):
        return _eval(node.left, leaf, fns) - _eval(node.right, leaf, fns)
    if isinstance(node, Div):
        return _eval(node.numerator, leaf, fns) / _eval(node.denominator, leaf, fns)
    if isinstance(node, Neg):
        return -_eval(node.operand, leaf, fns)
    if isinstance(node, Pow):
        return float(_eval(node.base, leaf, fns) ** _eval(node.exponent, leaf, fns))
    if isinstance(node, Call):
        func = node.func.concrete if isinstance(node.func, Func) else node.func
        if not isinstance(func, Name) or func.text not in fns:
            raise ValueError(f"no rule for {func!r}")
        return float(fns[func.text](*[_eval(a, leaf, fns) for a in node.args]))
    raise ValueError(f"cannot evaluate {node!r}")


def leaves(node: Expr) -> list[Var]:
    """The bound leaves of a tree, in reading order."""
    out: list[Var] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Var):
            out.append(n)
        elif isinstance(n, (Add,)):
            stack.extend(reversed(n.terms))
        elif isinstance(n, Mul):
            stack.extend(reversed(n.factors))
        elif isinstance(n, (Sub,)):
            stack.extend((n.right, n.left))
        elif isinstance(n, Div):
            stack.extend((n.denominator, n.numerator))
        elif isinstance(n, Neg):
            stack.append(n.operand)
        elif isinstance(n, Pow):
            stack.extend((n.exponent, n.base))
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))
    return out


def rebind(node: Expr, leaf: Leaf) -> Expr:
    """The tree with every bound leaf holding the number `leaf` gives (to print a student's substitution)."""
    if isinstance(node, Var):
        return Var(node.sym, leaf(node))
    if isinstance(node, Add):
        return Add(tuple(rebind(t, leaf) for t in node.terms))
    if isinstance(node, Mul):
        return Mul(tuple(rebind(f, leaf) for f in node.factors))
    if isinstance(node, Sub):
        return Sub(rebind(node.left, leaf), rebind(node.right, leaf))
    if isinstance(node, Div):
        return Div(rebind(node.numerator, leaf), rebind(node.denominator, leaf))
    if isinstance(node, Neg):
        return Neg(rebind(node.operand, leaf))
    if isinstance(node, Pow):
        return Pow(rebind(node.base, leaf), rebind(node.exponent, leaf))
    if isinstance(node, Call):
        return Call(node.func, tuple(rebind(a, leaf) for a in node.args))
    return node
