"""Networks as graphs: `inputs:` read and checked, a value that feeds several layers gets the sum of what each
sends back (numbers against back-propagation written here from the definitions, and central differences), and
the add layer. The references below never import the engine or the layers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import bpexplain
from bpexplain.check import check_gradients
from bpexplain.cli import cli
from bpexplain.errors import BpexplainError
from bpexplain.spec import parse_network

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}

FAN = """
name: fan
inputs: 2
layers:
  - {name: h1, units: 2, activation: sigmoid, weight: [[0.1, 0.2], [0.3, -0.1]]}
  - {name: h2, units: 2, activation: tanh, weight: [[0.5, -0.2], [0.1, 0.4]], bias: [0.1, -0.2]}
  - {name: skip, type: add, inputs: [h2, h1]}
  - {name: out, units: 1, activation: sigmoid, weight: [[0.3, -0.6]]}
loss: mse
learning_rate: 0.5
data:
  - {input: [1, 0.5], target: [1]}
  - {input: [-0.5, 2], target: [0]}
"""


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def _sig(e: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-e))


def _fan_step(w1, w2, b2, w3, x, t, lr):  # type: ignore[no-untyped-def]
    """One step of the fan network, by hand: y1 feeds h2 and the sum, so its error has two shares."""
    y1 = _sig(w1 @ x)
    y2 = np.tanh(w2 @ y1 + b2)
    s = y2 + y1
    y3 = _sig(w3 @ s)
    loss = 0.5 * float(np.sum((y3 - t) ** 2))
    g3 = (y3 - t) * y3 * (1 - y3)  # ∂E/∂e at the output
    d_s = w3.T @ g3
    g2 = d_s * (1 - y2**2)
    d_y1 = w2.T @ g2 + d_s  # the two shares: through h2, and straight through the sum
    g1 = d_y1 * y1 * (1 - y1)
    grads = {
        "h1.weight": np.outer(g1, x),
        "h2.weight": np.outer(g2, y1),
        "h2.bias": g2,
        "out.weight": np.outer(g3, s),
    }
    new = (w1 - lr * grads["h1.weight"], w2 - lr * grads["h2.weight"], b2 - lr * grads["h2.bias"])
    return loss, grads, new + (w3 - lr * grads["out.weight"],)


def _write(tmp_path, text: str, name: str = "net.yaml"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_value_that_feeds_two_layers_gets_both_shares_over_three_steps(tmp_path) -> None:
    path = _write(tmp_path, FAN)
    doc = json.loads(invoke("train", str(path), "--steps", "3", "--format", "json").output)
    w1 = np.array([[0.1, 0.2], [0.3, -0.1]])
    w2 = np.array([[0.5, -0.2], [0.1, 0.4]])
    b2 = np.array([0.1, -0.2])
    w3 = np.array([[0.3, -0.6]])
    data = [(np.array([1, 0.5]), np.array([1.0])), (np.array([-0.5, 2]), np.array([0.0]))]
    for k, step in enumerate(doc["steps"]):
        x, t = data[k % 2]
        loss, grads, (w1, w2, b2, w3) = _fan_step(w1, w2, b2, w3, x, t, 0.5)
        assert step["loss"] == pytest.approx(loss, rel=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(step["gradients"][name], g, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(step["parameters"]["h1.weight"], w1, rtol=1e-12)
        np.testing.assert_allclose(step["parameters"]["out.weight"], w3, rtol=1e-12)
    assert [layer["inputs"] for layer in doc["network"]["layers"]] == [["input"], ["h1"], ["h2", "h1"], ["skip"]]


def test_the_batch_gradient_of_a_graph_is_the_mean_of_the_samples(tmp_path) -> None:
    path = _write(tmp_path, FAN)
    doc = json.loads(invoke("train", str(path), "--batch", "full", "--format", "json").output)
    args = (
        np.array([[0.1, 0.2], [0.3, -0.1]]),
        np.array([[0.5, -0.2], [0.1, 0.4]]),
        np.array([0.1, -0.2]),
        np.array([[0.3, -0.6]]),
    )
    per = [_fan_step(*args, np.array([1, 0.5]), np.array([1.0]), 0.5), _fan_step(*args, np.array([-0.5, 2]), 0, 0.5)]
    for name in per[0][1]:
        np.testing.assert_allclose(doc["steps"][0]["gradients"][name], (per[0][1][name] + per[1][1][name]) / 2)


def test_graph_gradients_agree_with_central_differences(tmp_path) -> None:
    result = check_gradients(bpexplain.load(str(_write(tmp_path, FAN))))
    assert result.ok and len(result.rows) == 4 + 4 + 2 + 2


@pytest.mark.parametrize("seed", range(4))
def test_random_residual_conv_blocks_agree_with_central_differences(tmp_path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 3))
    k1 = np.round(rng.uniform(-1, 1, (c, c, 3, 3)), 2).tolist()
    k2 = np.round(rng.uniform(-1, 1, (c, c, 3, 3)), 2).tolist()
    x = np.round(rng.uniform(-1, 1, (c, 4, 4)), 1).tolist()
    text = f"""
