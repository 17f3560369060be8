"""The terminal view: a section per step, a panel per phase and layer, colour by equation kind.

Built from rich renderables; rich itself decides whether to colour (terminal, NO_COLOR, FORCE_COLOR,
Jupyter). The numbers and the equation columns are the same as in the plain-text view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from rich import box
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..trace import Block, Event, NamedArray, StepEnd, StepStart, TraceEnd, TraceHeader
from .common import DRIFT_TITLE, SummaryTable, drift_rows, equation_columns, fmt, map_grids, parameter_rows
from .numbers import format_grid, format_vector
from .printer import TextPrinter

STYLES = {"forward": "cyan", "loss": "magenta", "error": "red", "gradient": "yellow", "update": "green"}


class RichRenderer:
    def __init__(self, precision: int = 4, max_terms: int | None = 8, console: Console | None = None) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.console = console

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        console = self.console or Console(file=out)
        for renderable in trace_renderables(events, self.precision, self.max_terms):
            console.print(renderable)


def trace_renderables(events: Iterable[Event], precision: int = 4, max_terms: int | None = 8
                      ) -> Iterator[RenderableType]:
    printer = TextPrinter(precision, max_terms)
    header: TraceHeader | None = None
    start: StepStart | None = None
    summary = SummaryTable()
    for ev in events:
        if isinstance(ev, TraceHeader):
            header = ev
            yield _header(ev, printer)
        elif isinstance(ev, StepStart):
            start = ev
            if header and header.settings.detail != "summary":
                yield _step_start(ev, precision)
        elif isinstance(ev, Block):
            yield _block(ev, printer, header.network["layers"] if header else None)
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


def _header(h: TraceHeader, printer: TextPrinter) -> RenderableType:
    net = h.network
    conventions = Text()
    for i, line in enumerate(h.conventions):
        conventions.append(("\n" if i else "") + "• " + line)
    legend = Table(box=None, show_header=False, padding=(0, 2))
    for sym, meaning in h.legend:
        legend.add_row(Text(printer.doprint(sym), style="bold"), meaning)
    layers = Table(box=box.SIMPLE, title="Network", title_justify="left")
    for col in ("layer", "type", "activation", "input", "output", "parameters"):
        layers.add_column(col)
    for layer in net["layers"]:
        params = ", ".join(f"{p} {'×'.join(map(str, s))}" for p, s in layer["parameters"].items())
        layers.add_row(layer["name"], layer["type"], layer["activation"], "×".join(map(str, layer["input_shape"])),
                       "×".join(map(str, layer["output_shape"])), params or "-")
    params = _parameters(h.initial_parameters, h, printer, "Initial parameters")
    return Group(
        Panel(conventions, title=f"bpexplain {h.settings.command}: [bold]{net['name']}[/bold] - {net['title']}",
              title_align="left", subtitle="conventions", subtitle_align="right"),
        Panel(legend, title="Legend", title_align="left", border_style="dim"),
        layers, params)


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
                inner.add_row(*cells[r:r + per_row])
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
        return [t for c in range(value.shape[0])
                for t in _grid_tables(NamedArray(f"{arr.label} [{c + 1}]", value[c]), precision)]
    table = Table(title=arr.label, box=box.SIMPLE, show_header=False, padding=(0, 1), min_width=len(arr.label) + 2)
    rows = [line.split() for line in format_grid(value, precision)]
    for _ in rows[0]:
        table.add_column(justify="right")
    for row in rows:
        table.add_row(*row)
    return [table]


def _block(b: Block, printer: TextPrinter, layers: list | None = None) -> RenderableType:
    style = STYLES.get(b.phase, "white")
    sample = f" [sample {b.sample}]" if b.sample is not None else ""
    body: list[RenderableType] = [Text(b.annotation, style="italic dim")]
    if b.equations:
        table = Table(box=None, show_header=False, padding=(0, 1))
        for col_style in (f"bold {style}", "dim", None, "dim", None, "dim", f"bold {style}", "dim"):
            table.add_column(style=col_style, no_wrap=False)
        for eq in b.equations:
            c = equation_columns(eq, printer)
            remark: Any = ""
            if c.remark:
                remark = Text(c.remark, style="bold red" if c.remark.startswith("≠") else "dim")
            table.add_row(c.symbol, "=", c.expression, "=" if c.substituted else "", c.substituted, "=", c.value,
                          remark)
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
    return Panel(Group(*body), title=f"[{style}]{b.title}{sample}[/{style}]", title_align="left",
                 border_style=style, box=box.ROUNDED)


def _step_end(e: StepEnd, start: StepStart | None, h: TraceHeader, printer: TextPrinter) -> RenderableType:
    if h.settings.detail == "summary":
        where = f"epoch {start.epoch}, sample {', '.join(map(str, start.samples))}" if start else ""
        return Text(f"step {e.index} ({where}): E = {fmt(e.loss, printer.precision)}")
    parts: list[RenderableType] = []
    if e.loss is not None:
        parts.append(Text(f"Loss at step {e.index}: E = {fmt(e.loss, printer.precision)}", style="bold magenta"))
    if e.parameters is None:
        last = list(e.outputs)[-1]
        parts.append(Text(f"Output ({last}): y = {format_vector(e.outputs[last], printer.precision)}", style="bold"))
    else:
        if e.departures:
            parts.append(Text(f"{e.departures} parameter value(s) depart from the exact chain rule's (marked ≠).",
                              style="bold red"))
        parts.append(_parameters(e.parameters, h, printer, f"Parameters after step {e.index}"))
    return Group(*parts)


def _summary(end: TraceEnd, summary: SummaryTable, h: TraceHeader, printer: TextPrinter) -> RenderableType:
    cols = summary.columns()
    table = Table(title=f"Summary: {end.steps} step(s); stopped because {end.stopped}", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("")
    table.add_column("initial", justify="right")
    for c in cols:
        table.add_column("…" if c is None else f"step {c[1].index}", justify="right")
    table.add_row("E", "", *["…" if c is None else fmt(c[1].loss, printer.precision) for c in cols],
                  style="magenta")
    symbols = {n: tuple(printer.doprint(s) for s in syms) for n, syms in h.parameter_symbols.items()}
    for label, name, idx in parameter_rows(h.initial_parameters, symbols):
        row = [label, fmt(float(h.initial_parameters[name][idx]), printer.precision)]
        for c in cols:
            params = c[1].parameters if c is not None else None
            row.append("…" if params is None else fmt(float(params[name][idx]), printer.precision))
        table.add_row(*row)
    return table
