"""The self-attention layer (`type: self_attention`): one head of "Attention Is All You Need", by element.

The input is T tokens of D features, one per row: X (the network's `inputs: {shape: [T, D]}`, which the loader
reads as 1×T×D, or a T×D output of a layer). Every token makes a query, a key and a value,
Q = X·W_Q, K = X·W_K (T×d_k), V = X·W_V (T×d_v); the scores S = Q·Kᵀ/√d_k (T×T, `scale: false` leaves out the
√d_k) say how well query i matches key j; A is the softmax of each row of S; the output is H = A·V, or
Z = H·W_O with the optional `wo`. Weights are stored as the file writes them, D×d_k (one row per input feature),
so that Q = X·W_Q reads as in the paper; PyTorch's nn.Linear stores the transpose.

Symbols: Q(i,c), K(j,c), V(j,c), S(i,j), A(i,j), H(i,c) and the output Z(i,o), the weights WQ(d,c), WK(d,c),
WV(d,c), WO(c,o), each error δ before its name (δS(i,j) = ∂E/∂S(i,j)). With several self_attention layers in
a network each carries its number as a superscript, Q^(1)(i,c), Q^(2)(i,c): a number after the letter, as the
other kinds write theirs, would make S1 both the first add layer and the first attention's scores.

Going back (δH = δZ without `wo`): δH = δZ·W_Oᵀ, δA = δH·Vᵀ, δV = Aᵀ·δH, δS(i,j) = A(i,j)·(δA(i,j) −
Σ_l A(i,l)·δA(i,l)) (the softmax of each row), δQ = δS·K/√d_k, δK = δSᵀ·Q/√d_k, and the input's error
δX = δQ·W_Qᵀ + δK·W_Kᵀ + δV·W_Vᵀ (each token feeds its own query, key and value). The gradients are
∂E/∂W_Q = Xᵀ·δQ, ∂E/∂W_K = Xᵀ·δK, ∂E/∂W_V = Xᵀ·δV, ∂E/∂W_O = Hᵀ·δZ. These backward values are computed once
by `backward_parts`, for the numerics and for the equations alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import BpexplainError
from ..expr import Call, Div, Elem, Expr, Mul, Name, Sub, Sym, Var, add
from ..functions import Loss
from ..limits import MAX_SIZE
from ..numerical import flag_non_finite
from ..reader import _shape_of, format_shape
from ..spec import LayerSpec, Param, ParamInit, Reader, read_param
from ..trace import Equation, NamedArray
from .base import EquationContext, LayerValues, StepKey, UnitNames, _departure
from .maps import MapLayer, MapNames, element_indices

KEYS = ("name", "type", "wq", "wk", "wv", "wo", "scale", "d_k", "d_v")


def _weight_schema(what: str) -> dict[str, Any]:
    """A weight's entry in `bpexplain schema`: a matrix, random / zeros, or {value, trainable, init}."""
    init = {"enum": ["random", "zeros"], "description": "random: seeded uniform in ±1/√D; zeros: all 0"}
    given = {"$ref": "#/$defs/tensor"}
    entry = {
        "type": "object",
        "properties": {
            "value": {"$ref": "#/$defs/tensor", "description": "the numbers"},
            "trainable": {"type": "boolean", "description": "false: training never changes it"},
            "init": init,
        },
        "additionalProperties": False,
    }
    return {
        "description": f"self_attention: {what}. A matrix, or random / zeros, or {{value: ..., trainable: false}}",
        "anyOf": [given, init, entry],
    }


