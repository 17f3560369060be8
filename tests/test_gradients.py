"""Every gradient the engine reports equals a central finite-difference estimate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import assert_gradients_match, engine_gradients, finite_differences, spec_from

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu")
OUTPUTS = {  # loss -> output activations it can take
    "mse": ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "gelu", "softmax"),
    "cross_entropy": ("softmax", "sigmoid"),
    "binary_cross_entropy": ("sigmoid",),
}
COMBOS = [(h, o, loss) for loss, outs in OUTPUTS.items() for o in outs for h in HIDDEN]


def network(hidden: str, output: str, loss: str, bias: bool, frozen: bool = False) -> str:
    out_units = 3 if output == "softmax" or loss == "cross_entropy" else 2
    target = (
        {3: "[0, 1, 0]", 2: "[1, 0]"}[out_units]
        if loss != "mse"
        else {3: "[0.2, 0.7, 0.1]", 2: "[0.9, 0.2]"}[out_units]
    )
    w2 = [[0.31, -0.52, 0.24], [-0.41, 0.27, 0.58], [0.15, 0.44, -0.36]][:out_units]
    bias1 = "bias: [0.1, -0.23, 0.05]" if bias else ""
    bias2 = f"bias: {{value: {[0.07, -0.11, 0.2][:out_units]}, trainable: {str(not frozen).lower()}}}" if bias else ""
    activation = "{name: leaky_relu, slope: 0.1}" if hidden == "leaky_relu" else hidden
    out_act = "{name: leaky_relu, slope: 0.1}" if output == "leaky_relu" else output
    return f"""
inputs: 2
layers:
  - name: h
    activation: {activation}
    weight: [[0.3, -0.8], [0.55, 0.21], [-0.47, 0.62]]
    {bias1}
  - name: out
    activation: {out_act}
    weight: {w2}
    {bias2}
loss: {loss}
learning_rate: 0.3
data:
  - input: [0.7, -0.4]
    target: {target}
  - input: [-0.35, 0.9]
    target: {target}
"""


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("hidden,output,loss", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_gradients_equal_finite_differences(hidden: str, output: str, loss: str, bias: bool) -> None:
    spec = spec_from(network(hidden, output, loss, bias))
    assert_gradients_match(spec)


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
def test_notation_does_not_change_gradients(notation: str) -> None:
    spec = spec_from(network("tanh", "sigmoid", "mse", bias=True, frozen=True))
    assert_gradients_match(spec, notation=notation)


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
def test_sequential_order_matches_the_true_gradient_only_at_the_output(notation: str) -> None:
    spec = spec_from(network("tanh", "sigmoid", "mse", bias=True))
    got = engine_gradients(spec, notation=notation, update_order="sequential")
    want = finite_differences(spec)
    np.testing.assert_allclose(got["out.weight"], want["out.weight"], rtol=1e-6)
    # the hidden layer's error went back through the already-updated output weights
    assert not np.allclose(got["h.weight"], want["h.weight"], rtol=1e-3)


def test_frozen_parameters_report_gradients_but_keep_their_values() -> None:
    from bpexplain.api import train

    spec = spec_from(network("sigmoid", "sigmoid", "mse", bias=True, frozen=True))
    t = train(spec, steps=2)
    step = t.steps[-1]
    assert step.gradients is not None and np.any(step.gradients["out.bias"] != 0)
    assert step.parameters is not None
    np.testing.assert_array_equal(step.parameters["out.bias"], spec.layers[1].params["bias"].value)
    assert not np.array_equal(step.parameters["out.weight"], spec.layers[1].params["weight"].value)
    assert t.header.network["frozen"] == ["out.bias"]


def test_three_hidden_layers() -> None:
    spec = spec_from("""
inputs: 3
layers:
  - {activation: tanh, weight: [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]], bias: [0.1, 0.2]}
  - {activation: sigmoid, weight: [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]]}
  - {activation: relu, weight: [[0.5, 0.6, 0.7], [-0.1, 0.8, 0.2]], bias: [0.3, 0.1]}
  - {activation: softmax, weight: [[0.2, -0.4], [0.3, 0.5]]}
loss: cross_entropy
data:
  - {input: [0.5, -0.2, 0.9], target: [0, 1]}
""")
    assert_gradients_match(spec)


def test_slide_rule_departs_exactly_where_a_non_unit_derivative_is_left_out() -> None:
    # Hidden identity/relu(positive) layers have dh/de = 1: the slide's shortcut is exact through them.
    def grads(act2: str, rule: str) -> dict[str, np.ndarray]:
        spec = spec_from(f"""
inputs: 2
layers:
  - {{name: a, activation: sigmoid, weight: [[0.3, 0.5], [0.2, 0.4]]}}
  - {{name: b, activation: {act2}, weight: [[0.6, 0.7], [0.1, 0.9]]}}
  - {{name: c, activation: identity, weight: [[0.8, 0.5]]}}
loss: mse
data: [{{input: [0.5, 0.8], target: [2.0]}}]
""")
        return engine_gradients(spec, rule=rule)

    # Output identity: propagating into b is exact; b is identity too: into a is exact as well.
    exact, slide = grads("identity", "exact"), grads("identity", "slide")
    for name in exact:
        np.testing.assert_allclose(slide[name], exact[name], rtol=1e-12)
    # b sigmoid: the output layer's gradients stay exact, b's too (its δ comes through the identity
    # output), but a's depart, because the slide leaves out b's dh/de.
    exact, slide = grads("sigmoid", "exact"), grads("sigmoid", "slide")
    np.testing.assert_allclose(slide["c.weight"], exact["c.weight"], rtol=1e-12)
    np.testing.assert_allclose(slide["b.weight"], exact["b.weight"], rtol=1e-12)
    assert not np.allclose(slide["a.weight"], exact["a.weight"], rtol=1e-3)
    # and the slide's value is the exact one with b's derivative left out
    spec_fd = finite_differences(
        spec_from("""
inputs: 2
layers:
  - {name: a, activation: sigmoid, weight: [[0.3, 0.5], [0.2, 0.4]]}
  - {name: b, activation: sigmoid, weight: [[0.6, 0.7], [0.1, 0.9]]}
  - {name: c, activation: identity, weight: [[0.8, 0.5]]}
loss: mse
data: [{input: [0.5, 0.8], target: [2.0]}]
""")
    )
    np.testing.assert_allclose(exact["a.weight"], spec_fd["a.weight"], rtol=1e-6)


def test_batch_full_averages_the_samples_gradients() -> None:
    from bpexplain.api import train

    spec = spec_from(network("tanh", "softmax", "cross_entropy", bias=True))
    t = train(spec, steps=1, batch="full")
    per_sample = [finite_differences(spec, s) for s in range(len(spec.data))]
    got = t.steps[0].gradients
    assert got is not None
    for name in got:
        np.testing.assert_allclose(got[name], sum(g[name] for g in per_sample) / len(per_sample), rtol=1e-6, atol=1e-9)
    lr = spec.learning_rate
    params = t.steps[0].parameters
    assert params is not None
    for name, before in spec.parameters().items():
        np.testing.assert_allclose(params[name], before - lr * got[name], rtol=1e-12)


def test_combinations_cover_every_activation_and_loss() -> None:
    from bpexplain.functions import ACTIVATION_NAMES, LOSSES

    assert {h for h, _, _ in COMBOS} | {o for _, o, _ in COMBOS} == set(ACTIVATION_NAMES)
    assert {loss for _, _, loss in COMBOS} == set(LOSSES)
    assert len(list(itertools.product([0, 1], COMBOS))) == 2 * len(COMBOS)
