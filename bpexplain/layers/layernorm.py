"""The layernorm layer (`type: layernorm`): all the values of one sample normalised together.

As PyTorch's LayerNorm over every feature of a sample (a vector, or a whole C×H×W map): μ and the biased σ² of
the sample's m values, x̂ = (x − μ)/(σ² + ε)^½, LN1(i) = γ_i·x̂_i + β_i with γ and β of the shape of one sample.
Nothing couples the samples, so it works one sample at a time, with --batch single or full. The shared
equations are in normalization.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Sym
from .base import EquationContext, LayerValues, StepKey
from .normalization import KEY_SCHEMA, KEYS, Normalization


class LayerNorm(Normalization):
    """All the values of one sample normalised together."""

    type_name = "layernorm"
    prefix = "LN"

    @classmethod
    def param_shape(cls, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape

    @classmethod
    def param_words(cls, in_shape: tuple[int, ...]) -> str:
        return "one value per element of a sample"

    def stat_symbol(self, what: str, g: int) -> Sym:
        return self._cached((what, g), lambda: Sym(what + self.label))

    def group_of(self, j: int) -> int:
        return 0

    def gamma_index(self, j: int) -> int:
        return j

    def scaled_by(self, k: int) -> tuple[int, ...]:
        return (k,)

    def members(self, v: LayerValues, g: int) -> list[tuple[LayerValues, int, int | None]]:
        return [(v, j, None) for j in range(self.units)]

    def group_size(self, v: LayerValues) -> int:
        return self.units

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        x = xs[0]
        mean = x.mean()
        centred = x - mean
        var = (centred * centred).mean()
        xhat = centred / np.sqrt(var + self.eps)
        e = params["gamma"] * xhat + params["beta"]
        return e, {"mean": np.array([mean]), "var": np.array([var]), "xhat": xhat}

    def terms(self, params: Mapping[str, np.ndarray], v: LayerValues) -> dict[str, np.ndarray]:
        assert v.d_pre is not None
        xhat, var, mean = v.state["xhat"], float(v.state["var"][0]), float(v.state["mean"][0])
        m = v.x.size
        dxhat = params["gamma"] * v.d_pre
        dvar = -(dxhat * xhat).sum() / (2 * (var + self.eps))
        dmu = -dxhat.sum() / np.sqrt(var + self.eps)
        dx = dxhat / np.sqrt(var + self.eps) + dvar * 2 * (v.x - mean) / m + dmu / m
        return {"dxhat": dxhat, "dxhat_batch": dxhat[None], "dvar": np.array([dvar]), "dmu": np.array([dmu]), "dx": dx}

    def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]:
        assert v.d_pre is not None
        return {"gamma": v.d_pre * v.state["xhat"], "beta": v.d_pre.copy()}

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            return (
                f"Layer normalisation: the mean μ and the variance σ² (biased, 1/m) of this sample's {self.units} "
                f"values; x̂ = (x − μ)/(σ² + ε)^½ with ε = {self.eps:g}, then {self.label} = γ·x̂ + β, element by "
                "element."
            )
        if phase == "gradient":
            return f"∂E/∂γ = δ{self.label}·x̂ and ∂E/∂β = δ{self.label}, element by element."
        return None

    def convention_lines(self) -> tuple[str, ...]:
        return ("layernorm: over all the values of one sample, as PyTorch's LayerNorm; the variance biased, 1/m.",)

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        i = ("i",)
        return (
            (Elem("LNk", i), "output of layernorm layer k: γ·x̂ + β"),
            (Sym("μLNk"), "mean of the sample's values"),
            (Sym("σ²LNk"), "variance of the sample's values, 1/m"),
            (Elem("x̂LNk", i), "normalised value (x − μ)/(σ² + ε)^½"),
            (Elem("γLNk", i), "scale of element i"),
            (Elem("βLNk", i), "shift of element i"),
            (Elem("δx̂LNk", i), "∂E/∂x̂ = γ·δ"),
        )


__all__ = ["KEY_SCHEMA", "KEYS", "LayerNorm"]
