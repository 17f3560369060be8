"""The JSON trace (format `bpexplain-trace/1`, documented in docs/trace-format.md).

Values keep full float64 (Python's shortest round-trip repr); the `expression` and `substituted`
strings are the plain-text printer's, with numbers shown at the display precision. The document is
written as the run goes: the header, then one step at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring as _string  # a str as json.dumps(..., ensure_ascii=False) writes it
from typing import Any, TextIO

import numpy as np

from ..expr import Add, Derivative, Elem, Expr, Func, Mul, Name, Num, Partial, Sym, Var
from ..trace import Block, Equation, Event, StepEnd, StepStart, TraceEnd, TraceHeader
from .numbers import CARRIED
from .printer import TextPrinter

FORMAT = "bpexplain-trace/1"


def _num(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def array(a: np.ndarray) -> Any:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return _num(float(arr))
    return [array(row) for row in arr] if arr.ndim > 1 else [_num(float(v)) for v in arr]


class JsonParts:
    """Turns each event into its piece of the document."""

    def __init__(self, precision: int = 4, max_terms: int | None = None) -> None:
        self.printer = TextPrinter(precision, max_terms)
        self.max_terms = max_terms
        self.batch_full = False  # --batch full: a step's sample, input and target are lists, even of one

    def header(self, h: TraceHeader) -> dict[str, Any]:
        s = h.settings
        self.batch_full = s.batch == "full"
        if s.round is not None:  # --round: the strings show each number as it is carried
            self.printer = TextPrinter(CARRIED, None)
        return {
            "format": FORMAT,
            "command": s.command,
            "network": h.network,
            "settings": {
                "notation": s.notation,
                "rule": s.rule,
                "update_order": s.update_order,
                "batch": s.batch,
                "detail": s.detail,
                "precision": s.precision,
                "shuffle": s.shuffle,
                "seed": s.seed,
            },
            "conventions": list(h.conventions),
            "legend": [{"symbol": self.printer.doprint(sym), "meaning": m} for sym, m in h.legend],
            "initial_parameters": {k: array(v) for k, v in h.initial_parameters.items()},
            "parameter_origins": dict(h.parameter_origins),
        }

    def step_start(self, s: StepStart) -> dict[str, Any]:
        # a step of --batch full writes lists over the batch, even of one sample
        single = len(s.samples) == 1 and not self.batch_full
        targets = [None if np.isnan(t).any() else array(t) for t in s.targets]
        return {
            "index": s.index,
            "epoch": s.epoch,
            "sample": s.samples[0] if single else list(s.samples),
            "input": array(s.inputs[0]) if single else [array(x) for x in s.inputs],
            "target": targets[0] if single else targets,
        }

    def equation(self, eq: Equation, b: Block) -> dict[str, Any]:
        expression, substituted = self.printer.both(eq.bound)  # one walk for both, where the shape allows
        d: dict[str, Any] = {
            "kind": eq.kind,
            "layer": b.layer,
            "symbol": self.printer.symbol(eq.symbol),
            "expression": expression,
            "substituted": substituted,
            "value": _num(eq.value),
        }
        # a shortened sum prints an ellipsis, so a tree is walked only when its strings have one
        if self.max_terms is not None and ELLIPSIS in expression:
            longest = longest_sum(eq.bound)
            if longest > self.max_terms:  # the strings shorten it in the middle; the value is of the whole sum
                d["terms"] = longest
        if b.sample is not None:
            d["sample"] = b.sample
        if eq.exact is not None:
            d["exact"] = _num(eq.exact)
        if eq.note:
            d["note"] = eq.note
        return d

    def equations_json(self, b: Block) -> list[str]:
        """`_dumps(self.equation(eq, b))` of each of a block's equations, written directly: the same keys in the
        same order, each string through json's own encoder (`encode_basestring`, what `json.dumps` calls with
        ensure_ascii=False), each finite float as its repr (what json writes for a float), anything else through
        `json.dumps` itself; the block's layer and sample encoded once (tests/test_json_fast.py compares). The
        symbol, expression and substituted numbers are `TextPrinter.columns`'s, as the text format's."""
        columns, max_terms = self.printer.columns, self.max_terms
        head = ', "layer": ' + _dumps(b.layer) + ', "symbol": '
        sample = "" if b.sample is None else ', "sample": ' + _dumps(b.sample)
        kinds: dict[str, str] = {}
        out = []
        for eq in b.equations:
            kind = kinds.get(eq.kind)
            if kind is None:
                kind = kinds[eq.kind] = '{"kind": ' + _dumps(eq.kind)
            value = eq.value
            # the text's columns (one method; a unit's runs of products and w'_mn from w_mn's text), its value's
            # text not used: a float is written as its repr
            symbol, expression, substituted, _ = columns(eq.symbol, eq.bound, value)
            text = (
                f'{kind}{head}{_string(symbol)}, "expression": {_string(expression)}, '
                f'"substituted": {_string(substituted)}, "value": '
                + (float.__repr__(value) if type(value) is float and value - value == 0.0 else _dumps(_num(value)))
            )
            if max_terms is not None and ELLIPSIS in expression:
                longest = longest_sum(eq.bound)
                if longest > max_terms:
                    text += ', "terms": ' + _dumps(longest)
            if sample:
                text += sample
            if eq.exact is not None:
                text += ', "exact": ' + _dumps(_num(eq.exact))
            if eq.note:
                text += ', "note": ' + _dumps(eq.note)
            out.append(text + "}")
        return out

    def layer_values(self, b: Block) -> Iterator[dict[str, Any]]:
        """The vectors a block shows at --detail layer (e, y, δ, dh/de, ∂E/∂e, gradients, updated values)."""
        for named in b.arrays:
            d: dict[str, Any] = {"phase": b.phase, "layer": b.layer, "label": named.label, "value": array(named.value)}
            if b.sample is not None:
                d["sample"] = b.sample
            yield d

    def step_end(self, e: StepEnd) -> dict[str, Any]:
        d: dict[str, Any] = {
            "outputs": {k: array(v) for k, v in e.outputs.items()},
            "loss": None if e.loss is None else _num(e.loss),
        }
        if e.gradients is not None:
            d["gradients"] = {k: array(v) for k, v in e.gradients.items()}
        if e.parameters is not None:
            d["parameters"] = {k: array(v) for k, v in e.parameters.items()}
        if e.departures:
            d["departures"] = e.departures
        if e.masks:
            d["masks"] = {k: [array(m) for m in ms] for k, ms in e.masks.items()}
        if e.statistics:
            d["statistics"] = {k: {n: array(v) for n, v in st.items()} for k, st in e.statistics.items()}
        return d

    def end(self, end: TraceEnd) -> dict[str, Any]:
        d: dict[str, Any] = {"steps_run": end.steps, "stopped": end.stopped}
        if end.predictions:  # after training: the loss before and after, and every sample's prediction
            d["initial_loss"] = None if end.initial_loss is None else _num(end.initial_loss)
            d["final_loss"] = None if end.final_loss is None else _num(end.final_loss)
            d["final_loss_samples"] = list(end.final_samples)
            d["predictions"] = [
                {
                    "sample": p.sample,
                    "output": array(p.output),
                    "target": None if p.loss is None else array(p.target),
                    "loss": None if p.loss is None else _num(p.loss),
                }
                for p in end.predictions
            ]
        if end.drift:
            d["drift"] = [
                {
                    "value": x.label,
                    "symbol": None if x.symbol is None else self.printer.doprint(x.symbol),
                    "rounded": _num(x.rounded),
                    "exact": _num(x.exact),
                }
                for x in end.drift
            ]
        return d


def trace_to_dict(events: Iterable[Event]) -> dict[str, Any]:
    return json.loads("".join(JsonRenderer().chunks(events)))


ELLIPSIS: str = TextPrinter.ELLIPSIS  # type: ignore[assignment]  # what a shortened sum shows in its middle
_LEAVES = (Num, Sym, Name)  # nodes without a sum inside (Elem is a Sym)


_FLAT = frozenset((Num, Sym, Elem, Name))  # leaves, by exact class


def _flat_symbol(sym: Expr) -> bool:
    """Whether a bound leaf's symbol holds no sum: a symbol, ∂E/∂e_4 or dh_4(e)/de of leaves."""
    kind = type(sym)
    if kind is Sym or kind is Elem:
        return True
    if kind is Partial:
        return type(sym.of) in _FLAT and type(sym.wrt) in _FLAT  # type: ignore[attr-defined]
    if kind is Derivative:
        func = sym.func  # type: ignore[attr-defined]
        return type(func) in _FLAT or (
            type(func) is Func and type(func.symbolic) in _FLAT and type(func.concrete) in _FLAT  # type: ignore[attr-defined]
        )
    return False


