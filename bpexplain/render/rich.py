"""The terminal view: a section per step, a panel per phase and layer, colour by equation kind.

Every line is laid out here rather than by rich's Table: a block's equations are aligned once
(render.board) from the widths of what the printer wrote, a long one wraps at its operators, a grid
too wide for the terminal comes in bands, and nothing is cut at any width. rich only writes the
styled segments (render.screen) and decides whether to colour (terminal, NO_COLOR, FORCE_COLOR,
Jupyter). Text from the network file is never read as markup. A block is printed in parts of CHUNK
equations, so a large one streams. A forward equation of a convolution or pooling layer on a small
map (at most FIELD_LIMIT elements) is followed by the map it reads, its receptive field highlighted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import cache, partial
from math import prod
from typing import Any, TextIO

import numpy as np
from rich.console import Console
from rich.style import Style

from ..trace import Block, Event, NamedArray, StepEnd, StepStart, TraceEnd, TraceHeader
from .board import Board
from .chart import LossHistory, loss_chart
from .common import (
    DRIFT_TITLE,
    FINAL_LOSS_LABEL,
    NETWORK_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTIONS_TITLE,
    SummaryLine,
    SummaryTable,
    block_columns,
    drift_rows,
    fmt,
    map_grids,
    network_rows,
    prediction_rows,
    summary_cells,
    summary_loss_cells,
    summary_note,
)
from .numbers import CARRIED, format_grid, format_numbers, format_vector
from .printer import TextPrinter
from .screen import (
    Batch,
    Codes,
    Frame,
    Lines,
    Made,
    StyledLine,
    grid,
    placed,
    rule,
    side_by_side,
    table,
    text_lines,
    writes_directly,
)
from .wrap import is_narrow, pad, width, wrap_math, wrap_words

SUMMARY_BATCH = 200
CHUNK = 200  # equations printed at a time: a large block streams
FLUSH_SECONDS = 0.2  # what is laid out is printed at least this often, however little it is
STYLES = {"forward": "cyan", "loss": "magenta", "error": "red", "gradient": "yellow", "update": "green"}
FIELD_LIMIT = 144  # receptive fields are drawn on input maps of at most this many elements (12×12)
FIELD_STYLE = Style(bold=True, reverse=True)  # the cells of the receptive field
GRID_LIMIT = 12  # format_grid's limit: a grid of more rows or columns is shortened

BOLD = Style(bold=True)
DIM = Style(dim=True)
ITALIC = Style(italic=True)
NOTE = Style(italic=True, dim=True)
WARNING = Style(bold=True, color="red")
LOSS = Style(bold=True, color="magenta")


@cache
def _roles(colour: str) -> dict[str, Style | None]:
    """The style of each role of a board's pieces, for a phase's colour."""
    strong = Style(bold=True, color=colour)
    return {"symbol": strong, "op": DIM, "expr": None, "value": strong, "remark": DIM, "warning": WARNING, "": None}


@cache
def _colour(colour: str) -> Style:
    return Style(color=colour)


class RichRenderer:
    def __init__(self, precision: int = 4, max_terms: int | None = 8, console: Console | None = None) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.console = console

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        print_batches(self.console or Console(file=out), trace_renderables(events, self.precision, self.max_terms))


def print_batches(console: Console, renderables: Iterable[Lines]) -> None:
    """Print the parts of the view a few at a time: a large block as its chunks come, the rest in batches."""
    batch: list[Lines] = []
    size = 0
    last = time.monotonic()
    direct = writes_directly(console)
    for renderable in renderables:
        batch.append(renderable)
        size += renderable.size
        if size >= CHUNK or time.monotonic() - last > FLUSH_SECONDS:
            _print(console, Batch(batch), direct)
            batch, size, last = [], 0, time.monotonic()
    if batch:
        _print(console, Batch(batch), direct)


def _print(console: Console, batch: Batch, direct: bool) -> None:
    """`console.print(batch, crop=False)`, or what it writes written here (see `screen.writes_directly`)."""
    text = batch.rendered(console, max(console.width, 1)) if direct else None
    if text is None:
        console.print(batch, crop=False)
        return
    try:
        console.file.write(text)
        console.file.flush()
    except BrokenPipeError:
        console.on_broken_pipe()
    except UnicodeEncodeError as error:  # as rich says it
        error.reason = f"{error.reason}\n*** You may need to add PYTHONIOENCODING=utf-8 to your environment ***"
        raise


def trace_renderables(events: Iterable[Event], precision: int = 4, max_terms: int | None = 8) -> Iterator[Lines]:
    printer = TextPrinter(precision, max_terms)
    header: TraceHeader | None = None
    start: StepStart | None = None
    summary = SummaryTable()
    losses = LossHistory()  # every step's, for the chart that closes a training run
    maps = _Maps()
    summary_line_of = SummaryLine(precision)
    pending: list[str] = []  # --detail summary: step lines printed a batch at a time (one print per line is slow)
    for ev in events:
        summary_line = isinstance(ev, StepEnd) and header is not None and header.settings.detail == "summary"
        if pending and (len(pending) >= SUMMARY_BATCH or not (summary_line or isinstance(ev, StepStart))):
            yield _plain_lines(pending)
            pending = []
        if summary_line:
            assert isinstance(ev, StepEnd)
            summary.add(start, ev)
            losses.add(ev.loss)
            pending.append(summary_line_of(start, ev))
        elif isinstance(ev, TraceHeader):
            header = ev
            if ev.settings.round is not None:  # --round: numbers shown as carried (numbers.CARRIED)
                precision = CARRIED
                printer = TextPrinter(precision, max_terms)
                summary_line_of = SummaryLine(precision)
            yield _header(ev, printer)
        elif isinstance(ev, StepStart):
            start = ev
            maps.start(ev)
            if header and header.settings.detail != "summary":
                yield _step_start(ev, precision)
        elif isinstance(ev, Block):
            layers = header.network["layers"] if header else None
            yield from _block(ev, printer, layers, maps.input_of(ev, layers or []))
            maps.keep(ev)
        elif isinstance(ev, StepEnd):
            summary.add(start, ev)
            losses.add(ev.loss)
            assert header is not None
            yield _step_end(ev, header, printer)
        elif isinstance(ev, TraceEnd):
            assert header is not None
            if header.settings.command == "train":
                yield _summary(ev, summary, header, printer, losses)
    if pending:
        yield _plain_lines(pending)


def _plain_lines(lines: list[str]) -> Lines:
    """Lines as they are where they fit, else wrapped at spaces (continuations indented)."""

    def make(total: int, plain: bool) -> Iterator[StyledLine]:
        for line in lines:
            for part in wrap_words(line, total, 4):
                yield (width(part), [(part, None)])

    return Lines(make, len(lines))


# ---- header ---------------------------------------------------------------------------------------


def _header(h: TraceHeader, printer: TextPrinter) -> Lines:
    net = h.network
    command = f"bpexplain {h.settings.command}: "
    title = Frame([(command, None), (str(net["name"]), BOLD), (f" - {net['title']}", None)], None, "conventions", BOLD)
    legend_frame = Frame([("Legend", None)], DIM)
    legend = [(printer.symbol(sym), meaning) for sym, meaning in h.legend]  # as doprint writes it (text's way)

    preamble, show = h.settings.preamble, h.settings.command == "show"  # show's network is not a preamble

    def make(total: int, plain: bool) -> Iterator[Made]:
        if preamble == "none" and not show:
            return
        room = Frame.inner(total)
        if plain and total >= 8:  # no styles: the conventions framed as text
            prose = [h.statement] if preamble == "short" else ["• " + line for line in h.conventions]
            yield from title.top_text(total)
            for text in prose if preamble in ("short", "full") else []:
                yield from title.prose_text(text, total, 2 if preamble == "full" else 0)
            yield from title.bottom_text(total)
        else:
            body: list[StyledLine] = []
            if preamble == "short":
                body += text_lines(h.statement, room, None)
            elif preamble == "full":
                for line in h.conventions:
                    body += text_lines("• " + line, room, None, hang=2)
            yield from title.all(body, total)
        if preamble == "full":
            yield from legend_frame.all(_legend_lines(legend, room), total)
        if preamble != "full" and not show:
            return
        yield from _table_lines("Network", list(NETWORK_COLUMNS), [list(r) for r in network_rows(net)], total)
        yield from _parameters(h.initial_parameters, h, printer, "Initial parameters", total)

    return Lines(make)


def _legend_lines(legend: list[tuple[str, str]], room: int) -> list[StyledLine]:
    narrow = is_narrow("".join([s + m for s, m in legend]))  # the usual legend: measured by lengths
    measure = len if narrow else width
    ws = max((measure(s) for s, _ in legend), default=0)
    at = 2 + ws + 2
    out: list[StyledLine] = []
    for sym, meaning in legend:
        if room - at >= max(12, room // 3):
            lines = wrap_words(meaning, room - at, 0)
            head = "  " + (sym.ljust(ws) if narrow else pad(sym, ws)) + "  "
            out.append((at + measure(lines[0]), [(head, BOLD), (lines[0], None)]))
            out += [(at + measure(m), [(" " * at + m, None)]) for m in lines[1:]]
        else:
            out += text_lines(sym, room, BOLD, indent=2)
            out += text_lines(meaning, room, None, indent=4)
    return out


def _table_lines(
    title: str,
    head: list[str] | None,
    rows: list[list[str]],
    total: int,
    right: list[bool] | None = None,
    row_styles: dict[int, Style] | None = None,
) -> Iterator[StyledLine]:
    yield from text_lines(title, total, ITALIC)
    right = right or [False] * len(rows[0] if rows else head or [])
    for line, kind, j in table(head, rows, total - 2, right):
        style = BOLD if kind == "head" else DIM if kind == "rule" else (row_styles or {}).get(j)
        yield (2 + width(line), [("  " + line, style)]) if line else (0, [])
    yield (0, [])


def _parameters(params: dict, h: TraceHeader, printer: TextPrinter, title: str, total: int) -> Iterator[StyledLine]:
    yield from text_lines(title, total, ITALIC)
    wn = max((width(n) for n in params), default=0)
    for name, arr in params.items():
        symbols = h.parameter_symbols.get(name)
        blocks: list[list[StyledLine]]
        if symbols and arr.ndim <= 2:
            # a symbol as doprint writes it, a number as format_number does (as the text format writes them)
            symbol, number = printer.symbol, printer.number
            cells = [f"{symbol(s)} = {number(v)}" for s, v in zip(symbols, arr.ravel().tolist())]
            per_row = arr.shape[-1] if arr.ndim == 2 else len(cells)
            blocks = [_cell_rows(cells, per_row, total - 2 - wn - 3, total - 4)]
        else:
            blocks = [_grid_styled(label, value, printer.precision, total - 4) for label, value in _channels("", arr)]
        side = 2 + wn + 3
        body = blocks[0] if len(blocks) == 1 else side_by_side(blocks, total - side)
        if body and max(w for w, _ in body) + side <= total:
            for k, (w, pieces) in enumerate(body):
                lead = ("  " + pad(name, wn) + "   ", BOLD) if k == 0 else (" " * side, None)
                yield (side + w, [lead, *pieces])
        else:
            yield from text_lines(name, total, BOLD, indent=2)
            for w, pieces in side_by_side(blocks, total - 4):
                yield (4 + w, [("    ", None), *pieces])
    yield (0, [])


def _cell_rows(cells: list[str], per_row: int, room: int, narrow_room: int) -> list[StyledLine]:
    """`sym = value` cells in rows of `per_row`, aligned; where those rows do not fit `room`, as many a row
    as fit in `narrow_room` (the cells stay whole)."""
    narrow = is_narrow("".join(cells))  # the usual cells: measured and padded by lengths
    cw = max(map(len, cells)) if narrow else max(width(c) for c in cells)
    gap = 3
    out: list[StyledLine] = []
    if cw > narrow_room:  # a cell a line, broken after its `=` where even that is too wide
        for cell in cells:
            out += [(width(t), [(t, None)]) for t in wrap_words(cell, narrow_room, 2)]
        return out
    if per_row * (cw + gap) - gap > room:
        per_row = max(1, (narrow_room + gap) // (cw + gap))
    for r in range(0, len(cells), per_row):
        if narrow:
            line = "   ".join([c.ljust(cw) for c in cells[r : r + per_row]]).rstrip()
            out.append((len(line), [(line, None)]))
        else:
            line = (" " * gap).join(pad(c, cw) for c in cells[r : r + per_row]).rstrip()
            out.append((width(line), [(line, None)]))
    return out


# ---- grids ----------------------------------------------------------------------------------------


def _channels(label: str, value: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """A map, kernel or error as (label, its matrix or vector), one per channel."""
    while value.ndim > 2 and value.shape[0] == 1:
        value = value[0]
    if value.ndim > 2:
        return [g for c in range(value.shape[0]) for g in _channels(f"{label} [{c + 1}]".strip(), value[c])]
    return [(label, value)]


def _grid_cells(value: np.ndarray, precision: int) -> list[list[str]]:
    """The cells of `format_grid`'s rows of a matrix or a vector: a small one's numbers formatted at once
    (nothing shortened, the same texts as `format_grid`'s before its padding)."""
    if 1 <= value.ndim <= 2 and value.shape[-1] <= GRID_LIMIT and (value.ndim == 1 or value.shape[0] <= GRID_LIMIT):
        values = np.asarray(value, dtype=np.float64).tolist()
        if value.ndim == 1:
            return [format_numbers(values, precision)]
        return [format_numbers(row, precision) for row in values]
    return [line.split() for line in format_grid(value, precision)]


def _grid_block(label: str, rows: list[list[str]], room: int) -> list[StyledLine]:
    out: list[StyledLine] = []
    if label:
        out += text_lines(label + (" =" if not label.startswith("[") else ""), room, ITALIC)
    indent = 2 if label else 0
    for line, heading in grid(rows, room - indent):
        out.append((indent + width(line), [(" " * indent + line, DIM if heading else None)]))
    return out


def _grid_block_text(label: str, rows: list[list[str]], room: int) -> list[tuple[int, str]]:
    """`_grid_block` without styles, each line as its cells and text."""
    out: list[tuple[int, str]] = []
    if label:
        out += [_as_text(line) for line in text_lines(label + (" =" if not label.startswith("[") else ""), room)]
    lead = "  " if label else ""
    for line, _ in grid(rows, room - len(lead)):
        out.append((len(lead) + width(line), lead + line))
    return out


def _small_grid(label: str, value: np.ndarray, precision: int, room: int) -> tuple[str, list[str], int] | None:
    """A channel's matrix or vector (`_channels`) as `_grid_block` draws it where it is small and its grid fits
    `room` in one band: the label's line ("" without a label), the rows' lines and their cells; made at once, its
    numbers formatted by one call and each row written by one %-format (its cells are numbers, of one-cell
    characters: its columns' widths are lengths). None for another grid."""
    shape = value.shape
    if not (1 <= len(shape) <= 2 and shape[-1] <= GRID_LIMIT and (len(shape) == 1 or shape[0] <= GRID_LIMIT)):
        return None
    w = shape[-1]
    texts = format_numbers(np.asarray(value, dtype=np.float64).ravel().tolist(), precision)
    if not texts:
        return None
    widths = [max(map(len, texts[c::w])) for c in range(w)]
    head = label + (" =" if not label.startswith("[") else "") if label else ""
    lead = "  " if label else ""
    used = len(lead) + sum(widths) + 2 * (w - 1)
    if used > room or width(head) > room:
        return None
    row = lead + "  ".join([f"%{cw}s" for cw in widths])
    return head, [row % tuple(texts[k : k + w]) for k in range(0, len(texts), w)], used


def _grid_text(label: str, value: np.ndarray, precision: int, room: int) -> list[tuple[int, str]]:
    """`_grid_block_text` of a channel's matrix or vector (`_channels`), a small one by `_small_grid`."""
    small = _small_grid(label, value, precision, room)
    if small is None:
        return _grid_block_text(label, _grid_cells(value, precision), room)
    head, lines, used = small
    return ([(width(head), head)] if head else []) + [(used, line) for line in lines]


def _grid_styled(label: str, value: np.ndarray, precision: int, room: int) -> list[StyledLine]:
    """`_grid_block` of a channel's matrix or vector (`_channels`), a small one by `_small_grid`."""
    small = _small_grid(label, value, precision, room)
    if small is None:
        return _grid_block(label, _grid_cells(value, precision), room)
    head, lines, used = small
    out: list[StyledLine] = [(width(head), [(head, ITALIC)])] if head else []
    return out + [(used, [(line, None)]) for line in lines]


def _array_grids(arr: NamedArray, precision: int, room: int) -> list[list[StyledLine]]:
    return [_grid_styled(label, value, precision, room) for label, value in _channels(arr.label, arr.value)]


# ---- steps ----------------------------------------------------------------------------------------


def _step_start(s: StepStart, precision: int) -> Lines:
    samples = ", ".join(map(str, s.samples))
    word = "sample" if len(s.samples) == 1 else "samples"
    title = f"Step {s.index} (epoch {s.epoch}, {word} {samples})"

    def make(total: int, plain: bool) -> Iterator[StyledLine]:
        yield from rule(title, total, BOLD, None)
        images: list[list[StyledLine]] = []
        for k, (x, t) in enumerate(zip(s.inputs, s.targets)):
            prefix = f"sample {s.samples[k]}: " if len(s.samples) > 1 else ""
            target = "" if t.size and t.ravel()[0] != t.ravel()[0] else f"ŷ = {format_vector(t, precision)}"
            if x.ndim >= 2:  # an image: as a grid
                blocks = _array_grids(NamedArray(f"{prefix}x", x), precision, total)
                if target:
                    blocks.append(text_lines(target, total))
                images += blocks
                continue
            yield from _math_line(f"{prefix}x = {format_vector(x, precision)}", total, None, extra=f"   {target}")
        yield from side_by_side(images, total)

    return Lines(make)


def _math_line(text: str, total: int, style: Style | None, indent: int = 0, extra: str = "") -> list[StyledLine]:
    """`label = [values]` (and `extra` after it) on one line, or wrapped after its commas under the values
    (under the label, indented, when the label takes half the width)."""
    full = text + extra if extra.strip() else text
    if indent + width(full) <= total:
        return [(indent + width(full), [(" " * indent + full, style)])]
    head, _, rest = text.partition(" = ")
    out: list[StyledLine] = []
    if rest and indent + width(head) + 3 < total // 2:
        hang = indent + width(head) + 3
        lead = " " * indent + head + " = "
    else:
        out += text_lines(head + " =" if rest else "", total, style, indent=indent) if rest else []
        hang, lead = indent + 2, " " * (indent + 2)
    for k, part in enumerate(wrap_math(rest or text, total - hang)):
        out.append((hang + width(part), [((lead if k == 0 else " " * hang) + part, style)]))
    if extra.strip():
        out += text_lines(extra.strip(), total, style, indent=min(hang, indent + 2))
    return out


def _step_end(e: StepEnd, h: TraceHeader, printer: TextPrinter) -> Lines:
    def make(total: int, plain: bool) -> Iterator[StyledLine]:
        if e.loss is not None:
            yield from text_lines(f"Loss at step {e.index}: E = {fmt(e.loss, printer.precision)}", total, LOSS)
        if e.parameters is None:
            last = list(e.outputs)[-1]
            vector = format_vector(e.outputs[last], printer.precision)
            yield from _math_line(f"Output ({last}): y = {vector}", total, BOLD)
            return
        if e.departures:
            note = f"{e.departures} parameter value(s) depart from the exact chain rule's (marked ≠)."
            yield from text_lines(note, total, WARNING)
        yield from _parameters(e.parameters, h, printer, f"Parameters after step {e.index}", total)

    return Lines(make)


def _summary(
    end: TraceEnd, summary: SummaryTable, h: TraceHeader, printer: TextPrinter, history: LossHistory | None = None
) -> Lines:
    symbols = {n: tuple(map(printer.symbol, syms)) for n, syms in h.parameter_symbols.items()}  # as doprint writes
    cols, losses, cells = summary_cells(summary, h, printer.precision, symbols)
    initial, final = summary_loss_cells(end, printer.precision)
    head = ["", "initial"] + ["…" if c is None else c for c in cols]
    rows = [["E", initial] + ["…" if c is None else c for c in losses]]
    rows += [[label] + ["…" if c is None else c for c in row] for label, row in cells]
    if final:
        rows.append([FINAL_LOSS_LABEL] + [""] * (len(head) - 2) + [final])
    right = [False] + [True] * (len(head) - 1)
    drift = [list(r) for r in drift_rows(end, printer)] if end.drift else []
    predictions = [list(r) for r in prediction_rows(end, printer.precision)]

    def make(total: int, plain: bool) -> Iterator[StyledLine]:
        title = f"Summary: {end.steps} step(s); stopped because {end.stopped}"
        loss_rows = {0: _colour("magenta")} | ({len(rows) - 1: _colour("magenta")} if final else {})
        yield from _table_lines(title, head, rows, total, right, loss_rows)
        if final:
            yield from text_lines(summary_note(end), total, ITALIC)
            yield (0, [])
        chart = loss_chart(history.values, printer.precision, total) if history is not None else []
        if chart:
            yield from text_lines(chart[0], total, ITALIC)
            for line in chart[1:]:
                yield (width(line), [(line, LOSS)])
            yield (0, [])
        if predictions:
            yield from _table_lines(PREDICTIONS_TITLE, list(PREDICTION_COLUMNS), predictions, total, [False] * 4)
            yield (0, [])
        if drift:
            drift_head = ["value", "rounded", "exact", "difference"]
            yield from _table_lines(DRIFT_TITLE, drift_head, drift, total, [False, True, True, True])

    return Lines(make)


# ---- blocks ---------------------------------------------------------------------------------------


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
        size = prod(shape)
        if size > FIELD_LIMIT:
            return None
        if k == 0:
            sample = (b.sample or 1) - 1
            values = self.inputs[sample] if sample < len(self.inputs) else None
        else:
            values = self.outputs.get((b.sample, names[k - 1]))
        if values is not None and values.size != size:
            values = None
        return shape, values


class Field:
    """The map a block's equations read, drawn once per equation with its receptive field highlighted: one
    small grid per channel the field covers.

    The field's cells are drawn in FIELD_STYLE; on a console without styles (a file, a pipe, NO_COLOR
    aside) they are bracketed instead, [2]. Without the map's values (its block was filtered out), the
    field is drawn as ■ on ·. A grid wider than the room comes in bands of columns.
    """

    def __init__(self, shape: tuple[int, ...], values: np.ndarray | None, precision: int) -> None:
        self.shape = shape
        self.texts = format_numbers(values.ravel().tolist(), precision) if values is not None else None
        cw = max(map(len, self.texts)) if self.texts else 1  # numbers: of one-cell characters
        self.cw = cw
        self.step = cw + (2 if self.texts else 0) + 1  # a cell and the space after it
        self.cell_text: dict[tuple[bool, bool], list[str]] = {}
        self.rows: dict[tuple[int, int, int, bool, tuple[int, ...]], StyledLine] = {}  # see `_lines`
        self.drawn: dict[tuple[tuple[int, ...], int, bool], list[StyledLine]] = {}  # the lines of a field
        self.templates: dict[tuple[int, int, bool], tuple[list[StyledLine], list[tuple[int, int, int]]]] = {}
        self.framed: dict[tuple[tuple[int, ...], int, Any], str] = {}  # see `framed_text` ("": drawn otherwise)
        self.row_texts: dict[tuple[int, int, int, tuple[int, ...]], tuple[int, str]] = {}  # `rows` as text
        self.framed_maps: dict[tuple[int, Any], tuple[list[str], list[str], list[str]]] = {}  # see `_framed_one`
        self.coded_rows: dict[tuple[int, tuple[int, ...], int, Any], str] = {}  # see `_coded_row`
        self.text_templates: dict[tuple[int, int], tuple[list[tuple[int, str]], list[tuple[int, int, int]]]] = {}
        # (id(a line of `lines`), room, colour system) -> the line (alive), framed and written with its codes
        self.written: dict[tuple[int, int, Any], tuple[StyledLine, str]] = {}

    def cells_as(self, inside: bool, plain: bool) -> list[str]:
        """Every cell's text, drawn inside the field or outside it."""
        key = (inside, plain)
        texts = self.cell_text.get(key)
        if texts is None:
            if self.texts is None:
                texts = ["■" if inside else "·"] * int(np.prod(self.shape))
            else:
                cw = self.cw
                texts = [f"[{t.rjust(cw)}]" if inside and plain else f" {t.rjust(cw)} " for t in self.texts]
            self.cell_text[key] = texts
        return texts

    def framed_text(
        self, cells: tuple[int, ...], room: int, codes: Codes | None = None, border: Style | None = None
    ) -> str | None:
        """The field's lines (`lines`) as a panel's body `room` cells wide frames them under an equation (indented
        by 2), joined by line breaks, without styles; or, given `codes` (and the frame's style), with their codes
        as `Lines.ansi` writes the styled lines, on a map of one channel in one band. None where one does not fit
        (or, with codes, on another map). Made as text: a row of the map is its text, kept for the fields that
        share it."""
        key = (cells, room, None if codes is None else codes.system)
        text = self.framed.get(key)
        if text is None:
            if self._one_band(room):
                text = self._framed_one(cells, room) if codes is None else self._coded_one(cells, room, codes, border)
            else:
                text = self._framed_text(cells, room) if codes is None else ""
            self.framed[key] = text
        return text or None

    def _one_band(self, room: int) -> bool:
        """Whether the map is of one channel and drawn in one band under an equation in a body `room` wide."""
        shape, inner = self.shape, room - 2
        w = shape[-1]
        return (len(shape) < 3 or shape[0] == 1) and w <= max(1, (inner + 1) // self.step) and w * self.step <= room - 1

    def _marked(self, cells: tuple[int, ...]) -> dict[int, dict[int, list[int]]]:
        """The field's cells by channel, then by row: the field's columns in each row, in order."""
        w = self.shape[-1]
        plane = self.shape[-2] * w
        marked: dict[int, dict[int, list[int]]] = {}
        for i in sorted(set(cells)):
            c, at = divmod(i, plane)
            r, col = divmod(at, w)
            rows = marked.get(c)
            if rows is None:
                rows = marked[c] = {}
            cols = rows.get(r)
            if cols is None:
                rows[r] = [col]
            else:
                cols.append(col)
        return marked

    def _framed_text(self, cells: tuple[int, ...], room: int) -> str:
        """`framed_text`, "" where a line does not fit."""
        inner = room - 2  # the field's room, as `lines` is given it
        shape = self.shape
        w = shape[-1]
        plane = shape[-2] * w
        per_band = max(1, (inner + 1) // self.step)
        marked = self._marked(cells)
        texts = self.row_texts
        blocks: list[list[tuple[int, str]]] = []
        for c in sorted(marked):
            template, bands = self._text_template(c, per_band)
            block = template.copy()  # the channel's rows without the field, then the field's rows put in
            for r, cols in marked[c].items():
                base = c * plane + r * w
                for b0, end, at, field in _in_bands(cols, bands, w):
                    key = (base, b0, end, field)
                    line = texts.get(key)
                    if line is None:
                        on, off = self.cells_as(True, True), self.cells_as(False, True)
                        text = " ".join([on[base + col] if col in field else off[base + col] for col in range(b0, end)])
                        line = texts[key] = ((end - b0) * self.step - 1, text)
                    block[at + r] = line
            blocks.append(block)
        out: list[str] = []
        for w_line, text in _side_by_side_text(blocks, inner, 3):
            if w_line > inner:
                return ""
            out.append("│   " + text + " " * (inner - w_line) + " │")
        return "\n".join(out)

    def _framed_one(self, cells: tuple[int, ...], room: int) -> str:
        """`framed_text` of a map of one channel drawn in one band (no heading, no label, every line fits): the
        map's framed rows (kept a room, and the text of those above and below each row), the field's rows put in."""
        w = self.shape[-1]
        off, on = self.cells_as(False, True), self.cells_as(True, True)
        end = " " * (room - 1 - w * self.step) + " │"
        made = self.framed_maps.get((room, None))
        if made is None:
            rows = ["│   " + " ".join(off[k : k + w]) + end for k in range(0, len(off), w)]
            made = self.framed_maps[room, None] = _kept(rows)
        rows, above, below = made
        ordered = sorted(cells)
        first, last = ordered[0] // w, ordered[-1] // w
        shown = rows[first : last + 1]  # the rows the field is in, then each of them with its cells put in
        row = -1
        texts: list[str] = []
        for i in ordered:
            r, col = divmod(i, w)
            if r != row:
                if texts:
                    shown[row - first] = "│   " + " ".join(texts) + end
                row = r
                texts = off[r * w : r * w + w]
            texts[col] = on[i]
        shown[row - first] = "│   " + " ".join(texts) + end
        return above[first] + "\n".join(shown) + below[last + 1]

    def _coded_one(self, cells: tuple[int, ...], room: int, codes: Codes, border: Style | None) -> str:
        """`_framed_one` with the codes of the styles, as `Lines.ansi` writes the framed lines (`_coded_row`)."""
        made = self.framed_maps.get((room, codes.system))
        if made is None:
            rows = [self._coded_row(r, (), room, codes, border) for r in range(self.shape[-2])]
            made = self.framed_maps[room, codes.system] = _kept(rows)
        rows, above, below = made
        w = self.shape[-1]
        ordered = sorted(cells)
        first, last = ordered[0] // w, ordered[-1] // w
        shown = rows[first : last + 1]
        row, cols = -1, [0]  # the field's columns in each of its rows
        for i in [*ordered, -1]:  # -1: the last row's end
            r, col = divmod(i, w) if i >= 0 else (-1, 0)
            if r == row:
                if col != cols[-1]:
                    cols.append(col)
                continue
            if row >= 0:
                shown[row - first] = self._coded_row(row, tuple(cols), room, codes, border)
            row, cols = r, [col]
        return above[first] + "\n".join(shown) + below[last + 1]

    def _coded_row(self, r: int, field: tuple[int, ...], room: int, codes: Codes, border: Style | None) -> str:
        """Row `r` of the map (`_row`, the cells of its columns `field` inside the field) framed as a block frames
        it under an equation, written with its codes (`Codes.line`); kept for the fields that share it."""
        key = (r, field, room, codes.system)
        text = self.coded_rows.get(key)
        if text is None:  # `_row`'s pieces (runs of cells outside the field, DIM; each inside, FIELD_STYLE) coded
            w = self.shape[-1]
            on, off = self.cells_as(True, False), self.cells_as(False, False)
            (d0, d1), (f0, f1), (b0, b1) = codes.pair(DIM), codes.pair(FIELD_STYLE), codes.pair(border)
            parts: list[str] = []
            run: list[str] = []
            for i in range(r * w, r * w + w):
                if i - r * w in field:
                    if run:
                        parts.append(d0 + " ".join(run) + d1)
                        run = []
                    parts.append(f0 + on[i] + f1)
                else:
                    run.append(off[i])
            if run:
                parts.append(d0 + " ".join(run) + d1)
            end = " " * (room - 1 - w * self.step) + " │"
            text = self.coded_rows[key] = f"{b0}│ {b1}  {' '.join(parts)}{b0}{end}{b1}"
        return text

    def _text_template(self, c: int, per_band: int) -> tuple[list[tuple[int, str]], list[tuple[int, int, int]]]:
        """`_template` without styles, each line as its cells and text."""
        key = (c, per_band)
        made = self.text_templates.get(key)
        if made is None:
            lines, bands = self._template(c, per_band, True)
            made = self.text_templates[key] = ([_as_text(line) for line in lines], bands)
        return made

    def lines(self, cells: tuple[int, ...], room: int, plain: bool) -> list[StyledLine]:
        key = (cells, room, plain)  # a field is drawn again for each output channel that reads it
        drawn = self.drawn.get(key)
        if drawn is None:
            drawn = self.drawn[key] = self._lines(cells, room, plain)
        return drawn

    def _lines(self, cells: tuple[int, ...], room: int, plain: bool) -> list[StyledLine]:
        shape = self.shape
        w = shape[-1]
        per_band = max(1, (room + 1) // self.step)
        if (len(shape) < 3 or shape[0] == 1) and w <= per_band:
            return self._lines_one(cells, plain)
        return self._lines_general(cells, room, plain)

    def _lines_general(self, cells: tuple[int, ...], room: int, plain: bool) -> list[StyledLine]:
        """`_lines` for any map: a grid a channel the field covers, in bands of columns, side by side."""
        shape = self.shape
        w = shape[-1]
        plane = shape[-2] * w
        per_band = max(1, (room + 1) // self.step)
        marked = self._marked(cells)
        blocks: list[list[StyledLine]] = []
        for c in sorted(marked):
            template, bands = self._template(c, per_band, plain)
            lines = template.copy()  # the channel's rows without the field, then the field's rows put in
            for r, cols in marked[c].items():
                base = c * plane + r * w
                for b0, end, at, field in _in_bands(cols, bands, w):
                    key = (base, b0, end, plain, field)  # a row is drawn again for the fields that share it
                    line = self.rows.get(key)
                    if line is None:
                        line = self.rows[key] = self._row(base, range(b0, end), field, plain)
                    lines[at + r] = line
            blocks.append(lines)
        return side_by_side(blocks, room, 3)

    def _lines_one(self, cells: tuple[int, ...], plain: bool) -> list[StyledLine]:
        """`_lines` of a map of one channel drawn in one band (no label, no heading): its rows, the field's
        rows put in (the rows `_lines` keeps, under the same keys)."""
        w = self.shape[-1]
        lines = self._template(0, w, plain)[0].copy()  # one band: the rows in order
        made = self.rows
        row = -1
        cols: list[int] = []
        for i in [*sorted(set(cells)), -1]:  # -1: the last row's end
            r, col = divmod(i, w) if i >= 0 else (-1, 0)
            if r == row:
                cols.append(col)
                continue
            if cols:
                field = tuple(cols)
                key = (row * w, 0, w, plain, field)
                line = made.get(key)
                if line is None:
                    line = made[key] = self._row(row * w, range(w), field, plain)
                lines[row] = line
            row, cols = r, [col]
        return lines

    def _template(self, c: int, per_band: int, plain: bool) -> tuple[list[StyledLine], list[tuple[int, int, int]]]:
        """Channel `c` drawn in bands of `per_band` columns without a field, and each band's first column,
        end and the index of its first row in those lines (kept: every field of the channel starts from them)."""
        key = (c, per_band, plain)
        made = self.templates.get(key)
        if made is not None:
            return made
        shape = self.shape
        h, w = shape[-2], shape[-1]
        plane = h * w
        label = f"channel {c + 1}"
        lines: list[StyledLine] = [(len(label), [(label, DIM)])] if len(shape) == 3 and shape[0] > 1 else []
        bands: list[tuple[int, int, int]] = []
        for b0 in range(0, w, per_band):
            end = min(w, b0 + per_band)
            if w > per_band:
                heading = f"columns {b0 + 1}–{end}"
                lines.append((len(heading), [(heading, DIM)]))
            bands.append((b0, end, len(lines)))
            for r in range(h):
                base = c * plane + r * w
                key_row = (base, b0, end, plain, ())
                line = self.rows.get(key_row)
                if line is None:
                    line = self.rows[key_row] = self._row(base, range(b0, end), (), plain)
                lines.append(line)
        made = self.templates[key] = (lines, bands)
        return made

    def _row(self, base: int, cols: range, field: tuple[int, ...], plain: bool) -> StyledLine:
        """A row of a band of the map, the field's cells in it (`field`, its columns) in FIELD_STYLE."""
        on, off = self.cells_as(True, plain), self.cells_as(False, plain)
        on_style = None if plain and self.texts is not None else FIELD_STYLE
        pieces: list[tuple[str, Style | None]] = []
        run: list[str] = []  # cells in a row outside the field: one piece
        for col in cols:
            i = base + col
            if col in field:  # a cell of the field: a piece of its own
                if run:
                    pieces += [(" ".join(run), DIM), (" ", None)]
                    run = []
                pieces += [(on[i], on_style), (" ", None)]
            else:
                run.append(off[i])
        if run:
            pieces.append((" ".join(run), DIM))
        else:
            pieces.pop()
        return (len(cols) * self.step - 1, pieces)


def _kept(rows: list[str]) -> tuple[list[str], list[str], list[str]]:
    """A map's framed rows, and the text of the rows above and of those below each (`Field._framed_one`)."""
    above = ["".join([row + "\n" for row in rows[:r]]) for r in range(len(rows) + 1)]
    below = ["".join(["\n" + row for row in rows[r:]]) for r in range(len(rows) + 1)]
    return rows, above, below


def _in_bands(
    cols: list[int], bands: list[tuple[int, int, int]], w: int
) -> Iterator[tuple[int, int, int, tuple[int, ...]]]:
    """The bands (first column, end, first line) of a map `w` columns wide that hold some of a row's field
    columns `cols`, each with those columns (a band without any: the row as in the channel's template)."""
    for b0, end, at in bands:
        if end - b0 == w:  # one band: every column of a row
            yield b0, end, at, tuple(cols)
        else:
            field = tuple(col for col in cols if b0 <= col < end)
            if field:
                yield b0, end, at, field


def _as_text(line: StyledLine) -> tuple[int, str]:
    return line[0], "".join([t for t, _ in line[1]])


def _side_by_side_text(blocks: list[list[tuple[int, str]]], room: int, gap: int) -> list[tuple[int, str]]:
    """`screen.side_by_side` of lines without styles, each as its cells and text."""
    if len(blocks) == 1:
        return blocks[0]
    out: list[tuple[int, str]] = []
    for parts in placed(blocks, room, gap):
        text = ""
        cur = 0
        for offset, w, t in parts:
            text += " " * (offset - cur) + t
            cur = offset + w
        out.append((cur, text))
    return out


def _block(
    b: Block,
    printer: TextPrinter,
    layers: list | None = None,
    source: tuple[tuple[int, ...], np.ndarray | None] | None = None,
) -> Iterator[Lines]:
    colour = STYLES.get(b.phase, "white")
    style = _colour(colour)
    roles = _roles(colour)
    sample = f" [sample {b.sample}]" if b.sample is not None else ""
    frame = Frame([(b.title + sample, style)], style, title_style=style)
    board = Board(block_columns(b.equations, printer)) if b.equations else None
    precision = printer.precision
    field = Field(source[0], source[1], precision) if source is not None else None

    def top(total: int, plain: bool) -> Iterator[StyledLine]:
        yield from frame.top(total)
        yield from frame.body(text_lines(b.annotation, Frame.inner(total), NOTE), total)

    equations = b.equations

    def part(total: int, plain: bool, first: int = 0, codes: Codes | None = None) -> list[Made]:
        room = Frame.inner(total)
        assert board is not None
        styled = board.styled
        out: list[Made] = []
        if total < 8:
            for i in range(first, min(first + CHUNK, len(equations))):
                lines = styled(i, room, roles)
                cells = equations[i].cells
                if field is not None and cells:  # the map it reads, under its symbol
                    lines += [(2 + w, [("  ", None), *pieces]) for w, pieces in field.lines(cells, room - 2, plain)]
                out += frame.body(lines, total)
            return out
        left, right = ("│ ", style), " │"  # Frame.body, written here for the many lines of a block
        indent = ("  ", None)
        boxed: dict[int, tuple[StyledLine, StyledLine]] = {}  # id(a field's line) -> it (kept alive), framed
        end = min(first + CHUNK, len(equations))
        # no styles: an equation's lines, and a field's, as their text (one str each, see `screen.Make`); written
        # with codes (`Lines.ansi`): an equation's lines as that text with its styles' codes in
        if plain:
            texts: list[str | None] | None = board.plain_texts(first, end, room)
        elif codes is not None:
            pairs = {role: codes.pair(roles[role]) for role in ("symbol", "op", "value")}
            texts = board.ansi_texts(first, end, room, {**pairs, "frame": codes.pair(style)})
        else:
            texts = None
        if texts is not None and field is None and None not in texts:
            return texts  # type: ignore[return-value]
        for i in range(first, end):
            text = texts[i - first] if texts is not None else None
            if text is not None:
                out.append(text)
            else:
                for w, pieces in styled(i, room, roles):
                    if w > room:
                        out += frame.body([(w, pieces)], total)
                    else:
                        out.append((total, [left, *pieces, (" " * (room - w) + right, style)]))
            cells = equations[i].cells
            if field is not None and cells:  # the map it reads, under its symbol
                if plain or codes is not None:
                    text = field.framed_text(cells, room, codes, style)
                    if text is not None:
                        out.append(text)
                        continue
                for line in field.lines(cells, room - 2, plain):
                    # most of a field's rows are rows of the fields before it (the same objects): framed once,
                    # and written with their codes once for every block
                    if codes is not None and line[0] + 2 <= room:
                        key = (id(line), room, codes.system)
                        written = field.written.get(key)
                        if written is None or written[0] is not line:
                            pieces = [left, indent, *line[1], (" " * (room - line[0] - 2) + right, style)]
                            written = field.written[key] = (line, codes.line(pieces))
                        out.append(written[1])
                        continue
                    got = boxed.get(id(line))
                    if got is not None and got[0] is line:
                        out.append(got[1])
                        continue
                    w, pieces = line
                    if w + 2 > room:
                        out += frame.body([(2 + w, [indent, *pieces])], total)
                        continue
                    framed = (total, [left, indent, *pieces, (" " * (room - w - 2) + right, style)])
                    boxed[id(line)] = (line, framed)
                    out.append(framed)
        return out

    def bottom(total: int, plain: bool) -> Iterable[Made]:
        room = Frame.inner(total)
        if plain and board is not None and total >= 8:  # no styles: the maps made and framed as text
            grids = [
                _grid_text(label, value, precision, room - 1)
                for arr in map_grids(b, layers or [])
                for label, value in _channels(arr.label, arr.value)
            ]
            out: list[Made] = []
            for w, text in _side_by_side_text(grids, room - 1, 4):
                if w + 1 > room:
                    out += frame.body([(1 + w, [(" " + text, None)])], total)
                else:
                    out.append("│  " + text + " " * (room - 1 - w) + " │")
            return out + frame.bottom(total)
        return _bottom(total, plain)

    def _bottom(total: int, plain: bool) -> Iterator[StyledLine]:
        room = Frame.inner(total)
        body: list[StyledLine] = []
        if board is not None:
            grids = [g for arr in map_grids(b, layers or []) for g in _array_grids(arr, precision, room - 1)]
            body += [(1 + w, [(" ", None), *p]) for w, p in side_by_side(grids, room - 1)]
        else:
            for arr in b.arrays:
                if arr.value.ndim >= 2:
                    body += side_by_side(_array_grids(arr, precision, room), room)
                    continue
                lines = format_grid(arr.value, precision)
                shown = lines[0].strip() if arr.value.ndim == 0 else format_vector(arr.value, precision)
                body += _math_line(f"{arr.label} = {shown}", room, None)
        yield from frame.body(body, total)
        yield from frame.bottom(total)

    if len(equations) <= CHUNK:  # the whole panel at once

        def whole(total: int, plain: bool, codes: Codes | None = None) -> list[Made]:
            if plain and total >= 8:  # no styles: the panel as one text (every line fits the width)
                texts: list[Made] = [*frame.top_text(total), *frame.prose_text(b.annotation, total)]
                if board is not None:
                    texts += part(total, plain)
                texts += bottom(total, plain)
                return ["\n".join([line if isinstance(line, str) else _as_text(line)[1] for line in texts])]
            if codes is not None and total >= 8:  # the prose written with its codes, as a block's equations are
                lines: list[Made] = [*frame.top(total), *frame.prose_text(b.annotation, total, 0, codes, NOTE)]
            else:
                lines = list(top(total, plain))
            if board is not None:
                lines += part(total, plain, codes=codes)
            lines += bottom(total, plain)
            return lines

        yield Lines(whole, len(equations) + 5, coloured=True)
        return
    yield Lines(top)
    for first in range(0, len(equations), CHUNK):
        yield Lines(partial(part, first=first), min(CHUNK, len(equations) - first), coloured=True)
    yield Lines(bottom)
