"""batchnorm and layernorm: hand-worked values, an independent numpy reference, central differences, every
format and option, and bad input named where it is.

The reference below is written from the definitions (PyTorch's BatchNorm in training mode and LayerNorm: the
biased variance, ε inside the square root) and differentiated only by central differences, so nothing of the
engine's backward pass is reused to check it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import evaluate, spec_from

from bpexplain.api import train
from bpexplain.check import check_gradients
from bpexplain.cli import cli
from bpexplain.errors import BpexplainError
from bpexplain.render.printer import TextPrinter
from bpexplain.spec import NetworkSpec

P = TextPrinter(precision=12)

# ---- a hand-worked batch: two samples, two features ----------------------------------------------------------

# hidden = the input (identity weights); feature 1 is 1 and 3 over the batch, feature 2 is 4 and 2: each has
# μ = mean, σ² = 1, so x̂ = ∓1/√(1 + ε) = ∓a. out = BN(1) − BN(2) with γ = (2, 1), β = (0.5, 0).
HAND_BN = """
name: hand-bn
inputs: 2
layers:
  - {name: hidden, weight: [[1, 0], [0, 1]]}
  - {name: bn, type: batchnorm, gamma: [2, 1], beta: [0.5, 0]}
  - {name: out, weight: [[1, -1]]}
loss: mse
learning_rate: 0.1
data:
  - {input: [1, 4], target: [0]}
  - {input: [3, 2], target: [1]}
"""
EPS = 1e-5
A = 1 / math.sqrt(1 + EPS)  # |x̂| of every value
D = 3 * A - 0.5  # sample 1: y = 0.5 − 3a, δ = −D; sample 2: y = 0.5 + 3a, δ = +D


def by_symbol(trace: Any, sample: int | None = 1) -> dict[str, float]:
    """The value of every equation of step 1 of one sample (None: those of no sample), by its printed symbol."""
    return {P.doprint(e.symbol): e.value for e in trace.equations if e.step == 1 and e.sample == sample}


def test_batchnorm_worked_by_hand() -> None:
    trace = train(spec_from(HAND_BN), batch="full")
    one, two = by_symbol(trace, 1), by_symbol(trace, 2)
    for values in (one, two):  # the batch's statistics, shown in every sample's block
        assert values["μBN1(1)"] == pytest.approx(2) and values["σ²BN1(1)"] == pytest.approx(1)
        assert values["μBN1(2)"] == pytest.approx(3) and values["σ²BN1(2)"] == pytest.approx(1)
    assert one["x̂BN1(1)"] == pytest.approx(-A, abs=1e-12) and two["x̂BN1(1)"] == pytest.approx(A, abs=1e-12)
    assert one["x̂BN1(2)"] == pytest.approx(A, abs=1e-12) and two["x̂BN1(2)"] == pytest.approx(-A, abs=1e-12)
    assert one["BN1(1)"] == pytest.approx(0.5 - 2 * A, abs=1e-12)
    assert one["y_3"] == pytest.approx(0.5 - 3 * A, abs=1e-12)
    assert two["y_3"] == pytest.approx(0.5 + 3 * A, abs=1e-12)
    # back: δBN = (−D, D) in sample 1, δx̂ = γ·δBN; Σ δx̂ = 0 over the batch, so ∂E/∂μ = 0
    assert one["δx̂BN1(1)"] == pytest.approx(-2 * D, abs=1e-12)
    assert one["∂E/∂μBN1(1)"] == pytest.approx(0, abs=1e-12)
    assert one["∂E/∂σ²BN1(1)"] == pytest.approx(-4 * A * D / (2 * (1 + EPS)), abs=1e-12)
    # two samples always normalise to ±1/√(1 + ε): the input's error is only what ε leaves, −2aDε/(1 + ε)
    assert one["δ_1"] == pytest.approx(-2 * A * D * EPS / (1 + EPS), rel=1e-6)
    # ∂E^(s)/∂γ_1 = δBN_1·x̂_1 = a·D in both samples; β_1's cancel
    grads = trace.steps[0].gradients
    assert grads["bn.gamma"][0] == pytest.approx(A * D, abs=1e-12)
    assert grads["bn.beta"][0] == pytest.approx(0, abs=1e-12)
    stats = trace.steps[0].statistics["bn"]
    np.testing.assert_allclose(stats["mean"], [2, 3])
    np.testing.assert_allclose(stats["variance"], [1, 1])


def test_layernorm_worked_by_hand() -> None:
    net = """
