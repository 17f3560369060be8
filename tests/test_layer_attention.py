"""The self_attention layer: its numbers against a reference written here from the definitions (loops over
indices, never the engine's matrix code), against central differences, its equations against their own numbers,
every format and option on networks that use it, and the errors a user can meet.

The reference: Q(i,c) = Σ_d X(i,d)·W_Q(d,c) (so K, V), S(i,j) = Σ_c Q(i,c)·K(j,c)/√d_k, A(i,j) = exp S(i,j) /
Σ_m exp S(i,m), H(i,c) = Σ_j A(i,j)·V(j,c), Z = H·W_O; its backward goes through the softmax's Jacobian
∂A(i,m)/∂S(i,j) = A(i,m)·([m = j] − A(i,j)), a different form from the engine's A·(δA − Σ A·δA).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from helpers import evaluate

import bpexplain
from bpexplain.check import check_gradients
from bpexplain.cli import cli
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import parse_network

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}

# 3 tokens of 4 features, small integers (the shape of the bundled `attention` network)
SMALL = """\
name: small-attention
inputs: {shape: [3, 4]}
layers:
  - name: attn
    type: self_attention
    wq: [[1, 0], [0, 1], [1, 0], [0, -1]]
    wk: [[0, 1], [1, 0], [-1, 0], [0, 1]]
    wv: [[1, 0], [0, 1], [1, -1], [0, 2]]
loss: mse
learning_rate: 0.1
data:
  - input: [[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]]
    target: [[1, 0], [0, 1], [1, 1]]
"""

# two attention layers, a residual add between them, a dense read-out: the error reaches an attention layer
# from another layer, and a value (the network's input) feeds two layers
BLOCK = """\
name: block
inputs: {shape: [3, 2]}
layers:
  - name: att1
    type: self_attention
    wq: [[0.5, -0.2], [0.1, 0.3]]
    wk: [[0.2, 0.4], [-0.3, 0.1]]
    wv: [[0.3, 0.1], [0.2, -0.4]]
    wo: [[0.6, -0.1], [0.2, 0.5]]
  - {name: res, type: add, inputs: [input, att1]}
  - name: att2
    type: self_attention
    scale: false
    wq: [[0.3], [-0.2]]
    wk: [[0.1], [0.4]]
    wv: [[0.2, 0.1, -0.3], [0.5, -0.2, 0.1]]
  - {name: flat, type: flatten}
  - {name: out, units: 1, activation: sigmoid, weight: [[0.1, -0.2, 0.3, -0.1, 0.2, 0.3, 0.1, -0.3, 0.2]]}
loss: mse
learning_rate: 0.5
data:
  - {input: [[1, 0], [0, 1], [1, 1]], target: [1]}
  - {input: [[0.5, -1], [1, 0], [0, 2]], target: [0]}
