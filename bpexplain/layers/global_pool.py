"""Global average and max pooling (`type: global_avgpool`, `type: global_maxpool`): a C×H×W map to C values.

Each channel becomes one number, G1(c): the mean of its H·W elements (PyTorch's AdaptiveAvgPool2d(1)), or the
largest (AdaptiveMaxPool2d(1)). The output is a vector, so a dense layer may follow it directly (the squeeze of
a squeeze-and-excitation block). Going back, the mean gives 1/(H·W) of δG1(c) to every element of channel c;
the max gives all of it to the element that won, and on a tie the first in reading order (row by row) wins, as
for max pooling. Both kinds share one numbering: G1, G2, ... in file order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ..expr import Call, Div, Elem, Expr, Mul, Name, Num, Sym, add
from ..functions import Loss
from ..reader import format_shape
from ..record import replace
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import Equation, NamedArray
from .base import EquationContext, LayerValues, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type")


class GlobalPool(MapLayer):
    """What both global pools share: the YAML keys, the names G1(c), one window per channel."""

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
        if len(in_shape) != 3:
            r.fail(
                path + ("type",),
                f"layer {name!r}: a {cls.type_name} layer needs a feature map (channels×rows×columns) "
                f"but gets shape {format_shape(in_shape)}",
                expected="a map from the input or a map layer",
            )
        c, h, w = in_shape
        init.connect(r, path, c, h * w)
        options = {"number": ordinal(r, index, "global_avgpool") + ordinal(r, index, "global_maxpool") - 1}
        return LayerSpec(name, cls.type_name, index, in_shape, (c,), {}, options=options, where=r.doc.where(path))

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        super().__init__(spec, inputs, first_unit, is_output, loss)
        c, h, w = spec.in_shape
        self.area = h * w

    def make_names(self) -> UnitNames:
        return MapNames("G" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    def receptive_field(self, i: int) -> tuple[int, ...]:
        return tuple(range(i * self.area, (i + 1) * self.area))

    def channels(self, x: np.ndarray) -> np.ndarray:
        """The input as C rows of H·W values, each row in reading order."""
        return x.reshape(self.spec.in_shape[0], self.area)

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def shares(self, v: LayerValues, j: int) -> tuple[int, Expr | None]:
        """(the output element input element j feeds, the weight of its share; None: no share)."""
        raise NotImplementedError

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        c, weight = self.shares(v, j)
        if weight is None:
            return Num(0)
        delta = self.error_factors(v, ctx, c)[0]
        return delta if weight == Num(1) else Mul((weight, delta))

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray(f"G{self.tag}", v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δG{self.tag}", v.d_out),)
        return None

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Gk", ("c",)), "output of global pooling layer k: one value per channel c"),)


class GlobalAvgPool(GlobalPool):
    type_name = "global_avgpool"

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.channels(x).mean(axis=1)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        share = d_pre / self.area
        return np.repeat(share, self.area).reshape(self.spec.in_shape)

    def _n(self) -> Div:
        return Div(Num(1), Num(self.area))

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        ins = self.input_vars(v)
        return Mul((self._n(), add(*ins[i * self.area : (i + 1) * self.area])))

    def shares(self, v: LayerValues, j: int) -> tuple[int, Expr | None]:
        return j // self.area, self._n()

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            _, h, w = self.spec.in_shape
            return f"Global average pooling: each channel's {h}×{w} = {self.area} values averaged into one."
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"The error goes back through global avg-pool {self.tag} spread evenly: 1/{self.area} of δG{self.tag}(c) "
            "to every element of channel c."
        )


class GlobalMaxPool(GlobalPool):
    type_name = "global_maxpool"
    _won_cache: tuple[LayerValues, list[int]] | None = None

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.channels(x).max(axis=1)

    def winners(self, x: np.ndarray) -> np.ndarray:
        """For every channel, the flat input index of its first maximum (reading order)."""
        return self.channels(x).argmax(axis=1) + np.arange(self.spec.in_shape[0]) * self.area

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        out = np.zeros(int(np.prod(self.spec.in_shape)))
        out[self.winners(x)] = d_pre
        return out.reshape(self.spec.in_shape)

    def sides(self, v: LayerValues) -> bytes:
        """Which element wins each channel: a change of winner is a kink of max."""
        return self.winners(v.x).tobytes()

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        ins = self.input_vars(v)
        return Call(Name("max"), tuple(ins[i * self.area : (i + 1) * self.area]))

    def shares(self, v: LayerValues, j: int) -> tuple[int, Expr | None]:
        c = j // self.area
        won = self._won(v)
        return c, Num(1) if won[c] == j else None

    def _won(self, v: LayerValues) -> list[int]:
        """The winners of this step's values, found once for all the propagation equations."""
        cache = self._won_cache
        if cache is None or cache[0] is not v:
            cache = self._won_cache = (v, [int(k) for k in self.winners(v.x)])
        return cache[1]

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        x = v.x.ravel()
        won = self.winners(v.x)
        _, _, w = self.spec.in_shape
        for c, eq in enumerate(super().forward_equations(v)):
            j = int(won[c])
            ties = int(np.sum(self.channels(v.x)[c] == x[j]))
            r, col = divmod(j - c * self.area, w)
            note = f"the maximum is at row {r + 1}, column {col + 1}"
            if ties > 1:
                note += f"; a tie of {ties}: the first in reading order wins"
            yield replace(eq, note=note)

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            _, h, w = self.spec.in_shape
            return f"Global max pooling: each channel's {h}×{w} = {self.area} values give their largest."
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"The error goes back through global max-pool {self.tag} only to the element that won its channel; "
            "the others get 0. On a tie the first in reading order (row by row) wins, as in PyTorch."
        )

    def convention_lines(self) -> tuple[str, ...]:
        return (
            "global max pooling: the error goes only to the element that holds its channel's maximum; on a tie, "
            "to the first in reading order (row by row), as PyTorch does.",
        )


__all__ = ["GlobalAvgPool", "GlobalMaxPool", "GlobalPool"]