inputs: 4
layers:
  - {name: ln, type: layernorm, gamma: [1, 2, 1, 1], beta: [0, 0, 1, 0], eps: 0.001}
  - {name: out, weight: [[1, 1, 1, 1]]}
loss: mse
data:
  - {input: [1, 3, 5, 7], target: [0]}
"""
    values = by_symbol(train(spec_from(net)), None)
    s = math.sqrt(5 + 0.001)  # μ = 4, σ² = (9 + 1 + 1 + 9)/4 = 5
    assert values["μLN1"] == pytest.approx(4) and values["σ²LN1"] == pytest.approx(5)
    assert values["x̂LN1(1)"] == pytest.approx(-3 / s)
    assert values["LN1(2)"] == pytest.approx(2 * -1 / s)
    assert values["LN1(3)"] == pytest.approx(1 / s + 1)
    y = (-3 - 2 + 1 + 3) / s + 1  # Σ γ·x̂ + β
    assert values["y_1"] == pytest.approx(y)
    assert values["δ_1"] == pytest.approx(y)
    assert values["∂E/∂γLN1(2)"] == pytest.approx(y * -1 / s)
    assert values["∂E/∂βLN1(4)"] == pytest.approx(y)
    assert values["δx̂LN1(2)"] == pytest.approx(2 * y)
    assert values["∂E/∂μLN1"] == pytest.approx(-(5 * y) / s)


# ---- an independent reference: numpy from the definitions, differentiated by central differences --------------


def random_network(seed: int, kind: str, maps: bool, samples: int = 3) -> tuple[str, dict[str, Any]]:
    """A small network around a normalisation layer, as YAML, and its numbers for the reference."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: np.round(rng.uniform(-1, 1, shape), 2)  # noqa: E731
    eps = float(rng.choice([1e-5, 1e-3, 0.1]))
    if maps:
        c_in, size, c = int(rng.integers(1, 3)), 4, int(rng.integers(1, 3))
        kernel = r(c, c_in, 2, 2)
        inputs = f"{{shape: [{c_in}, {size}, {size}]}}"
        first = f"{{name: first, type: conv2d, flip: false, kernel: {kernel.tolist()}}}"
        shape = (c, size - 1, size - 1)
        xs = [r(c_in, size, size) for _ in range(samples)]
    else:
        n_in, units = int(rng.integers(2, 4)), int(rng.integers(2, 5))
        kernel = r(units, n_in)
        inputs = str(n_in)
        first = f"{{name: first, weight: {kernel.tolist()}}}"
        shape = (units,)
        xs = [r(n_in) for _ in range(samples)]
    pshape = (shape[0],) if kind == "batchnorm" else shape
    gamma, beta = np.round(rng.uniform(0.5, 2, pshape), 2), r(*pshape)
    out = r(2, int(np.prod(shape)))
    targets = [np.round(rng.uniform(0.1, 0.9, 2), 2) for _ in range(samples)]
    data = "\n".join(f"  - {{input: {x.tolist()}, target: {t.tolist()}}}" for x, t in zip(xs, targets))
    flat = "\n  - {name: flat, type: flatten}" if maps else ""
    text = f"""
name: random-{kind}
inputs: {inputs}
layers:
  - {first}
  - {{name: norm, type: {kind}, gamma: {gamma.tolist()}, beta: {beta.tolist()}, eps: {eps}}}
  - {{name: act, type: activation, activation: tanh}}{flat}
  - {{name: out, weight: {out.tolist()}, activation: sigmoid}}
loss: mse
learning_rate: 0.5
data:
{data}
"""
    numbers = {"kind": kind, "maps": maps, "eps": eps, "xs": xs, "targets": targets}
    params = {"first.weight": kernel, "norm.gamma": gamma, "norm.beta": beta, "out.weight": out}
    return text, {**numbers, "params": params}


