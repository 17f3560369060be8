"""Plain text: what is written when stdout is not a terminal, and for answer keys.

No colour codes and no box-drawing characters; every line depends only on the trace, so two runs
give the same bytes. Each equation is one line, `symbol = expression = substituted = value`, with
the columns aligned within a block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any, TextIO

from ..trace import Block, Event, StepEnd, StepStart, TraceEnd, TraceHeader
from .chart import LossHistory, loss_chart
from .common import (
    DRIFT_TITLE,
    FINAL_LOSS_LABEL,
    NETWORK_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTIONS_TITLE,
    EquationColumns,
    SummaryLine,
    block_columns,
    drift_rows,
    fmt,
    map_grids,
    network_rows,
    prediction_rows,
    summary_cells,
    summary_loss_cells,
    summary_note,
    weight_orientation,
)
from .lines import LineRenderer
from .numbers import format_grid, format_vector
from .printer import TextPrinter

RULE = "=" * 72


class TextRenderer(LineRenderer):
    def __init__(self, precision: int = 4, max_terms: int | None = 8) -> None:
        super().__init__(precision)
        self.printer = TextPrinter(precision, max_terms)
        self.summary_lines = SummaryLine(precision)
        self.losses = LossHistory()  # every step's, for the chart that closes a training run

    def show_carried(self) -> None:
        super().show_carried()
        self.printer = TextPrinter(self.precision, self.printer.max_terms)
        self.summary_lines = SummaryLine(self.precision)

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        summary_only = False  # known from the header, the first event
        for event in events:
            # --detail summary: what `lines` does for a step, without its generators (thousands of steps)
            if summary_only and isinstance(event, StepEnd):
                self.summary.add(self.start, event)
                self.losses.add(event.loss)
                out.write(self.summary_lines(self.start, event) + "\n")
            elif summary_only and isinstance(event, StepStart):
                self.start = event
            elif isinstance(event, Block):  # a block's lines at once: thousands of equations in a large layer
                out.write("\n".join(self.block_list(event)) + "\n")
            else:  # an event's lines written at once
                lines = [*self.lines(event)]
                if lines:
                    out.write("\n".join(lines) + "\n")
                summary_only = self.detail == "summary"

    # ---- header -------------------------------------------------------------------------------

    def header_lines(self, h: TraceHeader) -> Iterator[str]:
        net = h.network
        show = h.settings.command == "show"  # its network and parameters are not a preamble: always shown
        if self.preamble == "none" and not show:
            return
        yield f"bpexplain {h.settings.command}: {net['name']} - {net['title']}"
        yield ""
        if self.preamble == "short":
            yield f"Conventions: {h.statement}"
            yield ""
        elif self.preamble == "full":
            yield "Conventions"
            for line in h.conventions:
                yield f"  * {line}"
            yield ""
            yield "Legend"
            symbol = self.printer.symbol
            legend = [(symbol(sym), meaning) for sym, meaning in h.legend]
            if _COMBINING.search("".join([s for s, _ in legend])):  # x̂: a letter and a mark, one column drawn
                width = max(_drawn(s) for s, _ in legend)
                for sym, meaning in legend:
                    yield f"  {_ljust(sym, width)}  {meaning}"
            else:
                row = f"  {{:<{max([len(s) for s, _ in legend])}}}  {{}}".format
                yield from [row(sym, meaning) for sym, meaning in legend]
            yield ""
        if self.preamble != "full" and not show:
            return
        yield from self.network_lines(h)
        yield ""
        yield "Initial parameters"
        yield from self.parameter_lines(h.initial_parameters, h, initial=True)
        yield ""

    def network_lines(self, h: TraceHeader) -> Iterator[str]:
        yield "Network"
        rows = [NETWORK_COLUMNS, *network_rows(h.network)]
        if _COMBINING.search("".join(["".join(r) for r in rows])):  # a name with a combining mark
            widths = [max(_drawn(r[i]) for r in rows) for i in range(len(rows[0]))]
            for row in rows:
                yield "  " + "  ".join(_ljust(c, w) for c, w in zip(row, widths)).rstrip()
        else:  # as above, every character one column: one format for the table
            line = "  ".join([f"{{:<{max(map(len, column))}}}" for column in zip(*rows)]).format
            yield from ["  " + line(*row).rstrip() for row in rows]
        frozen = h.network["frozen"]
        yield f"  loss {h.network['loss']}, learning rate {h.network['learning_rate']:g}" + (
            f", frozen: {', '.join(frozen)}" if frozen else ""
        )

    def parameter_lines(self, params: dict, h: TraceHeader, initial: bool = False) -> Iterator[str]:
        for name, arr in params.items():
            origin = h.parameter_origins.get(name, "") if initial else ""
            shape = "×".join(map(str, arr.shape))
            symbols = h.parameter_symbols.get(name)
            layout = "" if symbols and arr.ndim <= 2 else weight_orientation(name, arr, h)
            yield f"  {name} ({shape}{', ' + origin if origin else ''}{'; ' + layout if layout else ''})"
            if symbols and arr.ndim <= 2:
                # a symbol as doprint writes it, a number as format_number does
                symbol, number = self.printer.symbol, self.printer.number
                cells = [f"{symbol(s)} = {number(v)}" for s, v in zip(symbols, arr.ravel().tolist())]
                per_row = arr.shape[-1] if arr.ndim == 2 else len(cells)
                width = max(len(c) for c in cells)
                for r in range(0, len(cells), per_row):
                    yield "    " + "   ".join(c.ljust(width) for c in cells[r : r + per_row]).rstrip()
            else:
                for line in format_grid(arr, self.precision):
                    yield "    " + line

    # ---- steps --------------------------------------------------------------------------------

    def step_lines(self, s: StepStart) -> Iterator[str]:
        yield RULE
        samples = ", ".join(map(str, s.samples))
        word = "sample" if len(s.samples) == 1 else "samples"
        yield f"Step {s.index} (epoch {s.epoch}, {word} {samples})"
        for k, (x, t) in enumerate(zip(s.inputs, s.targets)):
            prefix = f"  sample {s.samples[k]}: " if len(s.samples) > 1 else "  "
            target = "" if t.size and t.ravel()[0] != t.ravel()[0] else f"   ŷ = {format_vector(t, self.precision)}"
            if x.ndim >= 2:  # an image: as a grid
                yield f"{prefix}x ="
                yield from ("      " + line for line in format_grid(x, self.precision))
                if target:
                    yield f"{prefix}{target.strip()}"
                continue
            yield f"{prefix}x = {format_vector(x, self.precision)}{target}"
        yield RULE

    def block_lines(self, b: Block) -> Iterator[str]:
        return iter(self.block_list(b))

    def block_list(self, b: Block) -> list[str]:
        """A block's lines: its title, its annotation, then its equations aligned in columns (or its arrays)."""
        sample = f" [sample {b.sample}]" if b.sample is not None else ""
        out = ["", f"{b.title}{sample}", f"  {b.annotation}"]
        if b.equations:
            out += self.equation_lines(block_columns(b.equations, self.printer))
            for arr in map_grids(b, self.header.network["layers"] if self.header else []):
                out.append(f"    {arr.label} =")
                out += ["      " + line for line in format_grid(arr.value, self.precision)]
        else:
            for arr in b.arrays:
                grid = format_grid(arr.value, self.precision)
                if len(grid) == 1:
                    shown = grid[0].strip() if arr.value.ndim == 0 else format_vector(arr.value, self.precision)
                    out.append(f"    {arr.label} = {shown}")
                else:
                    out.append(f"    {arr.label} =")
                    out += ["      " + line for line in grid]
        return out

    def equation_lines(self, cols: list[EquationColumns]) -> list[str]:
        """Equation lines `symbol = expression = substituted = value`, each column padded to the block's widest."""
        back: dict[str, str] = {}
        # x̂ (a letter and a combining mark) can only come from a symbol or name the printer made: it says if it has
        if self.printer.marks and _COMBINING.search(
            "".join(map(_SYMBOL, cols)) + "".join(map(_EXPRESSION, cols)) + "".join(map(_SUBSTITUTED, cols))
        ):
            cols, back = _one_column_each(cols)  # x̂ is two characters drawn in one column
        # each column's width by `map` over the rows (in C; `zip(*cols)` costs more on a block of thousands)
        w_sym = max(map(len, map(_SYMBOL, cols)))
        w_expr = max(map(len, map(_EXPRESSION, cols)))
        w_sub = max(map(len, map(_SUBSTITUTED, cols)))
        w_val = max(map(len, map(_VALUE, cols))) if any(map(_REMARK, cols)) else 0
        head = f"    {{:<{w_sym}}} = "
        if w_sub:
            row = head + f"{{:<{w_expr}}}{{}}{{:<{w_sub}}} = {{:<{w_val}}}"
        else:
            row = head + f"{{:<{w_expr}}} = {{:<{w_val}}}"
        row_format = row.format
        if not w_val and not any(map(_ONCE, cols)):  # the common block: no remark, nothing said once, nothing to strip
            if w_sub and all(map(_SUBSTITUTED, cols)):  # every line has its numbers (a gradient's, an update's)
                # by map, in C: a row (its six fields) into one %-template, padded as str.ljust pads (by characters),
                # the remark and the flag (both empty here) written as nothing (`%.0s`)
                lines = [*map(f"    %-{w_sym}s = %-{w_expr}s = %-{w_sub}s = %s%.0s%.0s".__mod__, cols)]
            elif w_sub:
                lines = [row_format(s, e, " = " if u else "   ", u, v) for s, e, u, v, _, _ in cols]
            else:
                lines = [*map(f"    %-{w_sym}s = %-{w_expr}s%.0s = %-{w_val}s%.0s%.0s".__mod__, cols)]
        else:
            lines = []
            for symbol, expression, sub, value, remark, once in cols:
                if once:  # `dh_5(e)/de = 1`: the value, said once
                    said = ("   " + (remark if remark.startswith("≠") else f"({remark})")) if remark else ""
                    lines.append("    " + symbol.ljust(w_sym) + " = " + value + said)
                    continue
                if w_sub:
                    line = row_format(symbol, expression, " = " if sub else "   ", sub, value)
                else:
                    line = row_format(symbol, expression, value)
                if remark:
                    line += "   " + (remark if remark.startswith("≠") else f"({remark})")
                lines.append(line.rstrip())
        return [_restored(line, back) for line in lines] if back else lines

    def step_end_lines(self, e: StepEnd) -> Iterator[str]:
        assert self.header is not None
        self.losses.add(e.loss)
        if self.detail == "summary":
            yield self.summary_line(e)
            return
        yield ""
        if e.loss is not None:
            when = " (before the step's update)" if e.parameters is not None else ""
            yield f"Loss at step {e.index}{when}: E = {fmt(e.loss, self.precision)}"
        if e.parameters is None:
            last = list(e.outputs)[-1]
            yield f"Output ({last}): y = {format_vector(e.outputs[last], self.precision)}"
        else:
            if e.departures:
                yield f"{e.departures} parameter value(s) depart from the exact chain rule's (marked ≠ above)."
            yield f"Parameters after step {e.index}"
            yield from self.parameter_lines(e.parameters, self.header)
        yield ""

    def summary_line(self, e: StepEnd) -> str:
        return self.summary_lines(self.start, e)

    def end_lines(self, end: TraceEnd) -> Iterator[str]:
        assert self.header is not None
        if self.header.settings.command != "train":
            return
        yield RULE
        yield f"Summary: {end.steps} step(s); stopped because {end.stopped}"
        symbol = self.printer.symbol  # as doprint writes a symbol, looked up first
        symbols = {n: tuple(map(symbol, syms)) for n, syms in self.header.parameter_symbols.items()}
        cols, losses, cells = summary_cells(
            self.summary, self.header, self.precision, symbols, number=self.printer.number
        )
        initial, final = summary_loss_cells(end, self.precision)
        heads = ["", "initial"] + ["…" if c is None else c for c in cols]
        rows = [heads, ["E", initial] + ["…" if c is None else c for c in losses]]
        rows += [[label] + ["…" if c is None else c for c in row] for label, row in cells]
        if final:
            rows.append([FINAL_LOSS_LABEL] + [""] * (len(heads) - 2) + [final])
        yield from _table(rows, len(heads))
        if final:
            yield "  " + summary_note(end)
        chart = loss_chart(self.losses.values, self.precision)
        if chart:
            yield ""
            yield from chart
        if end.predictions:
            yield ""
            yield PREDICTIONS_TITLE
            rows = [list(PREDICTION_COLUMNS)] + [list(r) for r in prediction_rows(end, self.precision)]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                yield "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
        if end.drift:
            yield ""
            yield DRIFT_TITLE
            rows = [["value", "rounded", "exact", "difference"]] + [list(r) for r in drift_rows(end, self.printer)]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                yield "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))