inputs: {{shape: [{c}, 4, 4]}}
layers:
  - {{name: c1, type: conv2d, kernel: {k1}, padding: 1, activation: tanh}}
  - {{name: c2, type: conv2d, kernel: {k2}, padding: 1}}
  - {{name: res, type: add, inputs: [c2, input]}}
  - {{name: act, type: activation, activation: sigmoid}}
  - {{name: flat, type: flatten}}
  - {{name: out, units: 1}}
loss: mse
data:
  - {{input: {x}, target: [0.5]}}
"""
    result = check_gradients(bpexplain.load(str(_write(tmp_path, text))))
    assert result.ok, [r.label for r in result.failures]


def test_the_error_equation_of_a_value_that_feeds_two_layers_is_one_sum(tmp_path) -> None:
    out = invoke("train", str(_write(tmp_path, FAN)), "--format", "text", "--layer", "h1", "--only", "error").output
    assert "h1 feeds h2, skip: its error is the sum of what each of them sends back" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("δ_1 "))
    assert "w_13·δ_3·dh_3(e)/de + w_14·δ_4·dh_4(e)/de + δS1(1)" in line


def test_the_network_table_says_what_a_layer_reads(tmp_path) -> None:
    out = invoke("show", str(_write(tmp_path, FAN))).output
    assert "add ← h2, h1" in out
    assert "dense ← " not in out  # a layer reading the one above says nothing


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "json", "rich", "html"])
@pytest.mark.parametrize("extra", [(), ("--notation", "textbook"), ("--rule", "slide"), ("--round", "3")])
def test_a_graph_in_every_format_and_option(tmp_path, fmt: str, extra: tuple[str, ...]) -> None:
    result = invoke("train", str(_write(tmp_path, FAN)), "--steps", "2", "--format", fmt, *extra)
    assert result.exit_code == 0, result.output
    assert "0.3" in result.output


def test_sequential_updates_go_back_through_the_updated_weights_of_each_consumer(tmp_path) -> None:
    result = invoke("train", str(_write(tmp_path, FAN)), "--update-order", "sequential", "--format", "json")
    doc = json.loads(result.output)
    w3 = np.array([[0.3, -0.6]])
    w2 = np.array([[0.5, -0.2], [0.1, 0.4]])
    x = np.array([1, 0.5])
    y1 = _sig(np.array([[0.1, 0.2], [0.3, -0.1]]) @ x)
    y2 = np.tanh(w2 @ y1 + np.array([0.1, -0.2]))
    s = y1 + y2
    y3 = _sig(w3 @ s)
    g3 = (y3 - 1) * y3 * (1 - y3)
    w3_new = w3 - 0.5 * np.outer(g3, s)
    d_s = w3_new.T @ g3  # sequential: the output layer's new weights carry the error back
    g2 = d_s * (1 - y2**2)
    w2_new = w2 - 0.5 * np.outer(g2, y1)
    g1 = (w2_new.T @ g2 + d_s) * y1 * (1 - y1)
    np.testing.assert_allclose(doc["steps"][0]["gradients"]["h1.weight"], np.outer(g1, x), rtol=1e-12)


def test_one_sample_batches_write_lists_of_one(tmp_path) -> None:
    text = "inputs: 2\nlayers:\n  - {units: 1, weight: [[0.1, 0.2]]}\ndata:\n  - {input: [1, 2], target: [1]}\n"
    doc = json.loads(invoke("train", str(_write(tmp_path, text)), "--batch", "full", "--format", "json").output)
    step = doc["steps"][0]
    assert (step["sample"], step["input"], step["target"]) == ([1], [[1.0, 2.0]], [[1.0]])
    single = json.loads(invoke("train", str(_write(tmp_path, text)), "--format", "json").output)["steps"][0]
    assert (single["sample"], single["input"]) == (1, [1.0, 2.0])


BAD = [
    ("{name: s, type: add, inputs: [h1, nowhere]}", "layers[2].inputs[1]", "'nowhere' is not an earlier layer"),
    ("{name: s, type: add, inputs: [h1, s]}", "layers[2].inputs[1]", "'s' is not an earlier layer"),
    ("{name: s, type: add, inputs: [h1]}", "layers[2].inputs", "needs two or more inputs, found 1"),
    ("{name: s, type: add}", "layers[2]", "needs two or more inputs"),
    ("{name: s, type: add, inputs: [h1, h1]}", "layers[2].inputs[1]", "'h1' is named twice"),
    ("{name: s, type: add, inputs: [h1, input]}", "layers[2].inputs", "inputs have the shapes 2, 3"),
    ("{name: s, type: add, inputs: 3}", "layers[2].inputs", "found the number 3"),
    ("{name: s, units: 2, inputs: [h1, h2]}", "layers[2].inputs", "takes one input, found 2"),
]


@pytest.mark.parametrize(("layer", "path", "message"), BAD)
def test_inputs_that_cannot_be_are_one_positioned_line(layer: str, path: str, message: str) -> None:
    text = f"""inputs: 3
