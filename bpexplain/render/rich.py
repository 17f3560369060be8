"""The terminal view: a section per step, a panel per phase and layer, colour by equation kind.

Built from rich renderables; rich itself decides whether to colour (terminal, NO_COLOR, FORCE_COLOR,
Jupyter). The numbers and the equation columns are the same as in the plain-text view. A forward
equation of a convolution or pooling layer on a small map (at most FIELD_LIMIT elements) is followed
by the map it reads, its receptive field highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import numpy as np
from rich import box
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..trace import Block, Event, NamedArray, StepEnd, StepStart, TraceEnd, TraceHeader
from .common import (
    DRIFT_TITLE,
    NETWORK_COLUMNS,
    SummaryLine,
    SummaryTable,
    drift_rows,
    equation_columns,
    fmt,
    map_grids,
    network_rows,
    summary_cells,
)
from .numbers import format_grid, format_number, format_vector
from .printer import TextPrinter

SUMMARY_BATCH = 200
STYLES = {"forward": "cyan", "loss": "magenta", "error": "red", "gradient": "yellow", "update": "green"}
FIELD_LIMIT = 144  # receptive fields are drawn on input maps of at most this many elements (12×12)
FIELD_STYLE = "bold reverse"  # the cells of the receptive field


class RichRenderer:
    def __init__(self, precision: int = 4, max_terms: int | None = 8, console: Console | None = None) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.console = console

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        console = self.console or Console(file=out)
        for renderable in trace_renderables(events, self.precision, self.max_terms):
            console.print(renderable)


def trace_renderables(
    events: Iterable[Event], precision: int = 4, max_terms: int | None = 8
) -> Iterator[RenderableType]:
    printer = TextPrinter(precision, max_terms)
    header: TraceHeader | None = None
    start: StepStart | None = None
    summary = SummaryTable()
    maps = _Maps()
    summary_line_of = SummaryLine(precision)
    pending: list[str] = []  # --detail summary: step lines printed a batch at a time (one print per line is slow)
    for ev in events:
        summary_line = isinstance(ev, StepEnd) and header is not None and header.settings.detail == "summary"
        if pending and (len(pending) >= SUMMARY_BATCH or not (summary_line or isinstance(ev, StepStart))):
            yield Text("\n".join(pending))
            pending = []
        if summary_line:
            assert isinstance(ev, StepEnd)
            summary.add(start, ev)
            pending.append(summary_line_of(start, ev))
        elif isinstance(ev, TraceHeader):
            header = ev
            yield _header(ev, printer)
        elif isinstance(ev, StepStart):
            start = ev
            maps.start(ev)
            if header and header.settings.detail != "summary":
                yield _step_start(ev, precision)
        elif isinstance(ev, Block):
            layers = header.network["layers"] if header else None
            yield _block(ev, printer, layers, maps.input_of(ev, layers or []))
            maps.keep(ev)
        elif isinstance(ev, StepEnd):
            summary.add(start, ev)
            assert header is not None
            yield _step_end(ev, start, header, printer)
        elif isinstance(ev, TraceEnd):
            assert header is not None
            if header.settings.command == "train":
                yield _summary(ev, summary, header, printer)
                if ev.drift:
                    drift = Table(title=DRIFT_TITLE, title_justify="left", box=box.SIMPLE_HEAD)
                    for col in ("value", "rounded", "exact", "difference"):
                        drift.add_column(col, justify="left" if col == "value" else "right")
                    for row in drift_rows(ev, printer):
                        drift.add_row(*row)
                    yield drift
    if pending:
        yield Text("\n".join(pending))


def _header(h: TraceHeader, printer: TextPrinter) -> RenderableType:
    net = h.network
    conventions = Text()
    for i, line in enumerate(h.conventions):
        conventions.append(("\n" if i else "") + "• " + line)
    legend = Table(box=None, show_header=False, padding=(0, 2))
    for sym, meaning in h.legend:
        legend.add_row(Text(printer.doprint(sym), style="bold"), meaning)
    layers = Table(box=box.SIMPLE, title="Network", title_justify="left")
    for col in NETWORK_COLUMNS:
        layers.add_column(col)
    for row in network_rows(net):
        layers.add_row(*row)
    initial = _parameters(h.initial_parameters, h, printer, "Initial parameters")
    return Group(
        Panel(
            conventions,
            title=f"bpexplain {h.settings.command}: [bold]{net['name']}[/bold] - {net['title']}",
            title_align="left",
            subtitle="conventions",
            subtitle_align="right",
        ),
        Panel(legend, title="Legend", title_align="left", border_style="dim"),
        layers,
        initial,
    )


def _parameters(params: dict, h: TraceHeader, printer: TextPrinter, title: str) -> RenderableType:
    table = Table(box=box.SIMPLE, title=title, title_justify="left", show_header=False)
    table.add_column("name", style="bold")
    table.add_column("values")
    for name, arr in params.items():
        symbols = h.parameter_symbols.get(name)
        if symbols and arr.ndim <= 2:
            inner = Table(box=None, show_header=False, padding=(0, 2))
            cells = [f"{printer.doprint(s)} = {fmt(float(v), printer.precision)}" for s, v in zip(symbols, arr.ravel())]
            per_row = arr.shape[-1] if arr.ndim == 2 else len(cells)
            for r in range(0, len(cells), per_row):
                inner.add_row(*cells[r : r + per_row])
            table.add_row(name, inner)
        else:
            table.add_row(name, "\n".join(format_grid(arr, printer.precision)))
    return table


def _step_start(s: StepStart, precision: int) -> RenderableType:
    samples = ", ".join(map(str, s.samples))
    lines = Text()
    images: list[RenderableType] = []
    for k, (x, t) in enumerate(zip(s.inputs, s.targets)):
        prefix = f"sample {s.samples[k]}: " if len(s.samples) > 1 else ""
        target = "" if t.size and t.ravel()[0] != t.ravel()[0] else f"   ŷ = {format_vector(t, precision)}"
        if x.ndim >= 2:  # an image: as a grid
            images.append(Columns(_grid_tables(NamedArray(f"{prefix}x", x), precision) + [Text(target.strip())]))
            continue
        lines.append(("\n" if k else "") + f"{prefix}x = {format_vector(x, precision)}{target}")
    word = "sample" if len(s.samples) == 1 else "samples"
    return Group(Rule(f"[bold]Step {s.index}[/bold] (epoch {s.epoch}, {word} {samples})"), lines, *images)


def _grid_tables(arr: NamedArray, precision: int) -> list[RenderableType]:
    """A map, kernel or error as aligned tables, one per channel (the cells are format_grid's)."""
    value = arr.value
    while value.ndim > 2 and value.shape[0] == 1:
        value = value[0]
    if value.ndim > 2:
        return [
            t
            for c in range(value.shape[0])
            for t in _grid_tables(NamedArray(f"{arr.label} [{c + 1}]", value[c]), precision)
        ]
    table = Table(title=arr.label, box=box.SIMPLE, show_header=False, padding=(0, 1), min_width=len(arr.label) + 2)
    rows = [line.split() for line in format_grid(value, precision)]
    for _ in rows[0]:
        table.add_column(justify="right")
    for row in rows:
        table.add_row(*row)
    return [table]


class _Maps:
    """The maps of the step being shown, for the receptive fields: the step's inputs, then each layer's
    output as its forward block gives it (the block's last array)."""

    def __init__(self) -> None:
        self.inputs: tuple[np.ndarray, ...] = ()
        self.outputs: dict[tuple[int | None, str], np.ndarray] = {}

    def start(self, s: StepStart) -> None:
        self.inputs, self.outputs = s.inputs, {}

    def keep(self, b: Block) -> None:
        if b.phase == "forward" and b.layer is not None and b.arrays:
            self.outputs[b.sample, b.layer] = b.arrays[-1].value

    def input_of(self, b: Block, layers: list[dict]) -> tuple[tuple[int, ...], np.ndarray | None] | None:
        """The shape of the map a forward block's layer reads and its values (None where they were not
        shown, e.g. filtered out); None when the block draws no receptive fields."""
        if b.phase != "forward" or not any(eq.cells for eq in b.equations):
            return None
        names = [layer["name"] for layer in layers]
        if b.layer not in names:
            return None
        k = names.index(b.layer)
        shape = tuple(layers[k]["input_shape"])
        if int(np.prod(shape)) > FIELD_LIMIT:
            return None
        if k == 0:
            sample = (b.sample or 1) - 1
            values = self.inputs[sample] if sample < len(self.inputs) else None
        else:
            values = self.outputs.get((b.sample, names[k - 1]))
        if values is not None and values.size != int(np.prod(shape)):
            values = None
        return shape, values


class ReceptiveField:
    """The map an equation reads, its receptive field highlighted: one small grid per channel it reads.

    The field's cells are drawn in FIELD_STYLE; on a console without styles (NO_COLOR aside, a file or
    a pipe) they are bracketed instead, [2]. Without the map's values (its block was filtered out), the
    field is drawn as ■ on ·.
    """

    def __init__(
        self, cells: tuple[int, ...], shape: tuple[int, ...], values: np.ndarray | None, precision: int
    ) -> None:
        self.cells = frozenset(cells)
        self.shape = shape
        self.values = values.ravel().tolist() if values is not None else None
        self.precision = precision

    def __rich_console__(self, console: Console, options: Any) -> Iterator[RenderableType]:
        yield self.grids(console.color_system is None)

    def __rich_measure__(self, console: Console, options: Any) -> Measurement:
        """As wide as the grids: a table column holding them is never narrower."""
        width = Measurement.get(console, options, self.grids(console.color_system is None)).maximum
        return Measurement(width, width)

    def grids(self, plain: bool) -> RenderableType:
        h, w = self.shape[-2], self.shape[-1]
        plane = h * w
        grids: list[RenderableType] = []
        for c in sorted({i // plane for i in self.cells}):
            grid = Table.grid(padding=(0, 1))
            for _ in range(w):
                grid.add_column(justify="right", no_wrap=True)
            for r in range(h):
                grid.add_row(*(self.cell(c * plane + r * w + col, plain) for col in range(w)))
            several = len(self.shape) == 3 and self.shape[0] > 1
            grids.append(Group(Text(f"channel {c + 1}", style="dim"), grid) if several else grid)
        if len(grids) == 1:
            return grids[0]
        row = Table.grid(padding=(0, 3))
        row.add_row(*grids)
        return row

    def cell(self, i: int, plain: bool) -> Text:
        inside = i in self.cells
        if self.values is None:
            text = "■" if inside else "·"
        else:
            text = format_number(self.values[i], self.precision)
        if plain and self.values is not None:
            text = f"[{text}]" if inside else f" {text} "
        return Text(text, style=FIELD_STYLE if inside else "dim")


def _block(
    b: Block,
    printer: TextPrinter,
    layers: list | None = None,
    source: tuple[tuple[int, ...], np.ndarray | None] | None = None,
) -> RenderableType:
    style = STYLES.get(b.phase, "white")
    sample = f" [sample {b.sample}]" if b.sample is not None else ""
    body: list[RenderableType] = [Text(b.annotation, style="italic dim")]
    if b.equations:
        table = Table(box=None, show_header=False, padding=(0, 1))
        for k, col_style in enumerate((f"bold {style}", "dim", None, "dim", None, "dim", f"bold {style}", "dim")):
            # the symbols' column holds the receptive fields, if any: the other columns wrap first
            table.add_column(style=col_style, no_wrap=k == 0 and source is not None)
        for eq in b.equations:
            c = equation_columns(eq, printer)
            remark: Any = ""
            if c.remark:
                remark = Text(c.remark, style="bold red" if c.remark.startswith("≠") else "dim")
            table.add_row(
                c.symbol, "=", c.expression, "=" if c.substituted else "", c.substituted, "=", c.value, remark
            )
            if source is not None and eq.cells:  # the map it reads, under its symbol
                table.add_row(ReceptiveField(eq.cells, source[0], source[1], printer.precision))
        body.append(table)
        grids = map_grids(b, layers or [])
        if grids:
            body.append(Columns([t for arr in grids for t in _grid_tables(arr, printer.precision)]))
    else:
        for arr in b.arrays:
            if arr.value.ndim >= 2:
                body.append(Columns(_grid_tables(arr, printer.precision)))
                continue
            grid = format_grid(arr.value, printer.precision)
            body.append(Text(f"{arr.label} = " + ("\n".join(grid) if len(grid) > 1 else grid[0].strip())))
    return Panel(
        Group(*body),
        title=f"[{style}]{b.title}{sample}[/{style}]",
        title_align="left",
        border_style=style,
        box=box.ROUNDED,
    )


def _step_end(e: StepEnd, start: StepStart | None, h: TraceHeader, printer: TextPrinter) -> RenderableType:
    parts: list[RenderableType] = []
    if e.loss is not None:
        parts.append(Text(f"Loss at step {e.index}: E = {fmt(e.loss, printer.precision)}", style="bold magenta"))
    if e.parameters is None:
        last = list(e.outputs)[-1]
        parts.append(Text(f"Output ({last}): y = {format_vector(e.outputs[last], printer.precision)}", style="bold"))
    else:
        if e.departures:
            parts.append(
                Text(
                    f"{e.departures} parameter value(s) depart from the exact chain rule's (marked ≠).",
                    style="bold red",
                )
            )
        parts.append(_parameters(e.parameters, h, printer, f"Parameters after step {e.index}"))
    return Group(*parts)


def _summary(end: TraceEnd, summary: SummaryTable, h: TraceHeader, printer: TextPrinter) -> RenderableType:
    symbols = {n: tuple(printer.doprint(s) for s in syms) for n, syms in h.parameter_symbols.items()}
    cols, losses, cells = summary_cells(summary, h, printer.precision, symbols)
    table = Table(
        title=f"Summary: {end.steps} step(s); stopped because {end.stopped}", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("")
    table.add_column("initial", justify="right")
    for c in cols:
        table.add_column("…" if c is None else c, justify="right")
    table.add_row("E", "", *["…" if c is None else c for c in losses], style="magenta")
    for label, row in cells:
        table.add_row(label, *["…" if c is None else c for c in row])
    return table
