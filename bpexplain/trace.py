"""The records a run produces, in the order it produces them.

The engine yields a stream of events: one `TraceHeader`, then for each step a `StepStart`, the
`Block`s of equations (one per phase and layer), and a `StepEnd`; finally a `TraceEnd`. Renderers
consume the stream as it comes, so a long trace is written while it is computed and never held
in memory whole. `Trace` collects a stream for the Python API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import numpy as np

from .expr import Expr, Num, substitute, symbolic
from .record import Record

PHASES = ("forward", "loss", "error", "gradient", "update")


class Equation(Record):
    """symbol = expression = substituted = value.

    The right-hand side is kept once, as the bound tree the layer built (see `bpexplain.expr`); its two
    readings, `expression` (in symbols) and `substituted` (in numbers), are made from it when asked for.
    Printers print the bound tree either way directly (`Printer.doprint(bound, numbers=...)`), so that a
    sum of hundreds of terms costs only the terms shown, and no second tree is made per equation.
    """

    __slots__ = __match_args__ = ("kind", "symbol", "bound", "value", "exact", "note", "cells")

    def __init__(
        self,
        kind: str,  # forward, loss, error, gradient, update
        symbol: Expr,
        bound: Expr,
        value: float,
        exact: float | None = None,  # the true value, when --rule slide makes this one depart from it
        note: str = "",
        # a feature map's forward equation: the flat indices (channel, row, column order) of the elements of
        # the layer's input it reads, its receptive field
        cells: tuple[int, ...] = (),
    ) -> None:
        self.kind: Final = kind
        self.symbol: Final = symbol
        self.bound: Final = bound
        self.value: Final = value
        self.exact: Final = exact
        self.note: Final = note
        self.cells: Final = cells

    @classmethod
    def of(
        cls,
        kind: str,
        symbol: Expr,
        bound: Expr,
        value: float,
        exact: float | None = None,
        note: str = "",
        cells: tuple[int, ...] = (),
    ) -> Equation:
        """An equation from a bound right-hand side (see `bpexplain.expr`)."""
        return cls(kind, symbol, bound, float(value), exact, note, cells)

    @property
    def expression(self) -> Expr:
        """The right-hand side in symbols."""
        return symbolic(self.bound)

    @property
    def substituted(self) -> Expr:
        """The right-hand side with the numbers substituted."""
        return substitute(self.bound)

    def __str__(self) -> str:
        """symbol = expression = substituted = value, as the plain-text trace prints it."""
        from .render.printer import TextPrinter

        printer = TextPrinter()
        value = printer.doprint(Num(self.value))
        return f"{printer.doprint(self.symbol)} = {printer.doprint(self.bound)} = " + (
            f"{printer.doprint(self.bound, numbers=True)} = {value}"
        )


class StepEquation(Record):
    """An equation of a `Trace` with where it stands: its step, sample (in a batch), phase and layer.

    It reads as the `Equation` it holds does (`symbol`, `value`, `kind`, `expression`, …)."""

    __slots__ = __match_args__ = ("step", "sample", "phase", "layer", "equation")

    def __init__(self, step: int, sample: int | None, phase: str, layer: str | None, equation: Equation) -> None:
        self.step: Final = step
        self.sample: Final = sample  # with --batch full: which sample of the batch; else None
        self.phase: Final = phase
        self.layer: Final = layer
        self.equation: Final = equation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.equation, name)

    def __str__(self) -> str:
        return str(self.equation)


class NamedArray(Record):
    """A layer-level array shown at --detail layer (and as grids for feature maps)."""

    __slots__ = __match_args__ = ("label", "value")

    def __init__(self, label: str, value: np.ndarray) -> None:
        self.label: Final = label
        self.value: Final = value


class Settings(Record):
    """The options of the run, as the header states them."""

    __slots__ = __match_args__ = (
        "command",
        "notation",
        "rule",
        "update_order",
        "batch",
        "detail",
        "precision",
        "shuffle",
        "seed",
        "round",
        "preamble",
    )

    def __init__(
        self,
        command: str,  # forward or train
        notation: str,
        rule: str,
        update_order: str,
        batch: str,
        detail: str,
        precision: int,
        shuffle: bool,
        seed: int,
        round: int | None = None,  # --round N: values carried with N decimals (and shown as carried)
        preamble: str = "full",  # what a trace states before its first step: full, short or none
    ) -> None:
        self.command: Final = command
        self.notation: Final = notation
        self.rule: Final = rule
        self.update_order: Final = update_order
        self.batch: Final = batch
        self.detail: Final = detail
        self.precision: Final = precision
        self.shuffle: Final = shuffle
        self.seed: Final = seed
        self.round: Final = round
        self.preamble: Final = preamble


class TraceHeader(Record):
    """What a trace states before its first step (see `bpexplain.preamble`)."""

    __slots__ = __match_args__ = (
        "network",
        "settings",
        "conventions",
        "legend",
        "initial_parameters",
        "parameter_origins",
        "parameter_symbols",
        "statement",
    )

    def __init__(
        self,
        network: dict[str, Any],  # name, title, loss, learning_rate, frozen, layers, inputs
        settings: Settings,
        conventions: tuple[str, ...],
        legend: tuple[tuple[Expr, str], ...],
        initial_parameters: dict[str, np.ndarray],
        parameter_origins: dict[str, str],
        # each parameter element's symbol (w_14, ...) in flat order, for networks small enough to list
        parameter_symbols: dict[str, tuple[Expr, ...]] | None = None,
        statement: str = "",  # notation, loss, η and rounding in one line (what --preamble short states)
    ) -> None:
        self.network: Final = network
        self.settings: Final = settings
        self.conventions: Final = conventions
        self.legend: Final = legend
        self.initial_parameters: Final = initial_parameters
        self.parameter_origins: Final = parameter_origins
        self.parameter_symbols: Final = {} if parameter_symbols is None else parameter_symbols
        self.statement: Final = statement


class StepStart(Record):
    """A step begins: its number, its epoch, and the samples it feeds forward (their inputs and targets)."""

    __slots__ = __match_args__ = ("index", "epoch", "samples", "inputs", "targets")

    def __init__(
        self,
        index: int,
        epoch: int,
        samples: tuple[int, ...],  # 1-based sample numbers in the data list
        inputs: tuple[np.ndarray, ...],
        targets: tuple[np.ndarray, ...],
    ) -> None:
        self.index: Final = index
        self.epoch: Final = epoch
        self.samples: Final = samples
        self.inputs: Final = inputs
        self.targets: Final = targets


class Block(Record):
    """The equations (or, at --detail layer, the arrays) of one phase of one layer."""

    __slots__ = __match_args__ = ("phase", "layer", "title", "annotation", "equations", "arrays", "sample")

    def __init__(
        self,
        phase: str,
        layer: str | None,
        title: str,
        annotation: str,
        equations: tuple[Equation, ...] = (),
        arrays: tuple[NamedArray, ...] = (),
        sample: int | None = None,  # with --batch full: which sample of the batch
    ) -> None:
        self.phase: Final = phase
        self.layer: Final = layer
        self.title: Final = title
        self.annotation: Final = annotation
        self.equations: Final = equations
        self.arrays: Final = arrays
        self.sample: Final = sample


class StepEnd(Record):
    """A step ends: its loss, the network's outputs, and (when asked for) its gradients and new parameters."""

    __slots__ = __match_args__ = (
        "index",
        "loss",
        "outputs",
        "gradients",
        "parameters",
        "departures",
        "masks",
        "statistics",
    )

    def __init__(
        self,
        index: int,
        loss: float | None,
        outputs: dict[str, np.ndarray],
        gradients: dict[str, np.ndarray] | None = None,
        parameters: dict[str, np.ndarray] | None = None,
        departures: int = 0,  # values that --rule slide made depart from the true gradient
        masks: dict[str, tuple[np.ndarray, ...]] | None = None,  # dropout: per layer, the mask of each sample
        statistics: dict[str, dict[str, np.ndarray]] | None = None,  # batchnorm: per layer, batch mean, variance
    ) -> None:
        self.index: Final = index
        self.loss: Final = loss
        self.outputs: Final = outputs
        self.gradients: Final = gradients
        self.parameters: Final = parameters
        self.departures: Final = departures
        self.masks: Final = masks
        self.statistics: Final = statistics


