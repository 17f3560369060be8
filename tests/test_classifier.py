"""The classifier's softmax and cross-entropy, and binary cross-entropy, worked out by hand in plain Python."""

from __future__ import annotations

import math

import pytest
from helpers import spec_from

import bpexplain

W1 = [[0.2, -0.1], [0.4, 0.3], [-0.5, 0.2]]
B1 = [0.1, 0.0, -0.1]
W2 = [[0.3, -0.2, 0.1], [-0.4, 0.5, 0.2], [0.1, 0.1, -0.3]]
X = [1.0, 0.5]
T = [1, 0, 0]


def by_hand() -> dict:
    h = [math.tanh(sum(w * x for w, x in zip(row, X)) + b) for row, b in zip(W1, B1)]
    e = [sum(w * y for w, y in zip(row, h)) for row in W2]
    z = [math.exp(v) for v in e]
    y = [v / sum(z) for v in z]
    loss = -sum(t * math.log(p) for t, p in zip(T, y))
    d_e = [p - t for p, t in zip(y, T)]  # softmax with cross-entropy
    grad_w2 = [[d * hm for hm in h] for d in d_e]
    d_h = [sum(W2[n][m] * d_e[n] for n in range(3)) * (1 - h[m] ** 2) for m in range(3)]
    grad_w1 = [[d * x for x in X] for d in d_h]
    return {"y": y, "loss": loss, "grad_w2": grad_w2, "grad_w1": grad_w1, "grad_b1": d_h}


def test_classifier_step_matches_the_hand_computation() -> None:
    want = by_hand()
    t = bpexplain.train("classifier", steps=1)
    step = t.steps[0]
    assert step.outputs["output"].tolist() == pytest.approx(want["y"], rel=1e-12)
    assert step.loss == pytest.approx(want["loss"], rel=1e-12)
    assert step.gradients is not None
    assert step.gradients["output.weight"].ravel().tolist() == pytest.approx(sum(want["grad_w2"], []), rel=1e-12)
    assert step.gradients["hidden.weight"].ravel().tolist() == pytest.approx(sum(want["grad_w1"], []), rel=1e-12)
    assert step.gradients["hidden.bias"].tolist() == pytest.approx(want["grad_b1"], rel=1e-12)


def test_binary_cross_entropy_with_sigmoid_by_hand() -> None:
    spec = spec_from("""
inputs: 2
layers:
  - {name: out, activation: sigmoid, weight: [[0.5, -0.3]], bias: [0.1]}
loss: binary_cross_entropy
learning_rate: 1
data: [{input: [2, 1], target: [1]}]
""")
    e = 0.5 * 2 - 0.3 * 1 + 0.1
    y = 1 / (1 + math.exp(-e))
    t = bpexplain.train(spec, steps=1)
    assert t.steps[0].loss == pytest.approx(-math.log(y), rel=1e-12)
    grads = t.steps[0].gradients
    assert grads is not None
    assert grads["out.weight"].ravel().tolist() == pytest.approx([(y - 1) * 2, (y - 1) * 1], rel=1e-12)
    text = t.render("text")
    assert "∂E/∂e_1 = y_1 − ŷ" in text  # the combined derivative is shown as such
