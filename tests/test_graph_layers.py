"""Networks as graphs and the layer kinds of issue 12, run through the command line and compared with the
independent reference (tests/graph_reference.py, trusted on its own by tests/test_graph_reference.py).

For each new kind, random seeded configurations (small shapes, written as YAML to tmp_path) and the bundled
networks run `bpexplain train FILE --steps 3 --format json` (and `--batch full` where batchnorm is in the network
or the data has several samples); every step's loss, gradients and parameters must agree with the reference to
rtol 1e-9, dropout masks with the rule keep = default_rng([seed, step, sample, layer index]).random(shape) >= p,
and `network.layers[].inputs` with the file's graph. A kind the build does not have yet is skipped, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import graph_reference as ref
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.functions import ACTIVATION_NAMES
from bpexplain.layers import LAYER_TYPES

NETWORKS = Path(__file__).parent.parent / "bpexplain" / "networks"
ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
SEEDS = range(4)
RTOL, ATOL = 1e-9, 1e-12
BUNDLED = {"resnet-block": "single", "se-block": "single", "cbam": "single", "attention": "single", "batchnorm": "full"}


def skip_unless_built(doc: dict) -> None:
    """Skip, naming the reason, when the network uses a layer kind or activation the build lacks."""
    for kind in sorted(ref.kinds_of(doc)):
        if kind in LAYER_TYPES or kind in ACTIVATION_NAMES:
            continue
        if kind == "gelu":
            pytest.skip("gelu is not in bpexplain.functions.ACTIVATION_NAMES yet")
        pytest.skip(f"{kind!r} is not in bpexplain.layers.LAYER_TYPES yet")


def train_json(path: Path, batch: str, steps: int = 3, detail: str = "full") -> dict:
    args = ["train", str(path), "--steps", str(steps), "--format", "json", "--batch", batch, "--detail", detail]
    result = CliRunner(env=ENV).invoke(cli, args)
    assert result.exit_code == 0, f"{' '.join(args)}\n{result.output}"
    return json.loads(result.stdout)


def assert_close(got: Any, want: np.ndarray, what: str) -> None:
    got = np.asarray(got, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_trace_matches(trace: dict, net: ref.Network, batch: str, steps: int = 3) -> None:
    """Every step's loss, gradients, parameters and dropout masks, and the graph, as the reference has them."""
    layers = trace["network"]["layers"]
    assert [ly["name"] for ly in layers] == [ly.name for ly in net.layers]
    for got, want in zip(layers, net.layers):
        assert got.get("inputs") == want.inputs, f"{want.name}: network.layers[].inputs"
        assert got["type"] == want.kind
    for name, value in net.values.items():
        assert_close(trace["initial_parameters"][name], value, f"initial_parameters {name}")
    expected = ref.train(net, steps, batch)
    assert len(trace["steps"]) == steps
    for got, want in zip(trace["steps"], expected):
        where = f"step {want.index}"
        if batch == "single":
            assert got["sample"] == want.samples[0], where
        assert got["loss"] == pytest.approx(want.loss, rel=RTOL, abs=ATOL), f"{where}: loss"
        assert set(got["gradients"]) == set(want.gradients), where
        assert set(got["parameters"]) == set(want.parameters), where
        for name in want.gradients:
            assert_close(got["gradients"][name], want.gradients[name], f"{where}: gradient {name}")
            assert_close(got["parameters"][name], want.parameters[name], f"{where}: parameter {name}")
        dropouts = [ly for ly in net.layers if ly.kind == "dropout"]
        if dropouts:
            assert set(got["masks"]) == {ly.name for ly in dropouts}, f"{where}: masks"
        for ly in dropouts:
            p = float(ly.raw.get("p", 0.5))
            rule = [ref.dropout_mask(net.seed, want.index, n, ly.index, ly.in_shapes[0], p) for n in want.samples]
            masks = got["masks"][ly.name]
            assert len(masks) == len(want.samples), f"{where}: one mask per sample"
            for n, mask, keep in zip(want.samples, masks, rule):
                assert np.array_equal(np.asarray(mask), keep), f"{where}: mask of {ly.name}, sample {n}"
                assert set(np.unique(mask)) <= {0, 1}


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _check(tmp_path: Path, doc: dict, batches: list[str], lean: bool = False) -> None:
    """The explained path for each batch mode; with `lean`, the summary path too (the same numerics)."""
    skip_unless_built(doc)
    path = _write(tmp_path, doc)
    net = ref.load(path)
    for batch in batches:
        assert_trace_matches(train_json(path, batch), net, batch)
    if lean:
        assert_trace_matches(train_json(path, batches[0], detail="summary"), net, batches[0])


def _batches(kind: str, seed: int) -> list[str]:
    if kind == "batchnorm":
        return ["full"]
    if kind == "dropout":
        return ["single", "full"]
    return ["single", "full"] if seed == 0 else ["single"]


# ---- every new kind, random configurations ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(ref.BUILDERS))
def test_new_kind_agrees_with_the_reference(tmp_path: Path, kind: str, seed: int) -> None:
    doc = ref.BUILDERS[kind](np.random.default_rng([12, seed, len(kind)]), seed)
    _check(tmp_path, doc, _batches(kind, seed), lean=seed == 0)


