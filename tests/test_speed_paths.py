"""The speed paths give exactly what the general ones give.

- the printers' fast path (products and sums of numbers and symbols) against their general walk: the same
  text for every equation of every bundled network, both notations, text and LaTeX printers (every format
  prints with one of the two), shortened and whole sums, symbols and numbers;
- the summary path's in-place update against the explained path, at a 256-512-256-10 size and (made to
  update in place) on every bundled network: the same bits in the steps it shows, the same final values,
  and a step handed back on a floating-point error as if nothing had been done.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from helpers import DIVERGING, OVERFLOW

from bpexplain import engine
from bpexplain.engine import RunOptions, run
from bpexplain.errors import NumericalError
from bpexplain.expr import Add, Mul, Num, Sub, Sym, Var
from bpexplain.render.latex import visible_length, wrap_sum
from bpexplain.render.latex_printer import LatexPrinter
from bpexplain.render.printer import Printer, TextPrinter
from bpexplain.spec import load_network, parse_network
from bpexplain.trace import Block, StepEnd, TraceEnd

NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "lenet5"]


def equations(name: str, notation: str) -> list:
    spec = load_network(name)
    events = run(spec, RunOptions(command="train", steps=1, notation=notation))
    return [eq for ev in events if isinstance(ev, Block) for eq in ev.equations]


def printers(kind: type[Printer], max_terms: int | None) -> tuple[Printer, Printer]:
    fast, general = kind(4, max_terms), kind(4, max_terms)
    general.fast = False
    return fast, general


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
@pytest.mark.parametrize("name", NETWORKS)
def test_fast_path_prints_as_the_general_path(name: str, notation: str) -> None:
    eqs = equations(name, notation)
    if name == "lenet5":  # 150k equations: every one, with the shortened sums the formats print
        settings = [(TextPrinter, 8), (LatexPrinter, 8)]
    else:
        settings = [(kind, m) for kind in (TextPrinter, LatexPrinter) for m in (8, None, 2)]
    for kind, max_terms in settings:
        fast, general = printers(kind, max_terms)
        taken = 0
        for eq in eqs:
            for node in (eq.symbol, eq.bound):
                for numbers in (False, True):  # where the fast path declines, doprint is the general walk
                    fast.numbers = numbers
                    text = fast._fast(node)
                    fast.numbers = False
                    if text is not None:
                        taken += 1
                        assert text == general.doprint(node, numbers), (name, kind, eq.symbol)
        if name in ("lecture", "lenet5"):  # the common shapes are most of the equations: the fast path is taken
            assert taken >= len(eqs) * 2, (name, taken, len(eqs))


def test_fast_path_brackets_negative_numbers_as_the_general_path() -> None:
    a, b = Sym("a", ("1",)), Sym("b", ("2",))
    trees = [
        Mul((Num(-2.0), Var(a, -0.5), Var(b, 3.0))),
        Add((Mul((Var(a, -1.5), Var(b, -2.0))), Var(b, -0.25), Num(-1.0), Mul((Num(2.0), Var(a, 1e-9))))),
        Sub(Var(a, -1.0), Mul((Num(0.1), Var(b, -3.0)))),
        Sub(Mul((Var(a, 2.0), Var(b, 2.0))), Num(-4.0)),
        Add(tuple(Mul((Var(a, float(-k)), Var(b, float(k)))) for k in range(12))),
        Var(a, -7.0),
        Num(-7.0),
    ]
    for kind in (TextPrinter, LatexPrinter):
        for max_terms in (None, 4):
            fast, general = printers(kind, max_terms)
            for tree in trees:
                for numbers in (False, True):
                    fast.numbers = numbers
                    assert fast._fast(tree) is not None
                    fast.numbers = False
                    assert fast.doprint(tree, numbers) == general.doprint(tree, numbers)
    text = TextPrinter(4, None)
    assert text.doprint(trees[2], numbers=True) == "-1 − 0.1·(-3)"  # written apart from both paths


def mlp(sizes: list[int], seed: int = 0) -> str:
    """A dense network of these sizes, its parameters initialised at random by bpexplain, two samples."""
    rng = np.random.default_rng(seed)
    acts = ["tanh"] * (len(sizes) - 2) + ["sigmoid"]
    layers = "".join(
        f"  - {{name: layer{k + 1}, type: dense, units: {n}, activation: {a}}}\n"
        for k, (n, a) in enumerate(zip(sizes[1:], acts))
    )
    data = "".join(
        f"  - input: {rng.uniform(-1, 1, sizes[0]).round(3).tolist()}\n"
        f"    target: {rng.uniform(0, 1, sizes[-1]).round(3).tolist()}\n"
        for _ in range(2)
    )
    return f"name: big\ninputs: {sizes[0]}\nlearning_rate: 0.1\nlayers:\n{layers}data:\n{data}"


def compare_in_place(spec: object, steps: int, **options: object) -> None:
    """The in-place summary run's StepEnds against the explained run's: the shown steps' bit for bit, the
    others without parameters or gradients; the same final parameters."""
    summary = [*run(spec, RunOptions(command="train", steps=steps, detail="summary", summary_steps=(3, 3), **options))]
    explained = [*run(spec, RunOptions(command="train", steps=steps, detail="layer", **options))]
    fast = [e for e in summary if isinstance(e, StepEnd)]
    slow = [e for e in explained if isinstance(e, StepEnd)]
    assert len(fast) == len(slow) == steps
    for a, b in zip(fast, slow):
        assert a.index == b.index and a.loss == b.loss
        for name in b.outputs:
            assert np.array_equal(a.outputs[name], b.outputs[name])
        if 3 < a.index <= steps - 3:
            assert a.parameters is None and a.gradients is None
            continue
        assert a.parameters is not None and a.gradients is not None
        assert list(a.parameters) == list(b.parameters) and list(a.gradients) == list(b.gradients)
        for name in b.parameters:
            assert np.array_equal(a.parameters[name], b.parameters[name]), (a.index, name)
            assert np.array_equal(a.gradients[name], b.gradients[name]), (a.index, name)
    end_fast, end_slow = summary[-1], explained[-1]
    assert isinstance(end_fast, TraceEnd) and isinstance(end_slow, TraceEnd)
    for name, value in end_slow.final_parameters.items():
        assert np.array_equal(end_fast.final_parameters[name], value), name
    kept = [e.parameters for e in fast if e.parameters is not None]
    copies = [{k: v.copy() for k, v in p.items()} for p in kept]
    assert all(np.array_equal(p[k], c[k]) for p, c in zip(kept, copies) for k in c)  # handed out: never changed


@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_summary_path_in_place_is_the_explained_path_at_256_512_256_10(order: str) -> None:
    spec = parse_network(mlp([256, 512, 256, 10]), "big.yaml")
    assert sum(p.size for p in spec.parameters().values()) > engine.IN_PLACE_VALUES
    compare_in_place(spec, 8, update_order=order)


@pytest.mark.parametrize("network,steps", [("xor", 150), ("lecture", 7), ("classifier", 9), ("homework-cnn", 7)])
@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_summary_path_in_place_on_every_bundled_network(
    monkeypatch: pytest.MonkeyPatch, network: str, steps: int, order: str
) -> None:
    monkeypatch.setattr(engine, "IN_PLACE_VALUES", 0)  # every network in place, many steps a batch
    compare_in_place(load_network(network), steps, update_order=order, shuffle=True, seed=3)


@pytest.mark.parametrize("text", [OVERFLOW, DIVERGING])
def test_summary_path_in_place_hands_a_step_back_unchanged(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(engine, "IN_PLACE_VALUES", 0)
    errors = []
    for detail, summary_steps in (("summary", (3, 3)), ("layer", None)):
        with pytest.raises(NumericalError) as info:
            ends = []
            opts = RunOptions(command="train", steps=200, detail=detail, summary_steps=summary_steps)
            for e in run(parse_network(text, "net.yaml"), opts):
                if isinstance(e, StepEnd):
                    ends.append(e.loss)
        errors.append((info.value.message, ends))
    assert errors[0] == errors[1]


def reference_visible_length(latex: str) -> int:
    """render/latex.py's visible_length as it was before its regular expressions were compiled once."""
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: max(m.group(1), m.group(2), key=len), latex)
    text = re.sub(r"\\(left|right)", "", text)
    text = re.sub(r" ?\\cdot ?", "xx", text).replace(" + ", "xxx").replace(" - ", "xxx")
    text = re.sub(r"\\[A-Za-z]+", "x", text)
    return len(re.sub(r"[{}_^ ]", "", text))


