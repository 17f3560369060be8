"""dropout, spatial_attention (CBAM) and the gelu activation, checked apart from the engine.

The references here are written from the definitions, with loops where the engine vectorises: GELU by math.erf,
dropout's mask by its rule, spatial attention by the lecture's true convolution Z(i,j) = Σ P(i − (u − p), j −
(v − p))·K(u,v) (the engine slides a rotated kernel). Then central differences (bpexplain.check) on random
configurations, every equation's numbers evaluated back to its value, every format and option through the
command line, and the mistakes a file can make, each as one positioned line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from helpers import FUNCTIONS, evaluate, spec_from

from bpexplain.check import check_gradients
from bpexplain.engine import run
from bpexplain.errors import BpexplainError
from bpexplain.functions import make_activation
from bpexplain.options import RunOptions
from bpexplain.trace import Block

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def invoke(*args: str) -> Any:
    from bpexplain.cli import cli

    return CliRunner(env=ENV).invoke(cli, list(args))


def write(tmp_path: Path, doc: dict, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def train_json(path: Path, *extra: str) -> dict:
    result = invoke("train", str(path), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- gelu -----------------------------------------------------------------------------------------------------------


def gelu_ref(x: float) -> float:
    return x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def gelu_deriv_ref(x: float) -> float:
    phi = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
    return phi + x * math.exp(-x * x / 2.0) / math.sqrt(2.0 * math.pi)


def test_gelu_by_its_definition_and_by_hand() -> None:
    g = make_activation("gelu")
    xs = np.array([-3.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.5])
    y = g.value(xs)
    np.testing.assert_allclose(y, [gelu_ref(float(x)) for x in xs], rtol=1e-15, atol=1e-300)
    assert g.derivative is not None
    np.testing.assert_allclose(g.derivative(xs, y), [gelu_deriv_ref(float(x)) for x in xs], rtol=1e-14)
    # by hand: GELU(1) = Φ(1) = 0.8413447460685429, GELU(0) = 0, GELU'(0) = Φ(0) = ½
    assert g.value(np.array([1.0]))[0] == pytest.approx(0.8413447460685429, rel=1e-15)
    assert g.value(np.array([0.0]))[0] == 0.0
    assert g.derivative(np.array([0.0]), np.array([0.0]))[0] == 0.5
    # central differences of the value give the derivative
    h = 1e-6
    numeric = (g.value(xs + h) - g.value(xs - h)) / (2 * h)
    np.testing.assert_allclose(g.derivative(xs, y), numeric, rtol=1e-7, atol=1e-9)


def test_gelu_far_out_is_finite_under_the_engines_flags() -> None:
    g = make_activation("gelu")
    x = np.array([-1e200, -50.0, 50.0, 1e200, 1e308])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = g.value(x)
        d = g.derivative(x, y)  # type: ignore[misc]
    np.testing.assert_array_equal(y, [-0.0, -0.0, 50.0, 1e200, 1e308])
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0, 1.0, 1.0])
    # the clipping for x² is invisible: from |x| = 38.6 on the density term is 0 in float64 either way
    near = np.array([38.0, 38.7, 39.9])
    d_near = g.derivative(near, g.value(near))  # type: ignore[misc]
    np.testing.assert_array_equal(d_near, [gelu_deriv_ref(float(v)) for v in near])


GELU_NET = """
inputs: 2
layers:
  - name: h
    activation: gelu
    weight: [[0.3, -0.8], [0.55, 0.21], [-0.47, 0.62]]
    bias: [0.1, -0.2, 0.05]
  - name: out
    activation: gelu
    weight: [[0.31, -0.52, 0.24]]
data:
  - {input: [1, 0.5], target: [0.7]}
  - {input: [-1, 2], target: [-0.1]}
