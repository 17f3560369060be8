"""multiply, concat, global_avgpool and global_maxpool: numbers, equations, every output, and their errors.

The numbers are checked against small references written here from each kind's definition, with loops over
indices (not the layers' vectorised numpy), and against `bpexplain.check`'s central differences on random
configurations; every equation's substituted numbers must give its value; every format and option runs.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import evaluate

import bpexplain
from bpexplain.check import check_gradients
from bpexplain.cli import cli
from bpexplain.engine import _Run
from bpexplain.expr import symbolic
from bpexplain.layers.base import LayerValues
from bpexplain.options import RunOptions
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import parse_network
from bpexplain.trace import TraceEnd

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def network(layers: list[dict], inputs: Any, data: list[tuple[Any, Any]], **top: Any) -> str:
    """A network file's text (JSON is YAML): the layers, the inputs and (input, target) pairs."""
    doc = {"inputs": inputs, "layers": layers, "data": [{"input": x, "target": t} for x, t in data], **top}
    return json.dumps(doc, indent=1)  # a newline: the API reads it as a file's text, not a name


def values(text: str, sample: int = 0) -> dict[str, LayerValues]:
    """Every layer's values after one forward and backward pass of one sample (exact rule), by layer name."""
    spec = parse_network(text, "test.yaml")
    run = _Run(spec, RunOptions(command="train"))
    vals = run.forward(spec.data[sample].input, 1, sample + 1, True)
    run.backward([vals], [spec.data[sample].target], "exact")
    return {ls.name: v for ls, v in zip(spec.layers, vals)}


def final_parameters(trace: Any) -> dict[str, np.ndarray]:
    """The parameters a run left (its last event)."""
    ends = [ev for ev in trace if isinstance(ev, TraceEnd)]
    assert len(ends) == 1 and ends[0].final_parameters is not None
    return ends[0].final_parameters


def text(expr: Any) -> str:
    return TextPrinter().doprint(expr)


# ---- hand-worked examples --------------------------------------------------------------------------------------------

POOL_INPUT = [[[1, 4], [4, 0]], [[2, 2], [-1, 3]]]


@pytest.mark.parametrize(
    "kind,want,grad",
    [
        ("global_avgpool", [2.25, 1.5], [[[0.25, 0.25], [0.25, 0.25]], [[0.25, 0.25], [0.25, 0.25]]]),
        # channel 1 has two 4s: the first in reading order (row 1, column 2) wins; channel 2's 3 is at (2, 2)
        ("global_maxpool", [4, 3], [[[0, 1], [0, 0]], [[0, 0], [0, 1]]]),
    ],
)
def test_global_pools_by_hand(kind: str, want: list[float], grad: list) -> None:
    # y = G(1) + G(2) and the target one less, so ∂E/∂y = 1 and ∂E/∂G(c) = 1: the map's error is the pool's share
    net = network(
        [
            {"name": "a", "type": "activation", "activation": "identity"},
            {"name": "g", "type": kind},
            {"name": "o", "weight": [[1, 1]]},
        ],
        {"shape": [2, 2, 2]},
        [(POOL_INPUT, [sum(want) - 1])],
    )
    v = values(net)
    assert v["g"].y.tolist() == want
    assert v["g"].d_out.tolist() == [1, 1]  # type: ignore[union-attr]
    assert v["a"].d_out.tolist() == grad  # type: ignore[union-attr]


def test_global_max_pool_says_where_the_maximum_is_and_names_a_tie() -> None:
    net = network(
        [{"name": "g", "type": "global_maxpool"}, {"name": "o", "weight": [[1, 1]]}],
        {"shape": [2, 2, 2]},
        [(POOL_INPUT, [0])],
    )
    eqs = [eq for eq in bpexplain.forward(net).equations if text(eq.symbol).startswith("G1")]
    assert [text(eq.symbol) for eq in eqs] == ["G1(1)", "G1(2)"]
    assert text(symbolic(eqs[0].bound)) == "max(I(1,1,1), I(1,1,2), I(1,2,1), I(1,2,2))"
    assert eqs[0].note == "the maximum is at row 1, column 2; a tie of 2: the first in reading order wins"
    assert eqs[1].note == "the maximum is at row 2, column 2"


