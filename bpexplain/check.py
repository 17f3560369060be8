"""`bpexplain check`: every parameter's back-propagated gradient beside a central finite difference.

The backward pass is the engine's own (`_Run.forward` and `_Run.backward`, exact chain rule); the
estimate only calls the forward numerics and the loss:

    ∂E/∂w ≈ (E(w + h) − E(w − h)) / 2h

whose error is of order h² (truncation) plus ε·E/h (float64 round-off), about 1e-10 with h = 1e-5.
E is the loss of one sample, or (the default) the mean loss over every sample with a target, so
one check covers every path through the network. No printing here: the CLI renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import RunOptions, _Run
from .errors import BpexplainError
from .expr import Expr
from .spec import NetworkSpec

STEP = 1e-5
RTOL = 1e-5
ATOL = 1e-8


@dataclass(frozen=True)
class GradientCheck:
    """One parameter element: the two gradients, and whether they agree."""

    parameter: str  # layer.param
    index: tuple[int, ...]
    symbol: Expr
    backprop: float
    numeric: float
    ok: bool

    @property
    def difference(self) -> float:
        return self.backprop - self.numeric

    @property
    def label(self) -> str:
        return f"{self.parameter}[{', '.join(map(str, self.index))}]"


@dataclass(frozen=True)
class CheckResult:
    network: str
    samples: tuple[int, ...]  # 1-based
    step: float
    rtol: float
    atol: float
    rows: tuple[GradientCheck, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> tuple[GradientCheck, ...]:
        return tuple(r for r in self.rows if not r.ok)


def check_gradients(
    spec: NetworkSpec,
    sample: int | None = None,
    step: float = STEP,
    rtol: float = RTOL,
    atol: float = ATOL,
    limit: int | None = None,
) -> CheckResult:
    """Compare the gradients of E (of `sample`, 1-based, or the mean over all samples) for every parameter.

    `limit` checks at most that many elements of each parameter, spread evenly over it (for large networks).
    """
    samples = _samples(spec, sample)
    run = _Run(spec, RunOptions(command="train", detail="summary"))
    backprop = _backprop(run, spec, samples)
    rows = []
    for layer in run.layers:
        for pname, value in run.params[layer.name].items():
            for idx in _elements(value.shape, limit):
                numeric = _central_difference(run, spec, samples, layer.name, pname, idx, step)
                got = float(backprop[layer.name][pname][idx])
                ok = abs(got - numeric) <= atol + rtol * max(abs(got), abs(numeric))
                rows.append(
                    GradientCheck(
                        f"{layer.name}.{pname}",
                        tuple(int(i) for i in idx),
                        layer.param_symbol(pname, idx),
                        got,
                        numeric,
                        ok,
                    )
                )
    return CheckResult(spec.name, tuple(s + 1 for s in samples), step, rtol, atol, tuple(rows))


def _elements(shape: tuple[int, ...], limit: int | None) -> list[tuple[int, ...]]:
    every = list(np.ndindex(shape))
    if limit is None or len(every) <= limit:
        return every
    return [every[int(k)] for k in np.linspace(0, len(every) - 1, limit).round().astype(int)]


def _samples(spec: NetworkSpec, sample: int | None) -> list[int]:
    with_target = [i for i, s in enumerate(spec.data) if not np.isnan(s.target).any()]
    if sample is not None:
        if not 1 <= sample <= len(spec.data):
            raise BpexplainError(f"there is no sample {sample}", expected=f"a sample from 1 to {len(spec.data)}")
        if sample - 1 not in with_target:
            raise BpexplainError(
                f"sample {sample} has no target, so it has no loss to differentiate",
                expected="a sample with a 'target'",
            )
        return [sample - 1]
    if not with_target:
        raise BpexplainError(
            "no sample has a target, so there is no loss to differentiate",
            expected="a 'target' for at least one sample",
        )
    return with_target


def _mean_loss(run: _Run, spec: NetworkSpec, samples: list[int]) -> float:
    total = 0.0
    for s in samples:
        vals = run.forward(spec.data[s].input, 0)
        total += run.loss.value(vals[-1].y, spec.data[s].target)
    return total / len(samples)


def _backprop(run: _Run, spec: NetworkSpec, samples: list[int]) -> dict[str, dict[str, np.ndarray]]:
    """The engine's gradients of the mean loss: the backward pass per sample, averaged."""
    total = {ln: {p: np.zeros_like(v) for p, v in ps.items()} for ln, ps in run.params.items()}
    for s in samples:
        vals = run.forward(spec.data[s].input, 0)
        run.backward(vals, spec.data[s].target, "exact")
        for layer, v in zip(run.layers, vals):
            for p, g in v.grads.items():
                total[layer.name][p] += g
    return {ln: {p: g / len(samples) for p, g in ps.items()} for ln, ps in total.items()}


def _central_difference(
    run: _Run, spec: NetworkSpec, samples: list[int], layer: str, pname: str, idx: tuple[int, ...], h: float
) -> float:
    value = run.params[layer][pname]
    saved = float(value[idx])
    try:
        value[idx] = saved + h
        plus = _mean_loss(run, spec, samples)
        value[idx] = saved - h
        minus = _mean_loss(run, spec, samples)
    finally:
        value[idx] = saved
    return (plus - minus) / (2 * h)