KEY_SCHEMA: dict[str, dict[str, Any]] = {  # this kind's keys in `bpexplain schema`
    "wq": _weight_schema("W_Q, D×d_k, one row per input feature (Q = X·W_Q)"),
    "wk": _weight_schema("W_K, D×d_k, one row per input feature (K = X·W_K)"),
    "wv": _weight_schema("W_V, D×d_v, one row per input feature (V = X·W_V)"),
    "wo": _weight_schema("W_O, d_v×D_out, optional: the output A·V·W_O (random: D_out = D)"),
    "scale": {
        "description": "self_attention: true (default) divides the scores by √d_k; false leaves them",
        "type": "boolean",
        "default": True,
    },
    "d_k": {
        "description": "self_attention: query and key features (default: wq's columns, else D)",
        "type": "integer",
        "minimum": 1,
    },
    "d_v": {
        "description": "self_attention: value features (default: wv's columns, else D)",
        "type": "integer",
        "minimum": 1,
    },
}
TYPE = "self_attention"
ROOT_DK = Sym("√d", ("k",))  # √d_k, the scores' divisor
Arrays = dict[str, np.ndarray]


# ---- numerics: plain functions of arrays, used by the layer's methods and by nothing that prints ----------------


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a·b, with the floating-point flag set where BLAS makes an infinity or NaN without setting one."""
    return flag_non_finite(a.dot(b))


def attend(params: Mapping[str, np.ndarray], x: np.ndarray, scale: bool) -> Arrays:
    """Every value of the forward pass of one sample: X (T×D), Q, K, V, S, A, H and the output Z."""
    t = x.shape[-2]
    xm = x.reshape(t, x.shape[-1])
    q, k, v = _matmul(xm, params["wq"]), _matmul(xm, params["wk"]), _matmul(xm, params["wv"])
    s = _matmul(q, k.T)
    if scale:
        s = s / math.sqrt(q.shape[1])
    z = np.exp(s - s.max(axis=1, keepdims=True))  # the softmax of each row, shifted by its largest score
    a = z / z.sum(axis=1, keepdims=True)
    h = _matmul(a, v)
    out = _matmul(h, params["wo"]) if "wo" in params else h
    return {"X": xm, "Q": q, "K": k, "V": v, "S": s, "A": a, "H": h, "Z": out}


def backward_parts(
    params: Mapping[str, np.ndarray], fw: Mapping[str, np.ndarray], d_z: np.ndarray, scale: bool
) -> Arrays:
    """Every error of the backward pass of one sample from δZ (the output's error, any shape of T·d_out values):
    δZ, δH, δA, δS, δQ, δK, δV and the input's δX (T×D), and the parameters' gradients as `g_<name>`."""
    dz = d_z.reshape(fw["Z"].shape)
    dh = _matmul(dz, params["wo"].T) if "wo" in params else dz
    da = _matmul(dh, fw["V"].T)
    dv = _matmul(fw["A"].T, dh)
    a = fw["A"]
    ds = a * (da - (a * da).sum(axis=1, keepdims=True))
    root = math.sqrt(fw["Q"].shape[1]) if scale else 1.0
    dq = _matmul(ds, fw["K"])
    dk = _matmul(ds.T, fw["Q"])
    if scale:
        dq, dk = dq / root, dk / root
    dx = _matmul(dq, params["wq"].T) + _matmul(dk, params["wk"].T) + _matmul(dv, params["wv"].T)
    xt = fw["X"].T
    parts = {"Z": dz, "H": dh, "A": da, "S": ds, "Q": dq, "K": dk, "V": dv, "X": dx}
    parts["g_wq"], parts["g_wk"], parts["g_wv"] = _matmul(xt, dq), _matmul(xt, dk), _matmul(xt, dv)
    if "wo" in params:
        parts["g_wo"] = _matmul(fw["H"].T, dz)
    return parts


# ---- reading the file ------------------------------------------------------------------------------------------


def _given(raw: Any) -> Any:
    """The matrix a parameter's entry gives (plain, or under `value:`), else None."""
    value = raw.get("value") if isinstance(raw, dict) else raw
    return value if isinstance(value, list) else None


def _columns(raw: Any) -> int | None:
    shape = _shape_of(_given(raw))
    return shape[1] if shape is not None and len(shape) == 2 else None


def _tokens(r: Reader, path: tuple, name: str, in_shape: tuple[int, ...]) -> tuple[int, int]:
    """T and D of the input: T×D, or 1×T×D as the loader reads `inputs: {shape: [T, D]}`."""
    if len(in_shape) == 2:
        return in_shape
    if len(in_shape) == 3 and in_shape[0] == 1:
        return in_shape[1], in_shape[2]
    r.fail(
        path + ("type",),
        f"layer {name!r}: a self_attention layer needs T tokens of D features (T×D) but gets shape "
        f"{format_shape(in_shape)}",
        expected="inputs: {shape: [T, D]}, or a T×D output of a layer before it",
    )


def _size(r: Reader, raw: dict, path: tuple, key: str, sources: tuple[str, ...], default: int) -> int:
    """d_k or d_v: the key, else the columns of the first matrix given, else D."""
    given = [(s, c) for s in sources if (c := _columns(raw.get(s))) is not None]
    if key in raw:
        n = r.integer(raw[key], path + (key,), 1, MAX_SIZE)
        for source, columns in given:
            if columns != n:
                r.fail(
                    path + (key,),
                    f"{key} is {n} but {source} has {columns} column(s)",
                    expected=f"{key} equal to the columns of {' and '.join(sources)}",
                )
        return n
    return given[0][1] if given else default


def _superscript(spec: LayerSpec) -> str:
    """The layer's number as a superscript, (1), (2), ..., when the network has several self_attention layers."""
    return f"({spec.options['number']})" if "number" in spec.options else ""


class LayerNames(MapNames):
    """Elements of one of the layer's matrices, base(i,j) and δbase(i,j), with the layer's superscript (Q^(2)(i,j))
    when the network has several self_attention layers: never the same symbol as another kind's (S1 of add)."""

    def __init__(self, base: str, shape: tuple[int, ...], superscript: str) -> None:
        super().__init__(base, shape)
        self.superscript = superscript

    def out(self, i: int) -> Elem:
        if self._out is None:
            self._out = [Elem(self.base, idx, superscript=self.superscript) for idx in self._indices()]
        return self._out[i]

    def err(self, i: int) -> Elem:
        if self._err is None:
            self._err = [Elem("δ" + self.base, idx, superscript=self.superscript) for idx in self._indices()]
        return self._err[i]

    def _indices(self) -> list[tuple[str, ...]]:
        return [element_indices(self.shape, k) for k in range(int(np.prod(self.shape)))]


class SelfAttention(MapLayer):
    type_name = TYPE
    has_activation = False
    keeps_state = True  # Q, K, V, S, A and H, kept from the forward for the backward and the equations
    unrounded = "the queries, keys, values, scores and weights"

    @classmethod
    def check_run(cls, spec: LayerSpec, opts: Any) -> None:
        """--update-order sequential where the error goes back through a `wo`: the errors inside the layer would
        differ between its gradients (W_O) and what it sends on (W_O'). Without `wo`, δX = δQ·W_Qᵀ + δK·W_Kᵀ +
        δV·W_Vᵀ goes back through the updated weights as in dense; a layer reading the input sends nothing back."""
        if (
            opts.command == "train"
            and opts.update_order == "sequential"
            and "wo" in spec.params
            and spec.inputs != ("input",)
        ):
            raise BpexplainError(
                f"--update-order sequential sends the error on through weights just updated, but the self_attention "
                f"layer {spec.name!r} meets W_O before the softmax and W_Q, W_K, W_V after it, so the errors inside it "
                "would differ between its gradients and what it sends back",
                where=spec.where,
                path=f"layers[{spec.index}]",
                expected="--update-order simultaneous, or a self_attention layer without wo or reading the input",
            )

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
        t, d = _tokens(r, path, name, in_shape)
        scale = r.boolean(raw.get("scale", True), path + ("scale",))
        dk = _size(r, raw, path, "d_k", ("wq", "wk"), d)
        dv = _size(r, raw, path, "d_v", ("wv",), d)
        d_out = _columns(raw.get("wo")) or d
        rows = f"one row per input feature ({d})"
        shapes = {"wq": (d, dk), "wk": (d, dk), "wv": (d, dv), "wo": (dv, d_out)}
        whats = {
            "wq": f"W_Q: {rows}, one column per query feature (d_k = {dk})",
            "wk": f"W_K: {rows}, one column per key feature (d_k = {dk})",
            "wv": f"W_V: {rows}, one column per value feature (d_v = {dv})",
            "wo": f"W_O: one row per value feature (d_v = {dv}), one column per output feature",
        }
        params: dict[str, Param] = {}
        for key in ("wq", "wk", "wv", "wo"):
            param = read_param(
                r, raw.get(key), path + (key,), shapes[key], whats[key], init, shapes[key][0], optional=key == "wo"
            )
            if param is not None:
                params[key] = param
        # the products of one forward pass: Q, K, V; the scores; A·V; ·W_O
        init.connect(r, path, t, d * (2 * dk + dv) + t * (dk + dv) + (dv * d_out if "wo" in params else 0))
        width = d_out if "wo" in params else dv
        out_shape = in_shape[:-1] + (width,)
        options: dict[str, Any] = {"scale": scale, "d_k": dk, "d_v": dv}
        layers = r.doc.data.get("layers", []) if isinstance(r.doc.data, dict) else []
        kinds = [raw_layer.get("type") if isinstance(raw_layer, dict) else None for raw_layer in layers]
        if kinds.count(TYPE) > 1:  # several: numbered, Q^(1), Q^(2), ...
            options["number"] = kinds[:index].count(TYPE) + 1
        return LayerSpec(name, TYPE, index, in_shape, out_shape, params, options=options, where=r.doc.where(path))

    # ---- naming ----------------------------------------------------------------------------------------------

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        o = spec.options
        self.scale = bool(o["scale"])
        self.dk, self.dv = int(o["d_k"]), int(o["d_v"])
        self.t = spec.out_shape[-2]
        self.d = spec.in_shape[-1]
        self.has_wo = "wo" in spec.params
        self.width = spec.out_shape[-1]
        super().__init__(spec, inputs, first_unit, is_output, loss)
        self.sup = _superscript(spec)
        shapes = {"Q": (self.t, self.dk), "K": (self.t, self.dk), "V": (self.t, self.dv), "S": (self.t, self.t)}
        shapes.update({"A": (self.t, self.t), "H": (self.t, self.dv)})
        self.inner = {key: LayerNames(key, shape, self.sup) for key, shape in shapes.items()}

    @classmethod
    def trace_equations(cls, spec: LayerSpec) -> int:
        """Q, K, V, the T×T scores and weights (a weight's softmax sums over the T tokens), the output, and their
        errors, gradients and updates; a sum of n terms counts as 1 + n/8 equations."""
        t, d, width = spec.out_shape[-2], spec.in_shape[-1], spec.out_shape[-1]
        dk, dv = int(spec.options["d_k"]), int(spec.options["d_v"])

        def eqs(count: int, terms: int) -> int:
            return count * (1 + terms // 8)

        forward = eqs(t * (2 * dk + dv), d) + eqs(t * t, dk) + eqs(t * t, t) + eqs(t * dv, t) + eqs(t * width, dv)
        errors = eqs(t * width, 1) + eqs(t * dv, width) + eqs(t * t, dv) + eqs(t * t, t)
        errors += eqs(t * (2 * dk + dv), t) + eqs(t * d, 2 * dk + dv)
        params = sum(int(p.value.size) for p in spec.params.values())
        return forward + errors + 2 * eqs(params, t)

    def make_names(self) -> UnitNames:
        return LayerNames("Z", self.spec.out_shape, _superscript(self.spec))

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        if pname not in ("wq", "wk", "wv", "wo"):
            raise KeyError(pname)
        key = (pname, idx, prime)
        sym = self._symbols.get(key)
        if sym is None:
            sym = self._symbols[key] = Elem(
                "W" + pname[1].upper(), tuple(str(int(i) + 1) for i in idx), prime=prime, superscript=self.sup
            )
        return sym  # type: ignore[no-any-return]

    # ---- numerics --------------------------------------------------------------------------------------------

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        fw = attend(params, xs[0], self.scale)
        return fw["Z"].reshape(self.spec.out_shape), fw

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return attend(params, x, self.scale)["Z"].reshape(self.spec.out_shape)

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """δX from the parts `parameter_gradients` kept, or (--update-order sequential: through the weights just
        updated) from the same parts worked through `params`."""
        kept = v.state.get("parts")
        parts = kept if kept is not None and params is v.params else backward_parts(params, v.state, d_pre, self.scale)
        return (parts["X"].reshape(v.x.shape),)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        fw = attend(params, x, self.scale)
        return backward_parts(params, fw, d_pre, self.scale)["X"].reshape(x.shape)

    def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]:
        assert v.d_pre is not None
        # the backward values, kept for input_gradients and for the equations, which read and never compute them
        parts = v.state["parts"] = backward_parts(v.params, v.state, v.d_pre, self.scale)
        return {p: parts["g_" + p] for p in self.spec.params}

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        raise TypeError("a self_attention layer's gradients need its weights: see parameter_gradients")

    # ---- the equations ---------------------------------------------------------------------------------------

    def _vars(self, key: str, arr: np.ndarray) -> list[Var]:
        names = self.inner[key]
        return [Var(names.out(k), x) for k, x in enumerate(arr.ravel().tolist())]

    def _errs(self, key: str, arr: np.ndarray) -> list[Var]:
        names = self.inner[key] if key != "Z" else self.names
        return [Var(names.err(k), x) for k, x in enumerate(arr.ravel().tolist())]

    def _weights(
        self, v: LayerValues, pname: str, prime: bool = False, params: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """The weight's elements as bound leaves, in an array of the weight's shape (`params`: other than v's)."""
        w = (params if params is not None else v.params)[pname]
        out = np.empty(w.shape, dtype=object)
        for idx in np.ndindex(w.shape):
            out[idx] = Var(self.param_symbol(pname, idx, prime), float(w[idx]))
        return out

    def _root(self) -> Expr:
        """√d_k as one bound leaf (its value, 1.414 for d_k = 2): every reader of a tree can evaluate it, an answer
        sheet's follow-through too, and every format writes it."""
        return Var(ROOT_DK, math.sqrt(self.dk))

    def _scaled(self, total: Expr) -> Expr:
        return Div(total, self._root()) if self.scale else total

    def _inputs(self, v: LayerValues) -> np.ndarray:
        """X's elements as bound leaves (the names of the layer below, or of the network's input), T×D."""
        leaves = np.empty((self.t, self.d), dtype=object)
        for k, leaf in enumerate(self.input_vars(v)):
            leaves[divmod(k, self.d)] = leaf
        return leaves

    def _grid(self, leaves: list[Var], shape: tuple[int, int]) -> np.ndarray:
        out = np.empty(shape, dtype=object)
        for k, leaf in enumerate(leaves):
            out[divmod(k, shape[1])] = leaf
        return out

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        fw = v.state
        x = self._inputs(v)
        t = self.t
        grids = {key: self._grid(self._vars(key, fw[key]), fw[key].shape) for key in ("Q", "K", "V", "S", "A")}
        for key, pname in (("Q", "wq"), ("K", "wk"), ("V", "wv")):
            w = self._weights(v, pname)
            names, arr = self.inner[key], fw[key]
            for i, c in np.ndindex(arr.shape):
                rhs = add(*[Mul((x[i, d], w[d, c])) for d in range(self.d)])
                yield Equation.of("forward", names.out(i * arr.shape[1] + c), rhs, float(arr[i, c]))
        q, k = grids["Q"], grids["K"]
        for i, j in np.ndindex(t, t):
            total = add(*[Mul((q[i, c], k[j, c])) for c in range(self.dk)])
            yield Equation.of("forward", self.inner["S"].out(i * t + j), self._scaled(total), float(fw["S"][i, j]))
        s = grids["S"]
        for i in range(t):
            exps = [Call(Name("exp"), (s[i, j],)) for j in range(t)]
            for j in range(t):
                yield Equation.of("forward", self.inner["A"].out(i * t + j), Div(exps[j], add(*exps)), fw["A"][i, j])
        if self.has_wo:
            a, vv = grids["A"], grids["V"]
            for i, c in np.ndindex(t, self.dv):
                rhs = add(*[Mul((a[i, j], vv[j, c])) for j in range(t)])
                yield Equation.of("forward", self.inner["H"].out(i * self.dv + c), rhs, float(fw["H"][i, c]))
        yield from super().forward_equations(v)

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        fw = v.state if "A" in v.state else attend(v.params, v.x, self.scale)
        row, col = divmod(i, self.width)
        if self.has_wo:
            h = self._grid(self._vars("H", fw["H"]), fw["H"].shape)
            w = self._weights(v, "wo")
            return add(*[Mul((h[row, c], w[c, col])) for c in range(self.dv)])
        a = self._grid(self._vars("A", fw["A"]), fw["A"].shape)
        vv = self._grid(self._vars("V", fw["V"]), fw["V"].shape)
        return add(*[Mul((a[row, j], vv[j, col])) for j in range(self.t)])

    def _parts_of(self, v: LayerValues | None) -> Arrays | None:
        """The backward values the numeric pass kept (None before a backward pass)."""
        return None if v is None else v.state.get("parts")

    def error_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        incoming: list[Expr] | None,
        target: np.ndarray | None,
        output_pairs: list[tuple[Expr, Expr]] | None,
    ) -> Iterator[Equation]:
        yield from super().error_equations(v, ctx, incoming, target, output_pairs)
        parts = self._parts_of(v)
        if parts is None:
            return
        exact = self._parts_of(v.exact)
        fw = v.state
        t = self.t
        grid = {key: self._grid(self._vars(key, fw[key]), fw[key].shape) for key in ("Q", "K", "V", "A")}
        err = {key: self._grid(self._errs(key, parts[key]), parts[key].shape) for key in ("Z", "H", "A", "S")}

        def eq(key: str, k: int, rhs: Expr) -> Equation:
            value = float(parts[key].flat[k])
            ex = float(exact[key].flat[k]) if exact is not None else None
            return Equation.of("error", self.inner[key].err(k), rhs, value, _departure(value, ex))

        if self.has_wo:
            w = self._weights(v, "wo")
            for i, c in np.ndindex(t, self.dv):
                rhs = add(*[Mul((err["Z"][i, o], w[c, o])) for o in range(self.width)])
                yield eq("H", i * self.dv + c, rhs)
        dh = err["H"] if self.has_wo else err["Z"]
        for i, j in np.ndindex(t, t):
            yield eq("A", i * t + j, add(*[Mul((dh[i, c], grid["V"][j, c])) for c in range(self.dv)]))
        a, da = grid["A"], err["A"]
        for i in range(t):
            weighted = add(*[Mul((a[i, m], da[i, m])) for m in range(t)])
            for j in range(t):
                yield eq("S", i * t + j, Mul((a[i, j], Sub(da[i, j], weighted))))
        ds = err["S"]
        for i, c in np.ndindex(t, self.dk):
            yield eq("Q", i * self.dk + c, self._scaled(add(*[Mul((ds[i, j], grid["K"][j, c])) for j in range(t)])))
        for j, c in np.ndindex(t, self.dk):
            yield eq("K", j * self.dk + c, self._scaled(add(*[Mul((ds[i, j], grid["Q"][i, c])) for i in range(t)])))
        for j, c in np.ndindex(t, self.dv):
            yield eq("V", j * self.dv + c, add(*[Mul((a[i, j], dh[i, c])) for i in range(t)]))

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        return self.propagation_terms(v, ctx)[j]

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        parts = self._parts_of(v)
        assert parts is not None
        # under --update-order sequential, the weights just updated (W_Q', ...): nothing before them depends on a
        # weight without `wo`, which options.py refuses there
        through = v.prop_params if v.prop_params is not None else v.params
        prime = through is not v.params
        ws = {p: self._weights(v, p, prime, through) for p in ("wq", "wk", "wv")}
        errs = {key: self._grid(self._errs(key, parts[key]), parts[key].shape) for key in ("Q", "K", "V")}
        terms = []
        for i, d in np.ndindex(self.t, self.d):
            row: list[Expr] = []
            for key, pname in (("Q", "wq"), ("K", "wk"), ("V", "wv")):
                e, w = errs[key], ws[pname]
                row.extend(Mul((e[i, c], w[d, c])) for c in range(e.shape[1]))
            terms.append(add(*row))
        return terms

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        parts = self._parts_of(v)
        assert parts is not None
        r, c = idx
        if pname == "wo":
            fw = v.state
            h = self._grid(self._vars("H", fw["H"]), fw["H"].shape)
            dz = self._grid(self._errs("Z", parts["Z"]), parts["Z"].shape)
            return add(*[Mul((h[i, r], dz[i, c])) for i in range(self.t)])
        key = pname[1].upper()
        x = self._inputs(v)
        e = self._grid(self._errs(key, parts[key]), parts[key].shape)
        return add(*[Mul((x[i, r], e[i, c])) for i in range(self.t)])

    # ---- what the blocks say ---------------------------------------------------------------------------------

    def _letters(self) -> dict[str, str]:
        sup = f"^{self.sup}" if self.sup else ""
        return {key: key + sup for key in ("Q", "K", "V", "S", "A", "H", "Z", "WQ", "WK", "WV", "WO")}

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        n = self._letters()
        source = self.spec.inputs[0] if self.spec.inputs else "input"
        x = "the network's input" if source == "input" else f"the output of {source}"
        if phase == "forward":
            scaled = f"/√d_k (d_k = {self.dk})" if self.scale else " (not scaled: scale: false)"
            out = (
                f"{n['H']} = {n['A']}·{n['V']} mixes the values by those weights, and {n['Z']} = {n['H']}·{n['WO']}."
                if self.has_wo
                else f"the output {n['Z']} = {n['A']}·{n['V']} mixes the values by those weights."
            )
            return (
                f"Self-attention over the {self.t} tokens of {x} (X, one token per row, {self.d} features): each "
                f"token makes a query {n['Q']} = X·{n['WQ']}, a key {n['K']} = X·{n['WK']} and a value "
                f"{n['V']} = X·{n['WV']}. The score {n['S']}(i,j) = Σ_c {n['Q']}(i,c)·{n['K']}(j,c){scaled} says how "
                f"well query i matches key j; {n['A']} is the softmax of each row of {n['S']} (each row sums to 1); "
                + out
            )
        if phase == "error":
            through = f"δ{n['H']} = δ{n['Z']}·{n['WO']}ᵀ, " if self.has_wo else ""
            dh = f"δ{n['H']}" if self.has_wo else f"δ{n['Z']}"
            scaled = "/√d_k" if self.scale else ""
            return (
                f"Back through self-attention, from the output's error δ{n['Z']}: {through}"
                f"δ{n['A']} = {dh}·{n['V']}ᵀ; through the softmax of each row, "
                f"δ{n['S']}(i,j) = {n['A']}(i,j)·(δ{n['A']}(i,j) − Σ_m {n['A']}(i,m)·δ{n['A']}(i,m)); "
                f"δ{n['Q']} = δ{n['S']}·{n['K']}{scaled}, δ{n['K']} = δ{n['S']}ᵀ·{n['Q']}{scaled}, "
                f"δ{n['V']} = {n['A']}ᵀ·{dh}."
            )
        if phase == "gradient":
            wo = f"; ∂E/∂{n['WO']} = {n['H']}ᵀ·δ{n['Z']}" if self.has_wo else ""
            return (
                f"Each weight's gradient sums over the tokens: ∂E/∂{n['WQ']}(d,c) = Σ_i X(i,d)·δ{n['Q']}(i,c), "
                f"and so for {n['WK']} with δ{n['K']} and {n['WV']} with δ{n['V']}{wo}."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        n = self._letters()
        return (
            f"The error goes back through self-attention: every token of X fed its own query, key and value, so "
            f"δX = δ{n['Q']}·{n['WQ']}ᵀ + δ{n['K']}·{n['WK']}ᵀ + δ{n['V']}·{n['WV']}ᵀ."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        n = self._letters()
        if phase == "forward":
            fw = v.state
            arrays = [NamedArray(n["W" + p[1].upper()], v.params[p]) for p in self.spec.params]
            arrays += [NamedArray(n[key], fw[key]) for key in ("Q", "K", "V", "S", "A")]
            if self.has_wo:
                arrays.append(NamedArray(n["H"], fw["H"]))
            arrays.append(NamedArray(n["Z"], v.e))
            return tuple(arrays)
        if phase == "error":
            parts = self._parts_of(v)
            if parts is None:
                return None
            keys = ("Z", "H", "A", "S", "Q", "K", "V") if self.has_wo else ("Z", "A", "S", "Q", "K", "V")
            return tuple(NamedArray(f"δ{n[key]} = ∂E/∂{n[key]}", parts[key]) for key in keys)
        if phase == "gradient":
            return tuple(NamedArray(f"∂E/∂{n['W' + p[1].upper()]}", g) for p, g in v.grads.items())
        return None

    def convention_lines(self) -> tuple[str, ...]:
        return (
            'self-attention: one head, as in "Attention Is All You Need": Q = X·W_Q, K = X·W_K, V = X·W_V with '
            "the weights D×d_k (one row per input feature), scores S = Q·Kᵀ/√d_k (scale: false leaves out √d_k), "
            "A = the softmax of each row of S, output A·V (then ·W_O with wo).",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        rows: tuple[tuple[Expr, str], ...] = ()
        if self.spec.inputs == ("input",):
            rows = ((Elem("I", ("i", "d")), "the network's input X: feature d of token i (one token per row)"),)
        return rows + (
            (
                Elem("Q", ("i", "c")),
                "query feature c of token i: Q = X·W_Q (Q^(1), Q^(2) with several attention layers)",
            ),
            (Elem("K", ("j", "c")), "key feature c of token j: K = X·W_K"),
            (Elem("V", ("j", "c")), "value feature c of token j: V = X·W_V"),
            (Elem("S", ("i", "j")), "score of query i against key j: Σ_c Q(i,c)·K(j,c)/√d_k"),
            (Elem("A", ("i", "j")), "attention weight: softmax of row i of S at j"),
            (Elem("H", ("i", "c")), "A·V, before W_O (with wo)"),
            (Elem("Z", ("i", "o")), "output of the self-attention layer"),
            (Elem("WQ", ("d", "c")), "weight from input feature d to query feature c (WK, WV, WO alike)"),
            (Elem("δS", ("i", "j")), "error at S(i,j): ∂E/∂S(i,j), and so for every matrix"),
        )


__all__ = ["SelfAttention", "attend", "backward_parts"]
