"""Names from the file: input names, unit names and weight labels become the trace's symbols; layout: from_to.

The textbook 2-2-2 example is checked against its published first-step numbers and against a
forward and backward pass written here in plain numpy, apart from the engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError
from bpexplain.render import render_to_string
from bpexplain.spec import load_network, parse_network
from bpexplain.trace import StepEnd


def spec_from(text: str):  # type: ignore[no-untyped-def]
    return parse_network(text, "net.yaml")


def events(spec, **options):  # type: ignore[no-untyped-def]
    return list(run(spec, RunOptions(command="train", **options)))


def text_of(spec, **options) -> str:  # type: ignore[no-untyped-def]
    return render_to_string(events(spec, **options), "text", precision=9)


def sigmoid(e: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-e))


# ---- the textbook 2-2-2 example ---------------------------------------------------------------------


def test_two_two_two_matches_the_published_first_step() -> None:
    evs = events(load_network("two-two-two"), steps=1)
    end = next(e for e in evs if isinstance(e, StepEnd))
    assert end.loss == pytest.approx(0.298371109, abs=5e-10)
    assert end.parameters is not None
    assert end.parameters["output.weight"][0, 0] == pytest.approx(0.35891648, abs=5e-9)  # w5'
    assert end.parameters["hidden.weight"][0, 0] == pytest.approx(0.149780716, abs=5e-10)  # w1'
    assert np.array_equal(end.parameters["hidden.bias"], [0.35, 0.35])  # not updated in the example
    assert np.array_equal(end.parameters["output.bias"], [0.6, 0.6])


def test_two_two_two_error_after_the_first_update() -> None:
    """The published "total error is now 0.291027924" is what the sequential update order gives (the output
    weights updated before the error goes back through them); the published w1' = 0.149780716 is the
    simultaneous order's, the default, whose second loss is 0.2910277737 (checked in plain numpy below)."""
    spec = load_network("two-two-two")
    sequential = [e for e in events(spec, steps=2, detail="summary", update_order="sequential")]
    assert [e for e in sequential if isinstance(e, StepEnd)][1].loss == pytest.approx(0.291027924, abs=5e-10)
    ends = [e for e in events(spec, steps=2, detail="summary") if isinstance(e, StepEnd)]
    assert ends[1].loss == pytest.approx(0.2910277737, abs=5e-11)


def test_two_two_two_against_a_plain_numpy_step() -> None:
    w1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), 0.35
    w2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]]), 0.60
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    h = sigmoid(w1 @ x + b1)
    o = sigmoid(w2 @ h + b2)
    d_o = (o - t) * o * (1 - o)
    d_h = (w2.T @ d_o) * h * (1 - h)
    expected = {"output.weight": w2 - 0.5 * np.outer(d_o, h), "hidden.weight": w1 - 0.5 * np.outer(d_h, x)}
    end = next(e for e in events(load_network("two-two-two"), steps=1) if isinstance(e, StepEnd))
    assert end.parameters is not None
    for name, value in expected.items():
        assert np.allclose(end.parameters[name], value, rtol=1e-13, atol=0)
    w1, w2 = expected["hidden.weight"], expected["output.weight"]
    o = sigmoid(w2 @ sigmoid(w1 @ x + b1) + b2)
    assert 0.5 * np.sum((o - t) ** 2) == pytest.approx(0.2910277737, abs=5e-11)  # the loss of step 2


def test_two_two_two_prints_in_the_textbook_symbols() -> None:
    text = text_of(load_network("two-two-two"), steps=1)
    assert "e_h1 = w_1·i_1 + w_2·i_2 + b_h1 = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in text
    assert "e_o1 = w_5·y_h1 + w_6·y_h2 + b_o1" in text
    assert "δ_h1        = w_5·δ_o1·dh_o1(e)/de + w_7·δ_o2·dh_o2(e)/de" in text
    assert "w'_5  = w_5 − η·δ_o1·dh_o1(e)/de·y_h1" in text and "= 0.35891648" in text
    assert "w'_1  = w_1 − η·δ_h1·dh_h1(e)/de·i_1" in text and "= 0.149780716" in text
    assert "Forward: hidden (neurons h1, h2)" in text
    latex = render_to_string(events(load_network("two-two-two"), steps=1), "latex")
    assert r"e_{h_1} &= w_1 \cdot i_1 + w_2 \cdot i_2 + b_{h_1}" in latex


# ---- input and unit names ---------------------------------------------------------------------------

BASE = """
inputs: {inputs}
layers:
  - name: hidden
    activation: sigmoid
    {hidden}
  - name: output
    activation: sigmoid
    weight: [[0.5, -0.6]]
data:
  - {{input: [0.3, 0.9], target: [1.0]}}
"""


def net(inputs: str = "[x1, x2]", hidden: str = "weight: [[0.1, -0.2], [0.4, 0.3]]") -> str:
    return BASE.format(inputs=inputs, hidden=hidden)


def test_input_names_become_the_inputs_symbols() -> None:
    text = text_of(spec_from(net("[i1, i2]")), steps=1)
    assert "e_1 = w_(i1)1·i_1 + w_(i2)1·i_2" in text
    assert "x_1" not in text.split("Step 1")[1]


