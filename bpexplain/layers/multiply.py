"""The multiply layer (`type: multiply`): the product of two inputs, element by element or scaled by the smaller.

Three ways two inputs may meet, in either order (`inputs: [map, gate]` or `[gate, map]`):
- one shape: Z1(c,i,j) = A(c,i,j)·B(c,i,j), element by element (vectors too: Z1(n) = a(n)·b(n));
- a C×H×W map and a vector of C values: channel c of the map times element c (channel scaling, the
  squeeze-and-excitation block's last step), Z1(c,i,j) = X(c,i,j)·s(c);
- a C×H×W map and a 1×H×W map: every channel at (i,j) times element (i,j) (spatial scaling, CBAM's
  spatial attention), Z1(c,i,j) = X(c,i,j)·M(i,j).
Nothing is learned. Going back, a product sends each factor the error times the other factor,
∂E/∂X(c,i,j) = s(c)·δZ1(c,i,j); the smaller input scaled many elements, so its error is the sum over all of
them, ∂E/∂s(c) = Σ_i Σ_j X(c,i,j)·δZ1(c,i,j) (and ∂E/∂M(i,j) = Σ_c X(c,i,j)·δZ1(c,i,j)), as PyTorch's
broadcasting gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Mul, Sym, Var, add
from ..functions import Loss
from ..reader import format_shape
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import NamedArray
from .base import EquationContext, LayerValues, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type")
SAME, CHANNEL, SPATIAL = "elementwise", "channel", "spatial"


def scaling(in_shapes: tuple[tuple[int, ...], ...]) -> tuple[str, int] | None:
    """(how two shapes multiply, the slot of the larger input), or None where they do not fit."""
    a, b = in_shapes
    if a == b:
        return SAME, 0
    for big, small, slot in ((a, b, 0), (b, a, 1)):
        if len(big) == 3 and small == (big[0],):
            return CHANNEL, slot
        if len(big) == 3 and big[0] > 1 and small == (1,) + big[1:]:
            return SPATIAL, slot
    return None


class Multiply(MapLayer):
    type_name = "multiply"
    has_activation = False
    arity = 2

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
        how = scaling(in_shapes)
        if how is None:
            shapes = " and ".join(format_shape(s) for s in in_shapes)
            r.fail(
                path + ("inputs",),
                f"layer {name!r}: a multiply layer's inputs have the shapes {shapes}",
                expected="one shape, a C×H×W map and a vector of C values, or a C×H×W map and a 1×H×W map",
            )
        out = in_shapes[how[1]]
        init.connect(r, path, int(np.prod(out)), 2)
        options = {"number": ordinal(r, index, cls.type_name)}
        return LayerSpec(name, cls.type_name, index, in_shape, out, {}, options=options, where=r.doc.where(path))

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        super().__init__(spec, inputs, first_unit, is_output, loss)
        how = scaling(self.spec.in_shapes)
        assert how is not None  # read_spec refused any other pair
        self.mode, self.big = how
        self.small = 1 - self.big
        out = self.spec.out_shape
        flat = np.arange(int(np.prod(out))).reshape(out)
        # for every output element, the flat index of the element of the smaller input that scales it
        if self.mode == SAME:
            self.partner = flat.ravel()
        elif self.mode == CHANNEL:
            self.partner = np.broadcast_to(np.arange(out[0])[:, None, None], out).ravel()
        else:
            self.partner = np.broadcast_to(np.arange(out[1] * out[2]).reshape(1, out[1], out[2]), out).ravel()
        # for every element of the smaller input, the output elements it scales (reading order)
        self.scaled: list[list[int]] = [[] for _ in range(int(np.prod(self.spec.in_shapes[self.small])))]
        for i, k in enumerate(self.partner.tolist()):
            self.scaled[k].append(i)

    def make_names(self) -> UnitNames:
        return MapNames("Z" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    # ---- numerics ------------------------------------------------------------------------------

    def _small(self, x: np.ndarray) -> np.ndarray:
        """The smaller input, shaped to broadcast over the larger (C×1×1 for a vector of channels)."""
        return x.reshape(-1, 1, 1) if self.mode == CHANNEL else x

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return xs[self.big] * self._small(xs[self.small]), {}

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        raise TypeError("a multiply layer reads two inputs: see forward_values")

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        big, small = v.xs[self.big], self._small(v.xs[self.small])
        d_big = d_pre * small
        spread = d_pre * big  # each output element's share of the smaller input's error
        if self.mode == SAME:
            d_small = spread
        elif self.mode == CHANNEL:
            d_small = spread.sum(axis=(1, 2))
        else:
            d_small = spread.sum(axis=0, keepdims=True)
        grads = [d_big, d_small] if self.big == 0 else [d_small, d_big]
        return tuple(grads)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        raise TypeError("a multiply layer reads two inputs: see input_gradients")

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    # ---- equations -----------------------------------------------------------------------------

    def _factor(self, v: LayerValues, slot: int, i: int) -> Var:
        """The factor of output element i that comes from input `slot`, bound to its value."""
        j = i if slot == self.big else int(self.partner[i])
        return Var(self.sources[slot].out(j), float(v.xs[slot].flat[j]))

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        return Mul((self._factor(v, 0, i), self._factor(v, 1, i)))

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        """The larger input's element j: the smaller input's element that scaled it, times δZ."""
        return Mul((self._factor(v, self.small, j), self.error_factors(v, ctx, j)[0]))

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        """Input `slot`'s share of its error: the other factor times δZ, summed over every element it scaled."""
        if slot == self.big:
            return [self.propagation_rhs(v, ctx, i) for i in range(self.units)]
        deltas = [self.error_factors(v, ctx, i)[0] for i in range(self.units)]
        return [add(*[Mul((self._factor(v, self.big, i), deltas[i])) for i in outs]) for outs in self.scaled]

    def _words(self) -> tuple[str, str]:
        """(the larger input's name, the smaller's), as the file names them."""
        return self.spec.inputs[self.big], self.spec.inputs[self.small]

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase != "forward":
            return None
        z = f"Z{self.tag}"
        big, small = self._words()
        if self.mode == SAME:
            a, b = self.spec.inputs
            return f"Multiply: {z} = {a} · {b}, element by element; nothing is learned."
        if self.mode == CHANNEL:
            return (
                f"Multiply: every element of channel c of {big} times element c of {small} (channel scaling, as in "
                f"squeeze-and-excitation); nothing is learned."
            )
        return (
            f"Multiply: every channel of {big} at row i, column j times element (i,j) of {small} (spatial "
            f"scaling); nothing is learned."
        )

    def propagation_note(self, ctx: EquationContext) -> str | None:
        z = f"Z{self.tag}"
        if self.mode == SAME:
            return f"A product sends each factor the error times the other factor: δ{z} times the other input."
        big, small = self._words()
        if self.mode == CHANNEL:
            return (
                f"A product sends each factor the error times the other factor: {big}(c,i,j) gets "
                f"{small}(c)·δ{z}(c,i,j); {small}(c) scaled every element of channel c, so its error is the sum "
                f"of {big}(c,i,j)·δ{z}(c,i,j) over them."
            )
        return (
            f"A product sends each factor the error times the other factor: {big}(c,i,j) gets "
            f"{small}(i,j)·δ{z}(c,i,j); {small}(i,j) scaled every channel at row i, column j, so its error is the "
            f"sum of {big}(c,i,j)·δ{z}(c,i,j) over the channels."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray(f"Z{self.tag}", v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δZ{self.tag}", v.d_out),)
        return None

    def convention_lines(self) -> tuple[str, ...]:
        if self.mode == SAME:
            return ()
        return (
            "multiply: a map times a vector of one value per channel scales each channel (squeeze-and-excitation); "
            "times a 1×H×W map, every channel at each position (spatial attention). The smaller input's error is "
            "the sum over every element it scaled.",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Zk", ("c", "i", "j")), "element of multiply layer k: the product of its inputs"),)


__all__ = ["Multiply", "scaling"]
