"""Numerical trouble, caught where it starts: overflow, NaN or infinity stops the run with a NumericalError.

The engine's numeric methods run under `np.errstate(over=, invalid=, divide="raise")`, which costs
nothing per operation: numpy checks the floating-point flags after every operation anyway. The
network's inputs and parameters are finite (the spec refuses anything else), so a non-finite value
can only start with one of those flags, or in one of the few operations that set none: `np.einsum`
(the convolutions) sums its products without looking, so a layer that uses it passes each result
through `flag_non_finite`, which raises the error numpy would have raised (one `np.isfinite` over the
result). The results are not looked over after every method: that would cost more than a small
network's forward pass, and the flags already see every value where it starts, on the explained and
the lean path alike (tests/test_numerics_trust.py overflows every layer kind on both). A new layer kind
whose numerics use an operation that sets no flag must pass its result through `flag_non_finite`.
When an error is raised, the same numbers are computed again with the flags ignored, and the first
value that is not finite, in the order of the equations, is named: step, phase, layer and the
equation, e.g. `e_4 = w_14·y_1 + w_24·y_2 = +∞`.

The run stops (it does not warn and go on): every later value would be NaN or infinite too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import NumericalError

if TYPE_CHECKING:
    from .layers.base import Layer, LayerValues

F = TypeVar("F", bound=Callable[..., Any])
EXPECTED = "finite values: try a smaller learning_rate, smaller weights or inputs, or fewer steps"
_MAX = np.float64(np.finfo(np.float64).max)
_INF = np.float64(np.inf)


def flag_non_finite(arr: np.ndarray) -> np.ndarray:
    """`arr`, after setting the floating-point flag numpy's own operations would have set had they made its
    first infinity or NaN (overflow, or invalid for a NaN): raised under np.errstate(over="raise"), as every
    other operation's, and ignored where the flags are ignored. For operations that set none (np.einsum)."""
    if not np.isfinite(arr).all():
        if np.isnan(arr).any():
            _INF - _INF  # noqa: B018 - sets the invalid flag
        else:
            _MAX * _MAX  # noqa: B018 - sets the overflow flag
    return arr


