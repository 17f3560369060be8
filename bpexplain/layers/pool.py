"""Max and average pooling (`type: maxpool`, `type: avgpool`), each channel on its own.

A window of `size` rows × columns slides by `stride` (by default the size: windows side by side);
the output size is ⌊(H − k)/s⌋ + 1. Max pooling keeps the largest value of each window, P(i,j) =
max(...), and its error goes back only to the element that won; on a tie the first in reading order
(row by row) wins, as PyTorch does, and the others get 0. Average pooling keeps the mean, and spreads
each error evenly over its window: 1/|R| to every element.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..expr import Call, Div, Elem, Expr, Mul, Name, Num, Sym, Var, add
from ..record import replace
from ..spec import LayerSpec, ParamInit, Reader, format_shape
from ..trace import NamedArray
from .base import EquationContext, LayerValues, UnitNames
from .maps import MapLayer, MapNames, ordinal, pair

KEYS = ("name", "type", "size", "stride")


class Pool(MapLayer):
    """What max and average pooling share: the windows, the YAML keys, the names P1(i,j)."""

    has_activation = False
    letter: ClassVar[str] = "P"

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
        r.mapping(raw, path, KEYS, required=("size",))
        if len(in_shape) != 3:
            r.fail(
                path + ("type",),
                f"layer {name!r}: a {cls.type_name} layer needs a feature map "
                f"(channels×rows×columns) but gets shape {format_shape(in_shape)}",
                expected="a map from the input or a conv2d layer",
            )
        size = pair(r, raw["size"], path + ("size",), 1)
        stride = pair(r, raw.get("stride", list(size)), path + ("stride",), 1)
        c, h, w = in_shape
        if size[0] > h or size[1] > w:
            r.fail(
                path + ("size",),
                f"layer {name!r}: the window {format_shape(size)} is larger than the input {format_shape(in_shape)}",
                expected="a window that fits in the map",
            )
        out = (c, (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1)
        init.connect(r, path, math.prod(out), size[0] * size[1])
        options = {
            "size": size[0] if size[0] == size[1] else list(size),
            "stride": stride[0] if stride[0] == stride[1] else list(stride),
            "number": ordinal(r, index, "maxpool") + ordinal(r, index, "avgpool") - 1,
        }
        return LayerSpec(
            name, cls.type_name, index, in_shape, out, {}, "identity", 0.01, options, where=r.doc.where(path)
        )

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Any) -> None:
        o = spec.options
        self.size = self._two(o["size"])
        self.stride = self._two(o["stride"])
        super().__init__(spec, inputs, first_unit, is_output, loss)
        self._fields: list[list[int]] | None = None

    @staticmethod
    def _two(v: Any) -> tuple[int, int]:
        return (int(v[0]), int(v[1])) if isinstance(v, list) else (int(v), int(v))

    def make_names(self) -> UnitNames:
        return MapNames(self.letter + self.tag, self.spec.out_shape)

    # ---- geometry ----------------------------------------------------------------------------

    def windows(self, x: np.ndarray) -> np.ndarray:
        """(channels, out rows, out columns, size·size): each window's values in reading order."""
        c = self.spec.in_shape[0]
        _, ho, wo = self.spec.out_shape
        win = sliding_window_view(x.reshape(self.spec.in_shape), self.size, axis=(1, 2))
        win = win[:, :: self.stride[0], :: self.stride[1]][:, :ho, :wo]
        return win.reshape(c, ho, wo, self.size[0] * self.size[1])

    def fields(self) -> list[list[int]]:
        """For every output unit, the flat input indices of its window, in reading order."""
        if self._fields is None:
            c, h, w = self.spec.in_shape
            _, ho, wo = self.spec.out_shape
            self._fields = [
                [
                    ch * h * w + (oy * self.stride[0] + a) * w + ox * self.stride[1] + b
                    for a in range(self.size[0])
                    for b in range(self.size[1])
                ]
                for ch in range(c)
                for oy in range(ho)
                for ox in range(wo)
            ]
        return self._fields

    def receptive_field(self, i: int) -> tuple[int, ...]:
        return tuple(self.fields()[i])

    def routes(self, v: LayerValues) -> list[list[tuple[int, Expr]]]:
        """For every input unit, the (output unit, weight) pairs its error comes from."""
        into: list[list[tuple[int, Expr]]] = [[] for _ in range(int(np.prod(self.spec.in_shape)))]
        for i, share in self.shares(v):
            for j, weight in share:
                into[j].append((i, weight))
        return into

    def shares(self, v: LayerValues) -> list[tuple[int, list[tuple[int, Expr]]]]:
        raise NotImplementedError

    # ---- naming, parameters (none) -------------------------------------------------------------

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        c = self._factor_cache
        if not (c and c[0] is v and c[1] == ctx and c[2] == "routes"):
            self._factor_cache = (v, ctx, "routes", self.routes(v), self.unit_factors(v, ctx, slide=False))
        _, _, _, routes, factors = self._factor_cache
        terms: list[Expr] = []
        for i, weight in routes[j]:
            f = factors[i]
            terms.append(f[0] if weight == Num(1) and len(f) == 1 else Mul((weight,) + f))
        return add(*terms) if terms else Num(0)

    def unit_factors(self, v: LayerValues, ctx: EquationContext, slide: bool) -> list[tuple[Expr, ...]]:
        return [self.error_factors(v, ctx, i) for i in range(self.units)]

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        p = self.letter + self.tag
        if phase == "forward":
            return (NamedArray(p, v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δ{p} = ∂E/∂{p}", v.d_out),)
        return None

    def size_note(self) -> str:
        _, h, w = self.spec.in_shape
        _, ho, wo = self.spec.out_shape
        (kh, kw), (sh, sw) = self.size, self.stride
        return (
            f"Output size ⌊(H − k)/s⌋ + 1: rows: ⌊({h} − {kh})/{sh}⌋ + 1 = {ho}; "
            f"columns: ⌊({w} − {kw})/{sw}⌋ + 1 = {wo}."
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Pk", ("i", "j")), "output of pooling layer k (Pk(c,i,j) with several channels)"),)


class MaxPool(Pool):
    type_name = "maxpool"

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.windows(x).max(axis=3)

    def winners(self, x: np.ndarray) -> np.ndarray:
        """For every output unit, the position in its window of the first maximum (reading order)."""
        return self.windows(x).argmax(axis=3).ravel()

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        return self._route(x, d_pre)

    def sides(self, v: LayerValues) -> bytes:
        """Which element wins each window: a change of winner is a kink of max."""
        return self.winners(v.x).tobytes()

    def _route(self, x: np.ndarray, d: np.ndarray) -> np.ndarray:
        out = np.zeros(int(np.prod(self.spec.in_shape)))
        fields = np.asarray(self.fields())
        won = fields[np.arange(len(fields)), self.winners(x)]
        np.add.at(out, won, d.ravel())
        return out.reshape(self.spec.in_shape)

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        x = v.x.ravel()
        return Call(Name("max"), tuple(Var(self.inputs.out(j), float(x[j])) for j in self.fields()[i]))

    def shares(self, v: LayerValues) -> list[tuple[int, list[tuple[int, Expr]]]]:
        won = self.winners(v.x)
        return [(i, [(f[int(won[i])], Num(1))]) for i, f in enumerate(self.fields())]

    def forward_equations(self, v: LayerValues) -> Any:
        won = self.winners(v.x)
        x = v.x.ravel()
        for i, eq in enumerate(super().forward_equations(v)):
            f = self.fields()[i]
            j = f[int(won[i])]
            ties = sum(1 for k in f if x[k] == x[j])
            r, c = np.unravel_index(j, self.spec.in_shape)[1:]
            note = f"the maximum is at row {r + 1}, column {c + 1}"
            if ties > 1:
                note += f"; a tie of {ties}: the first in reading order wins"
            yield replace(eq, note=note)

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            return f"Max pooling: each output keeps the largest value of its window. {self.size_note()}"
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"The error goes back through max-pool {self.tag} only to the element that won its window; the "
            "others get 0. On a tie the first in reading order (row by row) wins, as in PyTorch."
        )

    def convention_lines(self) -> tuple[str, ...]:
        return (
            "max pooling: the error goes only to the element that holds the window's maximum; on a tie, "
            "to the first in reading order (row by row), as PyTorch does.",
        )


class AvgPool(Pool):
    type_name = "avgpool"

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.windows(x).mean(axis=3)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        out = np.zeros(int(np.prod(self.spec.in_shape)))
        share = d_pre.ravel() / (self.size[0] * self.size[1])
        fields = np.asarray(self.fields())
        np.add.at(out, fields, np.repeat(share[:, None], fields.shape[1], axis=1))
        return out.reshape(self.spec.in_shape)

    def _n(self) -> Div:
        return Div(Num(1), Num(self.size[0] * self.size[1]))

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        x = v.x.ravel()
        return Mul((self._n(), add(*[Var(self.inputs.out(j), float(x[j])) for j in self.fields()[i]])))

    def shares(self, v: LayerValues) -> list[tuple[int, list[tuple[int, Expr]]]]:
        n = self._n()
        return [(i, [(j, n) for j in f]) for i, f in enumerate(self.fields())]

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            return f"Average pooling: each output is the mean of its window. {self.size_note()}"
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        n = self.size[0] * self.size[1]
        return (
            f"The error goes back through avg-pool {self.tag} spread evenly: 1/{n} of it to every element "
            "of the window."
        )


__all__ = ["MaxPool", "AvgPool"]