class Drift(Record):
    """With --round: a final value computed by hand-style rounding beside the exact float64 one."""

    __slots__ = __match_args__ = ("label", "symbol", "rounded", "exact")

    def __init__(self, label: str, symbol: Expr | None, rounded: float, exact: float) -> None:
        self.label: Final = label  # layer.param[i, j], or E for the last step's loss
        self.symbol: Final = symbol
        self.rounded: Final = rounded
        self.exact: Final = exact

    @property
    def difference(self) -> float:
        return self.rounded - self.exact


class Prediction(Record):
    """One sample fed forward through the trained network: its output beside its target, and its loss."""

    __slots__ = __match_args__ = ("sample", "output", "target", "loss")

    def __init__(self, sample: int, output: np.ndarray, target: np.ndarray, loss: float | None) -> None:
        self.sample: Final = sample  # 1-based, as in the trace
        self.output: Final = output
        self.target: Final = target
        self.loss: Final = loss


class TraceEnd(Record):
    """The last event: how many steps ran, why they stopped, and the parameters they left; after training,
    the result: the loss before training and with the final weights, and every sample's prediction."""

    __slots__ = __match_args__ = (
        "steps",
        "stopped",
        "final_parameters",
        "drift",
        "initial_loss",
        "final_loss",
        "final_samples",
        "predictions",
    )

    def __init__(
        self,
        steps: int,
        stopped: str,  # why training stopped
        final_parameters: dict[str, np.ndarray] | None = None,
        drift: tuple[Drift, ...] = (),  # with --round: how far the final values drift from exact float64
        initial_loss: float | None = None,  # E before training: step 1's loss, on step 1's sample(s)
        final_loss: float | None = None,  # E with the final weights, on the last step's sample(s)
        final_samples: tuple[int, ...] = (),  # those samples, 1-based
        predictions: tuple[Prediction, ...] = (),  # every sample through the final weights (train only)
    ) -> None:
        self.steps: Final = steps
        self.stopped: Final = stopped
        self.final_parameters: Final = {} if final_parameters is None else final_parameters
        self.drift: Final = drift
        self.initial_loss: Final = initial_loss
        self.final_loss: Final = final_loss
        self.final_samples: Final = final_samples
        self.predictions: Final = predictions


