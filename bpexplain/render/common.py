"""What the renderers share: the columns of an equation line and the end-of-run summary table.

Nothing here computes a number: it only selects and formats what the engine recorded.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from itertools import product
from typing import NamedTuple

import numpy as np

from ..expr import Neg, Num
from ..trace import Block, Equation, NamedArray, StepEnd, StepStart, TraceEnd, TraceHeader
from .numbers import format_number, format_vector
from .printer import Printer


class EquationColumns(NamedTuple):
    symbol: str
    expression: str
    substituted: str  # "" when it would repeat the expression or the value
    value: str
    remark: str  # the true value under --rule slide, or a note
    once: bool = False  # the right-hand side is its value (`dh_5(e)/de = 1`): written `symbol = value`, once


_new_columns = tuple.__new__  # EquationColumns made without its Python-level __new__: thousands a block


def equation_columns(eq: Equation, printer: Printer) -> EquationColumns:
    """An equation's columns as `printer` writes them; see `said_once` for an equation that is its value."""
    symbol, expression, substituted, value = printer.columns(eq.symbol, eq.bound, eq.value)
    if substituted == expression or substituted == value:
        substituted = ""
    remark = ""
    if eq.exact is not None:
        remark = f"≠ {printer.number(eq.exact)} by the exact chain rule"
    elif eq.note:
        remark = eq.note
    if not substituted and said_once(eq, expression, substituted, value):
        return _new_columns(EquationColumns, (symbol, value, "", value, remark, True))  # type: ignore[return-value]
    return _new_columns(EquationColumns, (symbol, expression, substituted, value, remark, False))  # type: ignore[return-value]


def block_columns(equations: Iterable[Equation], printer: Printer) -> list[EquationColumns]:
    """`equation_columns` of each equation, in one loop: a large layer's block has tens of thousands."""
    columns, number = printer.columns, printer.number
    out: list[EquationColumns] = []
    append = out.append
    for eq in equations:
        symbol, expression, substituted, value = columns(eq.symbol, eq.bound, eq.value)
        if substituted == expression or substituted == value:
            substituted = ""
        if eq.exact is not None:
            remark = f"≠ {number(eq.exact)} by the exact chain rule"
        else:
            remark = eq.note or ""
        if not substituted and said_once(eq, expression, substituted, value):
            append(_new_columns(EquationColumns, (symbol, value, "", value, remark, True)))  # type: ignore[arg-type]
        else:
            append(_new_columns(EquationColumns, (symbol, expression, substituted, value, remark, False)))  # type: ignore[arg-type]
    return out


def said_once(eq: Equation, expression: str, substituted: str, value: str) -> bool:
    """The one rule against empty equations (`dh_5(e)/de = 1 = 1`, `δO2(1,1) = 0 = 0`): when the right-hand
    side in symbols and in numbers is the same text as the value, or a bare number, the equation is
    written `symbol = value`. Every format follows it (text, Markdown, LaTeX, the terminal view)."""
    if substituted:
        return False
    bound = eq.bound.operand if type(eq.bound) is Neg else eq.bound  # type: ignore[attr-defined]
    return expression == value or type(bound) is Num


class SummaryTable:
    """Keeps the first and the latest few steps' losses and parameters for the closing table.

    A plain class, not a dataclass: making a dataclass costs a fraction of a millisecond at import. The
    class's own `head` and `tail` are the defaults (the CLI reads them to choose the steps it keeps)."""

    head = 3
    tail = 3

    def __init__(self, head: int = 3, tail: int = 3, initial: dict[str, np.ndarray] | None = None) -> None:
        self.head = head
        self.tail = tail
        self.initial: dict[str, np.ndarray] = {} if initial is None else initial
        self.first: list[tuple[StepStart | None, StepEnd]] = []
        self.last: deque[tuple[StepStart | None, StepEnd]] = deque(maxlen=tail)
        self.count = 0

    def add(self, start: StepStart | None, end: StepEnd) -> None:
        self.count += 1
        if len(self.first) < self.head:
            self.first.append((start, end))
        else:
            self.last.append((start, end))

    def columns(self) -> list[tuple[StepStart | None, StepEnd] | None]:
        """The steps to show, with None where steps are left out."""
        cols: list[tuple[StepStart | None, StepEnd] | None] = list(self.first)
        if self.count > self.head + self.tail:
            cols.append(None)
        cols.extend(self.last)
        return cols


