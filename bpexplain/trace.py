"""The records a run produces, in the order it produces them.

The engine yields a stream of events: one `TraceHeader`, then for each step a `StepStart`, the
`Block`s of equations (one per phase and layer), and a `StepEnd`; finally a `TraceEnd`. Renderers
consume the stream as it comes, so a long trace is written while it is computed and never held
in memory whole. `Trace` collects a stream for the Python API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .expr import Expr, substitute, symbolic

PHASES = ("forward", "loss", "error", "gradient", "update")


@dataclass(frozen=True, slots=True)
class Equation:
    """symbol = expression = substituted = value.

    The right-hand side is kept once, as the bound tree the layer built (see `bpexplain.expr`); its two
    readings, `expression` (in symbols) and `substituted` (in numbers), are made from it when asked for.
    Printers print the bound tree either way directly (`Printer.doprint(bound, numbers=...)`), so that a
    sum of hundreds of terms costs only the terms shown, and no second tree is made per equation.
    """

    kind: str  # forward, loss, error, gradient, update
    symbol: Expr
    bound: Expr
    value: float
    exact: float | None = None  # the true value, when --rule slide makes this one depart from it
    note: str = ""
    # a feature map's forward equation: the flat indices (channel, row, column order) of the elements of
    # the layer's input it reads, its receptive field
    cells: tuple[int, ...] = ()

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


@dataclass(frozen=True)
class NamedArray:
    """A layer-level array shown at --detail layer (and as grids for feature maps)."""

    label: str
    value: np.ndarray


@dataclass(frozen=True)
class Settings:
    command: str  # forward or train
    notation: str
    rule: str
    update_order: str
    batch: str
    detail: str
    precision: int
    shuffle: bool
    seed: int


@dataclass(frozen=True)
class TraceHeader:
    network: dict[str, Any]  # name, title, loss, learning_rate, frozen, layers, inputs
    settings: Settings
    conventions: tuple[str, ...]
    legend: tuple[tuple[Expr, str], ...]
    initial_parameters: dict[str, np.ndarray]
    parameter_origins: dict[str, str]
    # each parameter element's symbol (w_14, ...) in flat order, for networks small enough to list
    parameter_symbols: dict[str, tuple[Expr, ...]] = field(default_factory=dict)


# StepStart and StepEnd are read-only by convention rather than frozen: `--detail summary` makes two for
# every step, and a frozen dataclass's __init__ costs three times as much.
@dataclass(slots=True)
class StepStart:
    index: int
    epoch: int
    samples: tuple[int, ...]  # 1-based sample numbers in the data list
    inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Block:
    phase: str
    layer: str | None
    title: str
    annotation: str
    equations: tuple[Equation, ...] = ()
    arrays: tuple[NamedArray, ...] = ()
    sample: int | None = None  # with --batch full: which sample of the batch


@dataclass(slots=True)
class StepEnd:
    index: int
    loss: float | None
    outputs: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray] | None = None
    parameters: dict[str, np.ndarray] | None = None
    departures: int = 0  # values that --rule slide made depart from the true gradient


@dataclass(frozen=True)
class Drift:
    """With --round: a final value computed by hand-style rounding beside the exact float64 one."""

    label: str  # layer.param[i, j], or E for the last step's loss
    symbol: Expr | None
    rounded: float
    exact: float

    @property
    def difference(self) -> float:
        return self.rounded - self.exact


@dataclass(frozen=True)
class TraceEnd:
    steps: int
    stopped: str  # why training stopped
    final_parameters: dict[str, np.ndarray] = field(default_factory=dict)
    drift: tuple[Drift, ...] = ()  # with --round: how far the final values drift from exact float64


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
    def equations(self) -> list[Equation]:
        return [eq for e in self.events if isinstance(e, Block) for eq in e.equations]

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
