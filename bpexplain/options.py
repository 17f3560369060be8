"""How a run is asked for (`RunOptions`) and the checks it must pass against a network before it starts.

A leaf under the engine: the engine, the preamble and the API read the options, and `check_options` asks
`limits.py` whether a full trace fits its format; none of them is imported here, so the options and their
checks form no circle with the modules that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from .errors import BpexplainError, Location
from .limits import check_trace_size
from .record import Record

if TYPE_CHECKING:
    from .spec import NetworkSpec


class RunOptions(Record):
    """What a run is asked to do and show: every choice of `forward` and `train`, with the CLI's defaults.

    Change one with `record.replace(options, detail="summary")`."""

    __slots__ = __match_args__ = (
        "command",
        "steps",
        "epochs",
        "notation",
        "rule",
        "update_order",
        "batch",
        "shuffle",
        "seed",
        "until_loss",
        "detail",
        "precision",
        "sample",
        "max_equations",
        "output_format",
        "round",
        "preamble",
        "summary_steps",
    )

    def __init__(
        self,
        command: str = "train",  # forward or train
        steps: int | None = None,
        epochs: int | None = None,
        notation: str = "lecture",  # lecture or textbook
        rule: str = "exact",  # exact or slide
        update_order: str = "simultaneous",  # simultaneous or sequential
        batch: str = "single",  # single (one sample a step) or full (batch gradient descent)
        shuffle: bool = False,
        seed: int = 0,
        until_loss: float | None = None,
        detail: str = "full",  # full, layer or summary
        precision: int = 4,
        sample: int = 1,  # forward: which sample (1-based)
        max_equations: int | None = None,  # refuse a longer full trace (None: the format's limit; 0: none; limits.py)
        output_format: str = "text",  # the format the trace is written in, whose cost limits.py weighs
        round: int | None = None,  # carry every value rounded to this many decimals, as by hand (see rounding.py)
        preamble: str = "full",  # what the trace states before its first step: full, short or none (preamble.py)
        # (first, last): a summary run that nothing stops early hands out parameters and gradients only in its
        # first and last this many steps' StepEnds (what a summary table shows), the others' are None; None: in
        # every one
        summary_steps: tuple[int, int] | None = None,
    ) -> None:
        self.command: Final = command
        self.steps: Final = steps
        self.epochs: Final = epochs
        self.notation: Final = notation
        self.rule: Final = rule
        self.update_order: Final = update_order
        self.batch: Final = batch
        self.shuffle: Final = shuffle
        self.seed: Final = seed
        self.until_loss: Final = until_loss
        self.detail: Final = detail
        self.precision: Final = precision
        self.sample: Final = sample
        self.max_equations: Final = max_equations
        self.output_format: Final = output_format
        self.round: Final = round
        self.preamble: Final = preamble
        self.summary_steps: Final = summary_steps


def check_options(spec: NetworkSpec, opts: RunOptions) -> None:
    check_trace_size(spec, opts, trace_equations(spec))
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
    _check_kinds(spec, opts)
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


def trace_equations(spec: NetworkSpec) -> list[int]:
    """Each layer's equations a sample in a full trace, as its kind counts them (for the trace's budget)."""
    from .layers import layer_class

    return [layer_class(ls.type).trace_equations(ls) for ls in spec.layers]


def _check_kinds(spec: NetworkSpec, opts: RunOptions) -> None:
    """What a layer kind itself cannot do with these options: its module says so (`Layer.check_run`)."""
    from .layers import layer_class

    for ls in spec.layers:
        layer_class(ls.type).check_run(ls, opts)


def _check_rounding(spec: NetworkSpec) -> None:
    """--round carries every value an equation shows rounded; a kind that computes values of its own the engine
    cannot round (batchnorm's μ, σ², x̂; attention's scores) names them in `unrounded`, and is refused."""
    from .layers import layer_class

    for ls in spec.layers:
        unrounded = layer_class(ls.type).unrounded
        if unrounded:
            raise BpexplainError(
                f"--round cannot round {unrounded} of layer {ls.name!r} ({ls.type}): it works them in full float64",
                where=ls.where or _where(spec),
                path=f"layers[{ls.index}]",
                expected=f"no --round with a {ls.type} layer (--precision N shows fewer digits)",
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