# ---- graphs of today's kinds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_a_dense_layer_feeding_two_later_ones_joined_by_add(tmp_path: Path, seed: int) -> None:
    """h1 feeds h2 and h3, which add joins: h1's error is the sum of both paths (every activation and loss)."""
    doc = ref.random_today(np.random.default_rng([12, seed, 99]), seed)
    assert [ly.get("inputs") for ly in doc["layers"]][2:4] == [["h1"], ["h2", "h3"]]
    _check(tmp_path, doc, ["single", "full"] if seed < 2 else ["single"])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_residual_conv_block(tmp_path: Path, seed: int) -> None:
    doc = ref.random_residual(np.random.default_rng([12, seed, 98]), seed)
    _check(tmp_path, doc, ["single", "full"] if seed == 1 else ["single"])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_chain_of_todays_kinds(tmp_path: Path, seed: int) -> None:
    """conv2d (stride, padding, dilation, flip), pooling, activation, flatten, dense (from_to, a frozen bias) and
    each loss: the reference agrees with today's engine too (`inputs` in the JSON once graphs have landed)."""
    doc = ref.random_chain(np.random.default_rng([12, seed, 97]), seed)
    path = _write(tmp_path, doc)
    net = ref.load(path)
    runs = [("single", "full")] + ([("full", "full"), ("full", "summary")] if seed == 0 else [])
    for batch, detail in runs:
        trace = train_json(path, batch, detail=detail)
        if "add" not in LAYER_TYPES:  # before the graph redesign the JSON has no `inputs`
            for ly in trace["network"]["layers"]:
                ly["inputs"] = [w.inputs for w in net.layers if w.name == ly["name"]][0]
        assert_trace_matches(trace, net, batch)


def test_inputs_default_to_the_layer_above(tmp_path: Path) -> None:
    """`inputs` is written out in the JSON whether or not the file says it: `input`, then the layer above."""
    doc = ref.random_today(np.random.default_rng([12, 0, 99]), 0)
    skip_unless_built(doc)
    trace = train_json(_write(tmp_path, doc), "single", steps=1)
    assert [ly["inputs"] for ly in trace["network"]["layers"]] == [["input"], ["h1"], ["h1"], ["h2", "h3"], ["join"]]


# ---- the bundled networks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUNDLED))
def test_bundled_network_agrees_with_the_reference(name: str) -> None:
    path = NETWORKS / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    skip_unless_built(doc)
    batch = BUNDLED[name]
    trace = train_json(path, batch)
    assert_trace_matches(trace, ref.load(path), batch)
    assert trace["network"]["title"] == doc["title"]
    assert 0 < len(trace["steps"][0]["equations"]) < 400, "a full trace to read by hand: under ~400 equations a step"
    assert_trace_matches(train_json(path, batch, detail="summary"), ref.load(path), batch)
    # by its short name too, as a user would run it
    result = CliRunner(env=ENV).invoke(cli, ["train", name, "--steps", "1", "--format", "json", "--batch", batch])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][0]["loss"] == pytest.approx(
        ref.train(ref.load(path), 1, batch)[0].loss, rel=RTOL
    )


@pytest.mark.parametrize("name", list(BUNDLED))
def test_forward_of_a_bundled_network(name: str) -> None:
    """`forward` feeds sample 1 (batchnorm normalising over all the samples of the data); its loss and output."""
    path = NETWORKS / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    skip_unless_built(doc)
    result = CliRunner(env=ENV).invoke(cli, ["forward", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    step = json.loads(result.stdout)["steps"][0]
    net = ref.load(path)
    x = np.stack([d[0] for d in net.data])
    outs, _ = ref.forward(net, net.values, x, ref.Context(training=False))
    y = outs[net.output.name][0].reshape(1, -1)
    want = ref.sample_losses(net.loss, y, net.data[0][1][None])[0]  # type: ignore[index]
    assert step["loss"] == pytest.approx(want, rel=RTOL)
    assert_close(np.asarray(step["outputs"][net.output.name]).reshape(-1), y[0], "output")


def test_dropout_is_off_in_forward(tmp_path: Path) -> None:
    doc = ref.random_dropout(np.random.default_rng([12, 0, 7]), 0)
    skip_unless_built(doc)
    path = _write(tmp_path, doc)
    result = CliRunner(env=ENV).invoke(cli, ["forward", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    step = json.loads(result.stdout)["steps"][0]
    net = ref.load(path)
    outs, _ = ref.forward(net, net.values, net.data[0][0][None], ref.Context(training=False))
    drop = next(ly for ly in net.layers if ly.kind == "dropout")
    assert_close(np.asarray(step["outputs"][drop.name]).reshape(-1), outs[drop.name][0].reshape(-1), "dropout")
    assert_close(np.asarray(step["outputs"][drop.name]).reshape(-1), outs[drop.inputs[0]][0].reshape(-1), "identity")
    assert not step.get("masks")


@pytest.mark.parametrize("name", list(BUNDLED))
def test_predictions_after_training_of_a_bundled_network(name: str) -> None:
    """The end of a run feeds every sample through the final parameters, as `forward` would (no dropout,
    batchnorm over all the samples): each prediction and its loss, against the reference."""
    path = NETWORKS / f"{name}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    skip_unless_built(doc)
    trace = train_json(path, BUNDLED[name], detail="summary")
    net = ref.load(path)
    last = trace["steps"][-1]["parameters"]
    final = {k: np.asarray(v, dtype=float).reshape(net.values[k].shape) for k, v in last.items()}
    x = np.stack([d[0] for d in net.data])
    outs, _ = ref.forward(net, final, x, ref.Context(training=False))
    y = outs[net.output.name].reshape(len(net.data), -1)
    targets = np.stack([d[1] for d in net.data])  # type: ignore[arg-type]
    losses = ref.sample_losses(net.loss, y, targets)
    for k, prediction in enumerate(trace["predictions"]):
        assert_close(np.asarray(prediction["output"]).reshape(-1), y[k], f"sample {k + 1}'s prediction")
        assert prediction["loss"] == pytest.approx(losses[k], rel=RTOL)
