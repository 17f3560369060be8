"""An interactive page: the trace as one self-contained HTML file that works offline.

A section per step, a collapsible `<details>` per phase, and each equation a table row of the same
strings the text trace prints (`symbol = expression = substituted = value`, from the same printer and
`equation_columns`); the header, the inputs, the step ends and the summary are the text renderer's own
lines in `<pre>`. Each row carries the symbol it defines (`data-def`) and the symbols its bound tree reads
(`data-uses`: the `Var` and `Sym` leaves), so a few lines of script can mark, while a symbol is hovered, when
it is clicked, or when the address names it (`#highlight=SYMBOL`, `#highlight=SYMBOL&step=N`), the equation
of its step that defined it and every one of that step that uses it.

Everything from the network file is escaped; the page loads nothing (a Content-Security-Policy allows no
source but its own script, by hash, and its inline style). It is written as the events come, in time
linear in the equations; a block of more than OPEN_LIMIT equations comes closed, so a large page opens fast.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator
from html import escape
from typing import Any, TextIO

import numpy as np

from ..expr import Add, Call, Derivative, Expr, Func, Mul, Name, Num, Partial, Sub, Sym, Var
from ..trace import Block, Event, StepEnd, StepStart, TraceEnd, TraceHeader
from .common import equation_columns, map_grids
from .numbers import format_grid, format_vector
from .text import RULE, TextRenderer

OPEN_LIMIT = 200  # a block of more equations than this comes closed
NAMES_KEPT = 100_000  # symbols' words kept at a time
PHASES = {
    "forward": "Forward pass",
    "loss": "Loss",
    "error": "Errors (δ)",
    "gradient": "Gradients",
    "update": "Updates",
}

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#1b1b1b}
pre,table.eqs,table.grid{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f6f4;padding:.6em .8em;overflow-x:auto}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1em;margin:.8em 0 .2em}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
details.phase{border-left:4px solid #888;padding-left:.8em}
.forward{border-color:#0a8ea8!important}.loss{border-color:#b0309b!important}.error{border-color:#c62828!important}
.gradient{border-color:#b8860b!important}.update{border-color:#2e7d32!important}
p.note{margin:.1em 0 .4em;color:#555;font-size:.9em}
table.eqs{border-collapse:collapse}table.eqs td{padding:1px 4px;white-space:nowrap;vertical-align:top}
td.s{font-weight:600;cursor:pointer}td.s:hover{text-decoration:underline}td.o{color:#888}td.r{color:#666}
td.v{font-weight:600}
tr.def{background:#ffe08a}tr.use{background:#cfe8ff}details.has>summary::after{content:" •";color:#d80}
table.grid{border-collapse:collapse;margin:.3em 0 .6em}
table.grid td{border:1px solid #ddd;padding:1px 5px;text-align:right}
table.grid caption{text-align:left;font-style:italic;white-space:nowrap}
#mark{position:sticky;top:0;background:#fff;padding:.2em 0;font-size:.9em;color:#444}
"""

SCRIPT = """
(function () {
  var status = document.getElementById('mark');
  function clear() {
    document.querySelectorAll('.def,.use,.has').forEach(function (el) { el.classList.remove('def', 'use', 'has'); });
  }
  function flag(row, kind) {
    row.classList.add(kind);
    for (var d = row.parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.classList.add('has'); }
  }
  function mark(sym, step, show) {
    clear();
    if (!sym || !step) { status.textContent = ''; return; }
    var q = CSS.escape(sym), defs = step.querySelectorAll('tr[data-def="' + q + '"]');
    var uses = step.querySelectorAll('tr[data-uses~="' + q + '"]');
    defs.forEach(function (r) { flag(r, 'def'); });
    uses.forEach(function (r) { flag(r, 'use'); });
    var where = step.querySelector('h2') ? step.querySelector('h2').textContent + ', ' : '';
    status.textContent = where + sym.replace(/\u00a0/g, ' ') + ': defined by ' + defs.length + ', used by ' +
      uses.length + ' equation(s) (yellow: defined, blue: used; click it again to clear)';
    if (show && defs.length) {
      for (var d = defs[0].parentElement; d; d = d.parentElement) { if (d.tagName === 'DETAILS') d.open = true; }
      var box = defs[0].getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) defs[0].scrollIntoView({block: 'center'});
    }
  }
  var current = '';
  document.addEventListener('click', function (e) {
    var cell = e.target.closest('td.s');
    if (!cell) return;
    var sym = cell.parentElement.getAttribute('data-def');
    current = sym === current ? '' : sym;
    mark(current, cell.closest('section') || document, true);
  });
  document.addEventListener('mouseover', function (e) {
    var cell = e.target.closest('td.s');
    if (cell && !current) mark(cell.parentElement.getAttribute('data-def'), cell.closest('section') || document, false);
  });
  document.addEventListener('mouseout', function (e) {
    if (e.target.closest('td.s') && !current) mark('', null, false);
  });
  var m = /^#highlight=([^&]+)(?:&step=([0-9]+))?$/.exec(location.hash);
  if (m) {
    current = decodeURIComponent(m[1]);
    mark(current, m[2] ? document.getElementById('step-' + m[2]) : document.querySelector('section.step'), true);
  }
})();
"""

