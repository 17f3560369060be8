"""The dropout layer (`type: dropout`): in training, each element is kept or dropped by a mask, kept ones scaled.

D1(i,j) = m1(i,j)·X(i,j)/(1 − p), with m1(i,j) = 1 (kept) or 0 (dropped), as PyTorch's Dropout in training mode
(the "inverted" dropout: scaled while training, so that nothing changes at test time). The mask of every step and
sample is drawn from the file's `seed`, so the file alone reproduces the trace:

    keep = numpy.random.default_rng([seed, step, sample, layer index]).random(input shape) >= p

(step and sample 1-based, as in the trace; the layer's 0-based position in the file). Outside training (the
`forward` command, the predictions after training) the layer is the identity and draws no mask. Going back, an
element's error passes through its mask and the same scale: ∂E/∂X(i,j) = δD1(i,j)·m1(i,j)/(1 − p).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..expr import Div, Elem, Expr, Mul, Num, Sub, Sym, Var
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import Equation, NamedArray
from .base import EquationContext, LayerValues, StepKey, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type", "p")
KEY_SCHEMA = {  # for `bpexplain schema`
    "p": {
        "description": "dropout: the probability of dropping each element in training (default 0.5)",
        "type": "number",
        "minimum": 0,
        "exclusiveMaximum": 1,
        "default": 0.5,
    },
}
DEFAULT_P = 0.5
P = Sym("p")


def dropout_keep(seed: int, step: int, sample: int, index: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    """The mask of one step and sample as 0/1 floats: keep = default_rng([seed, step, sample, index]).random >= p."""
    keep = np.random.default_rng([seed, step, sample, index]).random(shape) >= p
    return keep.astype(np.float64)


class Dropout(MapLayer):
    type_name = "dropout"
    has_activation = False
    keeps_state = True

    @classmethod
    def read_spec(
        cls,
        r: Reader,
        raw: dict,
        path: tuple,
        index: int,
        name: str,
        in_shape: tuple[int, ...],
        init: ParamInit,
        is_last: bool,
    ) -> LayerSpec:
        r.mapping(raw, path, KEYS)
        p = DEFAULT_P
        if "p" in raw:
            p = r.number(raw["p"], path + ("p",))
            if not 0 <= p < 1:
                r.fail(path + ("p",), f"found p = {raw['p']!r}", expected="a probability from 0 up to (not) 1")
        options = {"p": p, "number": ordinal(r, index, cls.type_name)}
        return LayerSpec(name, cls.type_name, index, in_shape, in_shape, {}, options=options, where=r.doc.where(path))

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Any) -> None:
        super().__init__(spec, inputs, first_unit, is_output, loss)
        self.p = float(spec.options["p"])
        self._masks = MapNames("m" + self.tag, spec.in_shape)

    def make_names(self) -> UnitNames:
        return MapNames("D" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    # ---- numerics ------------------------------------------------------------------------------

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        x = xs[0]
        if not key.training:
            return np.array(x, dtype=np.float64, copy=True), {}
        keep = dropout_keep(key.seed, key.step, key.sample, self.spec.index, self.spec.in_shape, self.p)
        return x * keep / (1.0 - self.p), {"mask": keep}

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return np.array(x, dtype=np.float64, copy=True)  # outside training: the identity

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        keep = v.state.get("mask")
        if keep is None:
            return (d_pre.copy(),)
        return (d_pre * keep / (1.0 - self.p),)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        raise TypeError("dropout's backward needs its mask: see input_gradients")

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    # ---- equations -----------------------------------------------------------------------------

    def _scale(self) -> Expr:
        return Sub(Num(1), Var(P, self.p))

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        x = Var(self.inputs.out(i), float(v.x.flat[i]))
        keep = v.state.get("mask")
        if keep is None:
            return x
        return Div(Mul((Var(self._masks.out(i), float(keep.flat[i])), x)), self._scale())

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        for i in range(self.units):
            yield Equation.of("forward", self.pre_symbol(i), self.pre_activation_rhs(v, i), float(v.e.flat[i]))

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        assert v.d_out is not None
        delta = Var(self.names.err(j), float(v.d_out.flat[j]))
        keep = v.state.get("mask")
        if keep is None:
            return delta
        return Div(Mul((delta, Var(self._masks.out(j), float(keep.flat[j])))), self._scale())

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        return [self.propagation_rhs(v, ctx, j) for j in range(self.units)]

    # ---- what the blocks say -------------------------------------------------------------------

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        k = self.tag
        if phase == "forward":
            return (
                f"Dropout {k} (p = {self.p:g}): in training each element is kept (m{k} = 1) or dropped (m{k} = 0) "
                f"by this step's mask, and a kept one is scaled by 1/(1 − p) = {1 / (1 - self.p):g}, so that "
                f"D{k} = m{k}·input/(1 − p); outside training D{k} = input. Nothing is learned."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        k = self.tag
        return (
            f"The error goes back through dropout {k} as the values came: a dropped element gets 0, a kept one "
            f"δD{k}/(1 − p)."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        k = self.tag
        if phase == "forward":
            keep = v.state.get("mask")
            return ((NamedArray(f"m{k}", keep),) if keep is not None else ()) + (NamedArray(f"D{k}", v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δD{k}", v.d_out),)
        return None

    def convention_lines(self) -> tuple[str, ...]:
        return (
            "dropout: in training each element is kept with probability 1 − p and scaled by 1/(1 − p) (PyTorch's "
            "Dropout); the mask of step s and sample n of layer i (0-based) is numpy.random.default_rng([seed, s, n, "
            "i]).random(shape) >= p, from the file's seed; outside training (forward, predictions) none is applied.",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        ij = ("i", "j")
        return (
            (Elem("Dk", ij), "output of dropout layer k"),
            (Elem("mk", ij), "mask of dropout layer k: 1 kept, 0 dropped"),
            (P, "dropout probability (of the layer whose block it is in)"),
        )


__all__ = ["Dropout", "dropout_keep"]