def reference_wrap_sum(latex: str, width: int = 80) -> str:
    """render/latex.py's wrap_sum as it was before its scan went by regular expression."""
    if reference_visible_length(latex) <= width:
        return latex
    pieces, depth, start = [], 0, 0
    i = 0
    while i < len(latex):
        if latex.startswith(r"\left", i):
            depth += 1
            i += 5
            continue
        if latex.startswith(r"\right", i):
            depth -= 1
            i += 6
            continue
        c = latex[i]
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth == 0 and latex.startswith((" + ", " - "), i):
            pieces.append(latex[start:i])
            start = i + 1
        i += 1
    pieces.append(latex[start:])
    lines, current = [], ""
    for piece in pieces:
        if current and reference_visible_length(current + piece) > width:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return r" \\ &\quad ".join(lines)


def test_wrap_sum_breaks_as_before() -> None:
    printer = LatexPrinter(4, None)
    texts = [r"a + - b - + c", r"\left(a + b\right) + {c - d} - e", r"\leftarrow + x", "a  + b"]
    for name in ["lecture", "classifier", "homework-cnn"]:
        for eq in equations(name, "lecture"):
            texts += [printer.doprint(eq.bound), printer.doprint(eq.bound, numbers=True)]
    rng = random.Random(0)
    alphabet = ["a", " + ", " - ", "{", "}", r"\left(", r"\right)", r"\frac{1}{2}", r" \cdot ", "x_{1}", " ", "+"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(2000)]
    for text in texts:
        for width in (80, 10, 3):
            assert visible_length(text) == reference_visible_length(text), text
            assert wrap_sum(text, width) == reference_wrap_sum(text, width), text
