"""`bpexplain check`: every parameter's back-propagated gradient beside a central finite difference.

The backward pass is the engine's own (`engine.Gradients`, exact chain rule); the
estimate only calls the forward numerics and the loss:

    ∂E/∂w ≈ (E(w + h) − E(w − h)) / 2h

whose error is of order h² (truncation) plus ε·E/h (float64 round-off), about 1e-10 with h = 1e-5.
E is the loss of one sample, or (the default) the mean loss over every sample with a target, so
one check covers every path through the network. No printing here: the CLI renders the result.

Where E is not differentiable (a ReLU or leaky ReLU at e = 0, a tie in a max-pool window) the
back-propagated gradient is a convention (ReLU'(0) = 0, the first maximum wins) and the central
difference averages the two sides: they need not agree, and neither is wrong. Such a row is a *kink*,
not a disagreement: the layers say which side of each such point their values are on (`Layer.sides`),
and a row whose E(w + h) and E(w − h) see different sides straddles one.

The work is 2 loss evaluations (forward passes of one sample) per element per sample; more than
MAX_EVALUATIONS is refused before it starts (`--limit`, `--sample` or `--max-evaluations` to change it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from .engine import Gradients
from .errors import BpexplainError, Location
from .expr import Expr
from .record import Record
from .spec import NetworkSpec

STEP = 1e-5
RTOL = 1e-5
ATOL = 1e-8
MAX_EVALUATIONS = 20_000  # forward passes of one sample; at 0.1-1 ms each, well under a minute for most networks


class GradientCheck(Record):
    """One parameter element: the two gradients, and whether they agree."""

    __slots__ = __match_args__ = ("parameter", "index", "symbol", "backprop", "numeric", "ok", "kink")

    def __init__(
        self,
        parameter: str,
        index: tuple[int, ...],
        symbol: Expr,
        backprop: float,
        numeric: float,
        ok: bool,
        kink: bool = False,
    ) -> None:
        self.parameter: Final = parameter  # layer.param
        self.index: Final = index
        self.symbol: Final = symbol
        self.backprop: Final = backprop
        self.numeric: Final = numeric
        self.ok: Final = ok  # the two agree within the tolerances
        # they disagree, and E(w + h) and E(w − h) lie on two sides of a non-differentiable point
        self.kink: Final = kink

    @property
    def difference(self) -> float:
        return self.backprop - self.numeric

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "kink" if self.kink else "DISAGREE"

    @property
    def label(self) -> str:
        return f"{self.parameter}[{', '.join(map(str, self.index))}]"


class CheckResult(Record):
    """Every element checked, with the sample(s), step and tolerances of the check."""

    __slots__ = __match_args__ = ("network", "samples", "step", "rtol", "atol", "rows")

    def __init__(
        self,
        network: str,
        samples: tuple[int, ...],
        step: float,
        rtol: float,
        atol: float,
        rows: tuple[GradientCheck, ...],
    ) -> None:
        self.network: Final = network
        self.samples: Final = samples  # 1-based
        self.step: Final = step
        self.rtol: Final = rtol
        self.atol: Final = atol
        self.rows: Final = rows

    @property
    def ok(self) -> bool:
        """No disagreement: every row agrees, or straddles a kink."""
        return all(r.ok or r.kink for r in self.rows)

    @property
    def failures(self) -> tuple[GradientCheck, ...]:
        return tuple(r for r in self.rows if not r.ok and not r.kink)

    @property
    def kinks(self) -> tuple[GradientCheck, ...]:
        return tuple(r for r in self.rows if not r.ok and r.kink)


def check_gradients(
    spec: NetworkSpec,
    sample: int | None = None,
    step: float = STEP,
    rtol: float = RTOL,
    atol: float = ATOL,
    limit: int | None = None,
    max_evaluations: int = MAX_EVALUATIONS,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Compare the gradients of E (of `sample`, 1-based, or the mean over all samples) for every parameter.

    `limit` checks at most that many elements of each parameter, spread evenly over it (for large networks).
    A check that would evaluate the loss more than `max_evaluations` times (0: no limit) is refused before it
    starts. `progress(done, total)` is called after each element.
    """
    samples = _samples(spec, sample)
    run = Gradients(spec)
    plan = [
        (layer, pname, idx)
        for layer in run.layers
        for pname, value in run.params[layer.name].items()
        for idx in _elements(value.shape, limit)
    ]
    _check_size(spec, len(plan), len(samples), limit, max_evaluations)
    backprop = run.gradients(samples)
    rows = []
    for done, (layer, pname, idx) in enumerate(plan, 1):
        numeric, straddles = _central_difference(run, spec, samples, layer.name, pname, idx, step)
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
                kink=not ok and straddles,
            )
        )
        if progress is not None:
            progress(done, len(plan))
    return CheckResult(spec.name, tuple(s + 1 for s in samples), step, rtol, atol, tuple(rows))


def evaluations(elements: int, samples: int) -> int:
    """Loss evaluations (forward passes of one sample) of a check: two per element and sample."""
    return 2 * elements * samples


def _check_size(spec: NetworkSpec, elements: int, samples: int, limit: int | None, most: int) -> None:
    count = evaluations(elements, samples)
    if most and count > most:
        raise BpexplainError(
            f"checking {elements:,} parameter elements on {samples} sample(s) would take {count:,} forward "
            f"passes, more than --max-evaluations {most:,}",
            where=Location(spec.source),
            expected="--limit N (elements of each parameter), --sample N, or a larger --max-evaluations (0: none)",
        )


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


def _central_difference(
    run: Gradients, spec: NetworkSpec, samples: list[int], layer: str, pname: str, idx: tuple[int, ...], h: float
) -> tuple[float, bool]:
    """(E(w + h) − E(w − h))/2h, and whether the two lie on two sides of a non-differentiable point."""
    value = run.params[layer][pname]
    saved = float(value[idx])
    try:
        value[idx] = saved + h
        plus, plus_sides = run.mean_loss(samples)
        value[idx] = saved - h
        minus, minus_sides = run.mean_loss(samples)
    finally:
        value[idx] = saved
    return (plus - minus) / (2 * h), plus_sides != minus_sides