def checked(phase: str) -> Callable[[F], F]:
    """Run an engine method with floating-point errors raised; turn one into a NumericalError."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                with np.errstate(over="raise", invalid="raise", divide="raise"):
                    result = method(self, *args, **kwargs)
            except FloatingPointError as exc:
                with np.errstate(all="ignore"):
                    result = method(self, *args, **kwargs)
                raise locate(self, phase, args, result, str(exc)) from None
            return result

        return run  # type: ignore[return-value]

    return wrap


def locate(run: Any, phase: str, args: tuple, result: Any, reason: str) -> NumericalError:
    """The error for the first non-finite value of `phase`, recomputed without raising."""
    return find(run, phase, args, result, reason) or NumericalError(f"{_at(run)}{phase}: {reason}", expected=EXPECTED)


def _at(run: Any) -> str:
    step = getattr(run, "current_step", None)
    return f"step {step}, " if step is not None else ""


def find(run: Any, phase: str, args: tuple, result: Any, reason: str) -> NumericalError | None:
    """The error for the first value of `phase` that is not finite, in the order of the equations; None if
    every value is finite."""
    if phase == "loss":
        return None if np.isfinite(result) else _loss_error(run, args[0], result, reason)
    at = _at(run)
    layers: list[Layer] = run.layers
    if phase == "forward":
        # one sample's values, or (a batch-coupled network) every sample's
        samples: list[list[LayerValues]] = result if result and isinstance(result[0], list) else [result]
        for i, layer in enumerate(layers):
            for vals in samples:
                if i >= len(vals):
                    continue
                v = vals[i]
                for what, arr in (("weighted sum", v.e), ("output", v.y)):
                    k = _first_bad(arr)
                    if k is not None:
                        eq = _forward_equation(layer, v, k, what)
                        message = f"{at}forward pass, layer {layer.name!r}: {eq} = {_word(arr.flat[k])}"
                        return _error(message, layer, i)
    elif phase in ("backward", "update"):
        batch: list[list[LayerValues]] = args[0] if phase == "backward" else []
        for i in reversed(range(len(batch[0]) if batch else 0)):
            layer = layers[i]
            for vals in batch:
                v = vals[i]
                for maybe, symbol in ((v.d_out, layer.names.err), (v.d_pre, layer.dpre_symbol)):
                    k = _first_bad(maybe) if maybe is not None else None
                    if maybe is not None and k is not None:
                        return _error(
                            f"{at}backward pass, layer {layer.name!r}: {_p(symbol(k))} = {_word(maybe.flat[k])}",
                            layer,
                            i,
                        )
                for pname, g in v.grads.items():
                    k = _first_bad(g)
                    if k is not None:
                        eq = _gradient_equation(run, layer, v, pname, _index(k, g.shape))
                        return _error(f"{at}gradients, layer {layer.name!r}: {eq} = {_word(g.flat[k])}", layer, i)
        new_params = result
        for i, layer in enumerate(layers):
            for pname, value in new_params.get(layer.name, {}).items():
                k = _first_bad(value)
                if k is not None:
                    sym = layer.param_symbol(pname, _index(k, value.shape), prime=True)
                    return _error(f"{at}update, layer {layer.name!r}: {_p(sym)} = {_word(value.flat[k])}", layer, i)
    return None


def _loss_error(run: Any, y: Any, loss: float, reason: str) -> NumericalError:
    """E is not finite: a logarithm of 0 is named only where the loss takes one (cross-entropy)."""
    name = getattr(getattr(run, "loss", None), "name", "")
    takes_log = name in ("cross_entropy", "binary_cross_entropy")
    value = (
        "+∞, since an output reaches 0 or 1 where the loss takes a logarithm"
        if takes_log and ("divide" in reason or loss == np.inf)
        else _word(loss)
    )
    return NumericalError(
        f"{_at(run)}loss: E = {value}; the output is {np.array2string(np.asarray(y), precision=4, threshold=8)}",
        expected=EXPECTED,
    )


def _first_bad(arr: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(np.asarray(arr)))
    return int(bad[0]) if bad.size else None


def _index(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape))


def _forward_equation(layer: Layer, v: LayerValues, k: int, what: str) -> str:
    """`e_4 = w_14·y_1 + ...` or `y_4 = h_4(e_4)`; the symbol alone for a layer that cannot write it."""
    from .expr import symbolic

    try:
        if what == "weighted sum":
            return f"{_p(layer.pre_symbol(k))} = {_p(symbolic(layer.pre_activation_rhs(v, k)))}"
        return f"{_p(layer.names.out(k))} = {_p(layer.func_symbol(k))}({_p(layer.pre_symbol(k))})"
    except Exception:  # noqa: BLE001 - naming the value matters more than its equation here
        return f"{what} {k + 1}"


def _gradient_equation(run: Any, layer: Layer, v: LayerValues, pname: str, idx: tuple[int, ...]) -> str:
    """`∂E/∂K1(1,1) = δO1(1,1)·I(2,2) + ...` in the run's notation; the symbol alone where it cannot be written."""
    from .expr import symbolic

    sym = f"∂E/∂{_p(layer.param_symbol(pname, idx))}"
    try:
        return f"{sym} = {_p(symbolic(layer.gradient_rhs(v, run._context(None), pname, idx)))}"
    except Exception:  # noqa: BLE001 - naming the value matters more than its equation here
        return sym


def _p(expr: Any) -> str:
    from .render.printer import TextPrinter

    return TextPrinter(4, 6).doprint(expr)


def _word(x: float) -> str:
    if np.isnan(x):
        return "NaN (an invalid operation such as ∞ − ∞ or 0·∞)"
    return f"{'+' if x > 0 else '−'}∞ (overflow)"


def _error(message: str, layer: Layer, index: int) -> NumericalError:
    return NumericalError(message, where=layer.spec.where, path=f"layers[{index}]", expected=EXPECTED)
