"""Naming the slip behind a wrong answer: the equation worked again the way a known mistake works it.

Each slip is a variant of the equation: a leaf set to 1 (dh/de left out: the slide's shortcut; η
forgotten; the x_2 typo), the ½ of the loss dropped or doubled, this step's updated weight for the
old one, the weight matrix read transposed, y = σ(e) written for its derivative, the sign flipped, the
inputs rounded early. Each is worked on the student's own numbers and on the true ones; the first
that gives the student's value is the diagnosis. The slips are tried in order, most specific first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Protocol

from .evaluate import evaluate, leaves
from .expr import Derivative, Expr, Sym, Var
from .facts import Quantity, RunFacts
from .scoring import Tolerance, round_sig, significant_digits

Leaf = Callable[[Var], float]


class Reading(Protocol):
    """How the marking reads a run and a sheet (implemented by `marking`'s judge)."""

    facts: RunFacts
    printer: Any  # the plain-text printer of symbols
    tol: Tolerance
    given: dict[tuple[int, int | None, str], float]
    true: dict[tuple[int, int | None, str], float]

    def text(self, sym: Expr) -> str: ...

    def own_leaf(self, q: Quantity) -> Leaf: ...

    def lookup(self, table: dict, q: Quantity, name: str) -> float | None: ...


class Diagnoser:
    """Tries the slips on a wrong answer; `diagnose` returns the first that gives the student's value."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.facts = reading.facts
        self.tol = reading.tol
        self.text = reading.text
        self._derivatives: dict[tuple[int, int | None], list[tuple[Quantity, Var]]] | None = None

    def diagnose(self, q: Quantity, text: str, fns: dict[str, Callable[..., float]]) -> str | None:
        own = self.reading.own_leaf(q)
        for sentence, candidates in self.slips(q, own, fns):
            for value in candidates:
                if value is not None and math.isfinite(value) and self.tol.accepts(text, value):
                    return sentence
        digits = significant_digits(text)
        if digits < 2 and Tolerance(sigfigs=max(digits, 1)).accepts(text, q.equation.value):
            return f"rounded to {max(digits, 1)} significant digit: write at least 2 (better 4)"
        return None

    def slips(self, q: Quantity, own: Leaf, fns: dict[str, Callable[..., float]]) -> Iterable[tuple[str, list]]:
        """(sentence, values the slip would give), most specific first; each value from the student's own
        inputs and from the true ones. Generated lazily: the first match ends the search."""
        eq = q.equation
        bound = eq.bound
        leafs = leaves(bound)
        texts = [self.text(v.sym) for v in leafs]

        def both(override: Callable[[Var, float], float | None]) -> list[float]:
            def with_own(v: Var) -> float:
                r = override(v, own(v))
                return own(v) if r is None else r

            def with_true(v: Var) -> float:
                r = override(v, v.value)
                return v.value if r is None else r

            return [evaluate(bound, with_own, fns), evaluate(bound, with_true, fns)]

        own_value = evaluate(bound, own, fns)
        kind = eq.kind
        has_derivative = any(isinstance(v.sym, Derivative) for v in leafs)
        if kind == "error" and has_derivative and not isinstance(eq.symbol, Derivative) and self.facts.rule == "exact":
            yield (
                "dh/de left out of δ: the slide's shortcut δ_m = Σ_n w_mn·δ_n; the exact chain rule keeps the "
                "factor dh_n(e)/de",
                both(lambda v, x: 1.0 if isinstance(v.sym, Derivative) else None),
            )
        mse = self.facts.loss == "mse"
        if kind == "loss" and mse:
            yield "the ½ of the loss dropped: E = ½ Σ (y_k − ŷ_k)² keeps it", [2 * own_value, 2 * eq.value]
            yield "the ½ of the loss counted twice: E = ½ Σ (y_k − ŷ_k)²", [own_value / 2, eq.value / 2]
        if kind == "error" and mse and "ŷ" in "".join(texts) and not isinstance(eq.symbol, Derivative):
            yield (
                "a factor 2 from the square: the ½ of the loss cancels it, so ∂E/∂y = y − ŷ",
                [2 * own_value, 2 * eq.value],
            )
            yield "the ½ of the loss counted twice: ∂E/∂y = y − ŷ, not ½(y − ŷ)", [own_value / 2, eq.value / 2]
        if kind == "update" and "η" in texts:
            yield (
                "η left out: the update is w' = w − η·∂E/∂w",
                both(lambda v, x: 1.0 if self.text(v.sym) == "η" else None),
            )
        if kind in ("update", "gradient") and any(_is_input(v) for v in leafs):
            names = ", ".join(t for v, t in zip(leafs, texts) if _is_input(v))
            yield (
                f"the factor {names} left out (the lecture's Weight Updating slide drops x_2 from w'_(x2)1)",
                both(lambda v, x: 1.0 if _is_input(v) else None),
            )
        if kind in ("error", "gradient", "update") and has_derivative:
            yield (
                "dh/de left out",
                both(lambda v, x: 1.0 if isinstance(v.sym, Derivative) else None),
            )
        swap = self.updated_weights(q)
        if swap:
            old_for_new = self.facts.update_order == "sequential"
            yield (
                "the old weight used where the updated one belongs (sequential update order)"
                if old_for_new
                else "the updated weight w' used where the old one belongs: every δ uses the weights from "
                "before the step",
                both(lambda v, x: swap.get(self.text(v.sym))),
            )
        transposed = self.transposed(q)
        if transposed:
            values = both(lambda v, x: transposed.get(self.text(v.sym)))
            for name, value in transposed.items():
                values += both(self._only(name, value))
            yield "a transposed weight: weight[i][j] is the weight from input j to unit i, not from i to j", values
        h = self.facts.activations.get(q.layer, "h")
        if kind == "error" and isinstance(eq.symbol, Derivative) and leafs:
            first = leafs[0]
            yield (
                f"{h}(e) = {texts[0]} written for its derivative dh(e)/de = {self.reading.printer.doprint(bound)}",
                [own(first), first.value],
            )
        if has_derivative:
            deriv_y = self.derivative_outputs(q)
            yield (
                "σ(e) written for its derivative: dh(e)/de (for σ, σ(e)·(1 − σ(e))) belongs here, not y = h(e)",
                both(lambda v, x: deriv_y.get(self.text(v.sym)) if isinstance(v.sym, Derivative) else None),
            )
        yield "the sign flipped", [-own_value, -eq.value]
        for digits in (1, 2, 3):
            yield (
                f"rounding too early: the same equation on its inputs rounded to {digits} significant digit"
                f"{'s' if digits > 1 else ''} gives this; keep 4 or more digits until the end",
                both(_rounded(digits)),
            )

    def updated_weights(self, q: Quantity) -> dict[str, float]:
        """For an error equation: each weight leaf -> the value it has on the other side of this step's update."""
        if q.equation.kind != "error":
            return {}
        out: dict[str, float] = {}
        facts = self.facts
        inverse = {new: old for old, new in facts.updated.items()}
        for v in leaves(q.equation.bound):
            t = self.text(v.sym)
            if facts.update_order != "sequential" and t in facts.updated:
                val = self.reading.true.get((q.step, None, facts.updated[t]))
                if val is not None:
                    out[t] = val
            elif facts.update_order == "sequential" and t in inverse and inverse[t] in facts.param_index:
                pname, i = facts.param_index[inverse[t]]
                arr = facts.params_before.get(q.step, {}).get(pname)
                if arr is not None:
                    out[t] = float(arr.reshape(-1)[i])
        return out

    def transposed(self, q: Quantity) -> dict[str, float]:
        """Each weight leaf of a matrix -> the element at its place with the matrix read transposed."""
        out: dict[str, float] = {}
        params = self.facts.params_before.get(q.step, {})
        for v in leaves(q.equation.bound):
            t = self.text(v.sym)
            where = self.facts.param_index.get(t)
            if where is None:
                continue
            arr = params.get(where[0])
            if arr is None or arr.ndim != 2:
                continue
            i, j = divmod(where[1], arr.shape[1])
            if j < arr.shape[0] and i < arr.shape[1] and i != j:
                out[t] = float(arr[j, i])
        return out

    def _only(self, name: str, value: float) -> Callable[[Var, float], float | None]:
        """An override that replaces the leaf `name` by `value` and keeps every other."""
        return lambda v, x: value if self.text(v.sym) == name else None

    def derivative_outputs(self, q: Quantity) -> dict[str, float]:
        """dh_n(e)/de -> y_n (the student's when given), from this step's dh/de equations."""
        if self._derivatives is None:
            self._derivatives = {}
            for other in self.facts.quantities:
                if isinstance(other.equation.symbol, Derivative):
                    read = leaves(other.equation.bound)
                    if read:
                        self._derivatives.setdefault((other.step, other.sample), []).append((other, read[0]))
        out: dict[str, float] = {}
        for other, first in self._derivatives.get((q.step, q.sample), []):
            y = self.reading.lookup(self.reading.given, q, self.text(first.sym))
            out[other.symbol] = first.value if y is None else y
        return out


def _rounded(digits: int) -> Callable[[Var, float], float | None]:
    """An override that rounds every leaf to `digits` significant digits."""
    return lambda v, x: float(round_sig(Decimal(repr(float(x))), digits))


def _is_input(v: Var) -> bool:
    return isinstance(v.sym, Sym) and v.sym.base == "x" and bool(v.sym.indices) and not v.sym.prime
