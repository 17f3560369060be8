"""The dense (fully connected) layer, in the lecture's notation.

Neurons are numbered globally in layer order (1..6 in the lecture's 2-3-2-1 network); e_n is the
weighted sum of neuron n, y_n = h_n(e_n) its output, w_mn the weight from neuron m (or input x_m)
to neuron n, b_n its bias. The weight matrix is stored as weight[i][j]: from input j to unit i,
the layout of PyTorch's nn.Linear.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np

from ..expr import Expr, Mul, Sym, Var, add, mul
from ..limits import MAX_SIZE
from ..spec import LayerSpec, Param, ParamInit, Reader, format_shape, read_param
from .base import EquationContext, Layer, LayerValues, UnitNames, _flat

KEYS = ("name", "type", "units", "activation", "weight", "bias")


class NeuronNames(UnitNames):
    def __init__(self, first: int) -> None:
        self.first = first
        self._out: dict[int, Sym] = {}
        self._err: dict[int, Sym] = {}

    def out(self, i: int) -> Sym:
        sym = self._out.get(i)
        if sym is None:
            sym = self._out[i] = Sym("y", (str(self.first + i),))
        return sym

    def err(self, i: int) -> Sym:
        sym = self._err.get(i)
        if sym is None:
            sym = self._err[i] = Sym("δ", (str(self.first + i),))
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
        units = None
        if "units" in raw:
            units = r.integer(raw["units"], path + ("units",), 1, MAX_SIZE)
        w_raw = raw.get("weight")
        w_value = w_raw.get("value") if isinstance(w_raw, dict) else w_raw
        if units is None:
            if isinstance(w_value, list) and w_value and isinstance(w_value[0], list):
                units = len(w_value)
            else:
                r.fail(path, "the number of units is unknown", expected="'units' or a 'weight' matrix")
        activation, slope = cls.read_activation(r, raw.get("activation", "identity"), path + ("activation",), is_last)
        init.connect(r, path, units, n_in)
        params: dict[str, Param] = {}
        weight = read_param(
            r,
            w_raw,
            path + ("weight",),
            (units, n_in),
            f"one row per unit and one column per input ({units} units, {n_in} inputs)",
            init,
            n_in,
            optional=False,
        )
        assert weight is not None
        params["weight"] = weight
        bias = read_param(
            r, raw.get("bias"), path + ("bias",), (units,), "one value per unit", init, n_in, optional=True
        )
        if bias is not None:
            params["bias"] = bias
        return LayerSpec(name, "dense", index, in_shape, (units,), params, activation, slope, where=r.doc.where(path))

    # ---- naming ------------------------------------------------------------------------------

    @cached_property
    def names(self) -> NeuronNames:
        return NeuronNames(self.first_unit)

    def pre_symbol(self, i: int) -> Sym:
        return self._unit_symbol("e", i)

    def func_symbol(self, i: int) -> Sym:
        return self._unit_symbol("h", i)

    def _unit_symbol(self, base: str, i: int) -> Sym:
        sym = self._symbols.get((base, i))
        if sym is None:
            sym = self._symbols[base, i] = Sym(base, (str(self.first_unit + i),))
        return sym

    def _input_index(self, j: int) -> str | Sym:
        sym = self.inputs.out(j)
        return sym if sym.base == "x" else sym.indices[0]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        key = (pname, idx, prime)
        sym = self._symbols.get(key)
        if sym is None:
            n = str(self.first_unit + idx[0])
            sym = self._symbols[key] = (
                Sym("b", (n,), prime=prime)
                if pname == "bias"
                else Sym("w", (self._input_index(idx[1]), n), prime=prime)
            )
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