Event = TraceHeader | StepStart | Block | StepEnd | TraceEnd


class Trace:
    """A whole run collected in memory: what the Python API returns."""

    def __init__(self, events: Iterable[Event]) -> None:
        self.events: list[Event] = list(events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    @property
    def header(self) -> TraceHeader:
        first = self.events[0]
        assert isinstance(first, TraceHeader)
        return first

    @property
    def steps(self) -> list[StepEnd]:
        return [e for e in self.events if isinstance(e, StepEnd)]

    @property
    def equations(self) -> list[StepEquation]:
        """Every equation in trace order, each with its step, sample, phase and layer."""
        found: list[StepEquation] = []
        step = 0
        for e in self.events:
            if isinstance(e, StepStart):
                step = e.index
            elif isinstance(e, Block):
                found.extend(StepEquation(step, e.sample, e.phase, e.layer, eq) for eq in e.equations)
        return found

    @property
    def losses(self) -> list[float | None]:
        return [s.loss for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        from .render.json import trace_to_dict

        return trace_to_dict(self.events)

    def render(self, fmt: str = "text", **options: Any) -> str:
        from .render import render_to_string

        return render_to_string(self.events, fmt, **options)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from .render.rich import trace_renderables

        yield from trace_renderables(self.events, precision=self.header.settings.precision)

    def _repr_markdown_(self) -> str:
        from .render import render_to_string

        return render_to_string(self.events, "markdown")

    def __repr__(self) -> str:
        h = self.header
        return (
            f"<Trace {h.settings.command} {h.network['name']}: {len(self.steps)} step(s), "
            f"{len(self.equations)} equations>"
        )