def longest_sum(node: Expr) -> int:
    """The number of terms of the longest sum in a tree (0 for none).

    A sum of products of leaves (a convolution's, a layer's weighted inputs: most shortened sums) is seen
    to hold no other sum in one loop, without a call per term."""
    if type(node) is Add:
        terms = node.terms  # type: ignore[attr-defined]
        for term in terms:
            kind = type(term)
            for leaf in term.factors if kind is Mul else (term,):  # type: ignore[attr-defined]
                kind = type(leaf)
                if kind not in _FLAT and (kind is not Var or not _flat_symbol(leaf.sym)):  # type: ignore[attr-defined, union-attr]
                    break
            else:
                continue
            break
        else:
            return len(terms)
    longest = len(node.terms) if type(node) is Add else 0  # type: ignore[attr-defined]
    for name in node.__match_args__:
        child = getattr(node, name)
        for c in child if type(child) is tuple else (child,):
            if isinstance(c, Expr) and not isinstance(c, _LEAVES):
                found = longest_sum(c)
                if found > longest:
                    longest = found
    return longest


class JsonRenderer:
    """The JSON trace. With `max_terms` (the CLI's --max-terms), a longer sum is shortened in the middle in
    the `expression` and `substituted` strings, as in the text, and the equation says how many terms it has;
    without it (the Python API's to_dict), every term is written."""

    def __init__(self, precision: int = 4, max_terms: int | None = None, **_: Any) -> None:
        self.parts = JsonParts(precision, max_terms)

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        for chunk in self.chunks(events):
            out.write(chunk)

    def chunks(self, events: Iterable[Event]) -> Iterator[str]:
        dump = _dumps
        first_step = True
        first_eq = True
        by_layer = False  # --detail layer: each block's vectors (δ, dh/de, ...) go into the step too
        layer_values: list[dict[str, Any]] = []
        for ev in events:
            if isinstance(ev, TraceHeader):
                by_layer = ev.settings.detail == "layer"
                head = dump(self.parts.header(ev))
                yield head[:-1] + ', "steps": ['
            elif isinstance(ev, StepStart):
                start = dump(self.parts.step_start(ev))
                yield ("" if first_step else ", ") + start[:-1] + ', "equations": ['
                first_step, first_eq = False, True
            elif isinstance(ev, Block):
                if ev.equations:  # a block's equations as one piece
                    yield ("" if first_eq else ", ") + ", ".join(self.parts.equations_json(ev))
                    first_eq = False
                if by_layer:
                    layer_values.extend(self.parts.layer_values(ev))
            elif isinstance(ev, StepEnd):
                end = self.parts.step_end(ev)
                if by_layer:
                    end["layer_values"], layer_values = layer_values, []
                yield "], " + dump(end)[1:]
            elif isinstance(ev, TraceEnd):
                yield "], " + dump(self.parts.end(ev))[1:] + "\n"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)
