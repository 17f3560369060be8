"""The add layer (`type: add`): the element-wise sum of two or more inputs of one shape (a residual connection).

S1(i,j) = O2(i,j) + I(i,j): the first add layer's elements are S1, written like a feature map's (a vector's
as S1(i)). Nothing is learned. Going back, a sum passes its error unchanged to every input: ∂E/∂x_k = δS for
each k, and where an input also feeds another layer its error adds the shares (the engine's sum).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Sym, Var, add
from ..reader import format_shape
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import NamedArray
from .base import EquationContext, LayerValues, StepKey, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type")


def same_shapes(r: Reader, path: tuple, type_name: str, in_shapes: tuple[tuple[int, ...], ...]) -> None:
    """Every input of one shape, or a positioned error naming the shapes found."""
    if any(shape != in_shapes[0] for shape in in_shapes):
        shapes = ", ".join(format_shape(s) for s in in_shapes)
        r.fail(path + ("inputs",), f"a {type_name} layer's inputs have the shapes {shapes}", expected="one shape")


class AddLayer(MapLayer):
    type_name = "add"
    has_activation = False
    arity = None

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
        in_shapes: tuple[tuple[int, ...], ...] = (),
    ) -> LayerSpec:
        r.mapping(raw, path, KEYS)
        same_shapes(r, path, cls.type_name, in_shapes)
        options = {"number": ordinal(r, index, cls.type_name)}
        return LayerSpec(name, cls.type_name, index, in_shape, in_shape, {}, options=options, where=r.doc.where(path))

    def make_names(self) -> UnitNames:
        return MapNames("S" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    # ---- numerics ------------------------------------------------------------------------------

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        total = xs[0] + xs[1]
        for x in xs[2:]:
            total = total + x
        return total, {}

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        raise TypeError("an add layer reads two or more inputs: see forward_values")

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        return tuple(d_pre.copy() for _ in v.xs)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        return d_pre.copy()

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    # ---- equations -----------------------------------------------------------------------------

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        return add(*[Var(names.out(i), float(x.flat[i])) for names, x in zip(self.sources, v.xs)])

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        return self.error_factors(v, ctx, j)[0]

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        return [self.propagation_rhs(v, ctx, j) for j in range(self.units)]

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            inputs = " + ".join(self.spec.inputs)
            return f"Add: S{self.tag} = {inputs}, element by element (a residual connection); nothing is learned."
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return f"A sum passes its error back unchanged: every input of S{self.tag} gets δS{self.tag}."

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray(f"S{self.tag}", v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δS{self.tag}", v.d_out),)
        return None

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Sk", ("i", "j")), "element of add layer k: the sum of its inputs"),)


__all__ = ["AddLayer", "same_shapes"]