def test_global_avg_pool_equation_reads_as_the_mean() -> None:
    net = network(
        [{"name": "g", "type": "global_avgpool"}, {"name": "o", "weight": [[1, 1]]}],
        {"shape": [2, 2, 2]},
        [(POOL_INPUT, [0])],
    )
    eq = next(eq for eq in bpexplain.forward(net).equations if text(eq.symbol) == "G1(2)")
    assert text(symbolic(eq.bound)) == "1/4·(I(2,1,1) + I(2,1,2) + I(2,2,1) + I(2,2,2))"
    assert eq.value == 1.5


MAP = np.array([[[0.3, -1.2, 0.7], [1.1, 0.4, -0.5]], [[-0.8, 0.6, 0.2], [0.9, -0.3, 1.4]]])  # 2×2×3
OUT_W = [0.5, -0.25, 0.75, 1.0, -0.5, 0.3, 0.2, -0.6, 0.4, 0.1, -0.9, 0.35]
TARGET = 0.3
GATES = {
    "elementwise": {"name": "gate", "type": "activation", "activation": "sigmoid", "inputs": ["input"]},
    "channel": {"name": "gate", "type": "global_avgpool", "inputs": ["input"]},
    "spatial": {
        "name": "gate",
        "type": "conv2d",
        "kernel": [[[[0.5]], [[-1.0]]]],
        "activation": "sigmoid",
        "inputs": ["input"],
    },
}


def _gate_by_hand(mode: str) -> np.ndarray:
    """The gate's values from its definition: σ of each element, each channel's mean, σ(0.5·X1 − X2)."""
    c, h, w = MAP.shape
    if mode == "elementwise":
        return np.array([[[1 / (1 + math.exp(-MAP[k, i, j])) for j in range(w)] for i in range(h)] for k in range(c)])
    if mode == "channel":
        return np.array([sum(MAP[k, i, j] for i in range(h) for j in range(w)) / (h * w) for k in range(c)])
    return np.array([[[1 / (1 + math.exp(-(0.5 * MAP[0, i, j] - MAP[1, i, j]))) for j in range(w)] for i in range(h)]])


def _scale(gate: np.ndarray, mode: str, k: int, i: int, j: int) -> float:
    """The element of the gate that multiplies map element (k, i, j)."""
    return float(gate[k, i, j] if mode == "elementwise" else gate[k] if mode == "channel" else gate[0, i, j])


