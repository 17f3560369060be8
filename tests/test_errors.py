"""Every mistake in a network file is named by file:line:column, key path, what was found and expected.

Each row of the table changes one line of a valid network and gives the error it must produce: the
position (line:column of the offending YAML node), the key path, and a piece of the message. The
numerical rows check that overflow and NaN are reported with the step, layer and equation.
"""

from __future__ import annotations

import pytest
from helpers import DIVERGING, OVERFLOW

from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError, NumericalError
from bpexplain.spec import MAX_PARAMETERS, parse_network

VALID = """\
name: small
inputs: 2
layers:
  - name: hidden
    activation: sigmoid
    weight: [[0.1, 0.2], [0.3, 0.4]]
    bias: [0.0, 0.1]
  - name: out
    activation: sigmoid
    weight: [[0.5, 0.6]]
loss: mse
learning_rate: 0.5
data:
  - {input: [1, 0], target: [1]}
"""


def changed(old: str, new: str) -> str:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def error_of(text: str) -> BpexplainError:
    with pytest.raises(BpexplainError) as info:
        spec = parse_network(text, "net.yaml")
        list(run(spec, RunOptions(command="train", steps=1)))
    return info.value


# (old line, new line, "line:column", key path, pieces of the message)
CASES = {
    "unknown key, near miss": (
        "    activation: sigmoid\n    weight: [[0.1",
        "    activaton: sigmoid\n    weight: [[0.1",
        "5:5",
        "layers[0].activaton",
        ["unknown key 'activaton'", "did you mean 'activation'?"],
    ),
    "unknown top-level key": (
        "loss: mse",
        "los: mse",
        "11:1",
        "los",
        ["unknown key 'los'", "did you mean 'loss'?"],
    ),
    "unknown key, far off": (
        "loss: mse",
        "colour: blue\nloss: mse",
        "11:1",
        "colour",
        ["unknown key 'colour'", "one of name, "],
    ),
    "missing inputs": ("inputs: 2\n", "", "1:1", "", ["missing key 'inputs'"]),
    "missing input of a sample": (
        "  - {input: [1, 0], target: [1]}",
        "  - {target: [1]}",
        "14:5",
        "data[0]",
        ["missing key 'input'"],
    ),
    "weight is text": (
        "[[0.5, 0.6]]",
        "[[0.5, abc]]",
        "10:20",
        "layers[1].weight[0][1]",
        ["found the text 'abc'", "expected a number"],
    ),
    "weight is a boolean": (
        "[[0.5, 0.6]]",
        "[[0.5, yes]]",
        "10:20",
        "layers[1].weight[0][1]",
        ["found the boolean true", "expected a number"],
    ),
    "weight is null": (
        "[[0.5, 0.6]]",
        "[[0.5, null]]",
        "10:20",
        "layers[1].weight[0][1]",
        ["found nothing (null)"],
    ),
    "weight is infinite": (
        "[[0.5, 0.6]]",
        "[[0.5, .inf]]",
        "10:20",
        "layers[1].weight[0][1]",
        ["found inf", "expected a finite number"],
    ),
    "weight is NaN": (
        "[[0.5, 0.6]]",
        "[[.nan, 0.6]]",
        "10:15",
        "layers[1].weight[0][0]",
        ["found nan", "expected a finite number"],
    ),
    "weight overflows when read": (
        "[[0.5, 0.6]]",
        "[[0.5, 1e999]]",
        "10:20",
        "layers[1].weight[0][1]",
        ["found inf", "expected a finite number"],
    ),
    "ragged matrix": (
        "[[0.1, 0.2], [0.3, 0.4]]",
        "[[0.1, 0.2], [0.3]]",
        "6:13",
        "layers[0].weight",
        ["ragged", "of shape 2×2"],
    ),
    "wrong weight shape": (
        "[[0.5, 0.6]]",
        "[[0.5, 0.6, 0.7]]",
        "10:13",
        "layers[1].weight",
        ["found shape 1×3", "shape 1×2"],
    ),
    "wrong bias length": (
        "bias: [0.0, 0.1]",
        "bias: [0.0, 0.1, 0.2]",
        "7:11",
        "layers[0].bias",
        ["found shape 3", "one value per unit"],
    ),
    "duplicate layer name": (
        "  - name: out",
        "  - name: hidden",
        "8:11",
        "layers[1].name",
        ["duplicate layer name 'hidden'", "also layers[0]"],
    ),
    "learning rate zero": (
        "learning_rate: 0.5",
        "learning_rate: 0",
        "12:16",
        "learning_rate",
        ["found 0", "greater than 0"],
    ),
    "learning rate negative": (
        "learning_rate: 0.5",
        "learning_rate: -0.1",
        "12:16",
        "learning_rate",
        ["found -0.1", "greater than 0"],
    ),
    "learning rate text": (
        "learning_rate: 0.5",
        "learning_rate: fast",
        "12:16",
        "learning_rate",
        ["found the text 'fast'", "expected a number"],
    ),
    "target too long": (
        "target: [1]}",
        "target: [1, 0]}",
        "14:29",
        "data[0].target",
        ["found shape 2", "one value per output"],
    ),
    "input too short": (
        "{input: [1, 0],",
        "{input: [1],",
        "14:13",
        "data[0].input",
        ["found shape 1", "shape 2"],
    ),
    "unknown activation": (
        "    activation: sigmoid\n    weight: [[0.5",
        "    activation: sigmod\n    weight: [[0.5",
        "9:17",
        "layers[1].activation",
        ["unknown value 'sigmod'", "did you mean 'sigmoid'?"],
    ),
    "unknown loss": (
        "loss: mse",
        "loss: mes",
        "11:7",
        "loss",
        ["unknown value 'mes'", "did you mean 'mse'?"],
    ),
    "layers not a list": (
        VALID[VALID.index("layers:") : VALID.index("loss:")],
        "layers: 3\n",
        "3:9",
        "layers",
        ["found the number 3", "a list of at least one layer"],
    ),
    "duplicate key": ("loss: mse", "loss: mse\nloss: mse", "12:1", "", ["duplicate key 'loss'"]),
    "negative seed": ("loss: mse", "seed: -1\nloss: mse", "11:7", "seed", ["found -1", "≥ 0"]),
    "a list as a key": ("loss: mse", "? [a, b]\n: 1\nloss: mse", "11:3", "", ["a key that is a list"]),
    "a control character": ("loss: mse", "lo\x1fss: mse", "11:3", "", ["#x001f is not allowed"]),
    "python tag": (
        "loss: mse",
        "loss: !!python/name:os.system",
        "11:7",
        "",
        ["could not determine a constructor", "plain YAML"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_mistake_is_named_where_it_is(case: str) -> None:
    old, new, position, path, pieces = CASES[case]
    err = error_of(changed(old, new))
    assert type(err) is BpexplainError and err.exit_code == 2
    assert str(err.where) == f"net.yaml:{position}", err.line()
    assert err.path == path, err.line()
    for piece in pieces:
        assert piece in err.line(), err.line()
    assert "\n" not in err.line()


def test_the_valid_network_is_valid() -> None:
    spec = parse_network(VALID, "net.yaml")
    assert list(run(spec, RunOptions(command="train", steps=2)))


def test_scientific_notation_without_a_dot_is_a_number() -> None:
    spec = parse_network(changed("learning_rate: 0.5", "learning_rate: 5e-1"), "net.yaml")
    assert spec.learning_rate == 0.5
    spec = parse_network(changed("[[0.5, 0.6]]", "[[5E-1, -6e-1]]"), "net.yaml")
    assert spec.layers[1].params["weight"].value.tolist() == [[0.5, -0.6]]


def test_a_file_that_is_not_a_mapping() -> None:
    for text, found in [
        ("- 1\n- 2\n", "a list of 2"),
        ("just words\n", "the text 'just words'"),
        ("42\n", "42"),
    ]:
        err = error_of(text)
        assert str(err.where) == "net.yaml:1:1" and found in err.message


def test_an_empty_file() -> None:
    err = error_of("")
    assert "empty" in err.message and str(err.where) == "net.yaml:1:1"


def test_too_many_parameters_are_refused_before_they_are_drawn() -> None:
    units = int(MAX_PARAMETERS**0.5) + 10
    text = f"inputs: {units}\nlayers:\n  - {{units: {units}}}\n  - {{units: 1}}\n"
    err = error_of(text)
    assert err.path == "layers[0].weight" and "parameters" in err.message
    assert f"{MAX_PARAMETERS:,}" in err.line()


def test_too_many_units_are_refused() -> None:
    text = "inputs: {shape: [1, 1000, 1000]}\nlayers:\n  - {type: conv2d, kernel_size: 1, channels: 3}\n"
    err = error_of(text)
    assert err.path.startswith("layers[0]") and "forward pass" in err.message


# ---- numerical trouble -------------------------------------------------------------------------


def numerical_error(text: str, **options: object) -> NumericalError:
    spec = parse_network(text, "net.yaml")
    with pytest.raises(NumericalError) as info:
        list(run(spec, RunOptions(**options)))  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("detail", ["full", "summary"])
def test_overflow_in_a_weighted_sum_names_step_layer_and_equation(detail: str) -> None:
    err = numerical_error(OVERFLOW, command="train", steps=3, detail=detail)
    assert err.exit_code == 1
    assert str(err.where) == "net.yaml:3:5" and err.path == "layers[0]"
    assert "step 1, forward pass, layer 'h'" in err.message
    assert "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2 = +∞ (overflow)" in err.message


def test_divergence_is_caught_at_the_step_it_happens() -> None:
    err = numerical_error(DIVERGING, command="train", steps=1000, detail="summary")
    step = int(err.message.split("step ")[1].split(",")[0])
    assert 10 < step < 1000  # |w| grows ×29 a step: float64 overflows after a few dozen steps
    assert "∞" in err.message and "learning_rate" in (err.expected or "")


def test_a_logarithm_of_zero_is_named() -> None:
    text = (
        "inputs: 2\nlayers:\n  - {name: out, activation: softmax, weight: [[1.0, 0], [0, 1]]}\n"
        "loss: cross_entropy\ndata:\n  - {input: [800, -800], target: [0, 1]}\n"
    )
    err = numerical_error(text, command="train")
    assert "step 1, loss: E = +∞" in err.message and "logarithm" in err.message


def test_numerical_errors_leave_numpy_settings_alone() -> None:
    import numpy as np

    before = np.geterr()
    numerical_error(OVERFLOW, command="forward")
    assert np.geterr() == before


def test_an_update_that_overflows_names_the_updated_weight() -> None:
    text = (
        "inputs: 1\nlayers:\n  - name: out\n    weight: [[1.0]]\nlearning_rate: 1.0e308\n"
        "data:\n  - {input: [30], target: [1]}\n"
    )
    for options in ({"command": "train"}, {"command": "train", "batch": "full", "detail": "summary"}):
        err = numerical_error(text, **options)
        assert err.path == "layers[0]" and str(err.where) == "net.yaml:3:5"
        assert "step 1, update, layer 'out': w'_(x1)1 = −∞ (overflow)" in err.message
