"""The lecture network's values, worked out independently of the engine, match the trace.

The computation below follows the lecture's slides line by line with plain Python floats (no
numpy, no engine code): forward propagation, δ = y − ŷ at the output, the exact chain rule back,
and the Weight Updating slide's w' = w − η·δ_n·dh_n(e)/de·y_m.
"""

from __future__ import annotations

import math

import pytest

import bpexplain

X = [0.5, 0.8]
TARGET = 1.0
ETA = 0.5
W1 = [[0.1, 0.4], [0.3, -0.2], [0.5, 0.2]]  # neurons 1-3, from x_1, x_2
W2 = [[0.2, -0.3, 0.4], [0.1, 0.5, -0.2]]  # neurons 4-5, from y_1..y_3
W3 = [[0.6, -0.4]]  # neuron 6, from y_4, y_5


def sigmoid(e: float) -> float:
    return 1.0 / (1.0 + math.exp(-e))


def by_hand() -> dict:
    e1 = [sum(w * x for w, x in zip(row, X)) for row in W1]
    y1 = [sigmoid(e) for e in e1]
    e2 = [sum(w * y for w, y in zip(row, y1)) for row in W2]
    y2 = [sigmoid(e) for e in e2]
    e6 = W3[0][0] * y2[0] + W3[0][1] * y2[1]
    y6 = sigmoid(e6)
    loss = 0.5 * (y6 - TARGET) ** 2
    d6 = y6 - TARGET
    h6 = y6 * (1 - y6)
    d4 = W3[0][0] * h6 * d6
    d5 = W3[0][1] * h6 * d6
    h45 = [y * (1 - y) for y in y2]
    d123 = [W2[0][m] * h45[0] * d4 + W2[1][m] * h45[1] * d5 for m in range(3)]
    h123 = [y * (1 - y) for y in y1]
    new_w3 = [[W3[0][0] - ETA * d6 * h6 * y2[0], W3[0][1] - ETA * d6 * h6 * y2[1]]]
    new_w2 = [[W2[n][m] - ETA * [d4, d5][n] * h45[n] * y1[m] for m in range(3)] for n in range(2)]
    new_w1 = [[W1[n][m] - ETA * d123[n] * h123[n] * X[m] for m in range(2)] for n in range(3)]
    return {
        "e": e1 + e2 + [e6],
        "y": y1 + y2 + [y6],
        "loss": loss,
        "delta": d123 + [d4, d5, d6],
        "layer1.weight": new_w1,
        "layer2.weight": new_w2,
        "output.weight": new_w3,
    }


def test_forward_values_match_the_hand_computation() -> None:
    want = by_hand()
    t = bpexplain.forward("lecture")
    eqs = {_symbol(eq): eq.value for eq in t.equations}
    for n in range(1, 7):
        assert eqs[f"e_{n}"] == pytest.approx(want["e"][n - 1], rel=1e-12)
        assert eqs[f"y_{n}"] == pytest.approx(want["y"][n - 1], rel=1e-12)
    assert eqs["E"] == pytest.approx(want["loss"], rel=1e-12)


def test_one_training_step_matches_the_hand_computation() -> None:
    want = by_hand()
    t = bpexplain.train("lecture", steps=1)
    eqs = {_symbol(eq): eq.value for eq in t.equations}
    for n in range(1, 7):
        assert eqs[f"δ_{n}"] == pytest.approx(want["delta"][n - 1], rel=1e-12)
    params = t.steps[0].parameters
    assert params is not None
    for name in ("layer1.weight", "layer2.weight", "output.weight"):
        assert params[name].ravel().tolist() == pytest.approx(sum(want[name], []), rel=1e-12)
    assert eqs["w'_(x2)1"] == pytest.approx(want["layer1.weight"][0][1], rel=1e-12)


def test_values_a_student_would_write_with_four_decimals() -> None:
    # Worked with a calculator, rounding each printed value to 4 decimals.
    text = bpexplain.forward("lecture").render("text")
    for line in (
        "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2 = 0.1·0.5 + 0.4·0.8    = 0.37",
        "y_1 = h_1(e_1)                  = σ(0.37)              = 0.5915",
        "e_6 = w_46·y_4 + w_56·y_5 = 0.6·0.5522 + (-0.4)·0.5468 = 0.1126",
        "E = ½·(y_6 − ŷ)² = ½·(0.5281 − 1)² = 0.1113",
    ):
        assert line in text