_SPACE = re.compile(r"\s+")
_MARKUP = re.compile("[&<>\"']")  # what `html.escape` replaces
_NOT_QUOTE = re.compile('[&<>"]')  # what it replaces but the single quote


def script_hash(script: str = SCRIPT) -> str:
    """The Content-Security-Policy source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def token(symbol: str) -> str:
    """A symbol as one word of a data attribute (white space inside it made no-break)."""
    return _SPACE.sub("\u00a0", symbol)


class PageRenderer(TextRenderer):
    """The text renderer's lines and equation columns, set as a page."""

    def __init__(self, precision: int = 4, max_terms: int | None = 8, **_: Any) -> None:
        super().__init__(precision, max_terms)
        self.names: dict[int, tuple[Expr, str]] = {}  # a symbol object's id: the object, its word (see reads)
        self.in_step = False
        self.open_phase: str | None = None
        self.summary_open = False  # --detail summary: the <pre> of step lines is open
        # the last product of leaves whose words were found (see `uses`): its factors, the words of all but its
        # last factor (joined, and as a set), kept while the next product's leading factors are the same objects
        self.run: tuple[tuple[Expr, ...], str, frozenset[str]] = ((), "", frozenset())

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        for event in events:
            out.write("".join(self.parts(event)))
        out.write("".join(self.close_step()))
        out.write(f"<script>{SCRIPT}</script>\n</body>\n</html>\n")

    def parts(self, event: Event) -> Iterator[str]:
        if isinstance(event, TraceHeader):
            self.header = event
            yield from self.page_head(event)
        elif isinstance(event, StepStart):
            self.start = event
            if self.detail != "summary":
                yield from self.close_step()
                yield from self.step_parts(event)
        elif isinstance(event, Block):
            yield from self.block_parts(event)
        elif isinstance(event, StepEnd):
            self.summary.add(self.start, event)
            if self.detail == "summary":
                self.losses.add(event.loss)
                if not self.summary_open:
                    self.summary_open = True
                    yield '<section class="steps"><h2>Steps</h2>\n<pre>'
                yield escape(self.summary_line(event)) + "\n"
            else:
                yield from self.close_phase()
                yield f"<pre>{_pre(self.step_end_lines(event))}</pre>\n"
        elif isinstance(event, TraceEnd):
            yield from self.close_step()
            lines = list(self.end_lines(event))
            if lines:
                yield f'<section class="summary" id="summary"><h2>Summary</h2>\n<pre>{_pre(lines)}</pre>\n</section>\n'

    # ---- the page around the steps ---------------------------------------------------------------

    def page_head(self, h: TraceHeader) -> Iterator[str]:
        title = escape(f"bpexplain {h.settings.command}: {h.network['name']}")
        policy = f"default-src 'none'; script-src {script_hash()}; style-src 'unsafe-inline'"
        yield '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        yield f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        yield '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        yield f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        lines = list(self.header_lines(h))
        yield f"<h1>{escape(lines[0])}</h1>\n"
        yield '<p id="mark">Click a symbol to mark the equation that defined it and every one that uses it.</p>\n'
        yield '<details class="preamble" open><summary>Conventions, legend, network, parameters</summary>\n'
        yield f"<pre>{_pre(lines[1:])}</pre>\n</details>\n"

    def step_parts(self, s: StepStart) -> Iterator[str]:
        lines = [line for line in self.step_lines(s) if line != RULE]
        self.in_step = True
        yield f'<section class="step" id="step-{s.index}">\n<h2>{escape(lines[0])}</h2>\n'
        if lines[1:]:
            yield f"<pre>{_pre(lines[1:])}</pre>\n"

    def close_phase(self) -> Iterator[str]:
        if self.open_phase is not None:
            self.open_phase = None
            yield "</details>\n"

    def close_step(self) -> Iterator[str]:
        yield from self.close_phase()
        if self.summary_open:
            self.summary_open = False
            yield "</pre>\n</section>\n"
        if self.in_step:
            self.in_step = False
            yield "</section>\n"

    # ---- blocks ------------------------------------------------------------------------------------

    def block_parts(self, b: Block) -> Iterator[str]:
        if b.phase != self.open_phase:
            yield from self.close_phase()
            self.open_phase = b.phase
            phase = escape(b.phase)
            yield f'<details class="phase {phase}" open><summary>{escape(PHASES.get(b.phase, b.phase))}</summary>\n'
        sample = f" [sample {b.sample}]" if b.sample is not None else ""
        yield f'<h3>{escape(b.title + sample)}</h3>\n<p class="note">{escape(b.annotation)}</p>\n'
        if b.equations:
            large = len(b.equations) > OPEN_LIMIT
            if large:
                yield f"<details><summary>{len(b.equations):,} equations</summary>\n"
            yield '<table class="eqs">\n'
            for eq in b.equations:
                yield self.row(eq)
            yield "</table>\n"
            if large:
                yield "</details>\n"
            for arr in map_grids(b, self.header.network["layers"] if self.header else []):
                yield from _grids(arr.label, arr.value, self.precision)
        else:
            for arr in b.arrays:
                if arr.value.ndim <= 1:
                    shown = (
                        format_grid(arr.value, self.precision)[0].strip()
                        if arr.value.ndim == 0
                        else (format_vector(arr.value, self.precision))
                    )
                    yield f"<pre>{escape(arr.label)} = {escape(shown)}</pre>\n"
                else:
                    yield from _grids(arr.label, arr.value, self.precision)

    def row(self, eq: Any) -> str:
        symbol, expression, substituted, value, remark, once = equation_columns(eq, self.printer)
        uses = self.uses(eq.bound)
        if remark and not remark.startswith("≠"):
            remark = f"({remark})"
        # the word a symbol is marked by; most symbols have no white space in them (the rest: any but " " is not
        # printable) and no character to escape, so most rows escape nothing; the symbol and its word apart from
        # the rest (an update's w'_mn has a quote to escape, its expression and numbers none)
        word = symbol if " " not in symbol and symbol.isprintable() else token(symbol)
        if _MARKUP.search(symbol) is not None or _MARKUP.search(word) is not None:
            word, symbol = _escape_symbol(word), _escape_symbol(symbol)
        if _MARKUP.search(f"{expression}{substituted}{value}{remark}") is not None:
            expression, substituted, value, remark = map(escape, (expression, substituted, value, remark))
        sub = f'<td class="o">=</td><td class="n">{substituted}</td>' if substituted else "<td></td><td></td>"
        # `dh_5(e)/de = 1`: the value, said once (common.said_once)
        rhs = "<td></td><td></td>" if once else f'<td class="o">=</td><td class="x">{expression}</td>'
        return (
            f'<tr data-def="{word}" data-uses="{uses}"><td class="s">{symbol}</td>'
            f"{rhs}{sub}"
            f'<td class="o">=</td><td class="v">{value}</td><td class="r">{remark}</td></tr>\n'
        )

    def uses(self, node: Expr) -> str:
        """`reads` joined by spaces. A product of leaves (a gradient δ_n·dh_n(e)/de·x_m), or a leaf less such a
        product (an update w_mn − η·δ_n·dh_n(e)/de·x_m), takes the words of all but its last factor from the
        product before it where those factors are the very same objects (`self.run`): a dense layer's 784
        gradients of a unit share them, as do its updates. Anything else is `reads`."""
        kind = type(node)
        if kind is Mul:
            words = self._product(node.factors)  # type: ignore[attr-defined]
            if words is not None:
                return words
        elif kind is Sub and type(node.left) is Var and type(node.right) is Mul:  # type: ignore[attr-defined]
            words = self._product(node.right.factors)  # type: ignore[attr-defined]
            if words is not None:
                sym = node.left.sym  # type: ignore[attr-defined]
                first = self.word(sym)
                if not words:
                    return first
                if first not in words.split(" "):
                    return f"{first} {words}"
        return " ".join(self.reads(node))

    def _product(self, factors: tuple[Expr, ...]) -> str | None:
        """The words of a product of `Var` and `Num` factors, each once, in order (None for any other product)."""
        last = factors[-1]
        if type(last) is not Var:
            return None
        kept, head, seen = self.run
        n = len(factors)
        if len(kept) != n or n < 2 or any(kept[i] is not factors[i] for i in range(n - 1)):
            found: dict[str, None] = {}
            word_of = self.word
            for c in factors[:-1]:
                k = type(c)
                if k is Var:
                    sym = c.sym  # type: ignore[attr-defined]
                    found[word_of(sym)] = None
                elif k is not Num:
                    return None
            head, seen = " ".join(found), frozenset(found)
        self.run = (factors, head, seen)
        sym = last.sym  # type: ignore[attr-defined]
        word = self.word(sym)
        if word in seen:
            return head
        return f"{head} {word}" if head else word

    def reads(self, node: Expr) -> list[str]:
        """The words of the symbols a bound tree reads (escaped): its `Var` leaves and bare `Sym`s, each once, in
        order. A symbol object's word is printed once and kept by the object's id (the object is kept with it, so
        the id cannot be reused while it is known): comparing symbols by value costs more than printing them."""
        found: dict[str, None] = {}
        self._read(node, found)
        return list(found)

    def _read(self, n: Expr, found: dict[str, None]) -> None:
        """`reads` of one node, depth first and left to right; the `Var` and `Num` terms and factors of a sum or a
        product are taken as they are met (most leaves are those), the rest by a call of their own."""
        kind = type(n)
        if kind is Add or kind is Mul:
            word_of = self.word
            for c in n.terms if kind is Add else n.factors:  # type: ignore[attr-defined]
                k = type(c)
                if k is Var:
                    sym = c.sym  # type: ignore[attr-defined]
                    found[word_of(sym)] = None
                elif k is not Num:
                    self._read(c, found)
            return
        if kind is Var:
            sym = n.sym  # type: ignore[attr-defined]
        elif isinstance(n, Sym):
            sym = n
        elif isinstance(n, (Num, Name, Func, Derivative, Partial)):
            return
        else:
            fields: tuple[str, ...] = () if kind is Call else n.__slots__  # type: ignore[assignment]
            children = n.args if kind is Call else [c for f in fields for c in _children(getattr(n, f))]  # type: ignore[attr-defined]
            for c in children:
                self._read(c, found)
            return
        found[self.word(sym)] = None

    def word(self, sym: Expr) -> str:
        """A symbol's word (escaped), looked up by the symbol's id first."""
        known = self.names.get(id(sym))
        if known is None or known[0] is not sym:
            known = self._word(sym)
        return known[1]

    def _word(self, sym: Expr) -> tuple[Expr, str]:
        """A symbol's word, printed, escaped and kept by the symbol's id (see `reads`)."""
        names = self.names
        if len(names) >= NAMES_KEPT:
            names.clear()
        text = self.printer.doprint(sym)
        if " " in text or not text.isprintable():
            text = token(text)
        if _MARKUP.search(text) is not None:
            text = escape(text)
        known = names[id(sym)] = (sym, text)
        return known


def _escape_symbol(text: str) -> str:
    """`html.escape` of a symbol: most that need it have only a prime (w'_mn), one replace."""
    if _NOT_QUOTE.search(text) is None:
        return text.replace("'", "&#x27;")
    return escape(text)


def _children(value: Any) -> tuple[Expr, ...]:
    if isinstance(value, Expr):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, Expr))
    return ()


def _pre(lines: Iterable[str]) -> str:
    return escape("\n".join(lines))


def _grids(label: str, value: np.ndarray, precision: int) -> Iterator[str]:
    """A map, kernel or error as one HTML table per channel, of format_grid's cells."""
    while value.ndim > 2 and value.shape[0] == 1:
        value = value[0]
    if value.ndim > 2:
        for c in range(value.shape[0]):
            yield from _grids(f"{label} [{c + 1}]", value[c], precision)
        return
    rows = [line.split() for line in format_grid(value, precision)]
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    yield f'<table class="grid"><caption>{escape(label)} =</caption>{body}</table>\n'
