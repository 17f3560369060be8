"""The fast paths give exactly what the general ones give.

- `format_number` against the implementation it replaced, kept here as the reference: the same text for
  random values of every magnitude and precision, and for the edge cases (powers of ten and their
  neighbours, halves, values that round up to the next power, the bounds of the fixed notation).
- the engine's lean step (runs that show no blocks) against its checked step: the same losses, outputs,
  gradients and parameters, bit for bit, for every bundled network and both update orders; the same
  NumericalError, word for word; parameters handed out in a StepEnd never change afterwards.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from helpers import DIVERGING, OVERFLOW

import bpexplain
from bpexplain.engine import RunOptions, _Run, run
from bpexplain.errors import NumericalError
from bpexplain.lean import LeanStep
from bpexplain.render.common import SummaryLine
from bpexplain.render.numbers import format_number, format_vector
from bpexplain.spec import load_network, parse_network
from bpexplain.trace import Block, StepEnd, StepStart


def reference_format_number(x: float, precision: int = 4) -> str:
    """format_number as it was before its fast path (render/numbers.py)."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax < 1e-6 or ax >= 1e9:
        mantissa, exponent = f"{x:.{max(precision - 1, 0)}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    decimals = max(precision - 1 - math.floor(math.log10(ax)), 0)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def edge_values() -> list[float]:
    values = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        0.125,
        0.1,
        0.2,
        0.3,
        1 / 3,
        2 / 3,
        math.pi,
        1e-6,
        1e9,
        1e-4,
        1e-5,
        9.9995,
        9.9994999,
        0.99995,
        0.099995,
        99995.0,
        999949.0,
        999950.0,
        123456789.0,
        999999999.9,
        0.30000000000000004,
        0.591458,
        12345.67,
        -0.000312345,
        5e-324,
        1.7976931348623157e308,
        math.inf,
        -math.inf,
        math.nan,
        2.5e9,
        123456789012.0,
        999999999999.5,
    ]
    for k in range(-8, 11):
        p = 10.0**k
        for v in (
            p,
            math.nextafter(p, 0),
            math.nextafter(p, math.inf),
            p * 0.99995,
            p * 0.999949,
            p * 1.00005,
            p * 9.9995,
            p * 9.99949,
            p * 5,
            p * 1.25,
            p * 0.5,
        ):
            values += [v, -v]
    for k in range(-6, 10):  # a few dozen ulps either side of each power of ten, where log10 may be one off
        below = above = 10.0**k
        for _ in range(40):
            below, above = math.nextafter(below, 0), math.nextafter(above, math.inf)
            values += [below, above]
    for bound in (1e-6, 1e9):
        lo, hi = math.nextafter(bound, 0), math.nextafter(bound, math.inf)
        values += [lo, hi, -lo, -hi]
    return values