@pytest.mark.parametrize("gate_first", [False, True], ids=["map-first", "gate-first"])
@pytest.mark.parametrize("mode", list(GATES))
def test_multiply_by_hand(mode: str, gate_first: bool) -> None:
    net = network(
        [
            {"name": "a", "type": "activation", "activation": "tanh"},
            GATES[mode],
            {"name": "m", "type": "multiply", "inputs": ["gate", "a"] if gate_first else ["a", "gate"]},
            {"name": "f", "type": "flatten"},
            {"name": "o", "weight": [OUT_W]},
        ],
        {"shape": [2, 2, 3]},
        [(MAP.tolist(), [TARGET])],
    )
    v = values(net)
    c, h, w = MAP.shape
    a = np.array([[[math.tanh(MAP[k, i, j]) for j in range(w)] for i in range(h)] for k in range(c)])
    gate = _gate_by_hand(mode)
    z = np.array([[[a[k, i, j] * _scale(gate, mode, k, i, j) for j in range(w)] for i in range(h)] for k in range(c)])
    y = sum(wt * zz for wt, zz in zip(OUT_W, z.ravel()))
    dz = np.array([wt * (y - TARGET) for wt in OUT_W]).reshape(z.shape)  # mse: ∂E/∂y = y − ŷ
    da = np.array([[[dz[k, i, j] * _scale(gate, mode, k, i, j) for j in range(w)] for i in range(h)] for k in range(c)])
    dgate = np.zeros_like(gate)
    for k in range(c):
        for i in range(h):
            for j in range(w):
                at = (k, i, j) if mode == "elementwise" else (k,) if mode == "channel" else (0, i, j)
                dgate[at] += dz[k, i, j] * a[k, i, j]  # the gate's share: the other factor times δZ
    np.testing.assert_allclose(v["gate"].y, gate, rtol=1e-13)
    np.testing.assert_allclose(v["m"].y, z, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(v["m"].d_out, dz, rtol=1e-12)
    np.testing.assert_allclose(v["a"].d_out, da, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v["gate"].d_out, dgate, rtol=1e-12, atol=1e-15)
    assert v["m"].y.shape == MAP.shape


def test_multiply_equations_name_the_factor_that_scales() -> None:
    net = network(
        [
            {"name": "g", "type": "global_avgpool"},
            {"name": "m", "type": "multiply", "inputs": ["input", "g"]},
            {"name": "f", "type": "flatten"},
            {"name": "o", "weight": [OUT_W]},
        ],
        {"shape": [2, 2, 3]},
        [(MAP.tolist(), [TARGET])],
    )
    t = bpexplain.train(net)
    by_symbol = {(eq.kind, text(eq.symbol)): eq for eq in t.equations}
    fwd = by_symbol[("forward", "Z1(2,1,3)")]
    assert text(symbolic(fwd.bound)) == "I(2,1,3)·G1(2)"
    err = by_symbol[("error", "δG1(1)")]
    assert text(symbolic(err.bound)) == (
        "I(1,1,1)·δZ1(1,1,1) + I(1,1,2)·δZ1(1,1,2) + I(1,1,3)·δZ1(1,1,3) + I(1,2,1)·δZ1(1,2,1) + "
        "I(1,2,2)·δZ1(1,2,2) + I(1,2,3)·δZ1(1,2,3)"
    )


def test_concat_of_maps_and_of_vectors_by_hand() -> None:
    # maps: a 1-channel conv, the input (2 channels) and tanh of the input, stacked in the order of `inputs:`
    net = network(
        [
            {"name": "b", "type": "conv2d", "kernel": [[[[2.0]], [[-1.0]]]]},
            {"name": "a", "type": "activation", "activation": "tanh", "inputs": ["input"]},
            {"name": "cat", "type": "concat", "inputs": ["b", "input", "a"]},
            {"name": "f", "type": "flatten"},
            {"name": "o", "weight": [[0.1 * (k % 7) - 0.3 for k in range(30)]]},
        ],
        {"shape": [2, 2, 3]},
        [(MAP.tolist(), [TARGET])],
    )
    v = values(net)
    b = 2 * MAP[0] - MAP[1]
    want = [b] + [MAP[k] for k in range(2)] + [np.tanh(MAP[k]) for k in range(2)]
    np.testing.assert_allclose(v["cat"].y, np.array(want), rtol=1e-13)
    d = v["cat"].d_out
    assert d is not None and d.shape == (5, 2, 3)
    assert np.array_equal(v["b"].d_out, d[:1])  # type: ignore[arg-type]
    assert np.array_equal(v["a"].d_out, d[3:])  # type: ignore[arg-type]
    # vectors: joined end to end; each branch gets its own slice of δ
    net = network(
        [
            {"name": "h1", "weight": [[1, 2], [3, 4]], "inputs": ["input"]},
            {"name": "h2", "weight": [[1, 0], [0, 1], [1, 1]], "inputs": ["input"]},
            {"name": "cat", "type": "concat", "inputs": ["h2", "h1"]},
            {"name": "o", "weight": [[1, 2, 3, 4, 5]]},
        ],
        2,
        [([1, -1], [0])],
    )
    v = values(net)
    assert v["cat"].y.tolist() == [1, -1, 0, -1, -1]
    # y = 1 − 2 + 0 − 4 − 5 = −10, ∂E/∂y = −10: δ = −10·(1, 2, 3, 4, 5)
    assert v["cat"].d_out.tolist() == [-10, -20, -30, -40, -50]  # type: ignore[union-attr]
    assert v["h2"].d_out.tolist() == [-10, -20, -30]  # type: ignore[union-attr]
    assert v["h1"].d_out.tolist() == [-40, -50]  # type: ignore[union-attr]


def test_concat_equations_name_the_element_each_output_is() -> None:
    net = network(
        [
            {"name": "h1", "weight": [[1, 2], [3, 4]], "inputs": ["input"]},
            {"name": "h2", "weight": [[1, 0], [0, 1], [1, 1]], "inputs": ["input"]},
            {"name": "cat", "type": "concat", "inputs": ["h2", "h1"]},
            {"name": "o", "weight": [[1, 2, 3, 4, 5]]},
        ],
        2,
        [([1, -1], [0])],
    )
    t = bpexplain.train(net)
    forward = {text(eq.symbol): text(symbolic(eq.bound)) for eq in t.equations if eq.kind == "forward"}
    assert forward["C1(1)"] == "y_3" and forward["C1(4)"] == "y_1" and forward["C1(5)"] == "y_2"
    errors = {text(eq.symbol): text(symbolic(eq.bound)) for eq in t.equations if eq.kind == "error"}
    assert errors["δ_1"] == "δC1(4)" and errors["δ_5"] == "δC1(3)"


# ---- every equation, central differences, the lean path --------------------------------------------------------------


def _dense(rng: np.random.Generator, name: str, n_in: int, units: int, activation: str, **extra: Any) -> dict:
    weight = np.round(rng.uniform(-1, 1, (units, n_in)), 3).tolist()
    return {"name": name, "weight": weight, "activation": activation, **extra}


def _conv(rng: np.random.Generator, name: str, c_in: int, c_out: int, k: int, activation: str, **extra: Any) -> dict:
    kernel = np.round(rng.uniform(-1, 1, (c_out, c_in, k, k)), 3).tolist()
    return {"name": name, "type": "conv2d", "kernel": kernel, "activation": activation, **extra}


def _data(rng: np.random.Generator, shape: tuple[int, ...], outputs: int, n: int = 2) -> list:
    return [
        (rng.uniform(-1, 1, shape).round(3).tolist(), rng.uniform(0, 1, outputs).round(3).tolist()) for _ in range(n)
    ]


def random_network(kind: str, seed: int) -> str:
    """A small network around one of the four kinds, its shapes, input order and neighbours drawn by seed."""
    rng = np.random.default_rng([2026, seed, len(kind)])
    c, h = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    if kind == "multiply":
        mode = ("elementwise", "channel", "spatial")[seed % 3]
        feat = _conv(rng, "feat", c, 2, 2, "tanh", padding=1, inputs=["input"])
        side = h + 1
        if mode == "elementwise":
            gate = [_conv(rng, "gate", c, 2, 2, "sigmoid", padding=1, inputs=["input"])]
        elif mode == "channel":
            gate = [{"name": "sq", "type": "global_avgpool", "inputs": ["input"]}, _dense(rng, "gate", c, 2, "sigmoid")]
        else:
            gate = [_conv(rng, "gate", c, 1, 2, "sigmoid", padding=1, inputs=["input"])]
        ins = ["gate", "feat"] if rng.random() < 0.5 else ["feat", "gate"]
        layers = [
            feat,
            *gate,
            {"name": "m", "type": "multiply", "inputs": ins},
            {"name": "flat", "type": "flatten"},
            _dense(rng, "out", 2 * side * side, 2, "sigmoid"),
        ]
    elif kind == "concat":
        if seed % 2:
            n, k = int(rng.integers(2, 4)), int(rng.integers(2, 4))
            units = [int(rng.integers(1, 4)) for _ in range(k)]
            branches = [_dense(rng, f"b{i}", n, u, "tanh", inputs=["input"]) for i, u in enumerate(units)]
            layers = [*branches, {"type": "concat", "name": "cat", "inputs": [f"b{i}" for i in range(k)]}]
            layers.append(_dense(rng, "out", sum(units), 2, "softmax"))
            data = [(x, [0, 1] if k else [1, 0]) for k, (x, _) in enumerate(_data(rng, (n,), 2))]  # one-hot
            return network(layers, n, data, loss="cross_entropy")
        chans = [int(rng.integers(1, 3)) for _ in range(2)]
        branches = [_conv(rng, f"b{i}", c, ch, 3, "tanh", padding=1, inputs=["input"]) for i, ch in enumerate(chans)]
        ins = ["b1", "input", "b0"] if seed % 4 == 0 else ["b1", "b0"]  # 3×3 kernels, padding 1: the input's size
        channels = sum(chans) + (c if "input" in ins else 0)
        layers = [
            *branches,
            {"name": "cat", "type": "concat", "inputs": ins},
            _conv(rng, "mix", channels, 1, 2, "identity"),
            {"name": "flat", "type": "flatten"},
            _dense(rng, "out", (h - 1) * (h - 1), 2, "sigmoid"),
        ]
    else:
        layers = [
            _conv(rng, "feat", c, 3, 2, "tanh", padding=1),
            {"name": "g", "type": kind},
            _dense(rng, "out", 3, 2, "sigmoid"),
        ]
    return network(layers, {"shape": [c, h, h]}, _data(rng, (c, h, h), 2))


KINDS = ["multiply", "concat", "global_avgpool", "global_maxpool"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_agree_with_central_differences(kind: str, seed: int) -> None:
    spec = parse_network(random_network(kind, seed), "random.yaml")
    assert kind in {ls.type for ls in spec.layers}
    result = check_gradients(spec)
    assert len(result.rows) == sum(int(v.size) for v in spec.parameters().values())
    bad = [(r.label, r.backprop, r.numeric) for r in result.rows if not r.ok]
    assert not bad, bad
    for sample in (1, 2):  # each sample alone too
        assert check_gradients(spec, sample=sample).ok


def test_gradients_agree_after_three_steps() -> None:
    """Central differences at the parameters three training steps have left (written back into the file)."""
    for kind in KINDS:
        text_ = random_network(kind, 0)
        end = final_parameters(bpexplain.train(text_, steps=3))
        doc = json.loads(text_)
        for layer in doc["layers"]:
            key = "kernel" if layer.get("type") == "conv2d" else "weight"
            if key in layer:
                trained = np.asarray(end[f"{layer['name']}.weight"])
                assert not np.array_equal(trained, layer[key]), kind  # the steps changed it
                layer[key] = trained.tolist()
        assert check_gradients(parse_network(json.dumps(doc), "trained.yaml")).ok, kind


OPTION_SETS = [
    {},
    {"notation": "textbook"},
    {"rule": "slide"},
    {"update_order": "sequential"},
    {"batch": "full"},
    {"batch": "full", "notation": "textbook"},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("kind", KINDS)
def test_every_substituted_equation_evaluates_to_its_value(kind: str, options: dict) -> None:
    t = bpexplain.train(random_network(kind, 2), steps=2, **options)
    own = {"multiply": "Z1(", "concat": "C1(", "global_avgpool": "G1(", "global_maxpool": "G1("}[kind]
    shown = {(eq.kind, text(eq.symbol)[:3]) for eq in t.equations}
    assert ("forward", own) in shown and ("error", "δ" + own[:2]) in shown  # the kind's own equations are there
    for eq in t.equations:
        got = evaluate(eq.substituted)
        assert got == pytest.approx(eq.value, rel=1e-9, abs=1e-12), text(eq.symbol)


@pytest.mark.parametrize("kind", ["global_avgpool", "global_maxpool"])
def test_the_summary_path_gives_the_same_bits(kind: str) -> None:
    """A chain with a global pool takes the lean summary path; its parameters are the full trace's, bit for bit."""
    net = random_network(kind, 1)
    full = final_parameters(bpexplain.train(net, steps=3))
    lean = final_parameters(bpexplain.train(net, steps=3, detail="summary"))
    assert set(full) == set(lean)
    for name in full:
        assert np.array_equal(full[name], lean[name]), name


# ---- every format and option -----------------------------------------------------------------------------------------

ALL_FOUR = network(
    [
        {
            "name": "gate",
            "type": "conv2d",
            "kernel": [[[[0.5, -0.5], [0.25, 1]], [[1, 0], [0, -1]]]],
            "padding": 1,
            "stride": 2,
            "activation": "sigmoid",
        },
        {
            "name": "feat",
            "type": "conv2d",
            "inputs": ["input"],
            "padding": 1,
            "stride": 2,
            "activation": "tanh",
            "kernel": [[[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[[0.5, 0.5], [0, 0]], [[0, 0], [-1, 1]]]],
        },
        {"name": "scaled", "type": "multiply", "inputs": ["gate", "feat"]},
        {"name": "both", "type": "concat", "inputs": ["scaled", "feat"]},
        {"name": "avg", "type": "global_avgpool"},
        {"name": "max", "type": "global_maxpool", "inputs": ["both"]},
        {"name": "pooled", "type": "concat", "inputs": ["avg", "max"]},
        {"name": "out", "weight": [[0.5, -0.5, 0.25, 1, 0.1, -0.2, 0.3, 0.4]], "activation": "sigmoid"},
    ],
    {"shape": [2, 3, 3]},
    [
        ([[[1, 2, 0], [0, 1, 3], [2, 0, 1]], [[0, 1, 1], [2, 0, 0], [1, 3, 1]]], [1]),
        ([[[0, 1, 0], [1, 0, 1], [0, 2, 0]], [[1, 0, 1], [0, 1, 0], [2, 0, 1]]], [0]),
    ],
    name="all-four",
    title="multiply, concat and both global pools",
    learning_rate=0.5,
)

FORMATS = ["text", "rich", "json", "markdown", "latex", "html", "svg"]
OPTIONS = [
    [],
    ["--detail", "layer"],
    ["--detail", "summary"],
    ["--notation", "textbook"],
    ["--rule", "slide"],
    ["--update-order", "sequential"],
    ["--round", "3"],
    ["--batch", "full"],
    ["--step", "2", "--layer", "both,max", "--only", "forward,error"],
]


@pytest.fixture(scope="module")
def all_four(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("merge") / "all-four.yaml"
    path.write_text(ALL_FOUR, encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    return CliRunner(env=ENV).invoke(cli, list(args))


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: " ".join(o) or "default")
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_option_runs(all_four: Path, fmt: str, options: list[str]) -> None:
    result = invoke("train", str(all_four), "--steps", "2", "--format", fmt, *options)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    if fmt == "text" and not options:
        out = result.stdout
        assert "Z1(1,1,1) = Y1(1,1)·Y2(1,1,1)" in out
        assert "C2(5) = G2(1)" in out
        assert "both feeds avg, max: its error is the sum" in out
    if fmt == "json" and "--detail" not in options and "--step" not in options:
        trace = json.loads(result.stdout)
        layers = {layer["name"]: layer for layer in trace["network"]["layers"]}
        assert layers["scaled"]["inputs"] == ["gate", "feat"] and layers["pooled"]["inputs"] == ["avg", "max"]
        assert layers["both"]["output_shape"] == [4, 2, 2] and layers["max"]["output_shape"] == [4]


def test_forward_show_and_check_run(all_four: Path) -> None:
    for args in (["forward", str(all_four), "--sample", "2"], ["show", str(all_four)], ["check", str(all_four)]):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    out = invoke("show", str(all_four)).stdout
    assert "Zk(c,i,j)" in out and "Ck(c,i,j)" in out and "Gk(c)" in out


# ---- errors ----------------------------------------------------------------------------------------------------------

MAP_INPUT = {"shape": [2, 3, 3]}
MAP_DATA = [([[[1, 2, 0], [0, 1, 3], [2, 0, 1]], [[0, 1, 1], [2, 0, 0], [1, 3, 1]]], [1])]
CONV = {"name": "c", "type": "conv2d", "kernel": [[[[1, 0], [0, 1]], [[0, 1], [1, 0]]]]}  # 2×3×3 -> 1×2×2


@pytest.mark.parametrize(
    "layers,where,message",
    [
        (
            [{"name": "f", "type": "flatten"}, {"name": "m", "type": "multiply", "inputs": ["f", "input"]}],
            r"layers\[1\]\.inputs",
            "a multiply layer's inputs have the shapes 18 and 2×3×3 (expected one shape, a C×H×W map and a vector "
            "of C values, or a C×H×W map and a 1×H×W map)",
        ),
        (
            [CONV, {"name": "m", "type": "multiply", "inputs": ["input", "c"]}],
            r"layers\[1\]\.inputs",
            "a multiply layer's inputs have the shapes 2×3×3 and 1×2×2",
        ),
        (
            [
                {"name": "g", "type": "global_avgpool"},
                {"name": "a", "type": "activation", "activation": "tanh", "inputs": ["input"]},
                {"name": "m", "type": "multiply", "inputs": ["g", "input", "a"]},
            ],
            r"layers\[2\]\.inputs",
            "a multiply layer takes 2 inputs, found 3",
        ),
        ([{"name": "m", "type": "multiply"}], r"layers\[0\]", "a multiply layer needs 2 inputs"),
        ([{"name": "c", "type": "concat", "inputs": ["input"]}], r"layers\[0\]\.inputs", "two or more inputs, found 1"),
        (
            [CONV, {"name": "cat", "type": "concat", "inputs": ["input", "c"]}],
            r"layers\[1\]\.inputs",
            "a concat layer's inputs have the shapes 2×3×3, 1×2×2 (expected maps of the same rows×columns (joined "
            "along channels), or vectors (joined end to end))",
        ),
        (
            [{"name": "f", "type": "flatten"}, {"name": "cat", "type": "concat", "inputs": ["input", "f"]}],
            r"layers\[1\]\.inputs",
            "a concat layer's inputs have the shapes 2×3×3, 18",
        ),
        (
            [{"name": "f", "type": "flatten"}, {"name": "g", "type": "global_maxpool"}],
            r"layers\[1\]\.type",
            "a global_maxpool layer needs a feature map (channels×rows×columns) but gets shape 18",
        ),
        ([{"name": "g", "type": "global_avgpool", "size": 2}], r"layers\[0\]\.size", "unknown key 'size'"),
        (
            [
                {"name": "g", "type": "global_avgpool"},
                {"name": "m", "type": "multiply", "inputs": ["input", "g"], "scale": 2},
            ],
            r"layers\[1\]\.scale",
            "unknown key 'scale'",
        ),
        (
            [CONV, {"name": "cat", "type": "concat", "inputs": ["c", "c2"]}],
            r"layers\[1\]\.inputs\[1\]",
            "'c2' is not an earlier layer",
        ),
    ],
)
def test_errors_are_one_positioned_line(tmp_path: Path, layers: list[dict], where: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(network(layers, MAP_INPUT, MAP_DATA), encoding="utf-8")
    result = invoke("show", str(path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: {where}: ", lines[0]), lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_a_layer_that_reads_two_says_the_shape_of_each() -> None:
    """cbam's `channels` multiplies the 2×3×3 input by `gate`'s 2 values: the network table shows both shapes
    (it showed the first only), and the JSON header has `input_shapes` for such a layer alone."""
    text = invoke("show", "cbam", "--format", "text").stdout
    row = next(line for line in text.splitlines() if line.strip().startswith("channels"))
    assert re.search(r"multiply ← input, gate\s+identity\s+2×3×3, 2\s+2×3×3\s", row), row
    both = next(line for line in text.splitlines() if line.strip().startswith("both "))
    assert re.search(r"identity\s+2, 2\s+2\s", both), both
    trace = json.loads(invoke("forward", "cbam", "--format", "json").stdout)
    layers = {layer["name"]: layer for layer in trace["network"]["layers"]}
    assert layers["channels"]["input_shapes"] == [[2, 3, 3], [2]]
    assert layers["channels"]["input_shape"] == [2, 3, 3]
    assert "input_shapes" not in layers["gate"] and "input_shapes" not in layers["spatial"]
