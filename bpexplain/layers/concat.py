"""The concat layer (`type: concat`): two or more inputs joined, maps along channels, vectors end to end.

Maps of the same rows × columns are stacked channel after channel in the order of `inputs:`, as PyTorch's
torch.cat(dim=1) over a batch: C1(c,i,j) is channel c of the first input, then of the second, ...; vectors
are joined end to end. Nothing is computed: the forward equations name the input element each output element
is, and the error goes back unchanged, each input getting the part of δC1 at its own place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Sym, Var
from ..functions import Loss
from ..reader import format_shape
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import NamedArray
from .base import EquationContext, LayerValues, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type")


def joined_shape(in_shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...] | None:
    """The shape of the inputs joined along their first axis, or None where they do not fit together."""
    first = in_shapes[0]
    if len(first) not in (1, 3) or any(len(s) != len(first) or s[1:] != first[1:] for s in in_shapes):
        return None
    return (sum(s[0] for s in in_shapes),) + first[1:]


class Concat(MapLayer):
    type_name = "concat"
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
        out = joined_shape(in_shapes)
        if out is None:
            shapes = ", ".join(format_shape(s) for s in in_shapes)
            r.fail(
                path + ("inputs",),
                f"layer {name!r}: a concat layer's inputs have the shapes {shapes}",
                expected="maps of the same rows×columns (joined along channels), or vectors (joined end to end)",
            )
        init.connect(r, path, int(np.prod(out)), 1)
        options = {"number": ordinal(r, index, cls.type_name)}
        return LayerSpec(name, cls.type_name, index, in_shape, out, {}, options=options, where=r.doc.where(path))

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        super().__init__(spec, inputs, first_unit, is_output, loss)
        sizes = [int(np.prod(s)) for s in spec.in_shapes]
        self.offsets = [sum(sizes[:k]) for k in range(len(sizes))]  # where each input starts, in flat order
        self.sizes = sizes
        # for every output element, (the input it comes from, its flat index there)
        self.origin = [(k, j) for k, n in enumerate(sizes) for j in range(n)]

    def make_names(self) -> UnitNames:
        return MapNames("C" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        raise KeyError(pname)

    # ---- numerics ------------------------------------------------------------------------------

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return np.concatenate(xs, axis=0), {}

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        raise TypeError("a concat layer reads two or more inputs: see forward_values")

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        starts = np.cumsum([x.shape[0] for x in v.xs])[:-1]
        return tuple(part.copy() for part in np.split(d_pre, starts, axis=0))

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        raise TypeError("a concat layer reads two or more inputs: see input_gradients")

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    # ---- equations -----------------------------------------------------------------------------

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        k, j = self.origin[i]
        return Var(self.sources[k].out(j), float(v.xs[k].flat[j]))

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        raise KeyError(pname)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        return self.error_factors(v, ctx, j)[0]

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        start = self.offsets[slot]
        return [self.propagation_rhs(v, ctx, start + j) for j in range(self.sizes[slot])]

    def _parts(self) -> str:
        """Which channels (or elements) come from which input: "1–2 from a, 3 from b"."""
        parts = []
        first = 1
        for name, shape in zip(self.spec.inputs, self.spec.in_shapes):
            last = first + shape[0] - 1
            parts.append(f"{first} from {name}" if first == last else f"{first}–{last} from {name}")
            first = last + 1
        return ", ".join(parts)

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase != "forward":
            return None
        what = "channels" if len(self.spec.out_shape) == 3 else "elements"
        along = "along channels" if len(self.spec.out_shape) == 3 else "end to end"
        return f"Concat: the inputs joined {along}, {what} {self._parts()}; nothing is computed."

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"The error goes back through concat {self.tag} unchanged: each input gets the part of δC{self.tag} "
            "at its own place."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (NamedArray(f"C{self.tag}", v.y),)
        if phase == "error" and v.d_out is not None:
            return (NamedArray(f"δC{self.tag}", v.d_out),)
        return None

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        return ((Elem("Ck", ("c", "i", "j")), "element of concat layer k: its inputs joined along channels"),)


__all__ = ["Concat", "joined_shape"]
