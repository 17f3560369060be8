"""What marking needs to know about a run: its equations by step and sample, and its parameters.

Collected once from the event stream: every equation with the symbols it reads (`uses`), the
parameters before each step, each parameter element's symbol and place, the name of each updated
parameter (w_14 -> w'_14, read from the update equations), and the run's settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from .evaluate import leaves
from .expr import Sub, Var
from .record import Record
from .trace import Block, Equation, Event, StepEnd, StepStart, TraceHeader

ACTIVATION_LABELS = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LReLU", "identity": "id"}


class Quantity(Record):
    """One equation of the run with what marking needs to know about it."""

    __slots__ = __match_args__ = ("step", "sample", "symbol", "equation", "layer", "uses")

    def __init__(
        self, step: int, sample: int | None, symbol: str, equation: Equation, layer: str | None, uses: list[str]
    ) -> None:
        self.step: Final = step
        self.sample: Final = sample
        self.symbol: Final = symbol
        self.equation: Final = equation
        self.layer: Final = layer
        self.uses: Final = uses


class RunFacts(Record):
    """The run's equations by step, parameters before each step, and how parameters are named."""

    __slots__ = __match_args__ = (
        "quantities",
        "params_before",
        "param_index",
        "updated",
        "slopes",
        "activations",
        "loss",
        "notation",
        "rule",
        "update_order",
    )

    def __init__(
        self,
        quantities: list[Quantity],
        params_before: dict[int, dict[str, Any]],
        param_index: dict[str, tuple[str, int]],
        updated: dict[str, str],
        slopes: dict[str | None, float],
        activations: dict[str | None, str],
        loss: str,
        notation: str,
        rule: str,
        update_order: str,
    ) -> None:
        self.quantities: Final = quantities
        self.params_before: Final = params_before
        self.param_index: Final = param_index  # w_14 -> ("layer2.weight", flat index)
        self.updated: Final = updated  # w_14 -> w'_14 (from the update equations)
        self.slopes: Final = slopes
        self.activations: Final = activations  # layer -> the activation's printed name (σ, tanh, ...)
        self.loss: Final = loss
        self.notation: Final = notation
        self.rule: Final = rule
        self.update_order: Final = update_order


def collect(events: Iterable[Event], printer: Any) -> RunFacts:
    quantities: list[Quantity] = []
    params_before: dict[int, dict[str, Any]] = {}
    param_index: dict[str, tuple[str, int]] = {}
    updated: dict[str, str] = {}
    slopes: dict[str | None, float] = {}
    activations: dict[str | None, str] = {}
    current: dict[str, Any] = {}
    step = 0
    header: TraceHeader | None = None
    for ev in events:
        if isinstance(ev, TraceHeader):
            header = ev
            current = dict(ev.initial_parameters)
            for pname, syms in ev.parameter_symbols.items():
                for i, s in enumerate(syms):
                    param_index[printer.doprint(s)] = (pname, i)
            for layer in ev.network.get("layers", []):
                if "slope" in layer:
                    slopes[layer["name"]] = float(layer["slope"])
                if layer.get("activation") in ACTIVATION_LABELS:
                    activations[layer["name"]] = ACTIVATION_LABELS[layer["activation"]]
        elif isinstance(ev, StepStart):
            step = ev.index
            params_before[step] = current
        elif isinstance(ev, Block):
            for eq in ev.equations:
                symbol = printer.doprint(eq.symbol)
                uses: list[str] = []
                for v in leaves(eq.bound):
                    t = printer.doprint(v.sym)
                    if t not in uses:
                        uses.append(t)
                quantities.append(Quantity(step, ev.sample, symbol, eq, ev.layer, uses))
                if eq.kind == "update" and isinstance(eq.bound, Sub) and isinstance(eq.bound.left, Var):
                    updated[printer.doprint(eq.bound.left.sym)] = symbol
        elif isinstance(ev, StepEnd):
            if ev.parameters is not None:
                current = dict(ev.parameters)
    assert header is not None
    settings = header.settings
    loss = str(header.network.get("loss", ""))
    return RunFacts(
        quantities,
        params_before,
        param_index,
        updated,
        slopes,
        activations,
        loss,
        settings.notation,
        settings.rule,
        settings.update_order,
    )
