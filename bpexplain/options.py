"""How a run is asked for (`RunOptions`) and the checks it must pass against a network before it starts.

A leaf under the engine: the engine, the preamble and the API read the options, and `check_options` asks
`limits.py` whether a full trace fits its format; none of them is imported here, so the options and their
checks form no circle with the modules that use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import BpexplainError, Location
from .limits import check_trace_size

if TYPE_CHECKING:
    from .spec import NetworkSpec


@dataclass(frozen=True)
class RunOptions:
    command: str = "train"  # forward or train
    steps: int | None = None
    epochs: int | None = None
    notation: str = "lecture"  # lecture or textbook
    rule: str = "exact"  # exact or slide
    update_order: str = "simultaneous"  # simultaneous or sequential
    batch: str = "single"  # single (one sample a step) or full (batch gradient descent)
    shuffle: bool = False
    seed: int = 0
    until_loss: float | None = None
    detail: str = "full"  # full, layer or summary
    precision: int = 4
    sample: int = 1  # forward: which sample (1-based)
    max_equations: int | None = None  # refuse a longer full trace (None: the format's limit; 0: none; limits.py)
    output_format: str = "text"  # the format the trace is written in, whose cost limits.py weighs
    round: int | None = None  # carry every value rounded to this many decimals, as by hand (see rounding.py)
    preamble: str = "full"  # what the trace states before its first step: full, short or none (preamble.py)
    # (first, last): a summary run that nothing stops early hands out parameters and gradients only in its first
    # and last this many steps' StepEnds (what a summary table shows), the others' are None; None: in every one
    summary_steps: tuple[int, int] | None = None


def check_options(spec: NetworkSpec, opts: RunOptions) -> None:
    check_trace_size(spec, opts)
    if opts.round is not None and not 0 <= opts.round <= 12:
        raise BpexplainError(f"cannot round to {opts.round} decimals", expected="--round from 0 to 12")
    if opts.round is not None:
        _check_rounding(spec)
    if opts.rule == "slide" and opts.notation == "textbook":
        raise BpexplainError(
            "--rule slide is the lecture's shortcut for its δ = ∂E/∂y", expected="--notation lecture with --rule slide"
        )
    _check_batch_coupled(spec, opts)
    if opts.batch == "full" and opts.update_order == "sequential":
        raise BpexplainError(
            "--update-order sequential updates during one sample's backward pass",
            expected="--batch single with --update-order sequential",
        )
    _check_attention(spec, opts)
    if not spec.data:
        raise BpexplainError(
            "the network has no data", where=_where(spec), expected="a 'data' list with at least one input"
        )
    if opts.command == "forward" and not 1 <= opts.sample <= len(spec.data):
        raise BpexplainError(
            f"there is no sample {opts.sample}",
            where=_where(spec),
            expected=f"a sample number from 1 to {len(spec.data)}",
        )
    if opts.command == "train":
        for i, s in enumerate(spec.data):
            if np.isnan(s.target).any():
                raise BpexplainError(
                    f"sample {i + 1} has no target, so it cannot be trained on",
                    where=_where(spec),
                    path=f"data[{i}]",
                    expected="a 'target' for every sample",
                )


def _check_attention(spec: NetworkSpec, opts: RunOptions) -> None:
    """What a self_attention layer cannot do (docs/attention.md): --round, whose rounding reaches only the values a
    layer hands on, not its Q, K, V, scores and weights; --update-order sequential where the error goes back
    through a `wo`: the errors inside the layer would then differ between its gradients (W_O) and what it sends
    on (W_O'). Without `wo` no weight stands before the last step, δX = δQ·W_Qᵀ + δK·W_Kᵀ + δV·W_Vᵀ (as in dense)."""
    for ls in spec.layers:
        if ls.type != "self_attention":
            continue
        path = f"layers[{ls.index}]"
        if opts.round is not None:
            raise BpexplainError(
                f"--round cannot round the queries, keys, values, scores and weights inside the self_attention "
                f"layer {ls.name!r} as it computes them",
                where=ls.where,
                path=path,
                expected="no --round with a self_attention layer (every value is then exact float64)",
            )
        if (
            opts.command == "train"
            and opts.update_order == "sequential"
            and "wo" in ls.params
            and ls.inputs != ("input",)
        ):
            raise BpexplainError(
                f"--update-order sequential sends the error on through weights just updated, but the self_attention "
                f"layer {ls.name!r} meets W_O before the softmax and W_Q, W_K, W_V after it, so the errors inside it "
                "would differ between its gradients and what it sends back",
                where=ls.where,
                path=path,
                expected="--update-order simultaneous, or a self_attention layer without wo or reading the input",
            )


def _check_rounding(spec: NetworkSpec) -> None:
    """--round needs every value an equation shows to be carried rounded; a kind that keeps values of its own
    that the engine cannot round (batchnorm's μ, σ², x̂) says so with `unrounded`."""
    from .layers import layer_class

    for ls in spec.layers:
        unrounded = getattr(layer_class(ls.type), "unrounded", "")
        if unrounded:
            raise BpexplainError(
                f"--round carries every value rounded, but layer {ls.name!r} ({ls.type}) works {unrounded} "
                "in full float64",
                where=ls.where or _where(spec),
                expected="no --round with this layer (--precision N shows fewer digits)",
            )


def _check_batch_coupled(spec: NetworkSpec, opts: RunOptions) -> None:
    """A layer that normalises over the batch (batchnorm) needs one: two or more samples, all in every step."""
    from .layers import layer_class

    coupled = next((ls for ls in spec.layers if layer_class(ls.type).batch_coupled), None)
    if coupled is None:
        return
    what = f"layer {coupled.name!r} ({coupled.type}) normalises over the batch"
    where = coupled.where or _where(spec)
    if len(spec.data) < 2:
        raise BpexplainError(
            f"{what}, but the data has {len(spec.data)} sample{'' if len(spec.data) == 1 else 's'}",
            where=where,
            expected="two or more samples in 'data'",
        )
    if opts.command != "train":
        return
    if opts.update_order == "sequential":
        raise BpexplainError(
            f"{what}: one update after the whole batch, so --update-order sequential has no meaning",
            where=where,
            expected="--batch full with the default --update-order simultaneous",
        )
    if opts.batch != "full":
        raise BpexplainError(f"{what}, so a step needs every sample", where=where, expected="--batch full")


def _where(spec: NetworkSpec) -> Location:
    return Location(spec.source)