def reference_forward(net: dict[str, Any], params: dict[str, np.ndarray], batch: list[int]) -> dict[str, Any]:
    """Every sample of the batch through the network, at once: the norm layer's input, statistics and outputs."""
    hs = []
    for s in batch:
        x = net["xs"][s]
        if net["maps"]:
            k = params["first.weight"]
            c, _, kh, kw = k.shape
            rows, cols = x.shape[1] - kh + 1, x.shape[2] - kw + 1
            h = np.zeros((c, rows, cols))
            for o in range(c):
                for i in range(rows):
                    for j in range(cols):
                        h[o, i, j] = np.sum(x[:, i : i + kh, j : j + kw] * k[o])
        else:
            h = params["first.weight"] @ x
        hs.append(h)
    h = np.stack(hs)
    if net["kind"] == "batchnorm":
        axes = (0, 2, 3) if net["maps"] else (0,)
        keep = (1, -1, 1, 1) if net["maps"] else (1, -1)
        mean = h.mean(axis=axes)
        var = ((h - mean.reshape(keep)) ** 2).mean(axis=axes)
        z = (h - mean.reshape(keep)) / np.sqrt(var.reshape(keep) + net["eps"])
        z = params["norm.gamma"].reshape(keep) * z + params["norm.beta"].reshape(keep)
    else:
        axes = tuple(range(1, h.ndim))
        mean = h.mean(axis=axes, keepdims=True)
        var = ((h - mean) ** 2).mean(axis=axes, keepdims=True)
        z = params["norm.gamma"] * (h - mean) / np.sqrt(var + net["eps"]) + params["norm.beta"]
    a = np.tanh(z).reshape(len(batch), -1)
    y = 1 / (1 + np.exp(-(a @ params["out.weight"].T)))
    losses = [0.5 * np.sum((y[k] - net["targets"][s]) ** 2) for k, s in enumerate(batch)]
    return {"h": h, "mean": mean, "var": var, "z": z, "y": y, "loss": float(np.mean(losses))}


def reference_gradients(net: dict[str, Any], params: dict[str, np.ndarray], batch: list[int]) -> dict:
    grads = {}
    h = 1e-6
    for name, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            g[idx] = (reference_forward(net, plus, batch)["loss"] - reference_forward(net, minus, batch)["loss"]) / (
                2 * h
            )
        grads[name] = g
    return grads


CONFIGS = [(seed, kind, maps) for kind in ("batchnorm", "layernorm") for maps in (False, True) for seed in (1, 2)]