"""


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def invoke(*args: str) -> Any:
    return CliRunner(env=ENV).invoke(cli, list(args))


# ---- the reference -----------------------------------------------------------------------------------------------


def ref_forward(x: np.ndarray, p: dict[str, np.ndarray], scale: bool = True) -> dict[str, np.ndarray]:
    t, d = x.shape
    dk, dv = p["wq"].shape[1], p["wv"].shape[1]
    root = math.sqrt(dk) if scale else 1.0

    def project(w: np.ndarray) -> np.ndarray:
        return np.array([[sum(x[i, k] * w[k, c] for k in range(d)) for c in range(w.shape[1])] for i in range(t)])

    q, k, v = project(p["wq"]), project(p["wk"]), project(p["wv"])
    s = np.array([[sum(q[i, c] * k[j, c] for c in range(dk)) / root for j in range(t)] for i in range(t)])
    a = np.array([[math.exp(s[i, j]) / sum(math.exp(s[i, m]) for m in range(t)) for j in range(t)] for i in range(t)])
    h = np.array([[sum(a[i, j] * v[j, c] for j in range(t)) for c in range(dv)] for i in range(t)])
    z = h
    if "wo" in p:
        wo = p["wo"]
        z = np.array([[sum(h[i, c] * wo[c, o] for c in range(dv)) for o in range(wo.shape[1])] for i in range(t)])
    return {"Q": q, "K": k, "V": v, "S": s, "A": a, "H": h, "Z": z}


def ref_backward(x: np.ndarray, p: dict[str, np.ndarray], dz: np.ndarray, scale: bool = True) -> dict[str, np.ndarray]:
    """Every error from δZ by loops, the softmax through its Jacobian."""
    f = ref_forward(x, p, scale)
    t, d = x.shape
    dk, dv = p["wq"].shape[1], p["wv"].shape[1]
    root = math.sqrt(dk) if scale else 1.0
    dh = dz
    if "wo" in p:
        wo = p["wo"]
        dh = np.array([[sum(dz[i, o] * wo[c, o] for o in range(wo.shape[1])) for c in range(dv)] for i in range(t)])
    a = f["A"]
    da = np.array([[sum(dh[i, c] * f["V"][j, c] for c in range(dv)) for j in range(t)] for i in range(t)])
    dvv = np.array([[sum(a[i, j] * dh[i, c] for i in range(t)) for c in range(dv)] for j in range(t)])
    ds = np.array(
        [[sum(da[i, m] * a[i, m] * ((m == j) - a[i, j]) for m in range(t)) for j in range(t)] for i in range(t)]
    )
    dq = np.array([[sum(ds[i, j] * f["K"][j, c] for j in range(t)) / root for c in range(dk)] for i in range(t)])
    dkk = np.array([[sum(ds[i, j] * f["Q"][i, c] for i in range(t)) / root for c in range(dk)] for j in range(t)])
    dx = np.array(
        [
            [
                sum(dq[i, c] * p["wq"][e, c] + dkk[i, c] * p["wk"][e, c] for c in range(dk))
                + sum(dvv[i, c] * p["wv"][e, c] for c in range(dv))
                for e in range(d)
            ]
            for i in range(t)
        ]
    )
    return {"Z": dz, "H": dh, "A": da, "S": ds, "Q": dq, "K": dkk, "V": dvv, "X": dx}


def ref_loss(x: np.ndarray, p: dict[str, np.ndarray], target: np.ndarray, scale: bool) -> float:
    return 0.5 * float(((ref_forward(x, p, scale)["Z"] - target) ** 2).sum())


def central(x: np.ndarray, p: dict[str, np.ndarray], target: np.ndarray, scale: bool, h: float = 1e-6) -> dict:
    """∂E/∂(each parameter) by central differences of the reference's loss."""
    out = {}
    for name, w in p.items():
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus = {k: v.copy() for k, v in p.items()}
            minus = {k: v.copy() for k, v in p.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            g[idx] = (ref_loss(x, plus, target, scale) - ref_loss(x, minus, target, scale)) / (2 * h)
        out[name] = g
    return out


def random_single(seed: int) -> tuple[str, dict[str, Any]]:
    """A network of one self_attention layer with random shapes and numbers, and what it was made of."""
    rng = np.random.default_rng(seed)
    t, d, dk, dv = (int(n) for n in rng.integers(1, 5, size=4))
    t, d = max(t, 2), max(d, 2)
    p = {"wq": rng.normal(0, 0.7, (d, dk)), "wk": rng.normal(0, 0.7, (d, dk)), "wv": rng.normal(0, 0.7, (d, dv))}
    if seed % 2:
        p["wo"] = rng.normal(0, 0.7, (dv, int(rng.integers(1, 4))))
    scale = seed % 3 != 2
    width = p["wo"].shape[1] if "wo" in p else dv
    data = [
        {"input": rng.normal(0, 1, (t, d)).round(3).tolist(), "target": rng.normal(0, 1, (t, width)).round(3).tolist()}
        for _ in range(2)
    ]
    layer = {"name": "attn", "type": "self_attention", "scale": scale, **{k: v.tolist() for k, v in p.items()}}
    doc = {"name": f"random-{seed}", "inputs": {"shape": [t, d]}, "layers": [layer], "loss": "mse"}
    doc.update(learning_rate=0.3, data=data)
    return yaml.safe_dump(doc), {"params": p, "scale": scale, "data": data}


def random_graph(seed: int) -> str:
    """Attention, a residual add, a second attention, flatten and a dense output, random numbers."""
    rng = np.random.default_rng(100 + seed)
    t, d = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    dk, dv = int(rng.integers(1, 3)), int(rng.integers(1, 4))

    def m(rows: int, cols: int) -> list:
        return rng.normal(0, 0.6, (rows, cols)).round(3).tolist()

    layers = [
        {"name": "a1", "type": "self_attention", "wq": m(d, dk), "wk": m(d, dk), "wv": m(d, dv), "wo": m(dv, d)},
        {"name": "res", "type": "add", "inputs": ["a1", "input"]},
        {"name": "a2", "type": "self_attention", "scale": bool(seed % 2), "wq": m(d, 2), "wk": m(d, 2), "wv": m(d, dv)},
        {"name": "flat", "type": "flatten"},
        {"name": "out", "units": 2, "activation": "tanh", "weight": m(2, t * dv)},
    ]
    data = [{"input": m(t, d), "target": rng.uniform(-0.5, 0.5, 2).round(2).tolist()} for _ in range(2)]
    doc = {"name": f"graph-{seed}", "inputs": {"shape": [t, d]}, "layers": layers, "data": data}
    return yaml.safe_dump(doc)


def symbol(eq: Any) -> str:
    return TextPrinter().doprint(eq.symbol)


# ---- hand-worked numbers ------------------------------------------------------------------------------------------


def test_two_tokens_by_hand() -> None:
    """X = I, W_Q = W_K = W_V = I (2×2): Q = K = V = X, S = X·Xᵀ/√2 = diag(1/√2), so each row of A is the softmax of
    (1/√2, 0) in some order: a = 1/(1 + e^(−1/√2)) = 0.66976..., Z = A·V = A, and with target 0, E = a² + (1 − a)²."""
    text = """\
inputs: {shape: [2, 2]}
layers:
  - {name: attn, type: self_attention, wq: [[1, 0], [0, 1]], wk: [[1, 0], [0, 1]], wv: [[1, 0], [0, 1]]}
data:
  - {input: [[1, 0], [0, 1]], target: [[0, 0], [0, 0]]}
"""
    a = 1 / (1 + math.exp(-1 / math.sqrt(2)))
    assert a == pytest.approx(0.669762, abs=1e-6)
    trace = bpexplain.train(parse_network(text, "hand.yaml"), steps=1)
    values = {symbol(eq): eq.value for eq in trace.equations if eq.step == 1}
    assert values["S(1,1)"] == pytest.approx(1 / math.sqrt(2), rel=1e-15)
    assert values["S(1,2)"] == 0
    assert values["A(1,1)"] == pytest.approx(a, rel=1e-14) and values["A(2,2)"] == pytest.approx(a, rel=1e-14)
    assert values["Z(1,2)"] == pytest.approx(1 - a, rel=1e-14)
    assert trace.losses[0] == pytest.approx(a**2 + (1 - a) ** 2, rel=1e-14)
    # going back: δZ = Z (target 0); δA(1,j) = Σ_c δZ(1,c)·V(j,c) = Z(1,j) since V = I
    assert values["δA(1,1)"] == pytest.approx(a, rel=1e-14)
    # δS(1,1) = A(1,1)·(δA(1,1) − Σ_m A(1,m)·δA(1,m)) = a·(a − a² − (1 − a)²)
    assert values["δS(1,1)"] == pytest.approx(a * (a - a * a - (1 - a) ** 2), rel=1e-12)


def test_three_tokens_of_four_features_keep_small_integers() -> None:
    trace = bpexplain.train(parse_network(SMALL, "small.yaml"), steps=1)
    values = {symbol(eq): eq.value for eq in trace.equations if eq.phase == "forward"}
    q = [[values[f"Q({i},{c})"] for c in (1, 2)] for i in (1, 2, 3)]
    k = [[values[f"K({i},{c})"] for c in (1, 2)] for i in (1, 2, 3)]
    v = [[values[f"V({i},{c})"] for c in (1, 2)] for i in (1, 2, 3)]
    assert q == [[2, 0], [0, 1], [1, 1]]  # worked by hand from the file: Q(1,1) = 1·1 + 0·0 + 1·1 + 0·0
    assert k == [[-1, 1], [2, 1], [1, 1]]
    assert v == [[2, -1], [0, 4], [1, 1]]
    # token 2's query (0, 1) meets every key's second feature, 1: equal scores, equal weights
    assert [values[f"A(2,{j})"] for j in (1, 2, 3)] == pytest.approx([1 / 3] * 3, rel=1e-15)
    assert values["S(1,2)"] == pytest.approx(4 / math.sqrt(2), rel=1e-15)
    # a trace to read by hand: each forward equation fits on a line of the text output
    forward = [eq for eq in trace.equations if eq.phase == "forward"]
    assert len(forward) == 3 * 6 + 9 + 9 + 6


# ---- the reference ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_every_value_agrees_with_the_reference(seed: int) -> None:
    """Forward values, every error inside the layer and the gradients of a step, both notations."""
    text, made = random_single(seed)
    spec = parse_network(text, f"random-{seed}.yaml")
    p, scale = made["params"], made["scale"]
    for notation in ("lecture", "textbook"):
        trace = bpexplain.train(spec, steps=1, notation=notation)
        x = np.array(made["data"][0]["input"], dtype=float)
        target = np.array(made["data"][0]["target"], dtype=float)
        f = ref_forward(x, p, scale)
        b = ref_backward(x, p, f["Z"] - target, scale)
        shown = {symbol(eq): (eq.phase, eq.value) for eq in trace.equations}
        checked = 0
        for key, arr in f.items():
            for idx in np.ndindex(arr.shape):
                name = f"{key}({idx[0] + 1},{idx[1] + 1})"
                if key == "H" and "wo" not in p:
                    continue
                assert shown[name][0] == "forward"
                assert shown[name][1] == pytest.approx(arr[idx], rel=1e-12, abs=1e-14), name
                checked += 1
        for key in ("H", "A", "S", "Q", "K", "V", "Z"):
            if key == "H" and "wo" not in p:
                continue
            for idx in np.ndindex(b[key].shape):
                name = f"δ{key}({idx[0] + 1},{idx[1] + 1})"
                assert shown[name] == ("error", pytest.approx(b[key][idx], rel=1e-10, abs=1e-13)), name
                checked += 1
        assert checked > 20
        grads = trace.steps[0].gradients
        assert grads is not None and set(grads) == {f"attn.{k}" for k in p}
        want = central(x, p, target, scale)
        for k in p:
            np.testing.assert_allclose(grads[f"attn.{k}"], want[k], rtol=1e-6, atol=1e-8, err_msg=k)


@pytest.mark.parametrize("seed", range(4))
def test_three_steps_agree_with_central_differences(seed: int) -> None:
    """Each of 3 steps' gradients at that step's weights, and the update w' = w − η·g, by the reference."""
    text, made = random_single(seed + 10)
    trace = bpexplain.train(parse_network(text, "r.yaml"), steps=3)
    p = {k: v.copy() for k, v in made["params"].items()}
    for k, step in enumerate(trace.steps):
        sample = made["data"][k % 2]
        x, target = np.array(sample["input"], dtype=float), np.array(sample["target"], dtype=float)
        want = central(x, p, target, made["scale"])
        assert step.loss == pytest.approx(ref_loss(x, p, target, made["scale"]), rel=1e-12)
        assert step.gradients is not None and step.parameters is not None
        for name in p:
            np.testing.assert_allclose(step.gradients[f"attn.{name}"], want[name], rtol=1e-6, atol=1e-8)
            p[name] = p[name] - 0.3 * step.gradients[f"attn.{name}"]
            np.testing.assert_allclose(step.parameters[f"attn.{name}"], p[name], rtol=1e-15, atol=0)


@pytest.mark.parametrize("seed", range(4))
def test_check_agrees_on_graphs_with_attention(seed: int) -> None:
    """bpexplain check (central differences through the engine's forward) on attention fed by an add layer."""
    spec = parse_network(random_graph(seed), "graph.yaml")
    result = check_gradients(spec)
    assert result.ok, [(r.label, r.backprop, r.numeric) for r in result.failures]
    assert len(result.rows) > 10


def test_the_input_error_agrees_with_the_reference() -> None:
    """The error att2 sends back to the add layer, δX = δQ·W_Qᵀ + δK·W_Kᵀ + δV·W_Vᵀ, in the add layer's block."""
    trace = bpexplain.train(parse_network(BLOCK, "block.yaml"), steps=1)
    values = {(eq.layer, symbol(eq)): eq.value for eq in trace.equations if eq.phase == "error"}
    doc = yaml.safe_load(BLOCK)
    p2 = {k: np.array(doc["layers"][2][k], dtype=float) for k in ("wq", "wk", "wv")}
    x2 = np.array([[values[("att2", f"δQ^(2)({i},1)")]] for i in (1, 2, 3)])  # the errors at Q of att2
    assert x2.shape == (3, 1)
    # rebuild att2's input from the forward and its error from δZ^(2), by the reference
    fw = {(eq.layer, symbol(eq)): eq.value for eq in trace.equations if eq.phase == "forward"}
    x = np.array([[fw[("res", f"S1({i},{j})")] for j in (1, 2)] for i in (1, 2, 3)])
    dz = np.array([[values[("att2", f"δZ^(2)({i},{j})")] for j in (1, 2, 3)] for i in (1, 2, 3)])
    b = ref_backward(x, p2, dz, scale=False)
    for i, j in np.ndindex(3, 2):
        assert values[("res", f"δS1({i + 1},{j + 1})")] == pytest.approx(b["X"][i, j], rel=1e-10)


def test_sequential_sends_the_error_back_through_the_updated_weights() -> None:
    """Without wo nothing before δX depends on a weight: δX = δQ·W_Q'ᵀ + δK·W_K'ᵀ + δV·W_V'ᵀ, primes shown."""
    trace = bpexplain.train(parse_network(BLOCK, "block.yaml"), steps=1, update_order="sequential")
    errors = {(eq.layer, symbol(eq)): eq for eq in trace.equations if eq.phase == "error"}
    updates = {symbol(eq): eq.value for eq in trace.equations if eq.phase == "update" and eq.layer == "att2"}
    eq = errors[("res", "δS1(1,1)")]
    assert "WQ'^(2)(1,1)" in TextPrinter().doprint(eq.expression)
    d = lambda key, i, c: errors[("att2", f"δ{key}^(2)({i},{c})")].value  # noqa: E731
    want = d("Q", 1, 1) * updates["WQ'^(2)(1,1)"] + d("K", 1, 1) * updates["WK'^(2)(1,1)"]
    want += sum(d("V", 1, c) * updates[f"WV'^(2)(1,{c})"] for c in (1, 2, 3))
    assert eq.value == pytest.approx(want, rel=1e-12)


def test_every_equation_is_its_own_numbers() -> None:
    """Each equation's substituted right-hand side evaluates to its value, in every phase and both notations,
    with --batch full and --rule slide."""
    for text in (SMALL, BLOCK):
        spec = parse_network(text, "n.yaml")
        for options in ({}, {"notation": "textbook"}, {"batch": "full"}, {"rule": "slide"}):
            trace = bpexplain.train(spec, steps=2, **options)  # type: ignore[arg-type]
            phases = set()
            for eq in trace.equations:
                got = evaluate(eq.substituted, {"exp": math.exp})
                assert got == pytest.approx(eq.value, rel=1e-9, abs=1e-12), str(eq)
                phases.add(eq.phase)
            assert {"forward", "loss", "error", "gradient", "update"} <= phases


def test_slide_marks_what_departs_inside_the_layer() -> None:
    """--rule slide leaves out the sigmoid's derivative at the output: att2's errors depart from the exact ones,
    each carrying the exact value, which the exact rule's trace has."""
    spec = parse_network(BLOCK, "block.yaml")
    slide = bpexplain.train(spec, steps=1, rule="slide")
    exact = {symbol(eq): eq.value for eq in bpexplain.train(spec, steps=1).equations if eq.phase == "error"}
    marked = [eq for eq in slide.equations if eq.phase == "error" and eq.layer == "att2" and eq.exact is not None]
    assert {symbol(eq)[:3] for eq in marked} >= {"δA^", "δS^", "δQ^", "δK^", "δV^"}
    for eq in marked:
        assert eq.exact == pytest.approx(exact[symbol(eq)], rel=1e-12)


# ---- names -----------------------------------------------------------------------------------------------------


def test_several_attention_layers_carry_their_number_as_a_superscript() -> None:
    """S1 is the add layer's; the attention layers' scores are S^(1) and S^(2): no symbol means two things."""
    trace = bpexplain.train(parse_network(BLOCK, "block.yaml"), steps=1)
    owners: dict[str, set] = {}
    for eq in trace.equations:
        if eq.phase in ("forward", "error"):
            owners.setdefault(symbol(eq), set()).add(eq.layer)
    assert owners["S1(1,1)"] == {"res"} and owners["δS1(1,1)"] == {"res"}
    assert owners["S^(1)(1,1)"] == {"att1"} and owners["S^(2)(1,1)"] == {"att2"}
    assert all(len(layers) == 1 for layers in owners.values())
    single = bpexplain.train(parse_network(SMALL, "small.yaml"), steps=1)
    assert "S(1,2)" in {symbol(eq) for eq in single.equations}


def test_json_names_the_parameters_and_records_the_layer() -> None:
    data = bpexplain.train(parse_network(BLOCK, "block.yaml"), steps=1).to_dict()
    layer = data["network"]["layers"][0]
    assert layer["type"] == "self_attention" and layer["inputs"] == ["input"]
    assert layer["parameters"] == {"wq": [2, 2], "wk": [2, 2], "wv": [2, 2], "wo": [2, 2]}
    assert layer["d_k"] == 2 and layer["scale"] is True and layer["output_shape"] == [1, 3, 2]
    assert data["network"]["layers"][2]["scale"] is False
    assert {"att1.wq", "att1.wo", "att2.wv"} <= set(data["steps"][0]["gradients"])


# ---- the command line: every format and option ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "rich", "markdown", "latex", "json", "html", "svg"])
def test_every_format(fmt: str, tmp_path: Path) -> None:
    path = write(tmp_path, BLOCK)
    result = invoke("train", str(path), "--format", fmt, "--steps", "2")
    assert result.exit_code == 0, result.output
    assert "WQ" in result.output or fmt == "json"
    if fmt == "json":
        assert json.loads(result.stdout)["steps"][1]["loss"] > 0
    if fmt == "latex":
        assert r"{S}^{(2)}(1,1)" in result.output


OPTIONS = [
    ["--detail", "layer"],
    ["--detail", "summary", "--steps", "5"],
    ["--notation", "textbook"],
    ["--rule", "slide"],
    ["--update-order", "sequential"],
    ["--batch", "full"],
    ["--epochs", "2", "--shuffle"],
    ["--steps", "3", "--step", "2", "--layer", "att2,res", "--only", "error,gradient"],
    ["--precision", "6", "--max-terms", "2"],
]


@pytest.mark.parametrize("options", OPTIONS, ids=" ".join)
def test_every_option(options: list[str], tmp_path: Path) -> None:
    path = write(tmp_path, BLOCK)
    result = invoke("train", str(path), *options)
    assert result.exit_code == 0, result.output
    assert "error" not in result.output.splitlines()[-1]


def test_filters_keep_what_was_asked(tmp_path: Path) -> None:
    path = write(tmp_path, BLOCK)
    result = invoke("train", str(path), "--steps", "2", "--step", "2", "--layer", "att2", "--only", "error")
    assert result.exit_code == 0, result.output
    assert "δS^(2)(1,1) =" in result.output and "Step 2" in result.output
    assert not re.search(r"^ +Q\^\(2\)\(1,1\) = ", result.output, re.M)  # no forward equations
    assert re.search(r"^ +δQ\^\(2\)\(1,1\) = ", result.output, re.M)
    assert "Error: att1" not in result.output


def test_forward_show_check_and_layer_detail(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    forward = invoke("forward", str(path))
    assert forward.exit_code == 0 and "A(3,2) = exp(S(3,2))/(exp(S(3,1)) + exp(S(3,2)) + exp(S(3,3)))" in forward.output
    assert "Error:" not in forward.output
    shown = invoke("show", str(path))
    assert shown.exit_code == 0 and "WQ(4,2) = -1" in shown.output
    checked = invoke("check", str(path))
    assert checked.exit_code == 0 and "All 24 gradients agree" in checked.output
    layer = invoke("train", str(path), "--detail", "layer")
    assert layer.exit_code == 0
    for label in ("Q =", "S =", "A =", "δS = ∂E/∂S =", "δV = ∂E/∂V =", "∂E/∂WK ="):
        assert label in layer.output, label


def test_an_answer_sheet_follows_a_students_own_queries(tmp_path: Path) -> None:
    """A student whose Q(1,1) is wrong (3, not 2) and whose S(1,2) follows from it, (3·2 + 0·1)/√2, gets
    follow-through for the score: √d_k is a leaf every reader of the equation can evaluate."""
    net = write(tmp_path, SMALL)
    sheet_path = tmp_path / "sheet.yaml"
    assert invoke("sheet", str(net), "-o", str(sheet_path)).exit_code == 0
    sheet = yaml.safe_load(sheet_path.read_text())
    values = {symbol(eq): eq.value for eq in bpexplain.train(parse_network(SMALL, "s.yaml"), steps=1).equations}
    answers = sheet["steps"][1]
    assert {"Q(1,1)", "S(1,2)", "δS(1,2)", "WQ'(1,1)"} <= set(answers)
    for key in answers:
        answers[key] = round(values[key], 6)
    answers["Q(1,1)"], answers["S(1,2)"] = 3.0, round(6 / math.sqrt(2), 4)
    sheet_path.write_text(yaml.safe_dump(sheet, allow_unicode=True))
    result = invoke("compare", str(net), str(sheet_path))
    assert result.exit_code == 1, result.output
    marks = {
        line.split()[1]: line.split()[0] for line in result.output.splitlines() if line[:4] in ("  ok", "  XX", "  ft")
    }
    assert marks["Q(1,1)"] == "XX" and marks["S(1,2)"] == "ft" and marks["S(1,1)"] == "ok"


def test_exam_variants_draw_new_weights_under_their_own_keys(tmp_path: Path) -> None:
    net = write(tmp_path, SMALL.replace("    wk: [[0, 1], [1, 0], [-1, 0], [0, 1]]\n", "    wk: random\n"))
    out = tmp_path / "variants"
    result = invoke("variants", str(net), "--count", "2", "--seed", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    source = yaml.safe_load(net.read_text())["layers"][0]
    for k in (1, 2):
        layer = yaml.safe_load((out / f"variant-0{k}.yaml").read_text())["layers"][0]
        assert set(layer) == {"name", "type", "wq", "wk", "wv"}
        assert np.shape(layer["wq"]) == (4, 2) and np.shape(layer["wk"]) == (4, 2)  # the random one written out
        assert layer["wq"] != source["wq"] or layer["wv"] != source["wv"]
        assert invoke("check", str(out / f"variant-0{k}.yaml")).exit_code == 0


# ---- errors a user can meet ----------------------------------------------------------------------------------

ATTN = "  - {name: attn, type: self_attention, wq: [[1, 0], [0, 1]], wk: [[1, 0], [0, 1]], wv: [[1, 0], [0, 1]]"
DATA = "data:\n  - {input: [[1, 0], [0, 1]], target: [[0, 0], [0, 0]]}\n"


def one_line_error(tmp_path: Path, text: str, *options: str, code: int = 2) -> str:
    path = write(tmp_path, text)
    result = invoke("train", str(path), *options)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    if code == 2:  # refused before anything is written
        assert result.stdout == ""
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: ", lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "text, says",
    [
        (  # a map of 2 channels is no T×D input
            "inputs: {shape: [2, 2, 2]}\nlayers:\n" + ATTN + "}\n",
            "needs T tokens of D features (T×D) but gets shape 2×2×2",
        ),
        (  # a vector either
            "inputs: 4\nlayers:\n" + ATTN + "}\n",
            "needs T tokens of D features (T×D) but gets shape 4",
        ),
        (  # W_Q with 3 rows for 2 features
            "inputs: {shape: [2, 2]}\nlayers:\n"
            "  - {name: attn, type: self_attention, wq: [[1, 0], [0, 1], [1, 1]], wk: [[1, 0], [0, 1]], "
            "wv: [[1, 0], [0, 1]]}\n",
            "wq",
        ),
        (  # W_K's columns differ from W_Q's
            "inputs: {shape: [2, 2]}\nlayers:\n"
            "  - {name: attn, type: self_attention, wq: [[1, 0], [0, 1]], wk: [[1], [0]], wv: [[1, 0], [0, 1]]}\n",
            "wk",
        ),
        (  # W_O's rows differ from W_V's columns
            "inputs: {shape: [2, 2]}\nlayers:\n" + ATTN + ", wo: [[1, 0, 0]]}\n",
            "wo",
        ),
        ("inputs: {shape: [2, 2]}\nlayers:\n" + ATTN + ", scale: sometimes}\n", "scale"),
        ("inputs: {shape: [2, 2]}\nlayers:\n" + ATTN + ", d_k: 3}\n", "d_k is 3 but wq has 2 column(s)"),
        ("inputs: {shape: [2, 2]}\nlayers:\n" + ATTN + ", activation: relu}\n", "activation"),
        ("inputs: {shape: [2, 2]}\nlayers:\n" + ATTN + ", wieghts: 1}\n", "wieghts"),
        (  # two inputs for a kind of one
            "inputs: {shape: [2, 2]}\nlayers:\n"
            "  - {name: a, type: activation, activation: tanh}\n" + ATTN + ", inputs: [input, a]}\n",
            "takes one input, found 2",
        ),
    ],
)
def test_a_bad_layer_is_one_positioned_line(text: str, says: str, tmp_path: Path) -> None:
    line = one_line_error(tmp_path, text + DATA)
    assert says in line and "layers[" in line


def test_round_is_refused_where_the_layer_is(tmp_path: Path) -> None:
    line = one_line_error(tmp_path, SMALL, "--round", "2")
    assert "net.yaml:4:5: error: layers[0]: --round cannot round the queries, keys, values, scores and weights" in line


def test_sequential_through_wo_is_refused_and_allowed_elsewhere(tmp_path: Path) -> None:
    through = BLOCK.replace("    scale: false\n", "    scale: false\n    wo: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n")
    line = one_line_error(tmp_path, through, "--update-order", "sequential")
    assert "layers[2]: --update-order sequential" in line and "'att2'" in line
    # att1 has wo but reads the network's input: nothing goes back through it, and the run works
    assert invoke("train", str(write(tmp_path, BLOCK, "ok.yaml")), "--update-order", "sequential").exit_code == 0


def test_overflow_is_one_line_and_status_1(tmp_path: Path) -> None:
    text = (
        "inputs: {shape: [2, 2]}\nlayers:\n"
        "  - {name: attn, type: self_attention, wq: [[1e160, 0], [0, 1]], wk: [[1e160, 0], [0, 1]], "
        "wv: [[1, 0], [0, 1]]}\n" + DATA
    )
    for detail in ("full", "summary"):
        line = one_line_error(tmp_path, text, "--detail", detail, code=1)
        assert "forward pass, layer 'attn'" in line and "NaN" in line
