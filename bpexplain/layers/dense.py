"""The dense (fully connected) layer, in the lecture's notation.

Neurons are numbered globally in layer order (1..6 in the lecture's 2-3-2-1 network); e_n is the
weighted sum of neuron n, y_n = h_n(e_n) its output, w_mn the weight from neuron m (or input x_m)
to neuron n, b_n its bias. The weight matrix is stored as weight[i][j]: from input j to unit i,
the layout of PyTorch's nn.Linear.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..expr import Expr, Mul, Sym, Var, add, mul
from ..spec import LayerSpec, Param, ParamInit, Reader, format_shape, read_param
from .base import EquationContext, Layer, LayerValues, UnitNames, _flat

KEYS = ("name", "type", "units", "activation", "weight", "bias")


class NeuronNames(UnitNames):
    def __init__(self, first: int) -> None:
        self.first = first

    def out(self, i: int) -> Sym:
        return Sym("y", (str(self.first + i),))

    def err(self, i: int) -> Sym:
        return Sym("δ", (str(self.first + i),))


class Dense(Layer):
    type_name = "dense"

    @classmethod
    def read_spec(cls, r: Reader, raw: dict, path: tuple, index: int, name: str,
                  in_shape: tuple[int, ...], init: ParamInit, is_last: bool) -> LayerSpec:
        r.mapping(raw, path, KEYS)
        if len(in_shape) != 1:
            r.fail(path + ("type",), f"a dense layer needs a flat input but gets shape {format_shape(in_shape)}",
                   expected="a flatten layer before it")
        n_in = in_shape[0]
        units = None
        if "units" in raw:
            units = r.integer(raw["units"], path + ("units",), minimum=1)
        w_raw = raw.get("weight")
        w_value = w_raw.get("value") if isinstance(w_raw, dict) else w_raw
        if units is None:
            if isinstance(w_value, list) and w_value and isinstance(w_value[0], list):
                units = len(w_value)
            else:
                r.fail(path, "the number of units is unknown", expected="'units' or a 'weight' matrix")
        activation, slope = cls.read_activation(r, raw.get("activation", "identity"), path + ("activation",),
                                                is_last)
        params: dict[str, Param] = {}
        weight = read_param(r, w_raw, path + ("weight",), (units, n_in),
                            f"one row per unit and one column per input ({units} units, {n_in} inputs)",
                            init, n_in, optional=False)
        assert weight is not None
        params["weight"] = weight
        bias = read_param(r, raw.get("bias"), path + ("bias",), (units,), "one value per unit", init, n_in,
                          optional=True)
        if bias is not None:
            params["bias"] = bias
        return LayerSpec(name, "dense", index, in_shape, (units,), params, activation, slope,
                         where=r.doc.where(path))

    # ---- naming ------------------------------------------------------------------------------

    @property
    def names(self) -> NeuronNames:
        return NeuronNames(self.first_unit)

    def pre_symbol(self, i: int) -> Sym:
        return Sym("e", (str(self.first_unit + i),))

    def func_symbol(self, i: int) -> Sym:
        return Sym("h", (str(self.first_unit + i),))

    def _input_index(self, j: int) -> str | Sym:
        sym = self.inputs.out(j)
        return sym if sym.base == "x" else sym.indices[0]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        n = str(self.first_unit + idx[0])
        if pname == "bias":
            return Sym("b", (n,), prime=prime)
        return Sym("w", (self._input_index(idx[1]), n), prime=prime)

    # ---- numerics ----------------------------------------------------------------------------

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        e = params["weight"] @ x
        if "bias" in params:
            e = e + params["bias"]
        return e

    def input_gradient(self, params: Mapping[str, np.ndarray], d_pre: np.ndarray) -> np.ndarray:
        return params["weight"].T @ d_pre

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        grads = {"weight": np.outer(d_pre, x)}
        if "bias" in self.spec.params:
            grads["bias"] = d_pre.copy()
        return grads

    # ---- right-hand sides ----------------------------------------------------------------------

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        w = v.params["weight"]
        terms: list[Expr] = [Mul((Var(self.param_symbol("weight", (i, j)), float(w[i, j])),
                                  Var(self.inputs.out(j), float(v.x[j])))) for j in range(w.shape[1])]
        if "bias" in v.params:
            terms.append(Var(self.param_symbol("bias", (i,)), float(v.params["bias"][i])))
        return add(*terms)

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        factors = self.error_factors(v, ctx, idx[0])
        if pname == "bias":
            return mul(*factors)
        j = idx[1]
        return Mul(factors + (Var(self.inputs.out(j), float(v.x[j])),))

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        params = v.prop_params if v.prop_params is not None else v.params
        prime = v.prop_params is not None and v.prop_params is not v.params
        w = params["weight"]
        terms = []
        for i in range(w.shape[0]):
            factors = self.slide_factors(v, ctx, i) if ctx.rule == "slide" else self.error_factors(v, ctx, i)
            weight = Var(self.param_symbol("weight", (i, j), prime=prime), float(w[i, j]))
            terms.append(Mul((weight,) + factors))
        return add(*terms)


__all__ = ["Dense", "NeuronNames", "_flat"]