def parameter_rows(
    initial: dict[str, np.ndarray],
    symbols: dict[str, tuple[str, ...]],
    limit: int = 40,
    plain: Callable[[str], str] = str,
) -> list[tuple[str, str, tuple[int, ...]]]:
    """(label, parameter name, index) for every parameter element, when there are at most `limit`; a
    parameter without symbols is labelled by its name and index, written by `plain` (a format's escaping)."""
    total = sum(int(a.size) for a in initial.values())
    if total > limit:
        return []
    rows = []
    for name, arr in initial.items():
        labels = symbols.get(name)
        for k, idx in enumerate(product(*map(range, arr.shape))):  # np.ndindex's order, without its overhead
            label = labels[k] if labels else plain(f"{name}{list(idx)}")
            rows.append((label, name, idx))
    return rows


def summary_cells(
    summary: SummaryTable,
    h: TraceHeader,
    precision: int,
    symbols: dict[str, tuple[str, ...]],
    plain: Callable[[str], str] = str,
    number: Callable[[float], str] | None = None,
) -> tuple[list[str | None], list[str | None], list[tuple[str, list[str | None]]]]:
    """The end-of-run table as text cells, None where steps are left out: the column heads (step n), the
    loss row (one cell a column), and a row per parameter element: its label (from `symbols`, as each
    format writes them; other labels written by `plain`), its initial value, then one cell a column.
    `number` writes a value as `format_number` does at `precision` (a printer's kept numbers: the text
    format met each value in its parameter tables)."""
    if number is None:
        number = partial(format_number, precision=precision)
    cols = summary.columns()
    heads = [None if c is None else f"step {c[1].index}" for c in cols]
    losses = [None if c is None else fmt(c[1].loss, precision) for c in cols]
    rows = []
    # each parameter as a flat list of Python floats once: indexing numpy element by element is slow
    flat: dict[int, dict[str, list[float]]] = {}

    def values(params: dict[str, np.ndarray]) -> dict[str, list[float]]:
        found = flat.get(id(params))
        if found is None:
            found = flat[id(params)] = {n: a.ravel().tolist() for n, a in params.items()}
        return found

    initial = values(h.initial_parameters)
    # each column's parameters found once: None where a step is left out or has none
    shown = [None if c is None or c[1].parameters is None else values(c[1].parameters) for c in cols]
    k = 0
    last = None
    for label, name, _ in parameter_rows(h.initial_parameters, symbols, plain=plain):
        k = k + 1 if name == last else 0  # the element's place in its parameter, in flat order
        last = name
        cells: list[str | None] = [number(initial[name][k])]
        cells += [None if v is None else number(v[name][k]) for v in shown]
        rows.append((label, cells))
    return heads, losses, rows


def weight_orientation(name: str, arr: np.ndarray, h: TraceHeader) -> str:
    """How a dense layer's weight matrix is laid out, for a table that shows it without each entry's symbol
    (a large network): "rows: units n, columns: inputs m" (w_mn from m to n); "" for anything else."""
    layer, _, pname = name.rpartition(".")
    kinds = {str(ls["name"]): ls["type"] for ls in h.network["layers"]}
    if pname == "weight" and arr.ndim == 2 and kinds.get(layer) == "dense":
        return "rows: units n, columns: inputs m"
    return ""


def summary_loss_cells(end: TraceEnd, precision: int) -> tuple[str, str]:
    """The loss before training (the summary's `initial` cell of E) and with the final weights (the last cell
    of the row that closes the table, `E after`), as text; "" where the run has none."""
    return fmt(end.initial_loss, precision), fmt(end.final_loss, precision)


FINAL_LOSS_LABEL = "E after"


def summary_note(end: TraceEnd) -> str:
    """What the summary's loss rows are, in words."""
    if end.final_loss is None:
        return ""
    which = "sample" if len(end.final_samples) == 1 else "samples"
    samples = ", ".join(map(str, end.final_samples))
    mean = " (their mean)" if len(end.final_samples) > 1 else ""
    return (
        "E under each step is the loss before that step's update (under initial: before training); "
        f"E after is the loss with the final weights, one more forward pass of {which} {samples}{mean}, "
        "the last step's."
    )


PREDICTIONS_TITLE = "Predictions after training (every sample through the final weights)"
PREDICTION_COLUMNS = ("sample", "output y", "target ŷ", "E")


def prediction_rows(end: TraceEnd, precision: int) -> list[tuple[str, str, str, str]]:
    """(sample, output, target, loss) for every sample fed forward through the trained network."""
    return [
        (
            str(p.sample),
            format_vector(p.output.ravel(), precision),
            "" if p.loss is None else format_vector(p.target.ravel(), precision),
            fmt(p.loss, precision),
        )
        for p in end.predictions
    ]


