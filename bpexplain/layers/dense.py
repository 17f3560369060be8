"""The dense (fully connected) layer, in the lecture's notation.

Neurons are numbered globally in layer order (1..6 in the lecture's 2-3-2-1 network); e_n is the
weighted sum of neuron n, y_n = h_n(e_n) its output, w_mn the weight from neuron m (or input x_m)
to neuron n, b_n its bias. The weight matrix is stored as weight[i][j]: from input j to unit i,
the layout of PyTorch's nn.Linear (`layout: to_from`, the default); `layout: from_to` reads it with one
row per input, as the lecture writes w_mn from m to n, and it is transposed once, here.

A layer may name its units (`units: [h1, h2]`: e_h1, y_h1, δ_h1, and w_(i1)(h1) from input i1) and
label its weights (`labels: [[w1, w2], [w3, w4]]` in the weights' layout: w_1, w_2, ...), so that a
textbook example prints in the textbook's own symbols. Names are identifiers (spec.check_identifier).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np

from ..expr import Expr, Mul, Sym, Var, add, mul
from ..limits import MAX_SIZE
from ..spec import LayerSpec, Param, ParamInit, Reader, _shape_of, check_identifier, format_shape, read_param
from .base import EquationContext, InputNames, Layer, LayerValues, UnitNames, _flat, named_symbol

KEYS = ("name", "type", "units", "activation", "weight", "bias", "layout", "labels")
LAYOUTS = ("to_from", "from_to")


class NeuronNames(UnitNames):
    """Neurons numbered from `first` (y_4, δ_4), or named by the file (`units: [h1, h2]`: y_h1, δ_h1)."""

    def __init__(self, first: int, names: tuple[str, ...] | None = None) -> None:
        self.first = first
        self.names = names
        self._out: dict[int, Sym] = {}
        self._err: dict[int, Sym] = {}
        self._index: dict[int, str | Sym] = {}

    def n(self, i: int) -> str:
        """Unit i's index in e_n, y_n, δ_n: its number, or its name."""
        return self.names[i] if self.names is not None else str(self.first + i)

    def index(self, i: int) -> str | Sym:
        """Unit i as one index of two (w_mn): a number as it is, a name in brackets (w_(h1)(o1))."""
        idx = self._index.get(i)
        if idx is None:
            idx = self._index[i] = Sym(self.names[i]) if self.names is not None else str(self.first + i)
        return idx

    def out(self, i: int) -> Sym:
        sym = self._out.get(i)
        if sym is None:
            sym = self._out[i] = Sym("y", (self.n(i),))
        return sym

    def err(self, i: int) -> Sym:
        sym = self._err.get(i)
        if sym is None:
            sym = self._err[i] = Sym("δ", (self.n(i),))
        return sym


