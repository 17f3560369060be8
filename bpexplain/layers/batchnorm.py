"""The batchnorm layer (`type: batchnorm`): each feature, or each channel of a map, normalised over the batch.

As PyTorch's BatchNorm1d/2d in training mode: μ and the biased σ² of feature i over every sample of the batch
(and, for a map, over every row and column of channel i), x̂ = (x − μ)/(σ² + ε)^½, BN1(i) = γ_i·x̂ + β_i with one
γ and β per feature or channel. Its forward needs the whole batch (`batch_coupled`): the engine computes every
sample of a step layer by layer, and each sample's values see the others through `LayerValues.batch`.

The error of one sample reaches the others through μ and σ², so the δ's below a batchnorm layer are those of the
batch's loss E = Σ_s E^(s); the engine's mean of the samples' gradients is then the gradient of the mean loss.
The shared equations are in normalization.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..expr import Elem, Expr, Sym
from ..spec import format_shape
from .base import LOSS, EquationContext, LayerValues, StepKey
from .normalization import KEY_SCHEMA, KEYS, Normalization


class BatchNorm(Normalization):
    """Each feature (each channel of a map) normalised over every sample of the batch."""

    type_name = "batchnorm"
    prefix = "BN"
    batch_coupled = True

    @classmethod
    def param_shape(cls, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (in_shape[0],)

    @classmethod
    def param_words(cls, in_shape: tuple[int, ...]) -> str:
        if len(in_shape) == 3:
            return f"one value per channel of the {format_shape(in_shape)} input"
        return "one value per feature of the input"

    def spatial(self) -> int:
        return int(np.prod(self.shape[1:])) if len(self.shape) == 3 else 1

    def group_of(self, j: int) -> int:
        return j // self.spatial()

    def gamma_index(self, j: int) -> int:
        return j // self.spatial()

    def scaled_by(self, k: int) -> range:
        n = self.spatial()
        return range(k * n, (k + 1) * n)

    def members(self, v: LayerValues, g: int) -> list[tuple[LayerValues, int, int | None]]:
        batch = v.batch if v.batch is not None else [v]
        return [(w, j, t) for t, w in enumerate(batch) for j in self.scaled_by(g)]

    def group_size(self, v: LayerValues) -> int:
        return (len(v.batch) if v.batch is not None else 1) * self.spatial()

    def batch_loss(self, ctx: EquationContext) -> Sym:
        return LOSS

    def _axes(self) -> tuple[int, ...]:
        return (0, 2, 3) if len(self.shape) == 3 else (0,)

    def _broadcast(self, a: np.ndarray) -> np.ndarray:
        """A per-channel array lined up with a batch (N, C, H, W) or (N, F)."""
        return a.reshape((1, -1, 1, 1) if len(self.shape) == 3 else (1, -1))

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return self.forward_batch(params, [xs], [key])[0]

    def forward_batch(
        self, params: Mapping[str, np.ndarray], batch: list[tuple[np.ndarray, ...]], keys: list[StepKey]
    ) -> list[tuple[np.ndarray, dict[str, Any]]]:
        x = np.stack([xs[0] for xs in batch])
        axes = self._axes()
        mean = x.mean(axis=axes)
        centred = x - self._broadcast(mean)
        var = (centred * centred).mean(axis=axes)
        xhat = centred / np.sqrt(self._broadcast(var) + self.eps)
        e = self._broadcast(params["gamma"]) * xhat + self._broadcast(params["beta"])
        statistics = {"mean": mean, "variance": var}
        return [
            (e[s], {"mean": mean, "var": var, "xhat": xhat[s], "statistics": statistics}) for s in range(len(batch))
        ]

    def terms(self, params: Mapping[str, np.ndarray], v: LayerValues) -> dict[str, np.ndarray]:
        batch = v.batch if v.batch is not None else [v]
        s = next(k for k, w in enumerate(batch) if w is v)
        d = np.stack([w.d_pre for w in batch])  # type: ignore[misc]
        xhat = np.stack([w.state["xhat"] for w in batch])
        x = np.stack([w.x for w in batch])
        mean, var = v.state["mean"], v.state["var"]
        axes = self._axes()
        m = x.size // mean.size
        root = np.sqrt(self._broadcast(var) + self.eps)
        dxhat = self._broadcast(params["gamma"]) * d
        dvar = -(dxhat * xhat).sum(axis=axes) / (2 * (var + self.eps))
        dmu = -dxhat.sum(axis=axes) / np.sqrt(var + self.eps)
        dx = dxhat / root + self._broadcast(dvar) * 2 * (x - self._broadcast(mean)) / m + self._broadcast(dmu) / m
        return {"dxhat": dxhat[s], "dxhat_batch": dxhat, "dvar": dvar, "dmu": dmu, "dx": dx[s]}

    def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]:
        assert v.d_pre is not None
        if len(self.shape) == 3:
            return {"gamma": (v.d_pre * v.state["xhat"]).sum(axis=(1, 2)), "beta": v.d_pre.sum(axis=(1, 2))}
        return {"gamma": v.d_pre * v.state["xhat"], "beta": v.d_pre.copy()}

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        if phase == "forward":
            what = "channel (over its rows and columns)" if len(self.shape) == 3 else "feature"
            return (
                f"Batch normalisation: for each {what}, the mean μ and the variance σ² (biased, 1/m) over every "
                f"sample of the batch; x̂ = (x − μ)/(σ² + ε)^½ with ε = {self.eps:g}, then {self.label} = γ·x̂ + β."
            )
        if phase == "gradient":
            return f"∂E/∂γ = Σ δ{self.label}·x̂, ∂E/∂β = Σ δ{self.label}, over this sample's values of each γ and β."
        return None

    def batch_note(self) -> str:
        return "a batch term: every sample's δx̂"

    def convention_lines(self) -> tuple[str, ...]:
        return (
            "batchnorm: batch statistics, as PyTorch in training mode (the variance biased, 1/m). A sample's "
            "error reaches the others through μ and σ², so below a batchnorm layer, and in its ∂E/∂σ² and ∂E/∂μ, "
            "E is the batch's summed loss Σ_s E^(s); the mean of the samples' gradients is then the gradient of "
            "the mean loss.",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        i = ("i",)
        return (
            (Elem("BNk", i), "output of batchnorm layer k: γ·x̂ + β"),
            (Elem("μBNk", i), "mean of feature (channel) i over the batch"),
            (Elem("σ²BNk", i), "variance of feature (channel) i over the batch, 1/m"),
            (Elem("x̂BNk", i), "normalised value (x − μ)/(σ² + ε)^½"),
            (Elem("γBNk", i), "scale of feature (channel) i"),
            (Elem("βBNk", i), "shift of feature (channel) i"),
            (Elem("δx̂BNk", i), "∂E/∂x̂ = γ·δ"),
        )


__all__ = ["KEY_SCHEMA", "KEYS", "BatchNorm"]
