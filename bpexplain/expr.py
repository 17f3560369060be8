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

from typing import Final

from .record import Record


class Expr(Record):
    """Base class of every node: an immutable `Record`, equal to a node of the same class with equal fields."""

    __slots__ = ()

    def __str__(self) -> str:
        """The node as the plain-text trace prints it (w_14, δ_4, e_4 = w_14·y_1 + …'s right-hand side)."""
        from .render.printer import TextPrinter  # printers walk nodes; nodes never import them at load

        return TextPrinter().doprint(self)


class Num(Expr):
    __slots__ = __match_args__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value: Final = value


class Sym(Expr):
    """A symbol such as w_14, δ_4, x_1, η or ŷ; `prime` marks the updated value (w')."""

    __slots__ = __match_args__ = ("base", "indices", "prime", "superscript")

    def __init__(
        self, base: str, indices: tuple[str | Sym, ...] = (), prime: bool = False, superscript: str = ""
    ) -> None:
        self.base: Final = base
        self.indices: Final = indices
        self.prime: Final = prime
        self.superscript: Final = superscript


class Elem(Sym):
    """An element of a feature map or kernel, written as the lecture writes it: O1(2,3), K1(1,1), δO1(2,3).

    A `Sym` whose indices are printed in brackets after the base; printers without a rule of their
    own print it as a `Sym`.
    """

    __slots__ = ()


class Name(Expr):
    """A bare function name: σ, tanh, ReLU, ln, exp, max, h_4 (when printed symbolically)."""

    __slots__ = __match_args__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text: Final = text


class Var(Expr):
    """A symbol (or a derivative written as one, like dh_4(e)/de) bound to its number in this step."""

    __slots__ = __match_args__ = ("sym", "value")

    def __init__(self, sym: Expr, value: float) -> None:
        self.sym: Final = sym
        self.value: Final = value


class Func(Expr):
    """A function known both symbolically (h_4) and concretely (σ)."""

    __slots__ = __match_args__ = ("symbolic", "concrete")

    def __init__(self, symbolic: Expr, concrete: Name) -> None:
        self.symbolic: Final = symbolic
        self.concrete: Final = concrete


class Derivative(Expr):
    """d f(var) / d var, written as the lecture writes dh_n(e)/de."""

    __slots__ = __match_args__ = ("func", "var")

    def __init__(self, func: Expr, var: str) -> None:
        self.func: Final = func
        self.var: Final = var


class Partial(Expr):
    """∂ of / ∂ wrt, e.g. ∂E/∂w_14."""

    __slots__ = __match_args__ = ("of", "wrt")

    def __init__(self, of: Expr, wrt: Expr) -> None:
        self.of: Final = of
        self.wrt: Final = wrt


class Add(Expr):
    __slots__ = __match_args__ = ("terms",)

    def __init__(self, terms: tuple[Expr, ...]) -> None:
        self.terms: Final = terms


class Sub(Expr):
    __slots__ = __match_args__ = ("left", "right")

    def __init__(self, left: Expr, right: Expr) -> None:
        self.left: Final = left
        self.right: Final = right


class Mul(Expr):
    __slots__ = __match_args__ = ("factors",)

    def __init__(self, factors: tuple[Expr, ...]) -> None:
        self.factors: Final = factors


class Div(Expr):
    __slots__ = __match_args__ = ("numerator", "denominator")

    def __init__(self, numerator: Expr, denominator: Expr) -> None:
        self.numerator: Final = numerator
        self.denominator: Final = denominator


class Neg(Expr):
    __slots__ = __match_args__ = ("operand",)

    def __init__(self, operand: Expr) -> None:
        self.operand: Final = operand


class Pow(Expr):
    __slots__ = __match_args__ = ("base", "exponent")

    def __init__(self, base: Expr, exponent: Expr) -> None:
        self.base: Final = base
        self.exponent: Final = exponent


class Call(Expr):
    __slots__ = __match_args__ = ("func", "args")

    def __init__(self, func: Expr, args: tuple[Expr, ...]) -> None:
        self.func: Final = func
        self.args: Final = args


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
