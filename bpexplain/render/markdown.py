"""Markdown for answer keys and notebooks: a heading per step, phase and layer; equations as `$…$` math.

The math inside the dollars is `LatexPrinter`'s, restricted to commands KaTeX knows, so it renders on
GitHub and in Jupyter; matrices (parameters, layer arrays) are Markdown tables. Prose is escaped so
that `w_mn` or `Σ_n` never turns into emphasis. Like every renderer, it writes as the events come.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..expr import Expr
from ..trace import Block, Equation, StepEnd, StepStart, TraceEnd, TraceHeader
from .common import (
    PREDICTIONS_TITLE,
    equation_columns,
    map_grids,
    network_rows,
    prediction_rows,
    summary_cells,
    summary_loss_cells,
    summary_note,
)
from .latex_printer import LatexPrinter
from .lines import LineRenderer
from .numbers import format_number

PHASE_HEADINGS = {
    "forward": "Forward pass",
    "loss": "Loss",
    "error": "Errors (δ)",
    "gradient": "Gradients",
    "update": "Updates",
}
MAX_COLUMNS = 12
# every character that can start Markdown syntax: emphasis, code, links, HTML tags and entities, tables,
# headings, math, strikethrough (a backslash before ASCII punctuation is always a literal character)
_ESCAPE = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|$#&~"})
_BLOCK_START = re.compile(r"^(?:[-+=]|\d+[.)])")  # a list item, a setext underline, a numbered item


def md_text(text: str) -> str:
    """Prose with Markdown's specials escaped."""
    return text.translate(_ESCAPE)


def md_line(text: str) -> str:
    """Prose that begins a line: escaped as `md_text`, and never read as a list item or code block."""
    text = md_text(text)
    if text[:1].isspace():  # four spaces would open a code block
        text = "&#32;" + text[1:]
    return _BLOCK_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], text)


def equation_math(eq: Equation, printer: LatexPrinter) -> str:
    """symbol = expression = substituted = value, as one LaTeX math string."""
    c = equation_columns(eq, printer)
    if c.once:  # `dh_5(e)/de = 1`: the value, said once
        return f"{c.symbol} = {c.value}"
    parts = [c.symbol, c.expression] + ([c.substituted] if c.substituted else []) + [c.value]
    return " = ".join(parts)


def equation_remark(eq: Equation, printer: LatexPrinter) -> str:
    """The departure under --rule slide, or the equation's note; in Markdown, math in dollars."""
    if eq.exact is not None:
        return f"${printer.number(eq.value)} \\neq {printer.number(eq.exact)}$ by the exact chain rule"
    return md_text(eq.note) if eq.note else ""