_SYMBOL, _EXPRESSION, _SUBSTITUTED, _VALUE, _REMARK, _ONCE = map(itemgetter, range(6))  # EquationColumns' fields
_COMBINING = re.compile("[\u0300-\u036f]")  # a combining mark: drawn over the character before it
_CLUSTER = re.compile(".[\u0300-\u036f]+")


def _one_column_each(cols: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """The columns with every letter-and-mark (x̂: two characters, one column drawn) stood for by one private
    character while they are padded, and the map that puts them back."""
    clusters = sorted({m for c in cols for t in (c.symbol, c.expression, c.substituted) for m in _CLUSTER.findall(t)})
    stand_in = {cluster: chr(0xE000 + k) for k, cluster in enumerate(clusters)}

    def single(text: str) -> str:
        return _CLUSTER.sub(lambda m: stand_in[m.group(0)], text)

    cols = [
        c._replace(symbol=single(c.symbol), expression=single(c.expression), substituted=single(c.substituted))
        for c in cols
    ]
    return cols, {v: k for k, v in stand_in.items()}


def _table(rows: list[list[str]], n: int) -> list[str]:
    """The summary's rows as lines: the first column left-aligned, the others right-aligned, each padded to its
    widest, two spaces between (as `str.ljust` and `str.rjust` pad), the line's end stripped; one format a table."""
    if any(len(r) != n for r in rows):  # not met: every row has a cell a column
        widths = [max(len(r[i]) for r in rows) for i in range(n)]
        return [
            "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows
        ]
    widths = [max(map(len, column)) for column in zip(*rows)]
    line = (f"{{:<{widths[0]}}}" + "".join([f"  {{:>{w}}}" for w in widths[1:]])).format
    return ["  " + line(*r).rstrip() for r in rows]


def _restored(line: str, back: dict[str, str]) -> str:
    return "".join(back.get(ch, ch) for ch in line)


def _drawn(text: str) -> int:
    """The columns `text` takes: its characters, less the combining marks drawn over the one before."""
    return len(text) if text.isascii() else len(text) - len(_COMBINING.findall(text))


def _ljust(text: str, width: int) -> str:
    return text + " " * (width - _drawn(text))