@pytest.mark.parametrize(("seed", "kind", "maps"), CONFIGS)
def test_three_steps_against_the_reference(seed: int, kind: str, maps: bool) -> None:
    """Forward values, statistics, gradients and the parameters after each of 3 steps of batch gradient descent."""
    text, net = random_network(seed, kind, maps)
    trace = train(spec_from(text), steps=3, batch="full")
    params = {k: v.astype(float).copy() for k, v in net["params"].items()}
    batch = list(range(len(net["xs"])))
    for step in trace.steps:
        ref = reference_forward(net, params, batch)
        assert step.loss == pytest.approx(ref["loss"], rel=1e-12)
        np.testing.assert_allclose(step.outputs["out"], ref["y"][-1], rtol=1e-12)
        if kind == "batchnorm":
            np.testing.assert_allclose(step.statistics["norm"]["mean"], ref["mean"], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(step.statistics["norm"]["variance"], ref["var"], rtol=1e-12, atol=1e-14)
        else:
            assert step.statistics is None
        want = reference_gradients(net, params, batch)
        for name, g in want.items():
            got = step.gradients[name].reshape(g.shape)
            np.testing.assert_allclose(got, g, rtol=1e-5, atol=1e-9, err_msg=f"{name}, step {step.index}")
            params[name] = params[name] - 0.5 * got  # the engine's own step, checked above
        for name, value in params.items():
            np.testing.assert_allclose(step.parameters[name].reshape(value.shape), value, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", [3, 4])
def test_layernorm_one_sample_a_step_against_the_reference(seed: int) -> None:
    text, net = random_network(seed, "layernorm", maps=bool(seed % 2))
    trace = train(spec_from(text), steps=2)
    params = {k: v.astype(float).copy() for k, v in net["params"].items()}
    for step, sample in zip(trace.steps, (0, 1)):
        want = reference_gradients(net, params, [sample])
        for name, g in want.items():
            np.testing.assert_allclose(step.gradients[name].reshape(g.shape), g, rtol=1e-5, atol=1e-9)
            params[name] = params[name] - 0.5 * step.gradients[name].reshape(g.shape)


@pytest.mark.parametrize(
    ("seed", "kind", "maps"), [(s, k, m) for s, k, m in CONFIGS if s == 1] + [(5, "batchnorm", True)]
)
def test_bpexplain_check_agrees(seed: int, kind: str, maps: bool) -> None:
    text, _ = random_network(seed, kind, maps, samples=4)
    result = check_gradients(spec_from(text))
    assert result.ok and not result.kinks, [r.label for r in result.failures]
    assert {r.parameter for r in result.rows} >= {"norm.gamma", "norm.beta", "first.weight"}


# ---- the equations: each shows numbers the engine computed, and they give its value ---------------------------


def networks() -> dict[str, str]:
    return {
        "bn vector": random_network(1, "batchnorm", False)[0],
        "bn map": random_network(2, "batchnorm", True, samples=2)[0],
        "ln vector": random_network(1, "layernorm", False)[0],
        "ln map": random_network(2, "layernorm", True, samples=2)[0],
    }


@pytest.mark.parametrize("name", list(networks()))
@pytest.mark.parametrize("options", [{}, {"notation": "textbook"}, {"rule": "slide"}])
def test_every_equation_evaluates_to_its_value(name: str, options: dict) -> None:
    trace = train(spec_from(networks()[name]), batch="full", **options)
    kinds = set()
    for eq in trace.equations:
        assert evaluate(eq.substituted) == pytest.approx(eq.value, rel=1e-9, abs=1e-12), str(eq)
        kinds.add(re.sub(r"\^\(\d+\)", "", P.doprint(eq.symbol)).split("(")[0].rstrip("0123456789"))
    assert {"μBN", "σ²BN", "x̂BN", "δx̂BN", "∂E/∂σ²BN", "∂E/∂μBN"} <= kinds or name.startswith("ln")
    assert {"μLN", "σ²LN", "x̂LN", "δx̂LN", "∂E/∂σ²LN", "∂E/∂μLN"} <= kinds or name.startswith("bn")


def test_the_input_error_shows_the_batch_terms() -> None:
    trace = train(spec_from(HAND_BN), batch="full")
    eq = next(e for e in trace.equations if e.sample == 1 and P.doprint(e.symbol) == "δ_1")
    text = P.doprint(eq.bound)
    assert text == "δx̂BN1(1)/(σ²BN1(1) + ε)^(½) + ∂E/∂σ²BN1(1)·2·(y_1 − μBN1(1))/2 + ∂E/∂μBN1(1)/2"
    dvar = next(e for e in trace.equations if e.sample == 1 and P.doprint(e.symbol) == "∂E/∂σ²BN1(1)")
    assert "δx̂BN1^(2)(1)·x̂BN1^(2)(1)" in P.doprint(dvar.bound)  # every sample's share


def test_sequential_order_propagates_through_the_updated_gamma() -> None:
    text, _ = random_network(1, "layernorm", False)
    trace = train(spec_from(text), update_order="sequential")
    eq = next(e for e in trace.equations if P.doprint(e.symbol) == "δx̂LN1(1)")
    assert P.doprint(eq.bound).startswith("γLN1'(1)·")
    assert evaluate(eq.substituted) == pytest.approx(eq.value)


# ---- the file: defaults, keys and mistakes --------------------------------------------------------------------


def test_gamma_and_beta_default_to_one_and_zero_and_are_in_the_json() -> None:
    net = HAND_BN.replace(", gamma: [2, 1], beta: [0.5, 0]", ", beta: {trainable: false}")
    spec = spec_from(net)
    bn = spec.layers[1]
    assert bn.params["gamma"].value.tolist() == [1, 1] and bn.params["gamma"].origin == "default"
    assert bn.params["beta"].value.tolist() == [0, 0] and not bn.params["beta"].trainable
    doc = train(spec, batch="full").to_dict()
    final = doc["steps"][0]["parameters"]
    assert final["bn.beta"] == [0, 0] and final["bn.gamma"] != [1, 1]
    assert doc["steps"][0]["statistics"]["bn"] == {"mean": [2.0, 3.0], "variance": [1.0, 1.0]}


def test_a_one_channel_map_takes_gamma_as_a_matrix() -> None:
    net = """
inputs: {shape: [2, 2]}
layers:
  - {name: ln, type: layernorm, gamma: [[1, 2], [3, 4]]}
  - {name: flat, type: flatten}
  - {name: out, weight: [[1, 1, 1, 1]]}
data:
  - {input: [[1, 2], [3, 4]], target: [0]}
"""
    spec = spec_from(net)
    assert spec.layers[0].params["gamma"].value.shape == (1, 2, 2)


def error_of(text: str) -> BpexplainError:
    with pytest.raises(BpexplainError) as info:
        spec_from(text)
    return info.value


BAD = {
    "gamma of the wrong length": ("gamma: [2, 1]", "gamma: [2, 1, 3]", "layers[1].gamma: found shape 3"),
    "a misspelt key": ("gamma: [2, 1]", "gama: [2, 1]", "unknown key 'gama'; did you mean 'gamma'?"),
    "eps of zero": ("gamma: [2, 1]", "eps: 0", "layers[1].eps: found 0 (expected a number greater than 0)"),
    "an activation": ("gamma: [2, 1]", "activation: relu", "a batchnorm layer has no activation of its own"),
    "two inputs": ("gamma: [2, 1]", "inputs: [hidden, input]", "a batchnorm layer takes one input, found 2"),
    "a layernorm gamma of a batchnorm's shape": (
        "type: batchnorm, gamma: [2, 1]",
        "type: layernorm, gamma: [[2, 1]]",
        "layers[1].gamma: found shape 1×2",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_mistake_is_named_where_it_is(case: str) -> None:
    old, new, message = BAD[case]
    assert old in HAND_BN
    err = error_of(HAND_BN.replace(old, new))
    line = err.report()
    assert "\n" not in line and line.startswith("test.yaml:6:") and message in line, line
    assert err.exit_code == 2


def run_cli(*args: str, network: str, tmp_path: Any) -> Any:
    path = tmp_path / "net.yaml"
    path.write_text(network, encoding="utf-8")
    return CliRunner().invoke(cli, [args[0], str(path), *args[1:]])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("train",),
            "layer 'bn' (batchnorm) normalises over the batch, so a step needs every sample (expected --batch full)",
        ),
        (
            ("train", "--batch", "full", "--update-order", "sequential"),
            "--update-order sequential has no meaning",
        ),
    ],
)
def test_training_needs_the_whole_batch(args: tuple[str, ...], message: str, tmp_path: Any) -> None:
    result = run_cli(*args, network=HAND_BN, tmp_path=tmp_path)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "net.yaml:6:5: error:" in result.stderr


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
def test_round_is_refused(kind: str, tmp_path: Any) -> None:
    """--round would show μ, σ², x̂ unrounded beside rounded outputs: refused in one line, at the layer."""
    text, _ = random_network(1, kind, maps=False)
    result = run_cli("train", "--batch", "full", "--round", "3", network=text, tmp_path=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "net.yaml:6:5: error: layers[1]: --round cannot round the μ, σ², x̂" in result.stderr
    assert f"layer 'norm' ({kind})" in result.stderr


@pytest.mark.parametrize("command", ["train", "forward"])
def test_a_batch_of_one_is_refused(command: str, tmp_path: Any) -> None:
    one = HAND_BN.split("  - {input: [3, 2]")[0]
    result = run_cli(command, "--batch", "full", network=one, tmp_path=tmp_path) if command == "train" else None
    result = result or run_cli(command, network=one, tmp_path=tmp_path)
    assert result.exit_code == 2
    assert "normalises over the batch, but the data has 1 sample (expected two or more samples in 'data')" in (
        result.stderr
    )


# ---- every format and option runs -----------------------------------------------------------------------------

FORMATS = ["text", "rich", "json", "markdown", "latex", "html", "svg"]
OPTIONS = [
    ["--detail", "layer"],
    ["--detail", "summary"],
    ["--notation", "textbook"],
    ["--rule", "slide"],
    ["--steps", "2", "--step", "2"],
    ["--layer", "norm"],
    ["--only", "error,gradient"],
    ["--epochs", "2", "--shuffle"],
]


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format(kind: str, fmt: str, tmp_path: Any) -> None:
    text, _ = random_network(1, kind, maps=True, samples=2)
    result = run_cli("train", "--batch", "full", "--format", fmt, network=text, tmp_path=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()
    if fmt == "json":
        doc = json.loads(result.stdout)
        assert {"norm.gamma", "norm.beta"} <= set(doc["steps"][0]["parameters"])
        assert ("statistics" in doc["steps"][0]) == (kind == "batchnorm")
    if fmt == "text":  # 2 samples of 3×3 maps: batchnorm's μ is over 18 values, layernorm's over one sample's
        mean = r"μBN1\(1\) += 1/18·\(" if kind == "batchnorm" else r"μLN1 += 1/(9|18)·\("
        assert re.search(mean, result.stdout)


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("options", OPTIONS, ids=" ".join)
def test_every_option(kind: str, options: list[str], tmp_path: Any) -> None:
    text, _ = random_network(2, kind, maps=False)
    result = run_cli("train", "--batch", "full", "--format", "text", *options, network=text, tmp_path=tmp_path)
    assert result.exit_code == 0, result.stderr
    if "--layer" in options:
        assert "Forward: norm" in result.stdout and "Forward: out" not in result.stdout


def test_layernorm_options_of_one_sample_a_step(tmp_path: Any) -> None:
    text, _ = random_network(2, "layernorm", maps=True)
    for options in (["--update-order", "sequential"], ["--update-order", "sequential", "--notation", "textbook"], []):
        result = run_cli("train", "--format", "text", *options, network=text, tmp_path=tmp_path)
        assert result.exit_code == 0, result.stderr
        assert re.search(r"δx̂LN1\(1,1(,1)?\) += γLN1'?\(1,1(,1)?\)·", result.stdout)


@pytest.mark.parametrize(
    "command", [["show"], ["check"], ["forward", "--sample", "2"], ["forward", "--format", "json"]]
)
def test_other_commands(command: list[str], tmp_path: Any) -> None:
    for kind in ("batchnorm", "layernorm"):
        text, _ = random_network(3, kind, maps=False)
        result = run_cli(*command, network=text, tmp_path=tmp_path)
        assert result.exit_code == 0, result.stderr
        assert "norm" in result.stdout


def test_forward_normalises_over_every_sample() -> None:
    """`forward` shows the sample asked for, normalised with the statistics of every sample of the data."""
    from bpexplain.api import forward

    spec: NetworkSpec = spec_from(HAND_BN)
    values = by_symbol(forward(spec, sample=2), None)
    assert values["μBN1(1)"] == pytest.approx(2) and values["x̂BN1(1)"] == pytest.approx(A)
