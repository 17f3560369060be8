"""What batch and layer normalisation share (batchnorm.py, layernorm.py): their keys, equations and backward pass.

Both normalise their input over a group of values, then scale and shift it:

    μ = (1/m)·Σ x,   σ² = (1/m)·Σ (x − μ)²  (biased, as PyTorch),   x̂ = (x − μ)/(σ² + ε)^½,   y = γ·x̂ + β

They differ only in the group. `batchnorm` takes each feature (each channel of a map, with all its rows and
columns) over every sample of the batch, as PyTorch's BatchNorm1d/2d in training mode: γ and β have one value
per feature or channel. `layernorm` takes all the values of one sample, as PyTorch's LayerNorm over every
feature: γ and β have the shape of one sample.

Going back, x̂ depends on x directly and through μ and σ², which every value of the group shares:

    δx̂ = γ·δy,   ∂E/∂σ² = −Σ δx̂·x̂ / (2·(σ² + ε)),   ∂E/∂μ = −Σ δx̂ / (σ² + ε)^½,
    ∂E/∂x = δx̂/(σ² + ε)^½ + ∂E/∂σ²·2·(x − μ)/m + ∂E/∂μ/m

(the path from μ through σ² adds ∂E/∂σ²·Σ −2(x − μ)/m, which is 0). For batchnorm these sums run over the
batch, so E is the batch's loss Σ_s E^(s) and the error of one sample reaches the others; the engine's backward
pass works layer by layer across the samples and `input_gradients` reads them through `v.batch`.

Symbols carry the layer's tag (BN1, LN1): outputs BN1(i), parameters γBN1(i), βBN1(i), the statistics
μBN1(i), σ²BN1(i), the normalised values x̂BN1(i); another sample's value carries its number, y^(2)_1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..expr import Add, Div, Elem, Expr, Mul, Neg, Num, Partial, Pow, Sub, Sym, Var, add, mul
from ..schema import _param
from ..spec import LayerSpec, Param, ParamInit, Reader, _shape_of, read_param
from ..trace import Equation, NamedArray
from .base import EquationContext, LayerValues, StepKey, UnitNames, _departure
from .maps import MapLayer, MapNames, element_indices, ordinal

KEYS = ("name", "type", "gamma", "beta", "eps")
KEY_SCHEMA = {  # for `bpexplain schema`
    "gamma": _param("batchnorm: one scale per feature or channel; layernorm: the shape of one sample (default 1)"),
    "beta": _param("batchnorm: one shift per feature or channel; layernorm: the shape of one sample (default 0)"),
    "eps": {
        "description": "batchnorm, layernorm: ε added to σ² (default 1e-5)",
        "type": "number",
        "exclusiveMinimum": 0,
    },
}
EPS = 1e-5
HALF = Div(Num(1), Num(2))
EPSILON = Sym("ε")


class Normalization(MapLayer):
    """What batchnorm and layernorm share: the equations, and the backward pass through μ and σ²."""

    has_activation = False
    keeps_state = True
    # what --round cannot round (options.py refuses it): the engine rounds only e, y and δ
    unrounded = "the μ, σ², x̂ and the terms through them"
    prefix = ""  # BN or LN

    # ---- reading YAML ------------------------------------------------------------------------

    @classmethod
    def param_shape(cls, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

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
        if "activation" in raw:
            r.fail(
                path + ("activation",),
                f"a {cls.type_name} layer has no activation of its own",
                expected="a layer {type: activation, activation: ...} after it",
            )
        r.mapping(raw, path, KEYS)
        shape = cls.param_shape(in_shape)
        params = {
            "gamma": _read_param(r, raw, path, "gamma", shape, 1.0, init, cls.param_words(in_shape)),
            "beta": _read_param(r, raw, path, "beta", shape, 0.0, init, cls.param_words(in_shape)),
        }
        eps = r.number(raw.get("eps", EPS), path + ("eps",), positive=True)
        options = {"number": ordinal(r, index, cls.type_name), "eps": eps}
        return LayerSpec(
            name, cls.type_name, index, in_shape, in_shape, params, options=options, where=r.doc.where(path)
        )

    @classmethod
    def param_words(cls, in_shape: tuple[int, ...]) -> str:
        raise NotImplementedError

    # ---- naming ------------------------------------------------------------------------------

    def make_names(self) -> UnitNames:
        # called by MapLayer.__init__ once the tag is known: the layer's label, ε and shape are set here too
        self.label = self.prefix + self.tag
        self.eps = float(self.spec.options.get("eps", EPS))
        self.shape = self.spec.in_shape
        return MapNames(self.label, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)  # type: ignore[return-value]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        if pname not in ("gamma", "beta"):
            raise KeyError(pname)
        key = (pname, idx, prime)
        sym = self._symbols.get(key)
        if sym is None:
            shape = self.spec.params[pname].value.shape
            flat = int(np.ravel_multi_index(idx, shape))
            base = ("γ" if pname == "gamma" else "β") + self.label
            sym = self._symbols[key] = Elem(base, element_indices(shape, flat), prime=prime)
        return sym  # type: ignore[no-any-return]

    def _cached(self, key: tuple, make: Any) -> Any:
        sym = self._symbols.get(key)
        if sym is None:
            sym = self._symbols[key] = make()
        return sym

    def group_of(self, j: int) -> int:
        """The group (feature, channel; 0 for layernorm) of input element j: its μ and σ²."""
        raise NotImplementedError

    def gamma_index(self, j: int) -> int:
        """The flat index of the γ (and β) that scales element j."""
        raise NotImplementedError

    def members(self, v: LayerValues, g: int) -> list[tuple[LayerValues, int, int | None]]:
        """Every value of group g: (the values of its sample, its flat index, the sample's place in the batch
        where the group spans several samples, else None)."""
        raise NotImplementedError

    def group_size(self, v: LayerValues) -> int:
        """m: how many values share a μ and σ²."""
        raise NotImplementedError

    def stat_symbol(self, what: str, g: int) -> Sym:
        """μ or σ² of group g (one per feature or channel for batchnorm; one per sample for layernorm)."""
        return self._cached((what, g), lambda: Elem(what + self.label, (str(g + 1),)))

    def xhat_symbol(self, j: int, t: int | None = None) -> Sym:
        return self._cached(
            ("x̂", j, t),
            lambda: Elem("x̂" + self.label, element_indices(self.shape, j), superscript=_sup(t)),
        )

    def dxhat_symbol(self, j: int, t: int | None = None) -> Sym:
        return self._cached(
            ("δx̂", j, t),
            lambda: Elem("δx̂" + self.label, element_indices(self.shape, j), superscript=_sup(t)),
        )

    def input_symbol(self, j: int, t: int | None = None) -> Expr:
        sym = self.inputs.out(j)
        if t is None:
            return sym
        return self._cached(("x", j, t), lambda: type(sym)(sym.base, sym.indices, sym.prime, _sup(t)))

    def batch_loss(self, ctx: EquationContext) -> Sym:
        """The loss the batch terms differentiate: the batch's for batchnorm, the sample's for layernorm."""
        return ctx.loss_symbol

    # ---- numerics ----------------------------------------------------------------------------

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.forward_values(params, (x,), StepKey(0, 0, 1, False))[0]

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        raise TypeError(f"a {self.type_name} layer's gradient needs its forward values: see input_gradients")

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        raise TypeError(f"a {self.type_name} layer's gradients need its forward values: see parameter_gradients")

    def terms(self, params: Mapping[str, np.ndarray], v: LayerValues) -> dict[str, np.ndarray]:
        """The backward pass's intermediate values for v's sample: δx̂ (of the sample, and of every sample of the
        group's batch), ∂E/∂σ² and ∂E/∂μ (one per group), ∂E/∂x (of the sample)."""
        raise NotImplementedError

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        # the backward values, kept for the equations, which read and never compute them
        terms = v.state["terms"] = self.terms(params, v)
        return (terms["dx"],)

    # ---- equations ---------------------------------------------------------------------------

    def statistic_equations(self, v: LayerValues) -> Iterator[Equation]:
        mean, var = v.state["mean"], v.state["var"]
        for g in range(mean.size):
            members = self.members(v, g)
            m = Num(len(members))
            mu = Var(self.stat_symbol("μ", g), float(mean.flat[g]))
            xs = [Var(self.input_symbol(j, t), float(w.x.flat[j])) for w, j, t in members]
            yield Equation.of("forward", mu.sym, Mul((Div(Num(1), m), add(*xs))), mu.value)
            squares = [Pow(Sub(x, mu), Num(2)) for x in xs]
            yield Equation.of(
                "forward", self.stat_symbol("σ²", g), Mul((Div(Num(1), m), add(*squares))), float(var.flat[g])
            )

    def _root(self, v: LayerValues, g: int) -> Expr:
        """(σ² + ε)^½ of group g, bound."""
        sigma2 = Var(self.stat_symbol("σ²", g), float(v.state["var"].flat[g]))
        return Pow(Add((sigma2, Var(EPSILON, self.eps))), HALF)

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        yield from self.statistic_equations(v)
        xhat = v.state["xhat"]
        for j in range(self.units):
            g = self.group_of(j)
            mu = Var(self.stat_symbol("μ", g), float(v.state["mean"].flat[g]))
            x = Var(self.input_symbol(j), float(v.x.flat[j]))
            yield Equation.of("forward", self.xhat_symbol(j), Div(Sub(x, mu), self._root(v, g)), float(xhat.flat[j]))
            yield Equation.of("forward", self.pre_symbol(j), self.pre_activation_rhs(v, j), float(v.e.flat[j]))

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        k = self.gamma_index(i)
        gamma = Var(self.param_symbols("gamma")[k], float(v.params["gamma"].flat[k]))
        beta = Var(self.param_symbols("beta")[k], float(v.params["beta"].flat[k]))
        return Add((Mul((gamma, Var(self.xhat_symbol(i), float(v.state["xhat"].flat[i])))), beta))

    def _through(self, v: LayerValues) -> tuple[Mapping[str, np.ndarray], bool]:
        """The parameters the error goes back through (the updated ones under --update-order sequential)."""
        if v.prop_params is not None and v.prop_params is not v.params:
            return v.prop_params, True
        return v.params, False

    def _terms_of(self, v: LayerValues) -> dict[str, np.ndarray]:
        """The backward values the numeric pass kept (`input_gradients`)."""
        return v.state["terms"]  # type: ignore[no-any-return]

    def error_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        incoming: list[Expr] | None,
        target: np.ndarray | None,
        output_pairs: list[tuple[Expr, Expr]] | None,
    ) -> Iterator[Equation]:
        yield from super().error_equations(v, ctx, incoming, target, output_pairs)
        terms = self._terms_of(v)
        exact = self._terms_of(v.exact) if v.exact is not None else None
        params, prime = self._through(v)
        factors = self.unit_factors(v, ctx, slide=False)
        for j in range(self.units):
            k = self.gamma_index(j)
            gamma = Var(self.param_symbols("gamma", prime)[k], float(params["gamma"].flat[k]))
            value = float(terms["dxhat"].flat[j])
            yield Equation.of(
                "error",
                self.dxhat_symbol(j),
                Mul((gamma,) + factors[j]),
                value,
                _departure(value, float(exact["dxhat"].flat[j]) if exact is not None else None),
            )
        loss = self.batch_loss(ctx)
        for g in range(terms["dvar"].size):
            members = self.members(v, g)
            dxhats, xhats = [], []
            for w, j, t in members:
                dxhats.append(Var(self.dxhat_symbol(j, t), float(terms["dxhat_batch"][t or 0].flat[j])))
                xhats.append(Var(self.xhat_symbol(j, t), float(w.state["xhat"].flat[j])))
            sigma2 = Var(self.stat_symbol("σ²", g), float(v.state["var"].flat[g]))
            products = add(*[Mul((d, x)) for d, x in zip(dxhats, xhats)])
            dvar = Neg(Div(products, Mul((Num(2), Add((sigma2, Var(EPSILON, self.eps)))))))
            value = float(terms["dvar"].flat[g])
            yield Equation.of(
                "error",
                Partial(loss, self.stat_symbol("σ²", g)),
                dvar,
                value,
                _departure(value, float(exact["dvar"].flat[g]) if exact is not None else None),
                note=self.batch_note(),
            )
            value = float(terms["dmu"].flat[g])
            yield Equation.of(
                "error",
                Partial(loss, self.stat_symbol("μ", g)),
                Neg(Div(add(*dxhats), self._root(v, g))),
                value,
                _departure(value, float(exact["dmu"].flat[g]) if exact is not None else None),
                note=self.batch_note(),
            )

    def batch_note(self) -> str:
        return ""

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        terms = self._terms_of(v)
        g = self.group_of(j)
        m = Num(self.group_size(v))
        loss = self.batch_loss(ctx)
        dxhat = Var(self.dxhat_symbol(j), float(terms["dxhat"].flat[j]))
        x = Var(self.input_symbol(j), float(v.x.flat[j]))
        mu = Var(self.stat_symbol("μ", g), float(v.state["mean"].flat[g]))
        dvar = Var(Partial(loss, self.stat_symbol("σ²", g)), float(terms["dvar"].flat[g]))
        dmu = Var(Partial(loss, self.stat_symbol("μ", g)), float(terms["dmu"].flat[g]))
        return Add(
            (
                Div(dxhat, self._root(v, g)),
                Mul((dvar, Num(2), Div(Sub(x, mu), m))),
                Div(dmu, m),
            )
        )

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        shape = self.spec.params["gamma"].value.shape
        k = int(np.ravel_multi_index(idx, shape))
        factors = self.unit_factors(v, ctx, slide=False)
        terms: list[Expr] = []
        for j in self.scaled_by(k):
            if pname == "gamma":
                terms.append(Mul(factors[j] + (Var(self.xhat_symbol(j), float(v.state["xhat"].flat[j])),)))
            else:
                terms.append(mul(*factors[j]))
        return add(*terms)

    def scaled_by(self, k: int) -> range | tuple[int, ...]:
        """The flat indices of the elements (of one sample) that γ_k scales."""
        raise NotImplementedError

    # ---- what the blocks say -------------------------------------------------------------------

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        if phase == "forward":
            return (
                NamedArray(f"μ{self.label}", np.asarray(v.state["mean"])),
                NamedArray(f"σ²{self.label}", np.asarray(v.state["var"])),
                NamedArray(f"x̂{self.label}", v.state["xhat"]),
                NamedArray(self.label, v.y),
            )
        if phase == "error" and v.d_out is not None:
            terms = self._terms_of(v)
            return (
                NamedArray(f"δ{self.label}", v.d_out),
                NamedArray(f"δx̂{self.label}", terms["dxhat"]),
                NamedArray(f"∂E/∂σ²{self.label}", terms["dvar"]),
                NamedArray(f"∂E/∂μ{self.label}", terms["dmu"]),
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        return (
            f"Back through {self.type_name} {self.label}: each input gets δx̂/(σ² + ε)^½ directly, plus its share of "
            f"the terms through the shared μ and σ²: ∂E/∂σ²·2·(x − μ)/m + ∂E/∂μ/m ({self.label}'s error block)."
        )


def _sup(t: int | None) -> str:
    return "" if t is None else f"({t + 1})"


def _read_param(
    r: Reader, raw: dict, path: tuple, key: str, shape: tuple[int, ...], default: float, init: ParamInit, words: str
) -> Param:
    """γ or β as the file gives it (a plain matrix for a one-channel map too), or its default (1 or 0)."""
    given = raw.get(key)
    if isinstance(given, dict) and "value" not in given and "init" not in given:  # {trainable: false}: the default
        r.mapping(given, path + (key,), ("value", "trainable", "init"))
        trainable = r.boolean(given.get("trainable", True), path + (key, "trainable"))
        init.count(r, path + (key,), shape)
        array = np.full(shape, default)
        array.setflags(write=False)
        return Param(array, trainable, "default")
    value = given.get("value") if isinstance(given, dict) else given
    read_shape = shape
    if len(shape) == 3 and shape[0] == 1 and _shape_of(value) == shape[1:]:
        read_shape = shape[1:]
    param = read_param(r, given, path + (key,), read_shape, words, init, 1, optional=True)
    if param is None:
        array = np.full(shape, default)
        array.setflags(write=False)
        return Param(array, True, "default")
    if param.value.shape != shape:
        array = param.value.reshape(shape)
        array.setflags(write=False)
        return Param(array, param.trainable, param.origin)
    return param


__all__ = ["EPS", "Normalization"]
