"""The flatten layer (`type: flatten`): feature maps read row by row, channel after channel, into a vector.

Its elements become numbered neurons y_n, as in the lecture's fully connected networks, so that a dense
layer after it is written exactly like the lecture's (w_mn from neuron m to neuron n). Nothing is
computed: the forward equations name which map element each neuron is, and the error goes back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np

from ..expr import Expr, Sym, Var
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import NamedArray
from .base import EquationContext, Layer, LayerValues
from .dense import NeuronNames

KEYS = ("name", "type")


class Flatten(Layer):
    type_name = "flatten"
    has_activation = False

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
        return LayerSpec(name, cls.type_name, index, in_shape, (int(np.prod(in_shape)),), {}, where=r.doc.where(path))

    @cached_property
    def names(self) -> NeuronNames:
        return NeuronNames(self.first_unit)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)

    def func_symbol(self, i: int) -> Sym:
        return self.names.out(i)

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return x.ravel().copy()

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        return d_pre.reshape(self.spec.in_shape)

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        return Var(self.inputs.out(i), float(v.x.flat[i]))

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        return self.error_factors(v, ctx, j)[0]

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            a, b = self.first_unit, self.first_unit + self.units - 1
            return (
                f"Flatten: the maps are read row by row, channel after channel, into neurons y_{a}…y_{b}; "
                "nothing is computed."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return "The error goes back through the flatten layer unchanged: each map element gets its neuron's δ."

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray("y", v.y),)
        return None


__all__ = ["Flatten"]
