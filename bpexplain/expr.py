"""Immutable expression trees for the right-hand sides of equations.

The engine builds each right-hand side once, as a *bound* tree: its leaves are `Var` nodes that
carry both a symbol and the number the symbol stood for in this step, and function calls are
`Func` nodes that carry both the symbolic name (h_4) and the concrete one (σ). Two pure
transformations turn a bound tree into the two trees an equation records:

- `symbolic(tree)`     replaces every `Var` by its `Sym` and every `Func` by its symbolic name;
- `substitute(tree)`   replaces every `Var` by its `Num` and every `Func` by its concrete name.

Nodes know nothing about output formats: printers in `bpexplain.render` walk them.
"""

from __future__ import annotations

from dataclasses import dataclass


class Expr:
    """Base class of every node."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Num(Expr):
    value: float


@dataclass(frozen=True, slots=True)
class Sym(Expr):
    """A symbol such as w_14, δ_4, x_1, η or ŷ; `prime` marks the updated value (w')."""

    base: str
    indices: tuple[str | Sym, ...] = ()
    prime: bool = False
    superscript: str = ""


@dataclass(frozen=True, slots=True)
class Elem(Sym):
    """An element of a feature map or kernel, written as the lecture writes it: O1(2,3), K1(1,1), δO1(2,3).

    A `Sym` whose indices are printed in brackets after the base; printers without a rule of their
    own print it as a `Sym`.
    """


@dataclass(frozen=True, slots=True)
class Name(Expr):
    """A bare function name: σ, tanh, ReLU, ln, exp, max, h_4 (when printed symbolically)."""

    text: str


@dataclass(frozen=True, slots=True)
class Var(Expr):
    """A symbol (or a derivative written as one, like dh_4(e)/de) bound to its number in this step."""

    sym: Expr
    value: float


@dataclass(frozen=True, slots=True)
class Func(Expr):
    """A function known both symbolically (h_4) and concretely (σ)."""

    symbolic: Expr
    concrete: Name


@dataclass(frozen=True, slots=True)
class Derivative(Expr):
    """d f(var) / d var, written as the lecture writes dh_n(e)/de."""

    func: Expr
    var: str


@dataclass(frozen=True, slots=True)
class Partial(Expr):
    """∂ of / ∂ wrt, e.g. ∂E/∂w_14."""

    of: Expr
    wrt: Expr


@dataclass(frozen=True, slots=True)
class Add(Expr):
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Sub(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Mul(Expr):
    factors: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Div(Expr):
    numerator: Expr
    denominator: Expr


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Pow(Expr):
    base: Expr
    exponent: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    func: Expr
    args: tuple[Expr, ...]


HALF = Div(Num(1), Num(2))


def add(*terms: Expr) -> Expr:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def mul(*factors: Expr) -> Expr:
    return factors[0] if len(factors) == 1 else Mul(tuple(factors))


def symbolic(node: Expr) -> Expr:
    """The tree with every bound leaf shown as its symbol."""
    return _map(node, symbolic_leaf=True)


def substitute(node: Expr) -> Expr:
    """The tree with every bound leaf shown as its number."""
    return _map(node, symbolic_leaf=False)


def _map(node: Expr, symbolic_leaf: bool) -> Expr:
    kind = type(node)
    if kind is Add or kind is Mul:  # the common case, a sum of products of leaves, without recursion per leaf
        items = node.terms if kind is Add else node.factors  # type: ignore[attr-defined]
        out = [(f.sym if symbolic_leaf else Num(f.value)) if type(f) is Var else _map(f, symbolic_leaf) for f in items]
        return kind(tuple(out))  # type: ignore[call-arg]
    if isinstance(node, Var):
        return node.sym if symbolic_leaf else Num(node.value)
    if isinstance(node, Func):
        return node.symbolic if symbolic_leaf else node.concrete
    if isinstance(node, (Num, Sym, Name)):
        return node
    if isinstance(node, Add):
        return Add(tuple(_map(t, symbolic_leaf) for t in node.terms))
    if isinstance(node, Mul):
        return Mul(tuple(_map(f, symbolic_leaf) for f in node.factors))
    if isinstance(node, Sub):
        return Sub(_map(node.left, symbolic_leaf), _map(node.right, symbolic_leaf))
    if isinstance(node, Div):
        return Div(_map(node.numerator, symbolic_leaf), _map(node.denominator, symbolic_leaf))
    if isinstance(node, Neg):
        return Neg(_map(node.operand, symbolic_leaf))
    if isinstance(node, Pow):
        return Pow(_map(node.base, symbolic_leaf), _map(node.exponent, symbolic_leaf))
    if isinstance(node, Call):
        return Call(_map(node.func, symbolic_leaf), tuple(_map(a, symbolic_leaf) for a in node.args))
    if isinstance(node, Derivative):
        return Derivative(_map(node.func, symbolic_leaf), node.var)
    if isinstance(node, Partial):
        return Partial(_map(node.of, symbolic_leaf), _map(node.wrt, symbolic_leaf))
    raise TypeError(f"not an expression node: {node!r}")
