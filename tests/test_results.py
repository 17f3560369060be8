"""Training ends with a result: the loss before and after, every sample's prediction, and --save.

Predictions and the final loss are checked against a forward pass written here in plain numpy on the
final parameters; --save against training without a break, bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.render import render_to_string
from bpexplain.spec import load_network
from bpexplain.trace import StepEnd, TraceEnd


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def sigmoid(e: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-e))


def xor_forward(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    h = sigmoid(params["hidden.weight"] @ x + params["hidden.bias"])
    return sigmoid(params["output.weight"] @ h + params["output.bias"])


@pytest.mark.parametrize("detail", ["full", "summary"])
def test_the_end_carries_the_loss_before_and_after_and_every_prediction(detail: str) -> None:
    spec = load_network("xor")
    evs = list(run(spec, RunOptions(command="train", steps=6, detail=detail)))
    end = evs[-1]
    assert isinstance(end, TraceEnd)
    steps = [e for e in evs if isinstance(e, StepEnd)]
    assert end.initial_loss == steps[0].loss
    assert end.final_samples == (2,)  # step 6 of 4 samples in file order: sample 2
    params = end.final_parameters
    assert [p.sample for p in end.predictions] == [1, 2, 3, 4]
    for p, sample in zip(end.predictions, spec.data):
        y = xor_forward(params, sample.input)
        assert np.allclose(p.output, y, rtol=1e-14, atol=0)
        assert p.loss == pytest.approx(0.5 * float(np.sum((y - sample.target) ** 2)), rel=1e-13)
    y2 = xor_forward(params, spec.data[1].input)
    assert end.final_loss == pytest.approx(0.5 * float((y2[0] - 1.0) ** 2), rel=1e-13)


def test_a_batch_step_reports_the_mean_over_its_samples() -> None:
    end = list(run(load_network("xor"), RunOptions(command="train", steps=2, batch="full")))[-1]
    assert end.final_samples == (1, 2, 3, 4)
    assert end.final_loss == pytest.approx(np.mean([p.loss for p in end.predictions]), rel=1e-14)


def test_forward_has_no_result() -> None:
    end = list(run(load_network("xor"), RunOptions(command="forward")))[-1]
    assert end.predictions == () and end.final_loss is None


def test_the_text_summary_shows_the_result() -> None:
    text = render_to_string(list(run(load_network("lecture"), RunOptions(command="train", steps=2))), "text")
    assert "Loss at step 1 (before the step's update): E = 0.1113" in text
    summary = text.split("Summary:")[1]
    assert "  E         0.1113   0.1113    0.107" in summary  # initial: before training
    assert "E after" in summary and "one more forward pass of sample 1" in summary
    assert "Predictions after training" in summary and "sample  output y  target ŷ  E" in summary


@pytest.mark.parametrize("fmt,marks", [("markdown", ["| $E$ after |", "## Predictions"]), ("latex", ["$E$ after &"])])
def test_markdown_and_latex_show_the_result(fmt: str, marks: list[str]) -> None:
    out = render_to_string(list(run(load_network("xor"), RunOptions(command="train", steps=2))), fmt)
    for mark in marks + ["Predictions after training"]:
        assert mark in out


def test_json_carries_the_result_at_full_precision() -> None:
    result = invoke("train", "xor", "--steps", "3", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["initial_loss"] == doc["steps"][0]["loss"]
    assert doc["final_loss_samples"] == [3]
    assert [p["sample"] for p in doc["predictions"]] == [1, 2, 3, 4]
    params = {k: np.array(v) for k, v in doc["steps"][-1]["parameters"].items()}
    y = xor_forward(params, np.array([1.0, 0.0]))
    assert doc["predictions"][2]["output"] == pytest.approx(y.tolist(), rel=1e-14)
    assert doc["final_loss"] == doc["predictions"][2]["loss"]


# ---- --save -----------------------------------------------------------------------------------------


def final_parameters(*args: str) -> dict:
    result = invoke("train", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["steps"][-1]["parameters"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "net,first,second,whole",
    [
        ("lecture", ["--steps", "3"], ["--steps", "2"], ["--steps", "5"]),
        ("xor", ["--epochs", "1"], ["--epochs", "1"], ["--epochs", "2"]),
        ("two-two-two", ["--steps", "2"], ["--steps", "1"], ["--steps", "3"]),
        ("homework-cnn", ["--steps", "1"], ["--steps", "1"], ["--steps", "2"]),
        (
            "classifier",
            ["--epochs", "1", "--batch", "full"],
            ["--epochs", "1", "--batch", "full"],
            ["--epochs", "2", "--batch", "full"],
        ),
    ],
)
def test_training_continues_from_a_saved_network_bit_for_bit(
    tmp_path: Path, net: str, first: list[str], second: list[str], whole: list[str]
) -> None:
    saved = tmp_path / "saved.yaml"
    result = invoke("train", net, *first, "--detail", "summary", "--save", str(saved))
    assert result.exit_code == 0, result.output
    assert final_parameters(str(saved), *second) == final_parameters(net, *whole)  # JSON keeps every bit


def test_a_saved_network_keeps_its_names_frozen_parameters_and_layout(tmp_path: Path) -> None:
    src = tmp_path / "net.yaml"
    src.write_text(
        "inputs: [i1, i2]\nlayers:\n"
        "  - {name: hidden, units: [h1, h2, h3], layout: from_to, weight: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]],\n"
        "     bias: {value: [0.1, 0.1, 0.1], trainable: false}}\n"
        "  - {name: out, weight: [[0.5, -0.6, 0.2]], labels: [[v1, v2, v3]]}\n"
        "learning_rate: 0.1\ndata:\n  - {input: [0.3, 0.9], target: [1.0]}\n"
    )
    saved = tmp_path / "saved.yaml"
    assert invoke("train", str(src), "--steps", "2", "--save", str(saved)).exit_code == 0
    again = load_network(str(saved))
    assert again.layers[0].options["unit_names"] == ("h1", "h2", "h3")
    assert again.layers[0].options["layout"] == "from_to"
    assert again.layers[1].options["labels"] == (("v1", "v2", "v3"),)
    assert not again.layers[0].params["bias"].trainable
    assert final_parameters(str(saved), "--steps", "1") == final_parameters(str(src), "--steps", "3")


def test_set_is_saved_with_the_network(tmp_path: Path) -> None:
    saved = tmp_path / "s.yaml"
    assert invoke("train", "lecture", "--set", "learning_rate=0.25", "--save", str(saved)).exit_code == 0
    assert load_network(str(saved)).learning_rate == 0.25


def test_save_never_writes_over_the_network_being_read(tmp_path: Path) -> None:
    text = invoke("new", str(tmp_path / "made"))  # any valid network file
    assert text.exit_code == 0, text.output
    made = tmp_path / "made.yaml"
    before = made.read_bytes()
    result = invoke("train", str(made), "--save", str(made))
    assert result.exit_code == 2 and "--save would write over the network file being read" in result.stderr
    assert made.read_bytes() == before
    result = invoke("train", "lecture", "--save", str(tmp_path / "k.txt"))
    assert result.exit_code == 2 and "ending in .yaml or .yml" in result.stderr
    assert not (tmp_path / "k.txt").exists()


def test_a_failed_run_saves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "net.yaml"  # an overflow in the first forward pass: a numerical error, exit 1
    src.write_text("inputs: 1\nlayers: [{weight: [[1.0e300]]}]\ndata: [{input: [1.0e300], target: [0]}]\n")
    saved = tmp_path / "s.yaml"
    result = invoke("train", str(src), "--save", str(saved))
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]