def random_values(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            v = rng.uniform(1, 10) * 10.0 ** rng.randint(-9, 11)
        elif kind < 0.8:  # a few significant digits, then a tail: the roundings that carry
            digits = rng.randint(1, 6)
            v = (rng.randint(1, 10**digits - 1) + rng.choice((0.5, 0.4999999, 0.5000001, 0.0))) * 10.0 ** rng.randint(
                -10, 8
            )
        else:  # any bit pattern of a finite double
            v = float(np.frombuffer(rng.getrandbits(64).to_bytes(8, "little"), dtype=np.float64)[0])
            if not math.isfinite(v):
                continue
        out.append(-v if rng.random() < 0.5 else v)
    return out


@pytest.mark.parametrize("precision", list(range(0, 18)))
def test_format_number_writes_what_the_reference_writes(precision: int) -> None:
    values = edge_values() + random_values(4000, seed=precision)
    different = [
        (v, format_number(v, precision), reference_format_number(v, precision))
        for v in values
        if format_number(v, precision) != reference_format_number(v, precision)
    ]
    assert different == []


def test_format_number_of_other_kinds_of_number() -> None:
    for v in (np.float64(0.591458), np.float32(0.1), 3, -7, True, np.float64(1e-7), np.float64(123456.5)):
        assert format_number(v, 4) == reference_format_number(v, 4)  # type: ignore[arg-type]
    assert format_number(float("nan")) == "nan" and format_number(-math.inf) == "-inf"


@pytest.mark.parametrize("precision", [1, 4, 9, 10, 17])
def test_format_vector_writes_the_reference_numbers(precision: int) -> None:
    values = edge_values() + random_values(2000, seed=100 + precision)
    rng = random.Random(precision)
    chosen = [[rng.choice(values) for _ in range(rng.randint(0, 14))] for _ in range(600)]
    for vector in [[-0.0], [0.5, -0.0, 2.5], [math.nan, math.inf, -math.inf], [1e9, 2.0, 1e-7]] + chosen:
        flat = [reference_format_number(v, precision) for v in vector]
        if len(flat) > 12:
            flat = flat[:6] + ["…"] + flat[-6:]
        assert format_vector(np.array(vector, dtype=np.float64), precision) == "[" + ", ".join(flat) + "]"


def test_format_vector_takes_any_array() -> None:
    assert format_vector(np.array([0.5, 1e-7, 12345.67])) == "[0.5, 1e-7, 12346]"
    assert format_vector(np.array([[1, 2], [3, 4]])) == "[1, 2, 3, 4]"
    assert format_vector(np.arange(20.0), limit=4) == "[0, 1, …, 18, 19]"


# ---- the engine's lean step ------------------------------------------------------------------------


def step_ends(network: str, **options: object) -> tuple[_Run, list[StepEnd]]:
    spec = load_network(network)
    r = _Run(spec, RunOptions(command="train", **options))  # type: ignore[arg-type]
    ends = [e for e in r.events() if isinstance(e, StepEnd)]
    return r, ends


@pytest.mark.parametrize(
    "network,steps", [("xor", 9), ("xor", 150), ("lecture", 4), ("classifier", 5), ("homework-cnn", 3)]
)
@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_the_lean_step_computes_what_the_checked_step_computes(network: str, steps: int, order: str) -> None:
    lean, fast = step_ends(network, steps=steps, detail="summary", update_order=order, shuffle=True, seed=3)
    checked, slow = step_ends(network, steps=steps, detail="layer", update_order=order, shuffle=True, seed=3)
    assert lean.lean and not checked.lean
    assert len(fast) == len(slow) == steps
    for a, b in zip(fast, slow, strict=True):
        assert a.index == b.index and a.loss == b.loss and a.departures == b.departures == 0
        for got, want in ((a.outputs, b.outputs), (a.gradients, b.gradients), (a.parameters, b.parameters)):
            assert got is not None and want is not None and list(got) == list(want)
            for name in want:
                assert got[name].dtype == want[name].dtype
                assert np.array_equal(got[name], want[name]), (network, a.index, name)


def test_a_lean_run_computes_a_few_thousand_values_ahead_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    original = LeanStep.run

    def counted(self: LeanStep, params: dict, samples: list) -> tuple[list, dict]:
        batches.append(len(samples))
        return original(self, params, samples)

    monkeypatch.setattr(LeanStep, "run", counted)
    for network, steps in (("xor", 150), ("lenet5", 2)):
        batches.clear()
        ends = [
            e for e in run(load_network(network), RunOptions(steps=steps, detail="summary")) if isinstance(e, StepEnd)
        ]
        assert len(ends) == steps
        assert batches == ([64, 64, 22] if network == "xor" else [1, 1])  # xor: 9 parameters; lenet5: 61,706


def test_a_network_without_parameters_trains_by_the_lean_step_too() -> None:
    spec = parse_network(
        "inputs: 2\nlayers:\n  - {name: a, type: activation, activation: sigmoid}\n"
        "data:\n  - {input: [1, 2], target: [0.5, 0.5]}\n",
        "net.yaml",
    )
    ends = [e for e in run(spec, RunOptions(steps=3, detail="summary")) if isinstance(e, StepEnd)]
    assert [e.index for e in ends] == [1, 2, 3] and ends[0].parameters == {}
    assert ends[0].loss == pytest.approx(
        0.5 * ((1 / (1 + math.exp(-1)) - 0.5) ** 2 + (1 / (1 + math.exp(-2)) - 0.5) ** 2)
    )


@pytest.mark.parametrize("options", [dict(rule="slide"), dict(batch="full"), dict(round=3), dict(detail="full")])
def test_the_lean_step_is_only_taken_where_nothing_else_is_asked_for(options: dict) -> None:
    opts = dict(command="train", detail="summary")
    opts.update(options)
    assert not _Run(load_network("xor"), RunOptions(**opts)).lean  # type: ignore[arg-type]


def test_parameters_handed_out_never_change_afterwards() -> None:
    seen = []
    for e in run(load_network("lecture"), RunOptions(command="train", steps=6, detail="summary")):
        if isinstance(e, StepEnd):
            assert e.parameters is not None
            seen.append((e.parameters, {k: v.copy() for k, v in e.parameters.items()}))
    assert len(seen) == 6
    for shared, copied in seen:
        assert all(np.array_equal(shared[k], copied[k]) for k in copied)
    assert any(not np.array_equal(seen[0][1][k], seen[-1][1][k]) for k in seen[0][1])  # training moved them


def test_the_lean_step_in_place_writes_over_a_gradient_only_where_nothing_else_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A layer whose bias gradient is its ∂E/∂e itself (not a copy): the update goes into the spare buffer
    (∂E/∂e is still needed for the layer below), and the run is the checked run, bit for bit."""
    from bpexplain import engine
    from bpexplain.layers.dense import Dense
    from bpexplain.lean import _own

    monkeypatch.setattr(engine, "IN_PLACE_VALUES", 0)
    monkeypatch.setattr(Dense, "param_gradients", lambda self, x, d_pre: {"weight": d_pre[:, None] * x, "bias": d_pre})
    spec = load_network("classifier")
    fast = [
        e
        for e in run(spec, RunOptions(command="train", steps=8, detail="summary", summary_steps=(3, 3)))
        if isinstance(e, StepEnd)
    ]
    slow = [e for e in run(spec, RunOptions(command="train", steps=8, detail="layer")) if isinstance(e, StepEnd)]
    assert [e.loss for e in fast] == [e.loss for e in slow]
    for a, b in zip(fast[-3:], slow[-3:], strict=True):
        assert a.parameters is not None and b.parameters is not None
        assert all(np.array_equal(a.parameters[k], v) for k, v in b.parameters.items())

    param, d_pre = np.ones((3, 2)), np.ones(3)
    fresh = d_pre[:, None] * np.ones(2)
    assert _own(fresh, param, (d_pre,))
    assert not _own(fresh, param, (fresh[1:],))  # a view of it is held
    assert not _own(fresh[:, :], param, ())  # it is a view
    assert not _own(fresh, param, (np.frombuffer(fresh.data, dtype=np.float64),))  # over its buffer
    assert not _own(fresh.astype(np.float32), param, ())
    assert not _own(np.ones(6), param, ())  # not the parameter's shape
    fresh.flags.writeable = False
    assert not _own(fresh, param, ())


def test_the_lean_step_calls_an_activation_as_its_layer_does() -> None:
    """The step calls the activation's own function where the layer's `activate` only calls it, and the
    layer's `activate` where a layer class has its own."""
    from bpexplain.layers.base import Layer
    from bpexplain.lean import _activation

    r = _Run(load_network("homework-cnn"), RunOptions(command="train", detail="summary"))
    assert r.lean_step is not None
    for layer, (name, _, activate) in zip(r.layers, r.lean_step.forward_plan, strict=True):
        assert name == layer.name
        if not layer.has_activation:
            assert activate is None
        elif type(layer).activate is Layer.activate:
            assert activate is layer.activation.value
        else:
            assert activate == layer.activate
    dense = r.layers[-1]

    class Scaled(type(dense)):  # type: ignore[misc]
        def activate(self, e: np.ndarray) -> np.ndarray:
            return 2 * e

    dense.__class__ = Scaled
    assert _activation(dense) == dense.activate


def test_softmax_and_the_cross_entropies_are_the_numpy_functions_bit_for_bit() -> None:
    """functions.py reduces by the arrays' own max/sum: the same bits as np.max/np.sum, written here."""
    from bpexplain.functions import LOSSES, make_activation

    softmax = make_activation("softmax").value
    ce, bce = LOSSES["cross_entropy"].value, LOSSES["binary_cross_entropy"].value
    rng = np.random.default_rng(14)
    for n in (1, 2, 3, 10, 17, 128, 1000, 4099):
        e = rng.standard_normal(n) * rng.choice([1e-3, 1.0, 30.0])
        z = np.exp(e - np.max(e))
        want = z / np.sum(z)
        got = softmax(e)
        assert got.tobytes() == want.tobytes()
        t = np.zeros(n)
        t[n // 2] = 1.0
        assert ce(got, t) == float(-np.sum(t * np.log(got)))
        y = rng.uniform(0.001, 0.999, n)
        labels = rng.uniform(0, 1, n)
        assert bce(y, labels) == float(-np.sum(labels * np.log(y) + (1 - labels) * np.log(1 - y)))


MLP_4_8_3 = """\
inputs: 4
init: {seed: 1, decimals: 2}
layers:
  - {name: h1, type: dense, units: 8, weight: random, bias: zeros, activation: tanh}
  - {name: h2, type: dense, units: 3, weight: random, bias: zeros, activation: softmax}
loss: cross_entropy
learning_rate: 0.1
data:
  - {input: [-1, -0.63, -0.26, 0.11], target: [0, 1, 0]}
  - {input: [0.5, 0.25, -0.75, 1], target: [0, 0, 1]}
"""


SMALL_CNN = """\
inputs: {shape: [6, 6]}
layers:
  - {name: conv1, type: conv2d, kernel: [[1, 0, 0.5], [-1, 2, 0], [0.25, 0, -0.5]], flip: true}
  - {name: conv2, type: conv2d, kernel: [[-1, 0], [1, 1]], flip: true}
  - {name: flatten, type: flatten}
  - {name: fc, type: dense, weight: [[0.1, -0.1, 0.2, 0.1, 0, 0.05, -0.05, 0.1, 0.2]], bias: [0.1], activation: tanh}
loss: mse
learning_rate: 0.001
data:
  - input: [[1, 0, 2, 1, 0, 1], [0, 1, 1, 0, 2, 0], [2, 1, 0, 1, 1, 1], [1, 0, 1, 2, 0, 1], [0, 2, 1, 0, 1, 0],
            [1, 1, 0, 1, 0, 2]]
    target: [0.5]
"""


def summary_ends(spec: object, **options: object) -> tuple[_Run, list[StepEnd]]:
    """The StepEnds of a run at --detail summary as the CLI asks for it (the first 3 and the last 3 shown)."""
    r = _Run(spec, RunOptions(command="train", detail="summary", summary_steps=(3, 3), **options))  # type: ignore[arg-type]
    return r, [e for e in r.events() if isinstance(e, StepEnd)]


def test_a_summary_run_changes_parameters_in_place_unless_its_lines_show_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """In place, 64 steps a batch, wherever the summary line does not show the parameters (more than 16
    values): a 4-8-3 network's 67 as well as lenet5's 61,706; xor's 9 are shown every step."""
    calls: list[tuple[str, int]] = []
    run_in_place, run_plain = LeanStep.run_in_place, LeanStep.run

    def in_place(self: LeanStep, params: dict, steps: list, keep: object) -> tuple[list, dict]:
        calls.append(("in place", len(steps)))
        return run_in_place(self, params, steps, keep)  # type: ignore[arg-type]

    def plain(self: LeanStep, params: dict, steps: list) -> tuple[list, dict]:
        calls.append(("new arrays", len(steps)))
        return run_plain(self, params, steps)

    monkeypatch.setattr(LeanStep, "run_in_place", in_place)
    monkeypatch.setattr(LeanStep, "run", plain)
    for spec, steps, want in (
        (parse_network(MLP_4_8_3, "net.yaml"), 150, [("in place", 64), ("in place", 64), ("in place", 22)]),
        (load_network("lenet5"), 2, [("in place", 2)]),
        (load_network("xor"), 150, [("new arrays", 64), ("new arrays", 64), ("new arrays", 22)]),
    ):
        calls.clear()
        _, ends = summary_ends(spec, steps=steps)
        assert len(ends) == steps and calls == want
        shown = [e.index for e in ends if e.parameters is not None]
        in_place = want[0][0] == "in place"
        assert shown == [i for i in range(1, steps + 1) if not in_place or i <= 3 or i > steps - 3]


@pytest.mark.parametrize("inputs", [15, 16])
def test_parameters_change_in_place_exactly_where_the_summary_line_does_not_show_them(inputs: int) -> None:
    """16 values (15 weights and a bias) are shown on every summary line, so every step carries them; 17 are
    not, so the steps between the first 3 and the last 3 carry none."""
    ones = ", ".join(["0.5"] * inputs)
    spec = parse_network(
        f"inputs: {inputs}\nlayers:\n  - {{name: out, weight: [[{ones}]], bias: [0.0]}}\n"
        f"learning_rate: 0.01\ndata:\n  - {{input: [{ones}], target: [1]}}\n",
        "net.yaml",
    )
    events = list(run(spec, RunOptions(command="train", steps=10, detail="summary", summary_steps=(3, 3))))
    starts = [e for e in events if isinstance(e, StepStart)]
    ends = [e for e in events if isinstance(e, StepEnd)]
    line = SummaryLine(4)
    lines = [line(s, e) for s, e in zip(starts, ends, strict=True)]
    shown = inputs + 1 <= 16
    assert all(("out.weight = [" in text) == shown for text in lines)
    assert [e.parameters is not None for e in ends] == [shown or i < 3 or i >= 7 for i in range(10)]


@pytest.mark.parametrize(
    "network,options",
    [
        (MLP_4_8_3, dict(steps=70)),
        (MLP_4_8_3, dict(epochs=40, shuffle=True, seed=5)),
        ("classifier", dict(steps=130)),
        (SMALL_CNN, dict(steps=9)),  # convolutions by their own methods, in place, with spare buffers
    ],
)
@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_the_steps_a_summary_shows_carry_exactly_the_checked_parameters(
    network: str, options: dict, order: str
) -> None:
    """A run in place hands out, for steps 1-3 and the last 3 only, exactly the parameters and gradients of the
    checked step; every step's loss and outputs are the checked step's, bit for bit."""
    spec = parse_network(network, "net.yaml") if "\n" in network else load_network(network)
    lean, fast = summary_ends(spec, update_order=order, **options)
    r = _Run(spec, RunOptions(command="train", detail="layer", update_order=order, **options))  # type: ignore[arg-type]
    slow = [e for e in r.events() if isinstance(e, StepEnd)]
    assert lean.lean and not r.lean and len(fast) == len(slow) > 6
    total = len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert a.index == b.index and a.loss == b.loss
        assert list(a.outputs) == list(b.outputs)
        assert all(np.array_equal(a.outputs[k], b.outputs[k]) for k in b.outputs)
        if 3 < a.index <= total - 3:
            assert a.parameters is None and a.gradients is None
            continue
        for got, want in ((a.gradients, b.gradients), (a.parameters, b.parameters)):
            assert got is not None and want is not None and list(got) == list(want)
            for name in want:
                assert got[name].dtype == want[name].dtype
                assert np.array_equal(got[name], want[name]), (network, a.index, name)
    assert lean.params.keys() == r.params.keys()
    for name, ps in r.params.items():
        assert all(np.array_equal(lean.params[name][p], v) for p, v in ps.items())


def test_parameters_in_place_never_change_what_was_handed_out() -> None:
    """A run in place writes only over arrays it made and did not hand out: the header's initial parameters and
    the shown steps' parameters and gradients keep their values to the end, and no two steps share an array."""
    spec = parse_network(MLP_4_8_3, "net.yaml")
    events = list(run(spec, RunOptions(command="train", steps=300, detail="summary", summary_steps=(3, 3))))
    header = events[0]
    initial = {k: v.copy() for k, v in header.initial_parameters.items()}  # type: ignore[attr-defined]
    ends = [e for e in events if isinstance(e, StepEnd) and e.parameters is not None]
    assert [e.index for e in ends] == [1, 2, 3, 298, 299, 300]
    want = parse_network(MLP_4_8_3, "net.yaml")
    checked = [
        e
        for e in run(want, RunOptions(command="train", steps=300, detail="layer"))
        if isinstance(e, StepEnd) and e.index in (1, 2, 3, 298, 299, 300)
    ]
    for a, b in zip(ends, checked, strict=True):
        for got, expected in ((a.parameters, b.parameters), (a.gradients, b.gradients)):
            assert got is not None and expected is not None
            assert all(np.array_equal(got[k], v) for k, v in expected.items())
    assert all(np.array_equal(header.initial_parameters[k], v) for k, v in initial.items())  # type: ignore[attr-defined]
    arrays = [id(a) for e in ends for d in (e.parameters, e.gradients) for a in d.values()]  # type: ignore[union-attr]
    assert len(arrays) == len(set(arrays))


def test_the_step_computes_dense_layers_itself_only_where_their_methods_are_densepys() -> None:
    from bpexplain.layers.dense import Dense

    r = _Run(load_network("homework-cnn"), RunOptions(command="train", detail="summary"))
    assert r.lean_step is not None
    fast = {name: computed for name, computed, *_ in r.lean_step.plan}
    assert fast == {layer.name: type(layer) is Dense for layer in r.layers}
    assert any(fast.values()) and not all(fast.values())

    class Scaled(Dense):
        def input_gradient(self, params: dict, x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
            return 2 * super().input_gradient(params, x, d_pre)

    r = _Run(parse_network(MLP_4_8_3, "net.yaml"), RunOptions(command="train", detail="summary"))
    r.layers[1].__class__ = Scaled
    step = LeanStep(r.layers, r.loss, r.lr, r.trainable, False)
    assert [computed for _, computed, *_ in step.plan] == [True, False]


@pytest.mark.parametrize("network", [MLP_4_8_3, "classifier"])
def test_a_step_handed_back_in_place_has_changed_nothing(monkeypatch: pytest.MonkeyPatch, network: str) -> None:
    """A floating-point error in the middle of a step in place (here: raised by the first layer's ∂E/∂e, after
    the layers above computed their new weights into spare buffers) hands the step back; the checked path then
    runs it from the parameters before it, and the run goes on in place: the same results as a run without."""
    import bpexplain.lean as lean_module

    spec = parse_network(network, "net.yaml") if "\n" in network else load_network(network)
    clean, want = summary_ends(spec, steps=140)
    calls = {"n": 0, "derivatives": 0}
    original = lean_module.LeanStep._run

    def failing(self: LeanStep, params: dict, steps: list, keep: object, in_place: bool) -> tuple[list, dict]:
        calls["n"] += 1
        if calls["n"] != 2:
            return original(self, params, steps, keep, in_place)  # type: ignore[arg-type]
        first = self.plan[0]
        derivative = first[5]

        def raising(e: np.ndarray, y: np.ndarray) -> np.ndarray:
            calls["derivatives"] += 1
            if calls["derivatives"] == 11:  # the 11th step of the batch
                raise FloatingPointError("overflow")
            return derivative(e, y)

        self.plan = (first[:5] + (raising,) + first[6:], *self.plan[1:])
        try:
            return original(self, params, steps, keep, in_place)  # type: ignore[arg-type]
        finally:
            self.plan = (first, *self.plan[1:])

    monkeypatch.setattr(lean_module.LeanStep, "_run", failing)
    r, got = summary_ends(spec, steps=140)
    assert calls["n"] == 4 and calls["derivatives"] == 11 and len(got) == len(want) == 140  # 64, 10 + 1 checked, 53, 12
    for a, b in zip(got, want, strict=True):
        assert a.loss == b.loss
        assert (a.parameters is None) == (b.parameters is None) or a.index == 75  # the checked step carries them
        if a.parameters is not None and b.parameters is not None:
            assert all(np.array_equal(a.parameters[k], v) for k, v in b.parameters.items())
    for name, ps in clean.params.items():
        assert all(np.array_equal(r.params[name][p], v) for p, v in ps.items())


LOG_OF_ZERO = (
    "inputs: 2\nlayers:\n  - {name: out, activation: softmax, weight: [[1.0, 0], [0, 1]]}\n"
    "loss: cross_entropy\ndata:\n  - {input: [800, -800], target: [0, 1]}\n"
)
UPDATE_OVERFLOW = (
    "inputs: 1\nlayers:\n  - name: out\n    weight: [[1.0]]\nlearning_rate: 1.0e308\n"
    "data:\n  - {input: [30], target: [1]}\n"
)
BCE_SATURATES = (
    "inputs: 1\nlayers:\n  - {name: out, activation: sigmoid, weight: [[1.0]]}\n"
    "loss: binary_cross_entropy\ndata:\n  - {input: [800], target: [0]}\n"
)


@pytest.mark.parametrize("text", [OVERFLOW, DIVERGING, LOG_OF_ZERO, UPDATE_OVERFLOW, BCE_SATURATES])
@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
@pytest.mark.parametrize("in_place", [False, True])
def test_the_lean_step_raises_the_checked_steps_error(
    monkeypatch: pytest.MonkeyPatch, text: str, order: str, in_place: bool
) -> None:
    from bpexplain import engine

    if in_place:  # these networks are small enough for the summary line to show their parameters
        monkeypatch.setattr(engine, "IN_PLACE_VALUES", 0)
    shown = (3, 3) if in_place else None
    errors = []
    for detail in ("summary", "layer"):
        spec = parse_network(text, "net.yaml")
        events = []
        with pytest.raises(NumericalError) as info:
            options = RunOptions(command="train", steps=200, detail=detail, update_order=order, summary_steps=shown)
            for e in run(spec, options):
                if not isinstance(e, Block):
                    events.append(type(e).__name__)
        err = info.value
        errors.append((err.message, str(err.where), err.path, err.expected, events))
    assert errors[0] == errors[1]
    assert "step" in errors[0][0]


# ---- the summary line ------------------------------------------------------------------------------

WIDE = """\
inputs: 14
layers:
  - name: "odd {name}"
    weight: [[0.5, -0.25, 0.125, 1.0e-7, -0.0, 3, 4, 5, 6, 7, 8, 9, 10, 11]]
data:
  - {input: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], target: [1]}
"""
BRACES = """\
inputs: 2
layers:
  - name: "odd {name}"
    weight: [[0.5, -0.25]]
    bias: [0.0]
data:
  - {input: [1, 2], target: [1]}
  - {input: [0.5, -1], target: [0]}
"""


def reference_summary_lines(trace: bpexplain.Trace, precision: int) -> list[str]:
    """The summary lines as they were written before the fast paths, from reference_format_number."""

    def vector(a: np.ndarray) -> str:
        flat = [reference_format_number(float(v), precision) for v in a.ravel()]
        if len(flat) > 12:
            flat = flat[:6] + ["…"] + flat[-6:]
        return "[" + ", ".join(flat) + "]"

    lines = []
    starts = [e for e in trace if isinstance(e, StepStart)]
    for s, e in zip(starts, trace.steps, strict=True):
        line = (
            f"step {e.index} (epoch {s.epoch}, sample {', '.join(map(str, s.samples))}): "
            f"E = {reference_format_number(e.loss, precision)}"
        )
        if e.parameters is not None and sum(a.size for a in e.parameters.values()) <= 16:
            line += "  " + "  ".join(f"{n} = {vector(a)}" for n, a in e.parameters.items())
        lines.append(line)
    return lines


ODD_NUMBERS = """\
inputs: 2
layers:
  - name: "5% e-net"
    weight: [[0.5, 0.25]]
    bias: [0.125]
  - name: "out"
    weight: {value: [[1.0e-7]], trainable: false}
    bias: {value: [2.5e9], trainable: false}
learning_rate: 1.0e-6
data:
  - {input: [1, 2], target: [1]}
  - {input: [0.5, -1], target: [0]}
"""
NEGATIVE_ZERO = """\
inputs: 2
layers:
  - {name: n, weight: [[0.5, -0.25]], bias: {value: [-0.0], trainable: false}}
data:
  - {input: [1, 2], target: [1]}
"""


@pytest.mark.parametrize(
    "network,precision",
    [
        ("xor", 4),
        ("xor", 2),
        ("xor", 11),
        ("lecture", 4),
        (WIDE, 4),
        (BRACES, 3),
        (BRACES, 17),
        (ODD_NUMBERS, 4),
        (NEGATIVE_ZERO, 4),
    ],
)
def test_the_summary_line_is_what_it_was(network: str, precision: int) -> None:
    spec = parse_network(network, "net.yaml") if "\n" in network else load_network(network)
    trace = bpexplain.train(spec, steps=7, detail="summary")
    text = trace.render("text", precision=precision)
    written = [line for line in text.splitlines() if line.startswith("step ")]
    assert written == reference_summary_lines(trace, precision)
    if network == WIDE:
        assert ", -0.25, 0.125, 1e-7, 0, 3, …, 6, 7, 8, 9, 10, " in written[0]  # shortened, not templated
    if network == BRACES:
        assert "odd {name}.weight = [" in written[0]
    if network == ODD_NUMBERS:  # 1e-7 and 2.5e9 as format_number writes them, and a % in a name
        assert "  out.weight = [1e-7]  out.bias = [2.5e9]" in written[0] and "5% e-net.bias = [" in written[0]
    if network == NEGATIVE_ZERO:
        assert written[0].endswith("n.bias = [0]")


def test_the_summary_line_takes_its_template_where_it_can() -> None:
    """Where every parameter fits the `g` format the line is one %-format (the test above: the same text)."""
    lines = SummaryLine(4)
    trace = bpexplain.train("xor", steps=2, detail="summary")
    starts = [e for e in trace if isinstance(e, StepStart)]
    assert lines(starts[0], trace.steps[0]).startswith("step 1 (epoch 1, sample 1): E = 0.1135  hidden.weight = [")
    assert lines.template is not None and lines.template.count("%.4g") == 9