def test_the_lectures_input_names_print_as_today() -> None:
    assert "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2" in text_of(spec_from(net("[x1, x2]")), steps=1)
    assert "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2" in text_of(spec_from(net("2")), steps=1)


def test_input_names_that_are_not_names_stay_labels() -> None:
    spec = spec_from(net('["age (years)", "height (cm)"]'))
    assert spec.input_names == ("age (years)", "height (cm)")
    assert "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2" in text_of(spec, steps=1)


def test_unit_names_number_nothing_and_name_the_weights_between_them() -> None:
    text = text_of(spec_from(net("[i1, i2]", "units: [h1, h2]\n    weight: [[0.1, -0.2], [0.4, 0.3]]")), steps=1)
    assert "e_h1 = w_(i1)(h1)·i_1 + w_(i2)(h1)·i_2" in text
    assert "e_3 = w_(h1)3·y_h1 + w_(h2)3·y_h2" in text  # the next layer is numbered on from the named one


@pytest.mark.parametrize(
    "hidden,path,found",
    [
        ("units: [h1, 2h]\n    weight: [[0.1, -0.2], [0.4, 0.3]]", "layers[0].units[1]", "'2h'"),
        ("units: [h1, h1]", "layers[0].units", "twice"),
        ("units: [h1, h2]\n    labels: [[w1, w2], [w3, w-4]]", "layers[0].labels[1][1]", "'w-4'"),
        ("units: [h1, h2]\n    labels: [[w1, w2], [w3, w1]]", "layers[0].labels", "'w1' appears twice"),
        ("units: [h1, h2]\n    labels: [[w1, w2]]", "layers[0].labels", "found 1 rows"),
        ("units: [h1, h2]\n    labels: [[w1, i1], [w3, w4]]", "layers[0].labels", "'i1' is used twice"),
        ("units: [i1, h2]", "layers[0].units", "'i1' is used twice"),
    ],
)
def test_bad_names_are_refused_with_their_position(hidden: str, path: str, found: str) -> None:
    with pytest.raises(BpexplainError) as info:
        spec_from(net("[i1, i2]", hidden))
    line = info.value.line()
    assert f"{path}:" in line and found in line, line
    assert line.startswith("net.yaml:") and info.value.exit_code == 2


def test_a_bad_name_is_one_line_on_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(net("[i1, i2]", "units: [h1, 'h 2']"))
    result = CliRunner().invoke(cli, ["train", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:6:17: error: ") and "layers[0].units[1]" in result.stderr


# ---- layout ---------------------------------------------------------------------------------------

NON_SQUARE = """
inputs: [x1, x2]
layers:
  - name: hidden
    activation: sigmoid
    {weight}
  - {{name: output, activation: sigmoid, weight: [[0.5, -0.6, 0.2]]}}
data:
  - {{input: [0.3, 0.9], target: [1.0]}}
"""
TO_FROM = "weight: [[0.1, -0.2], [0.4, 0.3], [0.7, -0.5]]"
FROM_TO = "layout: from_to\n    weight: [[0.1, 0.4, 0.7], [-0.2, 0.3, -0.5]]"


def test_from_to_is_the_same_network_transposed() -> None:
    a = spec_from(NON_SQUARE.format(weight=TO_FROM))
    b = spec_from(NON_SQUARE.format(weight=FROM_TO))
    assert np.array_equal(a.layers[0].params["weight"].value, b.layers[0].params["weight"].value)
    assert text_of(a, steps=2) == text_of(b, steps=2)


def test_labels_follow_the_weights_layout() -> None:
    spec = spec_from(NON_SQUARE.format(weight=FROM_TO + "\n    labels: [[a1, a2, a3], [c1, c2, c3]]"))
    # from_to: row m is input m, so a2 is the weight from x1 to the second unit
    assert "e_2 = a_2·x_1 + c_2·x_2" in text_of(spec, steps=1)


def test_a_transposed_matrix_says_so_and_shows_both_fixes() -> None:
    with pytest.raises(BpexplainError) as info:
        spec_from(NON_SQUARE.format(weight="weight: [[0.1, 0.4, 0.7], [-0.2, 0.3, -0.5]]"))  # units from it
    line = info.value.line()
    assert "layers[0].weight: found shape 2×3, which looks transposed" in line
    assert "transpose the matrix" in line and "layout: from_to" in line
    with pytest.raises(BpexplainError) as info:
        spec_from(NON_SQUARE.format(weight="layout: from_to\n    weight: [[0.1, -0.2], [0.4, 0.3], [0.7, -0.5]]"))
    assert "looks transposed" in info.value.line() and "remove 'layout: from_to'" in info.value.line()


def test_a_large_weight_matrix_says_which_way_it_reads() -> None:
    spec = spec_from(
        "inputs: 30\nlayers:\n  - {name: big, units: 20, activation: sigmoid}\n"
        "data:\n  - {input: [" + ", ".join(["0.1"] * 30) + "], target: [" + ", ".join(["0"] * 20) + "]}\n"
    )
    text = render_to_string(events(spec, steps=1, detail="summary"), "text")
    assert "big.weight (20×30, random; rows: units n, columns: inputs m)" in text
    small = text_of(load_network("lecture"), steps=1)
    assert "w_(x1)1 = 0.1    w_(x2)1 = 0.4" in small  # small ones: every entry with its symbol