def test_the_update_for_w_x2_1_has_the_factor_the_slide_drops() -> None:
    text = bpexplain.train("lecture", steps=1).render("text")
    assert "w'_(x2)1 = w_(x2)1 − η·δ_1·dh_1(e)/de·x_2 = 0.4 − 0.5·(-0.002324)·0.2416·0.8 = 0.4002" in text
    assert "drops the factor x_2" in text


def test_slide_rule_reproduces_the_slide_and_marks_departures() -> None:
    want = by_hand()
    t = bpexplain.train("lecture", steps=1, rule="slide")
    eqs = {_symbol(eq): eq for eq in t.equations}
    slide_d6 = want["delta"][5]
    slide_d4 = W3[0][0] * slide_d6  # δ_4 = w_46·δ, as on the slide
    assert eqs["δ_4"].value == pytest.approx(slide_d4, rel=1e-12)
    assert eqs["δ_4"].exact == pytest.approx(want["delta"][3], rel=1e-12)
    assert eqs["δ_6"].exact is None  # the output's error is the same either way
    # the output layer's updates do not depend on the propagated δ, so they are not marked
    assert eqs["w'_46"].exact is None
    assert eqs["w'_14"].exact is not None
    assert t.steps[0].departures == 12  # the 6 + 6 weights of layers 1 and 2


def test_textbook_notation_gives_the_same_weights() -> None:
    lecture = bpexplain.train("lecture", steps=3)
    textbook = bpexplain.train("lecture", steps=3, notation="textbook")
    for a, b in zip(lecture.steps, textbook.steps):
        assert a.parameters is not None and b.parameters is not None
        for name in a.parameters:
            assert a.parameters[name].tolist() == b.parameters[name].tolist()
    eqs = {_symbol(eq): eq.value for eq in textbook.equations[:60]}
    want = by_hand()
    y6 = want["y"][5]
    assert eqs["δ_6"] == pytest.approx((y6 - TARGET) * y6 * (1 - y6), rel=1e-12)


def _symbol(eq) -> str:  # type: ignore[no-untyped-def]
    from bpexplain.render.printer import TextPrinter

    return TextPrinter().doprint(eq.symbol)


def test_sequential_order_by_hand() -> None:
    # Output layer first: update w_46, w_56, then send the error back through the updated weights.
    want = by_hand()
    y1, y2 = want["y"][:3], want["y"][3:5]
    y6 = want["y"][5]
    d6, h6 = y6 - TARGET, y6 * (1 - y6)
    w46, w56 = (W3[0][m] - ETA * d6 * h6 * y2[m] for m in range(2))
    d4, d5 = w46 * h6 * d6, w56 * h6 * d6
    h45 = [y * (1 - y) for y in y2]
    new_w2 = [[W2[n][m] - ETA * [d4, d5][n] * h45[n] * y1[m] for m in range(3)] for n in range(2)]
    d123 = [new_w2[0][m] * h45[0] * d4 + new_w2[1][m] * h45[1] * d5 for m in range(3)]
    h123 = [y * (1 - y) for y in y1]
    new_w1 = [[W1[n][m] - ETA * d123[n] * h123[n] * X[m] for m in range(2)] for n in range(3)]
    t = bpexplain.train("lecture", steps=1, update_order="sequential")
    params = t.steps[0].parameters
    assert params is not None
    assert params["output.weight"].ravel().tolist() == pytest.approx([w46, w56], rel=1e-12)
    assert params["layer2.weight"].ravel().tolist() == pytest.approx(sum(new_w2, []), rel=1e-12)
    assert params["layer1.weight"].ravel().tolist() == pytest.approx(sum(new_w1, []), rel=1e-12)
    eqs = {_symbol(eq): eq.value for eq in t.equations}
    assert eqs["δ_4"] == pytest.approx(d4, rel=1e-12)
