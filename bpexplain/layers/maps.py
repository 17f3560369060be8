"""Names and helpers shared by the layers that work on feature maps (conv2d, pooling, activation, flatten).

A feature map of shape (C, H, W) is written as the lecture writes it: I(i,j) for the network's input,
O1(i,j) for the output of the first convolution, with the channel first when there is more than
one, O1(c,i,j). Indices are 1-based. The error at an element is δ written before its name,
δO1(i,j) = ∂E/∂O1(i,j). Each kind numbers its own layers (conv 1, conv 2, pool 1, ...), which gives
the symbol's number; the tag is read from the file once, when the layer is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Partial, Sym
from ..functions import Loss
from ..limits import MAX_SIZE
from ..spec import LayerSpec, Reader
from ..trace import Equation
from .base import EquationContext, Layer, LayerValues, UnitNames


def element_indices(shape: tuple[int, ...], i: int) -> tuple[str, ...]:
    """The 1-based printed indices of flat element i of an array of `shape`; a single channel is left out."""
    idx = np.unravel_index(i, shape)
    parts = [str(int(k) + 1) for k in idx]
    if len(shape) == 3 and shape[0] == 1:
        parts = parts[1:]
    return tuple(parts)


class MapNames(UnitNames):
    """Elements of a map named `base`: base(i,j) and δbase(i,j); the symbols are made once and kept."""

    def __init__(self, base: str, shape: tuple[int, ...]) -> None:
        self.base = base
        self.shape = shape
        self._out: list[Elem] | None = None
        self._err: list[Elem] | None = None

    def out(self, i: int) -> Elem:
        if self._out is None:
            self._out = [Elem(self.base, element_indices(self.shape, k)) for k in range(int(np.prod(self.shape)))]
        return self._out[i]

    def err(self, i: int) -> Elem:
        if self._err is None:
            self._err = [Elem("δ" + self.base, element_indices(self.shape, k)) for k in range(int(np.prod(self.shape)))]
        return self._err[i]


class LayerMapNames(UnitNames):
    """The names of a layer whose maps go through an activation: its outputs are `out`, its pre-activations
    `pre`. `err` is the error at the output, δY = ∂E/∂Y (the lecture's δ, and what the layer above calls the
    error of its input); `pre_err` the error at the input of the activation, δO = ∂E/∂O (the textbook's δ).
    Which of the two is the layer's δ is the notation's choice, made where an equation is built
    (`MapLayer.error_symbol`), never stored here: these names are shared with the layer above."""

    def __init__(self, out: MapNames, pre: UnitNames) -> None:
        self.outs = out
        self.pre = pre

    def out(self, i: int) -> Elem:
        return self.outs.out(i)

    def err(self, i: int) -> Elem:
        return self.outs.err(i)

    def pre_err(self, i: int) -> Expr:
        return self.pre.err(i)


class MapLayer(Layer):
    """What the feature-map layers share: unnumbered units named by map, the notation's error symbols,
    updates written w' = w − η·∂E/∂w."""

    numbers_units = False

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        super().__init__(spec, inputs, first_unit, is_output, loss)
        self.tag = str(spec.options.get("number", spec.index + 1))
        self._names = self.make_names()

    def make_names(self) -> UnitNames:
        return MapNames(self.tag, self.spec.out_shape)

    @property
    def names(self) -> UnitNames:
        return self._names

    def func_symbol(self, i: int) -> Sym:
        return Sym(self.activation.label)

    def deriv_symbol(self, i: int) -> Expr:
        return Partial(self.names.out(i), self.pre_symbol(i))

    def error_symbol(self, i: int, ctx: EquationContext) -> Expr:
        """δO (∂E/∂O) in the textbook's notation where the maps go through an activation; else δ of the output."""
        names = self._names
        if ctx.notation == "textbook" and isinstance(names, LayerMapNames):
            return names.pre_err(i)
        return names.err(i)

    def update_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        new_params: Mapping[str, np.ndarray],
        exact_params: Mapping[str, np.ndarray] | None,
        trainable: Mapping[str, bool],
        averaged: bool = False,
    ) -> Iterator[Equation]:
        """w' = w − η·∂E/∂w, with the gradient's value from the gradient block (its sum is long)."""
        return super().update_equations(v, ctx, new_params, exact_params, trainable, averaged=True)


def ordinal(r: Reader, index: int, type_name: str) -> int:
    """How many layers of this type there are up to and including layer `index` (conv 1, conv 2, ...)."""
    layers: Any = r.doc.data.get("layers", []) if isinstance(r.doc.data, dict) else []
    return 1 + sum(1 for raw in layers[:index] if isinstance(raw, dict) and raw.get("type", "dense") == type_name)


def pair(r: Reader, raw: Any, path: tuple, minimum: int) -> tuple[int, int]:
    """An integer or a pair [rows, columns] of integers from minimum to MAX_SIZE."""
    if isinstance(raw, list):
        if len(raw) != 2:
            r.fail(path, f"found a list of {len(raw)}", expected="a whole number or [rows, columns]")
        return r.integer(raw[0], path + (0,), minimum, MAX_SIZE), r.integer(raw[1], path + (1,), minimum, MAX_SIZE)
    n = r.integer(raw, path, minimum, MAX_SIZE)
    return n, n


def size_formula(n: int, k: int, p: int, d: int, s: int, what: str) -> str:
    """⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 with this layer's numbers, as a line of the block's note."""
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return f"{what}: ⌊({n} + 2·{p} − {d}·({k}−1) − 1)/{s}⌋ + 1 = {out}"


def map_tag(layer_shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in layer_shape)


__all__ = ["MapNames", "element_indices", "ordinal", "pair", "size_formula", "Sym"]