class Dense(Layer):
    type_name = "dense"

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
        if len(in_shape) != 1:
            r.fail(
                path + ("type",),
                f"a dense layer needs a flat input but gets shape {format_shape(in_shape)}",
                expected="a flatten layer before it",
            )
        n_in = in_shape[0]
        layout = r.string(raw.get("layout", "to_from"), path + ("layout",), LAYOUTS)
        from_to = layout == "from_to"
        units = None
        unit_names: tuple[str, ...] | None = None
        if isinstance(raw.get("units"), list):
            names_raw = raw["units"]
            if not names_raw or len(names_raw) > MAX_SIZE:
                r.fail(path + ("units",), f"found {len(names_raw)} unit names", expected=f"1 to {MAX_SIZE} names")
            unit_names = tuple(
                check_identifier(r, v, path + ("units", k), "a unit name") for k, v in enumerate(names_raw)
            )
            if len(set(unit_names)) != len(unit_names):
                r.fail(path + ("units",), "a unit name appears twice", expected="distinct names")
            units = len(unit_names)
        elif "units" in raw:
            units = r.integer(raw["units"], path + ("units",), 1, MAX_SIZE)
        w_raw = raw.get("weight")
        w_value = w_raw.get("value") if isinstance(w_raw, dict) else w_raw
        if units is None:
            if isinstance(w_value, list) and w_value and isinstance(w_value[0], list):
                rows, cols = len(w_value), len(w_value[0])
                units = cols if from_to else rows
                if (rows, cols)[0 if from_to else 1] != n_in and (rows, cols)[1 if from_to else 0] == n_in:
                    units = rows if from_to else cols  # a matrix that fits the inputs only transposed: said below
            else:
                r.fail(path, "the number of units is unknown", expected="'units' or a 'weight' matrix")
        activation, slope = cls.read_activation(r, raw.get("activation", "identity"), path + ("activation",), is_last)
        init.connect(r, path, units, n_in)
        shape = (n_in, units) if from_to else (units, n_in)
        w_path = path + ("weight", "value") if isinstance(w_raw, dict) and "value" in w_raw else path + ("weight",)
        if units != n_in and _shape_of(w_value) == shape[::-1]:
            fixes = "remove 'layout: from_to'" if from_to else "write 'layout: from_to' in this layer"
            per_row = "input" if from_to else "unit"
            r.fail(
                w_path,
                f"found shape {format_shape(shape[::-1])}, which looks transposed",
                expected=f"shape {format_shape(shape)}, one row per {per_row} ({units} units, {n_in} inputs): "
                f"transpose the matrix, or {fixes} (rows are then {'units' if from_to else 'inputs'})",
            )
        what = (
            f"one row per input and one column per unit ({n_in} inputs, {units} units; layout: from_to)"
            if from_to
            else f"one row per unit and one column per input ({units} units, {n_in} inputs)"
        )
        params: dict[str, Param] = {}
        weight = read_param(r, w_raw, path + ("weight",), shape, what, init, n_in, optional=False)
        assert weight is not None
        if from_to:
            if weight.origin == "given":
                value = np.ascontiguousarray(weight.value.T)
                value.setflags(write=False)
            else:  # drawn or zeros: in the engine's layout from the start, so that a seed draws the same weights
                value = weight.value if weight.value.shape == (units, n_in) else weight.value.reshape(units, n_in)
            weight = Param(value, weight.trainable, weight.origin)
        params["weight"] = weight
        options: dict[str, object] = {}
        if from_to:
            options["layout"] = layout
        if unit_names is not None:
            options["unit_names"] = unit_names
        if "labels" in raw:
            options["labels"] = cls._read_labels(r, raw["labels"], path + ("labels",), shape, from_to)
        bias = read_param(
            r, raw.get("bias"), path + ("bias",), (units,), "one value per unit", init, n_in, optional=True
        )
        if bias is not None:
            params["bias"] = bias
        return LayerSpec(
            name, "dense", index, in_shape, (units,), params, activation, slope, options or None, r.doc.where(path)
        )

    @staticmethod
    def _read_labels(
        r: Reader, raw: object, path: tuple, shape: tuple[int, int], from_to: bool
    ) -> tuple[tuple[str, ...], ...]:
        """A matrix of weight names in the weights' own layout; returned with one row per unit."""
        rows = "input" if from_to else "unit"
        expected = f"a {format_shape(shape)} matrix of names, one row per {rows}, as the weight"
        if not isinstance(raw, list) or len(raw) != shape[0]:
            found = f"{len(raw)} rows" if isinstance(raw, list) else f"{raw!r}"
            r.fail(path, f"found {found}", expected=expected)
        names: list[list[str]] = []
        for i, row in enumerate(raw):
            if not isinstance(row, list) or len(row) != shape[1]:
                found = f"{len(row)} names" if isinstance(row, list) else f"{row!r}"
                r.fail(path + (i,), f"found {found}", expected=expected)
            names.append([check_identifier(r, v, path + (i, j), "a weight's label") for j, v in enumerate(row)])
        flat = [n for row in names for n in row]
        if len(set(flat)) != len(flat):
            twice = next(n for n in flat if flat.count(n) > 1)
            r.fail(path, f"the label {twice!r} appears twice", expected="a distinct name for every weight")
        if from_to:
            names = [list(col) for col in zip(*names)]
        return tuple(tuple(row) for row in names)

    # ---- naming ------------------------------------------------------------------------------

    @cached_property
    def names(self) -> NeuronNames:
        return NeuronNames(self.first_unit, self.spec.options.get("unit_names"))

    def pre_symbol(self, i: int) -> Sym:
        return self._unit_symbol("e", i)

    def func_symbol(self, i: int) -> Sym:
        return self._unit_symbol("h", i)

    def _unit_symbol(self, base: str, i: int) -> Sym:
        sym = self._symbols.get((base, i))
        if sym is None:
            sym = self._symbols[base, i] = Sym(base, (self.names.n(i),))
        return sym

    def _input_index(self, j: int) -> str | Sym:
        if isinstance(self.inputs, NeuronNames):
            return self.inputs.index(j)
        sym = self.inputs.out(j)
        return sym if isinstance(self.inputs, InputNames) else sym.indices[0]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        key = (pname, idx, prime)
        sym = self._symbols.get(key)
        if sym is None:
            labels = self.spec.options.get("labels")
            if prime:  # w' from w: the same indices (one tuple), which a printer spells once
                plain = self.param_symbol(pname, idx)
                sym = Sym(plain.base, plain.indices, prime=True, superscript=plain.superscript)
            elif pname == "bias":
                sym = Sym("b", (self.names.n(idx[0]),), prime=prime)
            elif labels is not None:
                plain = named_symbol(labels[idx[0]][idx[1]])
                sym = Sym(plain.base, plain.indices, prime=prime)
            else:
                sym = Sym("w", (self._input_index(idx[1]), self.names.index(idx[0])), prime=prime)
            self._symbols[key] = sym
        return sym

    # ---- numerics ----------------------------------------------------------------------------

    # ndarray.dot rather than @: the same product, with half the call overhead on a small network's arrays
    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        e = params["weight"].dot(x)
        if "bias" in params:
            e = e + params["bias"]
        return e

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        return params["weight"].T.dot(d_pre)

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        grads = {"weight": d_pre[:, None] * x}  # np.outer(d_pre, x), the same products without its overhead
        if "bias" in self.spec.params:
            grads["bias"] = d_pre.copy()
        return grads

    # ---- right-hand sides ----------------------------------------------------------------------

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        row = v.params["weight"][i].tolist()
        ins = self.input_vars(v)
        terms: list[Expr] = [Mul((Var(self.param_symbol("weight", (i, j)), w), ins[j])) for j, w in enumerate(row)]
        if "bias" in v.params:
            terms.append(Var(self.param_symbol("bias", (i,)), float(v.params["bias"][i])))
        return add(*terms)

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        factors = self.unit_factors(v, ctx, slide=False)[idx[0]]
        if pname == "bias":
            return mul(*factors)
        return Mul(factors + (self.input_vars(v)[idx[1]],))

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        params = v.prop_params if v.prop_params is not None else v.params
        prime = v.prop_params is not None and v.prop_params is not v.params
        column = params["weight"][:, j].tolist()
        factors = self.unit_factors(v, ctx, slide=ctx.rule == "slide")
        return add(
            *[
                Mul((Var(self.param_symbol("weight", (i, j), prime=prime), w),) + factors[i])
                for i, w in enumerate(column)
            ]
        )


__all__ = ["Dense", "NeuronNames", "_flat"]