"""


def test_gelu_network_gradients_agree_with_central_differences() -> None:
    result = check_gradients(spec_from(GELU_NET))
    assert result.ok and len(result.rows) == 6 + 3 + 3


# ---- dropout --------------------------------------------------------------------------------------------------------


def keep_rule(seed: int, step: int, sample: int, index: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    return (np.random.default_rng([seed, step, sample, index]).random(shape) >= p).astype(int)


def dropout_net(p: float | None, seed: int = 7, samples: int = 2) -> dict:
    drop: dict[str, Any] = {"name": "drop", "type": "dropout"}
    if p is not None:
        drop["p"] = p
    return {
        "name": "drop",
        "inputs": 3,
        "seed": seed,
        "layers": [
            {
                "name": "h",
                "activation": "tanh",
                "weight": [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [0.1, 0.1, 0.6], [-0.3, 0.2, 0.4], [0.7, -0.1, 0.2]],
            },
            drop,
            {"name": "out", "weight": [[0.3, -0.2, 0.5, 0.1, -0.4]]},
        ],
        "learning_rate": 0.5,
        "data": [{"input": [1, -0.5, 0.25], "target": [0.3]}, {"input": [0.2, 0.4, -1], "target": [-0.2]}][:samples],
    }


def dropout_reference(doc: dict, steps: int) -> list[dict[str, Any]]:
    """Plain SGD on the dense-tanh, dropout, dense network, one sample a step in file order."""
    w1 = np.array(doc["layers"][0]["weight"], dtype=float)
    w2 = np.array(doc["layers"][2]["weight"], dtype=float)
    p = doc["layers"][1].get("p", 0.5)
    out = []
    for step in range(1, steps + 1):
        s = (step - 1) % len(doc["data"])
        x, t = np.array(doc["data"][s]["input"], float), np.array(doc["data"][s]["target"], float)
        h = np.tanh(w1 @ x)
        keep = keep_rule(doc["seed"], step, s + 1, 1, h.shape, p)
        d = h * keep / (1 - p)
        y = w2 @ d
        dy = y - t
        g2 = np.outer(dy, d)
        dd = w2.T @ dy
        dh = dd * keep / (1 - p)
        g1 = np.outer(dh * (1 - h * h), x)
        out.append({"loss": 0.5 * float(dy @ dy), "mask": keep, "drop": d, "g1": g1, "g2": g2})
        w1, w2 = w1 - doc["learning_rate"] * g1, w2 - doc["learning_rate"] * g2
    return out


@pytest.mark.parametrize("p", [None, 0.0, 0.3, 0.8])
def test_dropout_training_follows_the_mask_rule_and_scales_by_one_over_one_minus_p(tmp_path: Path, p: Any) -> None:
    doc = dropout_net(p)
    trace = train_json(write(tmp_path, doc), "--steps", "4")
    want = dropout_reference(doc, 4)
    for got, ref in zip(trace["steps"], want):
        assert got["masks"]["drop"] == [ref["mask"].tolist()]
        assert got["outputs"]["drop"] == pytest.approx(ref["drop"].tolist(), rel=1e-12, abs=1e-15)
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-12)
        np.testing.assert_allclose(got["gradients"]["h.weight"], ref["g1"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got["gradients"]["out.weight"], ref["g2"], rtol=1e-12, atol=1e-15)
    assert trace["network"]["layers"][1]["p"] == (0.5 if p is None else p)
    if p == 0.0:
        assert all(m == 1 for st in trace["steps"] for m in st["masks"]["drop"][0])


def test_dropout_by_hand() -> None:
    """seed 7, step 1, sample 1, layer 1, p = 0.5: the mask below; a kept element is doubled, in the equations."""
    spec = spec_from(yaml.safe_dump(dropout_net(0.5)))
    keep = keep_rule(7, 1, 1, 1, (5,), 0.5)
    events = list(run(spec, RunOptions(command="train", steps=1)))
    block = next(e for e in events if isinstance(e, Block) and e.layer == "drop" and e.phase == "forward")
    h = np.tanh(np.array(dropout_net(0.5)["layers"][0]["weight"]) @ np.array([1, -0.5, 0.25]))
    for i, eq in enumerate(block.equations):
        assert str(eq.symbol) == f"D1({i + 1})"
        assert str(eq.expression) == f"m1({i + 1})·y_{i + 1}/(1 − p)"
        assert eq.value == (2 * h[i] if keep[i] else 0.0)
    # the error goes back through the same mask: δ_n = δD1(n)·m1(n)/(1 − p)
    error = next(e for e in events if isinstance(e, Block) and e.layer == "h" and e.phase == "error")
    deltas = [eq for eq in error.equations if str(eq.symbol).startswith("δ_")]
    assert [str(eq.expression) for eq in deltas] == [f"δD1({n})·m1({n})/(1 − p)" for n in range(1, 6)]


def test_dropout_is_off_in_forward_and_in_the_final_predictions(tmp_path: Path) -> None:
    path = write(tmp_path, dropout_net(0.5))
    result = invoke("forward", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    trace = json.loads(result.stdout)
    assert "masks" not in trace["steps"][0]
    h = np.tanh(np.array(dropout_net(0.5)["layers"][0]["weight"]) @ np.array([1, -0.5, 0.25]))
    assert trace["steps"][0]["outputs"]["drop"] == pytest.approx(h.tolist(), rel=1e-15)
    text = invoke("forward", str(path), "--format", "text").output
    assert "D1(1) = y_1 " in text and "m1(" not in text.split("Forward: drop")[1].split("Forward: out")[0]
    trained = train_json(path, "--steps", "1")
    w1 = np.array(trained["steps"][0]["parameters"]["h.weight"])
    w2 = np.array(trained["steps"][0]["parameters"]["out.weight"])
    y = w2 @ np.tanh(w1 @ np.array([0.2, 0.4, -1]))  # no mask, no scale
    assert trained["predictions"][1]["output"] == pytest.approx(y.tolist(), rel=1e-12)


def test_dropout_with_a_full_batch_draws_one_mask_per_sample(tmp_path: Path) -> None:
    trace = train_json(write(tmp_path, dropout_net(0.4)), "--batch", "full", "--steps", "2")
    for step in trace["steps"]:
        masks = step["masks"]["drop"]
        assert masks == [keep_rule(7, step["index"], n, 1, (5,), 0.4).tolist() for n in (1, 2)]


# ---- spatial attention ----------------------------------------------------------------------------------------------


def sa_reference(x: np.ndarray, kernel: np.ndarray, flip: bool, dy: np.ndarray) -> dict[str, np.ndarray]:
    """Forward and backward by loops: the lecture's true convolution (or cross-correlation), first channel on ties."""
    c, h, w = x.shape
    k = kernel.shape[1]
    p = k // 2
    avg = np.zeros((h, w))
    mx = np.zeros((h, w))
    arg = np.zeros((h, w), dtype=int)
    for i in range(h):
        for j in range(w):
            avg[i, j] = sum(x[ch, i, j] for ch in range(c)) / c
            best = 0
            for ch in range(1, c):
                if x[ch, i, j] > x[best, i, j]:
                    best = ch
            arg[i, j], mx[i, j] = best, x[best, i, j]
    maps = [avg, mx]

    def source(i: int, j: int, u: int, v: int) -> tuple[int, int]:
        return (i - (u - p), j - (v - p)) if flip else (i + u - p, j + v - p)

    z = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for ch in range(2):
                for u in range(k):
                    for v in range(k):
                        r, s = source(i, j, u, v)
                        if 0 <= r < h and 0 <= s < w:
                            z[i, j] += maps[ch][r, s] * kernel[ch, u, v]
    m = 1 / (1 + np.exp(-z))
    y = x * m
    dm = (dy * x).sum(axis=0)
    dz = dm * m * (1 - m)
    dk = np.zeros_like(kernel)
    dmaps = np.zeros((2, h, w))
    for i in range(h):
        for j in range(w):
            for ch in range(2):
                for u in range(k):
                    for v in range(k):
                        r, s = source(i, j, u, v)
                        if 0 <= r < h and 0 <= s < w:
                            dk[ch, u, v] += dz[i, j] * maps[ch][r, s]
                            dmaps[ch, r, s] += dz[i, j] * kernel[ch, u, v]
    dx = dy * m + dmaps[0] / c
    for i in range(h):
        for j in range(w):
            dx[arg[i, j], i, j] += dmaps[1][i, j]
    return {
        "avg": avg,
        "max": mx,
        "z": z,
        "m": m,
        "y": y,
        "dm": dm,
        "dz": dz,
        "dk": dk,
        "dx": dx,
        "d_avg": dmaps[0],
        "d_max": dmaps[1],
    }