layers:
  - {{name: h1, units: 2}}
  - {{name: h2, units: 2, inputs: [h1]}}
  - {layer}
  - {{name: out, units: 1, inputs: [s]}}
data: []
"""
    with pytest.raises(BpexplainError) as err:
        parse_network(text, "net.yaml")
    line = err.value.report()
    assert path in line and message in line, line
    assert "\n" not in line.strip()


def test_a_layer_that_feeds_nothing_is_named() -> None:
    text = """inputs: 2
layers:
  - {name: h1, units: 2}
  - {name: h2, units: 2, inputs: [input]}
  - {name: out, units: 1}
"""
    with pytest.raises(BpexplainError) as err:
        parse_network(text, "net.yaml")
    assert "layers[0]" in err.value.report() and "is used by no later layer" in err.value.report()


def test_a_chain_file_reads_as_before() -> None:
    spec = bpexplain.load("lecture")
    assert [ls.inputs for ls in spec.layers] == [("input",), ("layer1",), ("layer2",)]


def test_the_schema_knows_inputs() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the test extra")
    import yaml

    from bpexplain.schema import network_schema

    jsonschema.validate(yaml.safe_load(FAN), network_schema())


def test_variants_of_a_graph_run_the_graph(tmp_path) -> None:
    path = _write(tmp_path, FAN)
    result = invoke("variants", str(path), "--count", "2", "--seed", "3", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    key = (tmp_path / "out" / "variant-01-key.txt").read_text(encoding="utf-8")
    assert "S1(1) = y_3 + y_1" in key


def test_the_diagram_of_a_graph_arches_over_to_what_a_layer_reads(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="the diagram needs the plot extra")
    from bpexplain.diagram import chain_figure, collect

    spec = bpexplain.load(str(_write(tmp_path, FAN)))
    fig = chain_figure(spec, collect(spec), 4)
    arrows = [a for a in fig.axes[0].texts if getattr(a, "arrow_patch", None) is not None]
    bends = [a.arrow_patch.get_connectionstyle().rad for a in arrows]
    assert len(arrows) == 5  # input→h1, h1→h2, h2→skip, h1→skip (arched), skip→out
    assert sorted(bends) == [-0.25, 0, 0, 0, 0]


def test_a_letter_with_a_mark_takes_one_column_in_the_text_trace() -> None:
    """x̂ is x and U+0302: the columns of a block line up as drawn, the mark still over its letter."""
    import unicodedata

    out = invoke("train", "batchnorm", "--batch", "full", "--format", "text", "--layer", "bn", "--only", "forward")
    text = out.output.split("Forward: bn [sample 1]\n", 1)[1].split("\n\n", 1)[0]
    block = [line for line in text.splitlines() if line.startswith("    ")]
    assert any("x̂" in line for line in block) and any(line.startswith("    BN1") for line in block)

    def drawn(text: str) -> int:
        return sum(1 for ch in text if not unicodedata.combining(ch))

    assert len({drawn(line[: line.index(" = ")]) for line in block}) == 1


def test_an_overflow_in_a_kinds_backward_values_stops_the_run_in_one_line(tmp_path) -> None:
    """batchnorm's ∂E/∂σ² overflows (ε = 1e308): caught by the numeric pass, never a warning from the equations."""
    text = """inputs: 4
layers:
  - {name: bn, type: batchnorm, eps: 1e308, inputs: [input]}
data: [{input: [1, 2, 3, 4], target: [1, 2, 3, 4]}, {input: [2, 2, 3, 4], target: [1, 2, 3, 4]}]
"""
    result = invoke("train", str(_write(tmp_path, text)), "--batch", "full")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "overflow" in result.stderr
    assert "Warning" not in result.stderr


def test_a_full_trace_of_a_long_attention_is_refused_before_it_starts(tmp_path) -> None:
    """T tokens give T×T scores and weights, each weight a sum over T: the budget counts them, not T×d units."""
    t = 300
    rows = [[(i * 7 + j) % 3 - 1 for j in range(4)] for i in range(t)]
    text = (
        f"inputs: {{shape: [{t}, 4]}}\nlayers:\n  - {{name: att, type: self_attention, d_k: 2, d_v: 2}}\n"
        f"data: [{{input: {rows}, target: {[[0, 0]] * t}}}]\n"
    )
    path = _write(tmp_path, text)
    result = invoke("train", str(path))
    assert result.exit_code == 2 and "a full trace of this network in text would write about" in result.stderr
    assert invoke("train", str(path), "--detail", "summary").exit_code == 0


def test_the_legend_of_a_trace_with_marks_lines_up() -> None:
    """x̂ is two characters drawn in one column: every meaning of the legend starts in the same column."""
    import re
    import unicodedata

    out = invoke("show", "batchnorm").output
    legend = out.split("Legend\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert any("x̂" in line for line in legend)
    drawn = ["".join(ch for ch in line if not unicodedata.combining(ch)) for line in legend]
    columns = {re.match(r"  \S+\s+", line).end() for line in drawn}  # type: ignore[union-attr]
    assert len(columns) == 1, columns
