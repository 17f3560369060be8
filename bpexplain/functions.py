"""Activations and losses as a table of rules: value, derivative, and their symbolic forms.

Each rule is data, in the spirit of autograd's table of derivative rules: adding an activation is
adding one entry here. Every rule is checked against finite differences in the tests.

Conventions (stated in every trace):
- `mse` is E = ½ Σ_k (y_k − ŷ_k)², so ∂E/∂y_k = y_k − ŷ_k (the ½ cancels the 2).
- `cross_entropy` is E = −Σ_k ŷ_k ln y_k; with softmax, ∂E/∂e_k = y_k − ŷ_k.
- `binary_cross_entropy` is E = −Σ_k [ŷ_k ln y_k + (1 − ŷ_k) ln(1 − y_k)]; with sigmoid, ∂E/∂e_k = y_k − ŷ_k.
- ReLU'(0) = 0 and LReLU'(0) = slope, as PyTorch computes them.
- GELU is PyTorch's exact (erf) form, GELU(e) = e·Φ(e) = e·½·(1 + erf(e/√2)), GELU'(e) = Φ(e) + e·φ(e), with
  Φ and φ the standard normal distribution and density; erf is the C library's (math.erf), element by element.

What each loss assumes of the target, checked when the network is read (`Loss.target_problem`):
- `cross_entropy`: a probability distribution (entries ≥ 0 that sum to 1, within TARGET_TOLERANCE). With
  softmax, ∂E/∂e_k = y_k·Σ_j ŷ_j − ŷ_k, which is y_k − ŷ_k only when Σ_j ŷ_j = 1; a multi-hot target
  would make the trace's y_k − ŷ_k wrong, so it is refused (several labels at once are
  binary_cross_entropy's case). Without softmax ∂E/∂y_k = −ŷ_k/y_k holds for any target, but a
  negative one makes E unbounded below: the same rule holds for every activation.
- `binary_cross_entropy`: each entry in [0, 1] (a label, or its probability); with sigmoid
  ∂E/∂e_k = y_k − ŷ_k for any target, but outside [0, 1] E has no minimum.
- `mse`: nothing; every formula holds for any real target.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Final

import numpy as np

from .expr import HALF, Add, Call, Div, Expr, Mul, Name, Neg, Num, Pow, Sub
from .record import Record

Array = np.ndarray


class Activation(Record):
    """An activation function: its values, its derivative (numbers and symbols) and how it is written."""

    __slots__ = __match_args__ = (
        "name",
        "label",
        "value",
        "derivative",
        "derivative_form",
        "formula",
        "elementwise",
        "slope",
        "kinked",
    )

    def __init__(
        self,
        name: str,
        label: str,  # the concrete name printed in substituted equations: σ, tanh, ReLU
        value: Callable[[Array], Array],
        # dh/de for an elementwise activation, from the pre-activation e and the output y
        derivative: Callable[[Array, Array], Array] | None,
        # the symbolic form of dh/de, from the bound leaves for e and y
        derivative_form: Callable[[Expr, Expr], Expr] | None,
        formula: str,  # for the legend
        elementwise: bool = True,
        slope: float = 0.0,
        kinked: bool = False,  # not differentiable at e = 0 (ReLU, leaky ReLU): the derivative there is a convention
    ) -> None:
        self.name: Final = name
        self.label: Final = label
        self.value: Final = value
        self.derivative: Final = derivative
        self.derivative_form: Final = derivative_form
        self.formula: Final = formula
        self.elementwise: Final = elementwise
        self.slope: Final = slope
        self.kinked: Final = kinked

    def derivative_label(self) -> str:
        return f"{self.label}'"


_EXP_MAX = math.log(sys.float_info.max)  # 709.78: exp of anything larger overflows


def _sigmoid(e: Array) -> Array:
    # The lecture's 1/(1 + exp(−e)). Where exp(−e) would overflow (e < −709.78), σ(e) = exp(e)/(1 + exp(e))
    # is exp(e) in float64 (a subnormal, or 0). The engine computes under np.errstate(over="raise"), so an
    # array that reaches so far is taken apart there; its other elements keep the formula's bits.
    try:
        return 1.0 / (1.0 + np.exp(-e))
    except FloatingPointError:
        far = e < -_EXP_MAX
        return np.where(far, np.exp(np.where(far, e, 0.0)), 1.0 / (1.0 + np.exp(-np.where(far, 0.0, e))))


_SQRT1_2 = math.sqrt(0.5)  # PyTorch's M_SQRT1_2
_GELU_BETA = 2 / math.sqrt(math.pi) * _SQRT1_2 * 0.5  # PyTorch's kBeta = M_2_SQRTPI·M_SQRT1_2·½ = 1/√(2π)
_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf, and scipy is not a dependency


def _erf_array(x: Array) -> Array:
    return np.asarray(_erf(x), dtype=np.float64)


def _gelu(e: Array) -> Array:
    # PyTorch's exact GELU, in its order of operations: x·½·(1 + erf(x·√½))
    return e * 0.5 * (1.0 + _erf_array(e * _SQRT1_2))


def _gelu_derivative(e: Array, y: Array) -> Array:
    # PyTorch's GeluBackward: Φ(x) + x·φ(x), φ(x) = kBeta·exp(−x²/2). Beyond |x| = 40 φ(x) is 0 in float64 (as
    # from 38.6 on): x is clipped there first, so that x² never overflows; the values are the same bits.
    cdf = 0.5 * (1.0 + _erf_array(e * _SQRT1_2))
    c = np.clip(e, -40.0, 40.0)
    pdf = _GELU_BETA * np.exp(c * c * -0.5)
    return cdf + e * pdf


def _mse(y: Array, t: Array) -> float:
    r = y - t
    return 0.5 * float((r * r).sum())  # numpy's own ops, which raise on overflow (a BLAS dot product does not)


_add_up, _largest = np.add.reduce, np.maximum.reduce  # what np.sum and np.max call for an array: the same bits


def _softmax(e: Array) -> Array:
    z = np.exp(e - _largest(e, axis=None))  # np.max and np.sum's own reductions, without their Python wrappers
    return z / _add_up(z, axis=None)


def make_activation(name: str, slope: float = 0.01) -> Activation:
    """The rule for an activation name; `slope` is used by leaky_relu only."""
    if name == "sigmoid":
        return Activation(
            "sigmoid",
            "σ",
            _sigmoid,
            lambda e, y: y * (1.0 - y),
            lambda e, y: Mul((y, Sub(Num(1), y))),
            "σ(e) = 1/(1 + exp(−e)),  dσ/de = σ(e)·(1 − σ(e))",
        )
    if name == "tanh":
        return Activation(
            "tanh",
            "tanh",
            np.tanh,
            lambda e, y: 1.0 - y * y,
            lambda e, y: Sub(Num(1), Pow(y, Num(2))),
            "tanh(e),  d tanh/de = 1 − tanh(e)²",
        )
    if name == "relu":
        return Activation(
            "relu",
            "ReLU",
            lambda e: np.maximum(e, 0.0),
            lambda e, y: (e > 0).astype(np.float64),
            lambda e, y: Call(Name("ReLU'"), (e,)),
            "ReLU(e) = max(0, e),  ReLU'(e) = 1 if e > 0 else 0",
            kinked=True,
        )
    if name == "leaky_relu":
        a = float(slope)
        return Activation(
            "leaky_relu",
            "LReLU",
            lambda e: np.where(e > 0, e, a * e),
            lambda e, y: np.where(e > 0, 1.0, a),
            lambda e, y: Call(Name("LReLU'"), (e,)),
            f"LReLU(e) = e if e > 0 else {a:g}·e,  LReLU'(e) = 1 if e > 0 else {a:g}",
            slope=a,
            kinked=a != 1.0,
        )
    if name == "identity":
        return Activation(
            "identity",
            "id",
            lambda e: e.astype(np.float64, copy=True),
            lambda e, y: np.ones_like(e, dtype=np.float64),
            lambda e, y: Num(1),
            "id(e) = e,  did/de = 1",
        )
    if name == "gelu":
        return Activation(
            "gelu",
            "GELU",
            _gelu,
            _gelu_derivative,
            lambda e, y: Call(Name("GELU'"), (e,)),
            "GELU(e) = e·Φ(e) = ½·e·(1 + erf(e/√2)),  GELU'(e) = Φ(e) + e·φ(e)  (Φ, φ: the standard normal "
            "distribution and density, φ(e) = exp(−e²/2)/√(2π); PyTorch's exact GELU)",
        )
    if name == "softmax":
        return Activation(
            "softmax",
            "softmax",
            _softmax,
            None,
            None,
            "y_n = exp(e_n) / Σ_k exp(e_k),  ∂E/∂e_n = y_n·(δ_n − Σ_k δ_k·y_k)",
            elementwise=False,
        )
    raise KeyError(name)


ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu", "softmax")


def _any_target(t: Array) -> tuple[str, str] | None:
    return None


class Loss(Record):
    """A loss function: its value and gradient (numbers and symbols), its formula, the targets it accepts."""

    __slots__ = __match_args__ = (
        "name",
        "value",
        "gradient",
        "form",
        "gradient_form",
        "formula",
        "combines_with",
        "target_problem",
    )

    def __init__(
        self,
        name: str,
        value: Callable[[Array, Array], float],
        gradient: Callable[[Array, Array], Array],  # ∂E/∂y from (y, target)
        # symbolic E from the bound (y_k, ŷ_k) pairs
        form: Callable[[list[tuple[Expr, Expr]]], Expr],
        # symbolic ∂E/∂y_k from bound y_k, ŷ_k
        gradient_form: Callable[[Expr, Expr], Expr],
        formula: str,
        # the output activation with which ∂E/∂e_k simplifies to y_k − ŷ_k
        combines_with: str | None = None,
        # what is wrong with a target, as (what was found, what was expected); None for a target it accepts
        target_problem: Callable[[Array], tuple[str, str] | None] = _any_target,
    ) -> None:
        self.name: Final = name
        self.value: Final = value
        self.gradient: Final = gradient
        self.form: Final = form
        self.gradient_form: Final = gradient_form
        self.formula: Final = formula
        self.combines_with: Final = combines_with
        self.target_problem: Final = target_problem


TARGET_TOLERANCE = 1e-9  # a distribution's sum may be off by rounding, e.g. ten times 0.1


def _entry(t: Array, k: int) -> str:
    return f"entry {k + 1}" + (f" {tuple(int(i) + 1 for i in np.unravel_index(k, t.shape))}" if t.ndim > 1 else "")


def _distribution_problem(t: Array) -> tuple[str, str] | None:
    expected = (
        "a probability distribution: entries ≥ 0 that sum to 1, such as a one-hot target "
        "(for several labels at once, binary_cross_entropy with sigmoid)"
    )
    flat = t.ravel()
    negative = np.flatnonzero(flat < 0)
    if negative.size:
        k = int(negative[0])
        return f"cross_entropy's target has {_entry(t, k)} = {flat[k]:g}, below 0", expected
    total = float(flat.sum())
    if abs(total - 1.0) > TARGET_TOLERANCE:
        return f"cross_entropy's target sums to {total:.12g}, not 1", expected
    return None


def _label_problem(t: Array) -> tuple[str, str] | None:
    flat = t.ravel()
    outside = np.flatnonzero((flat < 0) | (flat > 1))
    if outside.size:
        k = int(outside[0])
        return (
            f"binary_cross_entropy's target has {_entry(t, k)} = {flat[k]:g}, outside [0, 1]",
            "each target from 0 to 1: a label, or the probability of one",
        )
    return None


def _sum(terms: list[Expr]) -> Expr:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def _mse_form(pairs: list[tuple[Expr, Expr]]) -> Expr:
    return Mul((HALF, _sum([Pow(Sub(y, t), Num(2)) for y, t in pairs])))


def _ce_form(pairs: list[tuple[Expr, Expr]]) -> Expr:
    return Neg(_sum([Mul((t, Call(Name("ln"), (y,)))) for y, t in pairs]))


def _bce_form(pairs: list[tuple[Expr, Expr]]) -> Expr:
    terms: list[Expr] = []
    for y, t in pairs:
        terms.append(Mul((t, Call(Name("ln"), (y,)))))
        terms.append(Mul((Sub(Num(1), t), Call(Name("ln"), (Sub(Num(1), y),)))))
    return Neg(Add(tuple(terms)))


LOSSES: dict[str, Loss] = {
    "mse": Loss(
        "mse",
        _mse,
        lambda y, t: y - t,
        _mse_form,
        lambda y, t: Sub(y, t),
        "E = ½ Σ_k (y_k − ŷ_k)²  (the ½ is part of the loss, so ∂E/∂y_k = y_k − ŷ_k)",
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        lambda y, t: float(-_add_up(t * np.log(y), axis=None)),
        lambda y, t: -t / y,
        _ce_form,
        lambda y, t: Neg(Div(t, y)),
        "E = −Σ_k ŷ_k·ln(y_k)  (with softmax, ∂E/∂e_k = y_k − ŷ_k)",
        combines_with="softmax",
        target_problem=_distribution_problem,
    ),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy",
        lambda y, t: float(-_add_up(t * np.log(y) + (1 - t) * np.log(1 - y), axis=None)),
        lambda y, t: (y - t) / (y * (1 - y)),
        _bce_form,
        lambda y, t: Div(Sub(y, t), Mul((y, Sub(Num(1), y)))),
        "E = −Σ_k [ŷ_k·ln(y_k) + (1 − ŷ_k)·ln(1 − y_k)]  (with sigmoid, ∂E/∂e_k = y_k − ŷ_k)",
        combines_with="sigmoid",
        target_problem=_label_problem,
    ),
}


def softmax_backward(y: Array, dy: Array) -> Array:
    """∂E/∂e for a softmax layer from its output y and ∂E/∂y."""
    return y * (dy - np.dot(dy, y))
