"""JSON's equations written directly (`JsonParts.equations_json`) are what `json.dumps` of each equation's
dictionary wrote, and the whole document is the one the former writer (kept here as the reference) wrote:
on every bundled network (shortened and whole sums, --round, --detail layer, batches) and on made-up
equations with every kind of value (nan, ±inf, −0, huge and tiny numbers, numpy and integer values) and
notes with quotes, backslashes, control characters and non-ASCII text.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pytest

from bpexplain.engine import RunOptions, run
from bpexplain.expr import Add, Elem, Mul, Num, Sym, Var
from bpexplain.render.json import JsonParts, JsonRenderer, _dumps
from bpexplain.spec import load_network
from bpexplain.trace import Block, Equation, Event, StepEnd, StepStart, TraceEnd, TraceHeader


def old_chunks(parts: JsonParts, events: Iterable[Event]) -> Iterator[str]:
    """`JsonRenderer.chunks` as it was: every equation's dictionary through json.dumps, one at a time."""
    first_step = first_eq = True
    by_layer = False
    layer_values: list[dict[str, Any]] = []
    for ev in events:
        if isinstance(ev, TraceHeader):
            by_layer = ev.settings.detail == "layer"
            yield _dumps(parts.header(ev))[:-1] + ', "steps": ['
        elif isinstance(ev, StepStart):
            yield ("" if first_step else ", ") + _dumps(parts.step_start(ev))[:-1] + ', "equations": ['
            first_step, first_eq = False, True
        elif isinstance(ev, Block):
            for eq in ev.equations:
                yield ("" if first_eq else ", ") + json.dumps(
                    parts.equation(eq, ev), ensure_ascii=False, allow_nan=False
                )
                first_eq = False
            if by_layer:
                layer_values.extend(parts.layer_values(ev))
        elif isinstance(ev, StepEnd):
            end = parts.step_end(ev)
            if by_layer:
                end["layer_values"], layer_values = layer_values, []
            yield "], " + _dumps(end)[1:]
        elif isinstance(ev, TraceEnd):
            yield "], " + _dumps(parts.end(ev))[1:] + "\n"


CASES = [
    ("lecture", {}),
    ("lecture", {"notation": "textbook", "round": 3}),
    ("lecture", {"detail": "layer"}),
    ("homework-cnn", {}),
    ("attention", {}),
    ("cbam", {}),
    ("xor", {"batch": "full"}),
    ("two-two-two", {"rule": "slide"}),
]


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{'-'.join(o) or 'plain'}" for n, o in CASES])
@pytest.mark.parametrize("max_terms", [None, 2, 8])
def test_the_document_is_the_former_writers(name: str, options: dict, max_terms: int | None) -> None:
    events = list(run(load_network(name), RunOptions(command="train", steps=2, **options)))
    out = io.StringIO()
    JsonRenderer(max_terms=max_terms).write(events, out)
    assert out.getvalue() == "".join(old_chunks(JsonParts(4, max_terms), events))
    json.loads(out.getvalue())


VALUES = [
    0.5,
    -0.0,
    0.0,
    1e300,
    -2.5e-320,
    1 / 3,
    math.nan,
    math.inf,
    -math.inf,
    np.float64(0.1),
    np.float64(math.nan),
    7,
]
NOTES = ["", 'a "quoted" note', "back\\slash", "tab\there\nnewline", "δ ≠ ŷ — é", "\x00\x1f\x7f", "😀 \ud800"]


def test_made_up_equations_with_every_kind_of_value() -> None:
    w, y = Sym("w", ("1", "4")), Sym("y", ("1",))
    equations = []
    for k, value in enumerate(VALUES):
        for note in NOTES:
            bound = Mul((Var(w, value), Var(y, -2.0))) if k % 2 else Add(tuple(Var(w, float(i)) for i in range(12)))
            exact = VALUES[(k + 3) % len(VALUES)] if note == "" else None
            equations.append(
                Equation("gradient" if k % 3 else 'δ "odd"', Sym("δ", (str(k),)), bound, value, exact, note)
            )
    equations.append(Equation("value", Sym("a"), Num(2.0), 2.0, None, ""))
    for layer, sample in (("h1", None), ('la"yer\\', 3), ("ünï", 0)):
        block = Block("forward", layer, "title", "note", tuple(equations), sample=sample)
        for max_terms in (None, 2, 8):
            parts = JsonParts(4, max_terms)
            assert parts.equations_json(block) == [_dumps(parts.equation(eq, block)) for eq in block.equations]


def test_longest_sum_of_flat_sums_is_the_walk_by_hand() -> None:
    """`longest_sum`'s loop for sums of products of leaves against every node visited, on random trees (sums
    of leaves, of products, of bound derivatives and partial derivatives, and sums inside them) and on every
    equation of the bundled networks."""
    from test_json_terms import longest_by_hand
    from test_latex_once import random_tree

    from bpexplain.expr import Derivative, Func, Name, Partial
    from bpexplain.render.json import longest_sum

    rng = random.Random(1415)
    w, o = Sym("w", ("1",)), Elem("O1", ("1", "2"))
    leaves = [
        Var(w, 1.0),
        Var(o, 2.0),
        Var(Partial(Sym("E"), o), 0.5),
        Var(Derivative(Sym("h", ("4",)), "e"), 0.25),
        Var(Derivative(Func(Sym("h", ("5",)), Name("σ")), "e"), 0.1),
        Var(Partial(Sym("E"), Var(w, 1.0)), 0.5),  # a bound leaf inside: walked as a tree
        Num(3.0),
        w,
        Name("σ"),
    ]
    for _ in range(3000):
        terms = []
        for _ in range(rng.randint(1, 12)):
            pick = rng.random()
            if pick < 0.45:
                terms.append(Mul(tuple(rng.choice(leaves) for _ in range(rng.randint(2, 4)))))
            elif pick < 0.8:
                terms.append(rng.choice(leaves))
            else:
                terms.append(random_tree(rng, rng.randint(1, 3)))
        tree = Add(tuple(terms))
        assert longest_sum(tree) == longest_by_hand(tree)
        assert longest_sum(Mul((Var(w, 1.0), tree))) == longest_by_hand(Mul((Var(w, 1.0), tree)))
    for name in ("lecture", "homework-cnn", "cbam", "attention"):
        for ev in run(load_network(name), RunOptions(command="train", steps=1)):
            if isinstance(ev, Block):
                for eq in ev.equations:
                    assert longest_sum(eq.bound) == longest_by_hand(eq.bound)