X0 = [[[1, 2, 0], [0, 1, 3], [2, 0, 1]], [[0, 1, 1], [2, 0, 0], [1, 3, 1]]]
K0 = [[[0, 0.1, 0], [0.2, 0.5, 0.1], [0, -0.1, 0]], [[0.1, 0, 0], [0, 0.3, -0.2], [0, 0, 0.1]]]


def sa_net(x: Any, kernel: Any, flip: bool | None = None, target_scale: float = 0.5) -> dict:
    """input → identity activation (whose δ is ∂E/∂X) → spatial attention → flatten → dense → 1."""
    sa: dict[str, Any] = {"name": "sa", "type": "spatial_attention", "kernel": kernel}
    if flip is not None:
        sa["flip"] = flip
    x = np.asarray(x, dtype=float)
    n = x.size
    w = [[round(0.1 * ((3 * i) % 7 - 3), 2) for i in range(n)]]
    return {
        "name": "sa",
        "inputs": {"shape": list(x.shape)},
        "layers": [
            {"name": "pre", "type": "activation", "activation": "identity"},
            sa,
            {"name": "flat", "type": "flatten"},
            {"name": "out", "weight": w},
        ],
        "learning_rate": 0.1,
        "data": [{"input": x.tolist(), "target": [target_scale]}],
    }


def _by_symbol(step: dict) -> dict[str, float]:
    return {eq["symbol"]: eq["value"] for eq in step["equations"]}


