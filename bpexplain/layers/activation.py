"""An activation as a layer of its own (`type: activation`): A(i,j) = h(O(i,j)) for every element.

The same as the `activation:` option of a conv2d or dense layer, written as a separate step, as the
lecture draws it after a convolution. Its input may be a feature map or a vector; its elements are
written A1(i,j) (the first activation layer), and its input's names serve as its pre-activations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ..expr import Elem, Expr, Partial, Sym, mul
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import Equation, NamedArray
from .base import LOSS, EquationContext, LayerValues, UnitNames
from .maps import LayerMapNames, MapLayer, MapNames, ordinal

KEYS = ("name", "type", "activation")


class ActivationLayer(MapLayer):
    type_name = "activation"

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
        r.mapping(raw, path, KEYS, required=("activation",))
        activation, slope = cls.read_activation(r, raw["activation"], path + ("activation",), is_last)
        return LayerSpec(
            name,
            cls.type_name,
            index,
            in_shape,
            in_shape,
            {},
            activation,
            slope,
            {"number": ordinal(r, index, cls.type_name)},
            where=r.doc.where(path),
        )

    def make_names(self) -> UnitNames:
        return LayerMapNames(MapNames("A" + self.tag, self.spec.out_shape), self.inputs)  # type: ignore[arg-type]

    def pre_symbol(self, i: int) -> Sym:
        return self.inputs.out(i)

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    def error_symbol(self, i: int, ctx: EquationContext) -> Expr:
        """δA (∂E/∂A) in the lecture's notation. In the textbook's, δ is ∂E/∂(this layer's input): δY of a
        conv2d or activation layer below, whose own δ is then δO; else ∂E/∂P(i,j), ∂E/∂y_n, written out, since
        the layer below (a pooling or dense layer, the inputs) already calls its own error δ."""
        if ctx.notation != "textbook":
            return self.names.err(i)
        if isinstance(self.inputs, LayerMapNames):
            return self.inputs.err(i)
        sym = self._symbols.get(("input error", i))
        if sym is None:
            sym = self._symbols["input error", i] = Partial(LOSS, self.inputs.out(i))
        return sym  # type: ignore[no-any-return]

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return np.array(x, dtype=np.float64, copy=True)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        return d_pre.reshape(self.spec.in_shape)

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        for i in range(self.units):  # its input is its pre-activation: only h(·) is worth an equation
            yield self._activation_equation(v, i)

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        from ..expr import Var

        return Var(self.inputs.out(i), float(v.x.flat[i]))

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        return mul(*self.unit_factors(v, ctx, slide=ctx.rule == "slide")[j])

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            return (
                f"Activation {self.activation.label} applied to every element: A{self.tag} = "
                f"{self.activation.label}(input)."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"The error goes back through activation layer {self.tag}: each element's error times the "
            "activation's derivative there."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray(f"A{self.tag}", v.y),)
        if phase == "error":
            arrays = [NamedArray(f"δA{self.tag}", v.d_out)] if v.d_out is not None else []
            if v.deriv is not None:
                arrays.append(NamedArray(f"∂A{self.tag}/∂input", v.deriv))
            return tuple(arrays)
        return None

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Ak", ("i", "j")), "output of activation layer k"),)


__all__ = ["ActivationLayer"]