DRIFT_TITLE = "Drift from rounding: each value rounded as by hand, beside the same steps in exact float64"


def drift_rows(end: TraceEnd, printer: Printer) -> list[tuple[str, str, str, str]]:
    """(value, rounded, exact, difference) for the table that closes a --round trace."""
    return [
        (
            printer.doprint(d.symbol) if d.symbol is not None else d.label,
            format_number(d.rounded, 10),
            format_number(d.exact, 10),
            format_number(d.difference, 4),
        )
        for d in end.drift
    ]


def map_grids(b: Block, layers: list[dict]) -> tuple[NamedArray, ...]:
    """The arrays shown as grids beside a block's equations: the feature maps, kernels and their errors and
    gradients of conv and pooling layers (a dense layer's vectors are in its equations already)."""
    kinds = {layer["name"]: layer["type"] for layer in layers}
    if kinds.get(b.layer or "", "dense") in ("dense", "flatten"):
        return ()
    return tuple(a for a in b.arrays if a.value.ndim >= 2)


def fmt(x: float | None, precision: int) -> str:
    return "" if x is None else format_number(x, precision)


class SummaryLine:
    """A step's one line at --detail summary: the loss, and the parameters where there are few.

    Thousands of steps are written this way. Where every parameter fits Python's `g` format (see
    `format_number`), the whole line is one %-format of a template made once; the parameters are
    right when the line has no "e" beyond those of the template and the loss, and none is -0.
    Otherwise the line is made number by number.
    """

    def __init__(self, precision: int) -> None:
        self.precision = precision
        self.few_parameters: bool | None = None  # are there few enough to show every step?
        self.template: str | None = None  # the whole line as a %-template, where it can be one
        self.template_e = 0  # the letters "e" of the template's own text

    def __call__(self, start: StepStart | None, e: StepEnd) -> str:
        params = e.parameters
        if self.few_parameters is None and params is not None:  # the same parameters every step: looked at once
            self.few_parameters = sum(a.size for a in params.values()) <= 16
            if self.few_parameters and all(a.size <= 12 for a in params.values()) and 0 < self.precision <= 9:
                number = f"%.{self.precision}g"
                self.template = "step %d (epoch %d, sample %d): E = %s"  # the loss by format_number: often tiny
                self.template += "".join(
                    f"  {n.replace('%', '%%')} = [{', '.join([number] * a.size)}]" for n, a in params.items()
                )
                self.template_e = self.template.count("e")
        if self.template is not None and start is not None and len(start.samples) == 1 and e.loss is not None:
            assert params is not None
            loss = format_number(e.loss, self.precision)
            values: list[float] = []
            for a in params.values():
                values += a.ravel().tolist()
            line = self.template % (e.index, start.epoch, start.samples[0], loss, *values)
            if line.count("e") == self.template_e + loss.count("e") and not (0.0 in values and _negative_zero(values)):
                return line
        return self._line(start, e)

    def _line(self, start: StepStart | None, e: StepEnd) -> str:
        precision = self.precision
        where = f"epoch {start.epoch}, sample {', '.join(map(str, start.samples))}" if start else ""
        line = f"step {e.index} ({where}): E = {fmt(e.loss, precision)}"
        if e.parameters is not None and self.few_parameters:
            line += "  " + "  ".join([f"{n} = {format_vector(a, precision)}" for n, a in e.parameters.items()])
        return line


def _negative_zero(values: list[float]) -> bool:
    return any(v == 0 and math.copysign(1.0, v) < 0 for v in values)


NETWORK_COLUMNS = ("layer", "type", "activation", "input", "output", "parameters")


def network_rows(network: dict) -> list[tuple[str, ...]]:
    """One row of NETWORK_COLUMNS per layer: name, type, activation, shapes, parameter shapes. A layer that
    reads other than the layer above says what it reads beside its type (`add ← conv2, input`), and a layer
    that reads two or more, the shape of each (`2×3×3, 2`)."""
    rows: list[tuple[str, ...]] = []
    above = "input"
    for layer in network["layers"]:
        params = ", ".join(f"{p} {'×'.join(map(str, s))}" for p, s in layer["parameters"].items())
        inputs = [str(name) for name in layer.get("inputs", [above])]
        reads = "" if inputs == [above] else " ← " + ", ".join(inputs)
        above = str(layer["name"])
        rows.append(
            (
                str(layer["name"]),
                str(layer["type"]) + reads,
                str(layer["activation"]),
                ", ".join("×".join(map(str, shape)) for shape in layer.get("input_shapes", [layer["input_shape"]])),
                "×".join(map(str, layer["output_shape"])),
                params or "-",
            )
        )
    return rows