@pytest.mark.parametrize("flip", [True, False])
def test_spatial_attention_by_loops(tmp_path: Path, flip: bool) -> None:
    doc = sa_net(X0, K0, flip)
    trace = train_json(write(tmp_path, doc))
    step = trace["steps"][0]
    values = _by_symbol(step)
    x, kernel = np.array(X0, float), np.array(K0, float)
    w = np.array(doc["layers"][3]["weight"])
    # the output's error, δSA = w·δ(out) for mse: the reference's backward starts from it
    m_first = sa_reference(x, kernel, flip, np.zeros_like(x))
    y_out = (w @ m_first["y"].ravel()).item()
    dy = (w[0] * (y_out - 0.5)).reshape(x.shape)
    ref = sa_reference(x, kernel, flip, dy)
    np.testing.assert_allclose(step["outputs"]["sa"], ref["y"], rtol=1e-13)
    for i in range(3):
        for j in range(3):
            at = f"({i + 1},{j + 1})"
            assert values[f"Avg1{at}"] == pytest.approx(ref["avg"][i, j], rel=1e-15)
            assert values[f"Max1{at}"] == ref["max"][i, j]
            assert values[f"Zs1{at}"] == pytest.approx(ref["z"][i, j], rel=1e-13, abs=1e-15)
            assert values[f"Ms1{at}"] == pytest.approx(ref["m"][i, j], rel=1e-13)
            assert values[f"δMs1{at}"] == pytest.approx(ref["dm"][i, j], rel=1e-12, abs=1e-15)
            assert values[f"δZs1{at}"] == pytest.approx(ref["dz"][i, j], rel=1e-12, abs=1e-15)
            assert values[f"δAvg1{at}"] == pytest.approx(ref["d_avg"][i, j], rel=1e-12, abs=1e-15)
            assert values[f"δMax1{at}"] == pytest.approx(ref["d_max"][i, j], rel=1e-12, abs=1e-15)
            for ch in range(2):
                assert values[f"δA1({ch + 1},{i + 1},{j + 1})"] == pytest.approx(
                    ref["dx"][ch, i, j], rel=1e-12, abs=1e-15
                )
    np.testing.assert_allclose(step["gradients"]["sa.weight"], ref["dk"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(step["parameters"]["sa.weight"], kernel - 0.1 * ref["dk"], rtol=1e-13)
    assert np.asarray(trace["initial_parameters"]["sa.weight"]).shape == (2, 3, 3)


def test_spatial_attention_by_hand_at_one_position() -> None:
    """Position (1,1) of X0: Avg = (1 + 0)/2 = 0.5, Max = 1; flipped, Zs1(1,1) takes Ks(·,2,2), Ks(·,2,1), Ks(·,1,2)
    and Ks(·,1,1) with Avg/Max at (1,1), (1,2), (2,1), (2,2): 0.5·0.5 + 0.2·1.5 + 0.1·1 + 0·0.5 + 0.3·1 + 0·2 +
    0·2 + 0.1·1 = 1.05, Ms1(1,1) = σ(1.05)."""
    spec = spec_from(yaml.safe_dump(sa_net(X0, K0)))
    events = list(run(spec, RunOptions(command="forward")))
    forward = next(e for e in events if isinstance(e, Block) and e.layer == "sa" and e.phase == "forward")
    eqs = {str(eq.symbol): eq for eq in forward.equations}
    assert eqs["Avg1(1,1)"].value == 0.5 and str(eqs["Avg1(1,1)"].expression) == "(A1(1,1,1) + A1(2,1,1))/2"
    assert eqs["Max1(3,3)"].value == 1 and str(eqs["Max1(3,3)"].expression) == "max(A1(1,3,3), A1(2,3,3))"
    z = eqs["Zs1(1,1)"]
    assert z.value == pytest.approx(1.05, rel=1e-14)
    assert str(z.expression).startswith("Ks1(1,2,2)·Avg1(1,1) + Ks1(1,2,1)·Avg1(1,2)")
    assert eqs["Ms1(1,1)"].value == pytest.approx(1 / (1 + math.exp(-1.05)), rel=1e-15)
    assert str(eqs["SA1(2,1,2)"].expression) == "A1(2,1,2)·Ms1(1,2)"


def test_spatial_attention_ties_send_the_max_error_to_the_first_channel(tmp_path: Path) -> None:
    x = [[[1, 2], [3, 3]], [[1, 0], [3, 5]], [[0, 2], [3, 1]]]  # ties at (1,1), (1,2) and (2,1)
    kernel = [[[0.3]], [[0.7]]]
    doc = sa_net(x, kernel)
    values = _by_symbol(train_json(write(tmp_path, doc))["steps"][0])
    xa = np.array(x, float)
    w = np.array(doc["layers"][3]["weight"])
    first = sa_reference(xa, np.array(kernel, float), True, np.zeros_like(xa))
    dy = (w[0] * ((w @ first["y"].ravel()).item() - 0.5)).reshape(xa.shape)
    ref = sa_reference(xa, np.array(kernel, float), True, dy)
    for ch in range(3):
        for i in range(2):
            for j in range(2):
                got = values[f"δA1({ch + 1},{i + 1},{j + 1})"]
                assert got == pytest.approx(ref["dx"][ch, i, j], rel=1e-12, abs=1e-15)
    # at (1,2) channels 1 and 3 tie at 2: only channel 1 carries δMax1(1,2)
    assert values["δA1(1,1,2)"] - values["δA1(3,1,2)"] == pytest.approx(
        values["δMax1(1,2)"] + (values["δSA1(1,1,2)"] - values["δSA1(3,1,2)"]) * values["Ms1(1,2)"], rel=1e-9
    )


def random_network(seed: int) -> dict:
    """conv2d (tanh) → spatial attention → dropout → flatten → dense (gelu), or a vector network with dropout."""
    rng = np.random.default_rng([12, 5, seed])

    def r(*shape: int, scale: float = 0.5) -> list:
        return np.round(rng.uniform(-scale, scale, size=shape), 2).tolist()

    c, h = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    k = int(rng.choice([1, 3, 5]))
    sa: dict[str, Any] = {"name": "sa", "type": "spatial_attention", "kernel": r(2, k, k, scale=1.0)}
    if seed % 2:
        sa["flip"] = False
    drop = {"name": "drop", "type": "dropout", "p": float(rng.choice([0.0, 0.25, 0.5]))}
    n = c * (h + 1) ** 2
    return {
        "name": f"random{seed}",
        "inputs": {"shape": [1, h, h]},
        "seed": seed,
        "layers": [
            {"name": "conv", "type": "conv2d", "kernel": r(c, 1, 2, 2, scale=1.0), "padding": 1, "activation": "tanh"},
            sa,
            drop,
            {"name": "flat", "type": "flatten"},
            {"name": "out", "activation": "gelu", "weight": r(1, n), "bias": r(1)},
        ],
        "learning_rate": 0.1,
        "data": [{"input": r(1, h, h, scale=2.0), "target": r(1)} for _ in range(2)],
    }


@pytest.mark.parametrize("seed", range(6))
def test_random_configurations_agree_with_central_differences(seed: int) -> None:
    spec = spec_from(yaml.safe_dump(random_network(seed)))
    result = check_gradients(spec)
    assert result.ok, [(r.label, r.backprop, r.numeric) for r in result.failures]
    assert {r.parameter for r in result.rows} == {"conv.weight", "sa.weight", "out.weight", "out.bias"}


@pytest.mark.parametrize("seed", range(3))
def test_random_configurations_three_steps_agree_step_by_step(tmp_path: Path, seed: int) -> None:
    """Three training steps: each step's gradients are central differences of that step's loss (same mask)."""
    doc = random_network(seed)
    trace = train_json(write(tmp_path, doc), "--steps", "3")
    for step in trace["steps"]:
        current = json.loads(json.dumps(doc))
        params = step["parameters"]
        grads = step["gradients"]
        before = {n: np.asarray(params[n]) + 0.1 * np.asarray(grads[n]) for n in params}
        current["layers"][0]["kernel"] = before["conv.weight"].tolist()
        current["layers"][1]["kernel"] = before["sa.weight"].tolist()
        current["layers"][4]["weight"] = before["out.weight"].tolist()
        current["layers"][4]["bias"] = before["out.bias"].tolist()
        spec = spec_from(yaml.safe_dump(current))
        sample = step["sample"]
        from bpexplain.check import _central_difference
        from bpexplain.engine import Gradients

        runner = Gradients(spec)
        forward = runner._run.forward_samples

        def at_step(inputs: Any, _: int, numbers: Any, training: bool, s: int = step["index"], f: Any = forward) -> Any:
            return f(inputs, s, numbers, training)  # this step's masks: the loss the step differentiated

        runner._run.forward_samples = at_step  # type: ignore[method-assign]
        for name, g in grads.items():
            layer, pname = name.split(".")
            g = np.asarray(g)
            for idx in list(np.ndindex(g.shape))[:6]:
                numeric, _ = _central_difference(runner, spec, [sample - 1], layer, pname, idx, 1e-6)
                assert g[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (step["index"], name, idx)


def test_every_equation_evaluates_to_its_value() -> None:
    """The substituted right-hand side of every equation, computed from its own numbers, gives its value."""
    fns = dict(FUNCTIONS, GELU=gelu_ref, **{"GELU'": gelu_deriv_ref})
    for seed in (0, 1):
        spec = spec_from(yaml.safe_dump(random_network(seed)))
        count = 0
        for notation in ("lecture", "textbook"):
            for ev in run(spec, RunOptions(command="train", steps=2, notation=notation)):
                if isinstance(ev, Block) and ev.layer in ("sa", "drop", "conv", "out"):
                    for eq in ev.equations:
                        assert evaluate(eq.substituted, fns) == pytest.approx(eq.value, rel=1e-9, abs=1e-12), str(eq)
                        count += 1
        assert count > 200


# ---- every format and option ----------------------------------------------------------------------------------------

OPTIONS = [
    ["--format", "text"],
    ["--format", "rich"],
    ["--format", "markdown"],
    ["--format", "latex"],
    ["--format", "json"],
    ["--format", "html"],
    ["--format", "svg"],
    ["--detail", "layer"],
    ["--detail", "summary", "--steps", "4"],
    ["--notation", "textbook"],
    ["--rule", "slide"],
    ["--update-order", "sequential"],
    ["--round", "3"],
    ["--batch", "full", "--steps", "2"],
    ["--step", "2", "--steps", "2"],
    ["--layer", "sa"],
    ["--only", "error,gradient"],
    ["--epochs", "2", "--shuffle", "--seed", "3", "--detail", "summary"],
]


@pytest.mark.parametrize("options", OPTIONS, ids=[" ".join(o) for o in OPTIONS])
def test_every_format_and_option_runs(tmp_path: Path, options: list[str]) -> None:
    path = write(tmp_path, random_network(1))
    result = invoke("train", str(path), *options)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if "--detail" not in options and "--only" not in options and options[0] not in ("--format", "--layer"):
        assert "Zs1(1,1)" in out and "D1(1,1" in out
    if options == ["--layer", "sa"]:
        assert "Zs1(1,1)" in out and "Forward: drop" not in out and "\n    D1(1,1" not in out
    if options == ["--format", "json"]:
        assert set(json.loads(out)["steps"][0]["masks"]) == {"drop"}


def test_forward_show_check_and_the_page(tmp_path: Path) -> None:
    path = write(tmp_path, random_network(2))
    for args in (
        ["forward", str(path)],
        ["show", str(path)],
        ["check", str(path)],
        ["forward", str(path), "--format", "html"],
    ):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    assert "spatial_attention" in invoke("show", str(path)).stdout


def test_round_carries_the_rounded_output(tmp_path: Path) -> None:
    trace = train_json(write(tmp_path, sa_net(X0, K0)), "--round", "3")
    for row in trace["steps"][0]["outputs"]["sa"]:
        for line in row:
            for value in line:
                assert value == round(value, 3)


# ---- mistakes in the file -------------------------------------------------------------------------------------------


def error_of(text: str) -> BpexplainError:
    with pytest.raises(BpexplainError) as info:
        spec_from(text)
    return info.value


def _sa_text(layer: str, inputs: str = "{shape: [2, 3, 3]}") -> str:
    data = "[[[1, 2, 0], [0, 1, 3], [2, 0, 1]], [[0, 1, 1], [2, 0, 0], [1, 3, 1]]]"
    return (
        f"inputs: {inputs}\nlayers:\n{layer}  - {{name: flat, type: flatten}}\n  - {{name: out, units: 1}}\n"
        f"data:\n  - {{input: {data}, target: [1]}}\n"
    )


# (the layer's lines, where the error points: the first character of this text on the last layer line, the key path,
# pieces of the message)
MISTAKES = {
    "p is 1": ("  - {name: d, type: dropout, p: 1}\n", "1}", "layers[0].p", ["p = 1", "from 0 up to (not) 1"]),
    "p below 0": ("  - {name: d, type: dropout, p: -0.1}\n", "-0.1", "layers[0].p", ["p = -0.1"]),
    "p is text": ("  - {name: d, type: dropout, p: half}\n", "half", "layers[0].p", ["the text 'half'", "a number"]),
    "dropout's unknown key": ("  - {name: d, type: dropout, rate: 0.5}\n", "rate", "layers[0].rate", ["'rate'"]),
    "dropout reads two": (
        "  - {name: a, type: activation, activation: relu}\n  - {name: d, type: dropout, inputs: [a, input]}\n",
        "[a, input]",
        "layers[1].inputs",
        ["takes one input, found 2"],
    ),
    "even kernel": (
        "  - {name: s, type: spatial_attention, kernel: [[[1, 2], [3, 4]], [[1, 2], [3, 4]]]}\n",
        "[[[",
        "layers[0].kernel",
        ["2×2, of even size", "odd size"],
    ),
    "kernel of three maps": (
        "  - {name: s, type: spatial_attention, kernel: [[[1]], [[2]], [[3]]]}\n",
        "[[[",
        "layers[0].kernel",
        ["shape 3×1×1", "[2][k][k]"],
    ),
    "kernel not square": (
        "  - {name: s, type: spatial_attention, kernel: [[[1, 2, 3]], [[1, 2, 3]]]}\n",
        "[[[",
        "layers[0].kernel",
        ["shape 2×1×3"],
    ),
    "no kernel": ("  - {name: s, type: spatial_attention}\n", "{name", "layers[0]", ["kernel's size is unknown"]),
    "kernel_size disagrees": (
        "  - {name: s, type: spatial_attention, kernel_size: 3, kernel: [[[1]], [[2]]]}\n",
        "3,",
        "layers[0].kernel_size",
        ["kernel_size is 3 but the kernel is 1×1"],
    ),
    "flip is text": (
        "  - {name: s, type: spatial_attention, kernel: [[[1]], [[2]]], flip: maybe}\n",
        "maybe",
        "layers[0].flip",
        ["true or false"],
    ),
    "spatial attention's unknown key": (
        "  - {name: s, type: spatial_attention, kernel: [[[1]], [[2]]], bias: [1]}\n",
        "bias",
        "layers[0].bias",
        ["unknown key 'bias'"],
    ),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_each_mistake_is_one_positioned_line(case: str) -> None:
    layer, needle, path, pieces = MISTAKES[case]
    text = _sa_text(layer)
    lines = text.splitlines()
    row = len(lines[: 2 + layer.count("\n")])  # the last of the layer's lines (1-based)
    column = lines[row - 1].index(needle) + 1
    err = error_of(text)
    assert type(err) is BpexplainError and err.exit_code == 2
    line = err.line()
    assert "\n" not in line
    assert str(err.where) == f"test.yaml:{row}:{column}", line
    assert err.path == path, line
    for piece in pieces:
        assert piece in line, line


def test_spatial_attention_on_a_vector_is_refused() -> None:
    text = (
        "inputs: 4\nlayers:\n  - {name: s, type: spatial_attention, kernel: [[[1]], [[2]]]}\n"
        "data:\n  - {input: [1, 2, 3, 4], target: [1, 1, 1, 1]}\n"
    )
    err = error_of(text)
    assert "needs a feature map" in err.line() and "shape 4" in err.line() and err.path == "layers[0].type"


def test_a_gelu_with_a_slope_is_refused() -> None:
    err = error_of(
        "inputs: 1\nlayers:\n  - {name: o, units: 1, activation: {name: gelu, slope: 0.1}}\ndata:\n  - {input: [1]}\n"
    )
    assert "a slope is given for gelu" in err.line()


def test_the_cli_prints_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_sa_text("  - {name: d, type: dropout, p: 1.5}\n"), encoding="utf-8")
    result = invoke("train", str(path))
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad.yaml:3:33: error: layers[0].p: found p = 1.5" in lines[0], result.output


# ---- numerical trouble ----------------------------------------------------------------------------------------------

OVERFLOWS = {
    "dropout's scale": (
        "inputs: 4\nseed: 2\nlayers:\n  - {name: h, weight: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}\n"
        "  - {name: d, type: dropout}\n  - {name: out, weight: [[1, 1, 1, 1]]}\n"
        "data:\n  - {input: [1e308, 1e308, 1e308, 1e308], target: [1]}\n",
        "5:5: error: layers[1]: step 1, forward pass, layer 'd': D1(1) = m1(1)·y_1/(1 − p) = +∞ (overflow)",
    ),
    "spatial attention's sum": (
        "inputs: {shape: [2, 2, 2]}\nlayers:\n  - {name: s, type: spatial_attention, kernel: [[[1e300]], [[1e300]]]}\n"
        "  - {name: flat, type: flatten}\n  - {name: out, units: 1}\n"
        "data:\n  - {input: [[[1e10, 2], [3, 4]], [[1, 2], [3, 4]]], target: [1]}\n",
        "3:5: error: layers[0]: step 1, forward pass, layer 's': the kernel's sum Zs1(1,1) = +∞ (overflow)",
    ),
    "spatial attention's mean": (
        "inputs: {shape: [2, 1, 2]}\nlayers:\n  - {name: s, type: spatial_attention, kernel: [[[1]], [[1]]]}\n"
        "  - {name: flat, type: flatten}\n  - {name: out, units: 1}\n"
        "data:\n  - {input: [[[1e308, 2]], [[1e308, 2]]], target: [1]}\n",
        "3:5: error: layers[0]: step 1, forward pass, layer 's': the channel mean Avg1(1,1) = +∞ (overflow)",
    ),
}


@pytest.mark.parametrize("case", list(OVERFLOWS))
@pytest.mark.parametrize("detail", ["full", "summary"])
def test_overflow_is_one_line_naming_the_value(tmp_path: Path, case: str, detail: str) -> None:
    text, message = OVERFLOWS[case]
    path = tmp_path / "of.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("train", str(path), "--detail", detail)
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{path}:{message}"), result.stderr


# ---- the other commands ---------------------------------------------------------------------------------------------


def test_save_writes_the_kernel_under_its_own_key_and_continues(tmp_path: Path) -> None:
    path = write(tmp_path, random_network(3))
    saved = tmp_path / "saved.yaml"
    trace = train_json(path, "--steps", "2", "--save", str(saved))
    doc = yaml.safe_load(saved.read_text(encoding="utf-8"))
    sa = next(layer for layer in doc["layers"] if layer["name"] == "sa")
    assert "kernel" in sa and "weight" not in sa
    np.testing.assert_array_equal(sa["kernel"], trace["steps"][-1]["parameters"]["sa.weight"])
    drop = next(layer for layer in doc["layers"] if layer["name"] == "drop")
    assert drop["p"] == random_network(3)["layers"][2]["p"]
    assert invoke("train", str(saved), "--detail", "summary").exit_code == 0


def test_variants_sheet_compare_and_diagram_run(tmp_path: Path) -> None:
    path = write(tmp_path, random_network(4))
    result = invoke("variants", str(path), "--count", "2", "--seed", "5", "-o", str(tmp_path / "v"))
    assert result.exit_code == 0, result.output
    variant = yaml.safe_load((tmp_path / "v" / "variant-01.yaml").read_text(encoding="utf-8"))
    assert (
        np.asarray(variant["layers"][1]["kernel"]).shape == np.asarray(random_network(4)["layers"][1]["kernel"]).shape
    )
    assert invoke("sheet", str(path), "-o", str(tmp_path / "answers.yaml")).exit_code == 0
    assert invoke("compare", str(path), str(tmp_path / "answers.yaml")).exit_code == 0
    assert invoke("diagram", str(path), "-o", str(tmp_path / "net.svg")).exit_code == 0


def test_a_sheet_worked_right_is_all_correct_and_a_slip_is_charged_once(tmp_path: Path) -> None:
    """compare re-evaluates every equation from the student's numbers: σ, max, the masks and the kernel sums."""
    from student import scaled, sheet_text, work

    from bpexplain.answers import parse_sheet, run_for
    from bpexplain.marking import mark

    doc = random_network(0)
    doc["layers"][4]["activation"] = "tanh"  # the simulated student (tests/student.py) knows no GELU
    network = str(write(tmp_path, doc))

    def report(slips: dict | None, carry_rounded: bool = True) -> Any:
        answers, items = work(network, {"steps": 1}, slips, carry_rounded=carry_rounded)
        sheet = parse_sheet(sheet_text(network, {"steps": 1}, answers, items), "answers.yaml")
        events, items = run_for(network, {"steps": 1})
        return mark(sheet, events, {(i.step, i.sample, i.symbol) for i in items})

    right = report(None, carry_rounded=False)
    assert {a.verdict for a in right.answers} == {"correct"}
    assert {"Avg1(1,1)", "Max1(1,1)", "Zs1(1,1)", "Ms1(1,1)", "δZs1(1,1)", "δAvg1(1,1)"} <= {
        a.symbol for a in right.answers
    }
    slipped = report({(1, "Zs1(1,1)"): scaled(1.1)})
    wrong = [a.symbol for a in slipped.answers if a.verdict == "wrong"]
    assert wrong == ["Zs1(1,1)"], wrong


def test_compare_knows_gelu() -> None:
    from bpexplain.evaluate import functions_for

    fns = functions_for()
    for x in (-2.0, -0.3, 0.0, 0.7, 3.0):
        assert fns["GELU"](x) == pytest.approx(gelu_ref(x), rel=1e-15, abs=1e-300)
        assert fns["GELU'"](x) == pytest.approx(gelu_deriv_ref(x), rel=1e-15)


def test_a_random_kernel_by_its_size_and_a_frozen_one(tmp_path: Path) -> None:
    doc = sa_net(X0, "random")
    doc["layers"][1]["kernel_size"] = 3
    doc["seed"] = 9
    trace = train_json(write(tmp_path, doc))
    kernel = np.asarray(trace["initial_parameters"]["sa.weight"])
    assert kernel.shape == (2, 3, 3) and trace["parameter_origins"]["sa.weight"] == "random"
    assert np.all(np.abs(kernel) <= 1 / math.sqrt(18)) and np.all(kernel == np.round(kernel, 2))
    frozen = sa_net(X0, {"value": K0, "trainable": False})
    step = train_json(write(tmp_path, frozen, "frozen.yaml"))["steps"][0]
    np.testing.assert_array_equal(step["parameters"]["sa.weight"], K0)