class MarkdownRenderer(LineRenderer):
    def __init__(self, precision: int = 4, max_terms: int | None = 8, **_: Any) -> None:
        super().__init__(precision)
        self.printer = LatexPrinter(precision, max_terms)

    def show_carried(self) -> None:
        super().show_carried()
        self.printer = LatexPrinter(self.precision, self.printer.max_terms)

    def math(self, node: Expr) -> str:
        return f"${self.printer.doprint(node)}$"

    def num(self, x: float) -> str:
        return self.printer.number(x)

    # ---- header -------------------------------------------------------------------------------

    def header_lines(self, h: TraceHeader) -> Iterator[str]:
        net = h.network
        show = h.settings.command == "show"  # its network and parameters are not a preamble: always shown
        if self.preamble == "none" and not show:
            return
        yield f"# bpexplain {h.settings.command}: {md_text(net['name'])}"
        yield ""
        yield f"*{md_text(net['title'])}*"
        yield ""
        if self.preamble == "short":
            yield f"**Conventions:** {md_text(h.statement)}"
            yield ""
        elif self.preamble == "full":
            yield "## Conventions"
            yield ""
            for line in h.conventions:
                yield f"- {md_text(line)}"
            yield ""
            yield "## Legend"
            yield ""
            yield "| symbol | meaning |"
            yield "| --- | --- |"
            for sym, meaning in h.legend:
                yield f"| {self.math(sym)} | {md_text(meaning)} |"
            yield ""
        if self.preamble != "full" and not show:
            return
        yield "## Network"
        yield ""
        yield "| layer | type | activation | input | output | parameters |"
        yield "| --- | --- | --- | --- | --- | --- |"
        for cells in network_rows(net):
            yield "| " + " | ".join(md_text(str(c)) for c in cells) + " |"
        yield ""
        frozen = net["frozen"]
        yield (
            f"Loss {md_text(net['loss'])}, learning rate $\\eta = {self.num(net['learning_rate'])}$"
            + (f", frozen: {md_text(', '.join(frozen))}" if frozen else "")
            + "."
        )
        yield ""
        yield "## Initial parameters"
        yield ""
        yield from self.parameter_lines(h.initial_parameters, h, initial=True)

    def parameter_lines(self, params: dict[str, np.ndarray], h: TraceHeader, initial: bool = False) -> Iterator[str]:
        for name, arr in params.items():
            origin = h.parameter_origins.get(name, "") if initial else ""
            shape = "×".join(map(str, arr.shape))
            yield f"**{md_text(name)}** ({shape}{', ' + md_text(origin) if origin else ''})"
            yield ""
            symbols = h.parameter_symbols.get(name)
            cells = None
            if symbols and arr.ndim <= 2:
                cells = [f"${self.printer.doprint(s)} = {self.num(float(v))}$" for s, v in zip(symbols, arr.ravel())]
            yield from self.matrix_lines(arr, cells)

    def matrix_lines(self, arr: np.ndarray, cells: list[str] | None = None) -> Iterator[str]:
        """A matrix as a table (a vector as one row, a stack of matrices as one table each)."""
        a = np.asarray(arr, dtype=np.float64)
        if a.ndim == 0:
            yield f"${self.num(float(a))}$"
            yield ""
            return
        while a.ndim > 2 and a.shape[0] == 1:  # one channel: the plain matrix, as text shows it
            a = a[0]
        if a.ndim > 2:
            for c in range(a.shape[0]):
                yield f"channel {c + 1}:"  # numbered from 1, as in the symbols O1(c,i,j)
                yield ""
                yield from self.matrix_lines(a[c])
            return
        grid = a.reshape(1, -1) if a.ndim == 1 else a
        texts = cells or [self.num(float(v)) for v in grid.ravel()]
        rows = [texts[r * grid.shape[1] : (r + 1) * grid.shape[1]] for r in range(grid.shape[0])]
        cols = _keep(grid.shape[1])
        yield "| | " + " | ".join("…" if j is None else str(j + 1) for j in cols) + " |"
        yield "| --- | " + " | ".join("---:" for _ in cols) + " |"
        for i in _keep(grid.shape[0]):
            if i is None:
                yield "| ⋮ | " + " | ".join("⋮" for _ in cols) + " |"
                continue
            yield f"| {i + 1} | " + " | ".join("…" if j is None else rows[i][j] for j in cols) + " |"
        yield ""

    # ---- steps --------------------------------------------------------------------------------

    def step_lines(self, s: StepStart) -> Iterator[str]:
        samples = ", ".join(map(str, s.samples))
        word = "sample" if len(s.samples) == 1 else "samples"
        yield f"## Step {s.index} (epoch {s.epoch}, {word} {samples})"
        yield ""
        images: list[np.ndarray] = []
        for k, (x, t) in enumerate(zip(s.inputs, s.targets)):
            prefix = f"sample {s.samples[k]}: " if len(s.samples) > 1 else ""
            target = "" if t.size and np.isnan(t).any() else ", $" + self.vector(r"\hat{y}", t) + "$"
            if np.asarray(x).ndim >= 2:  # an image: as a table below, like the maps
                yield f"- {prefix}$x$ (the table below){target}"
                images.append(x)
                continue
            yield f"- {prefix}${self.vector('x', x)}${target}"
        yield ""
        for k, x in enumerate(images):
            yield (f"sample {s.samples[k]}: " if len(images) > 1 else "") + "$x$ ="
            yield ""
            yield from self.matrix_lines(x)

    def vector(self, name: str, values: np.ndarray) -> str:
        flat = [self.num(float(v)) for v in np.asarray(values).ravel()]
        if len(flat) > MAX_COLUMNS:
            flat = flat[: MAX_COLUMNS // 2] + [r"\ldots"] + flat[-(MAX_COLUMNS // 2) :]
        return f"{name} = \\left({', '.join(flat)}\\right)"

    def block_lines(self, b: Block) -> Iterator[str]:
        if b.phase != self.phase and self.detail != "summary":
            self.phase = b.phase
            yield f"### {PHASE_HEADINGS.get(b.phase, md_text(b.phase.capitalize()))}"
            yield ""
        sample = f" [sample {b.sample}]" if b.sample is not None else ""
        if b.title != PHASE_HEADINGS.get(b.phase) or sample:
            yield f"#### {md_text(b.title)}{sample}"
            yield ""
        yield f"*{md_text(b.annotation)}*"
        yield ""
        if b.equations:
            for eq in b.equations:
                remark = equation_remark(eq, self.printer)
                yield f"- ${equation_math(eq, self.printer)}$" + (f" ({remark})" if remark else "")
            yield ""
            for arr in map_grids(b, self.header.network["layers"] if self.header else []):
                yield f"{md_line(arr.label)} ="
                yield ""
                yield from self.matrix_lines(arr.value)
        else:
            for arr in b.arrays:
                yield f"{md_line(arr.label)} ="
                yield ""
                yield from self.matrix_lines(arr.value)

    def step_end_lines(self, e: StepEnd) -> Iterator[str]:
        assert self.header is not None
        if self.detail == "summary":
            s = self.start
            where = f"epoch {s.epoch}, sample {', '.join(map(str, s.samples))}" if s else ""
            yield f"- step {e.index} ({where}): $E = {self.num(e.loss) if e.loss is not None else ''}$"
            return
        if e.loss is not None:
            yield f"**Loss at step {e.index}:** $E = {self.num(e.loss)}$"
            yield ""
        if e.parameters is None:
            last = list(e.outputs)[-1]
            yield f"**Output ({md_text(last)}):** ${self.vector('y', e.outputs[last])}$"
            yield ""
            return
        if e.departures:
            yield f"{e.departures} parameter value(s) depart from the exact chain rule's (marked above)."
            yield ""
        yield f"### Parameters after step {e.index}"
        yield ""
        yield from self.parameter_lines(e.parameters, self.header)

    def end_lines(self, end: TraceEnd) -> Iterator[str]:
        assert self.header is not None
        if self.header.settings.command != "train":
            return
        yield ""
        yield f"## Summary: {end.steps} step(s); stopped because {md_text(end.stopped)}"
        yield ""
        symbols = {n: tuple(self.math(s) for s in syms) for n, syms in self.header.parameter_symbols.items()}
        cols, losses, cells = summary_cells(self.summary, self.header, self.precision, symbols, md_text)
        yield "| | initial | " + " | ".join("…" if c is None else c for c in cols) + " |"
        yield "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |"
        initial, final = summary_loss_cells(end, self.precision)
        yield f"| $E$ | {initial} | " + " | ".join("…" if c is None else c for c in losses) + " |"
        for label, row in cells:
            yield "| " + " | ".join([label] + ["…" if c is None else c for c in row]) + " |"
        if final:
            yield "| $E$ after | " + " | ".join([""] * len(cols) + [final]) + " |"
            yield ""
            yield md_text(summary_note(end))
        yield ""
        if end.predictions:
            yield f"## {md_text(PREDICTIONS_TITLE)}"
            yield ""
            yield "| sample | output $y$ | target $\\hat{y}$ | $E$ |"
            yield "| ---: | --- | --- | ---: |"
            for prediction in prediction_rows(end, self.precision):
                yield "| " + " | ".join(md_text(c) for c in prediction) + " |"
            yield ""
        if end.drift:
            yield from self.drift_lines(end)

    def drift_lines(self, end: TraceEnd) -> Iterator[str]:
        yield "## Drift from rounding"
        yield ""
        yield (
            "Every intermediate value was rounded as by hand; the same steps computed in exact float64 "
            "give these final values."
        )
        yield ""
        yield "| value | rounded | exact float64 | difference |"
        yield "| --- | ---: | ---: | ---: |"
        for d in end.drift:
            label = self.math(d.symbol) if d.symbol is not None else md_text(d.label)
            yield f"| {label} | {_full(d.rounded)} | {_full(d.exact)} | {format_number(d.difference, 4)} |"
        yield ""


def _full(x: float) -> str:
    """A drift table's number: enough digits to see a difference in the last places."""
    return format_number(x, 10)


def _keep(n: int) -> list[int | None]:
    """The row or column indices shown: all, or the first and last few around a None."""
    if n <= MAX_COLUMNS:
        return list(range(n))
    half = MAX_COLUMNS // 2
    return list(range(half)) + [None] + list(range(n - half, n))
