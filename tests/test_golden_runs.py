"""Golden files for the runs the graph redesign must not change: JSON traces, batch gradient descent,
the sequential update order and rounding as by hand.

The numbers in them are checked here against gradient descent written apart from the engine (plain
numpy over the YAML as `yaml.safe_load` reads it), so a golden file is never just what the tool said
once. Regenerate with `BPEXPLAIN_UPDATE_GOLDEN=1 make test`, and review every changed line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bpexplain.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "runs"
NETWORKS = Path(__file__).parent.parent / "bpexplain" / "networks"
UPDATE = os.environ.get("BPEXPLAIN_UPDATE_GOLDEN") == "1"
ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}

CASES = {
    "train-lecture-2.json": ["train", "lecture", "--steps", "2", "--format", "json"],
    "train-classifier-batch-2.json": ["train", "classifier", "--batch", "full", "--steps", "2", "--format", "json"],
    "train-homework-cnn-1.json": ["train", "homework-cnn", "--steps", "1", "--format", "json"],
    "forward-xor-3.json": ["forward", "xor", "--sample", "3", "--format", "json"],
    "train-xor-batch-2.txt": ["train", "xor", "--batch", "full", "--steps", "2", "--format", "text"],
    "train-lecture-sequential-2.txt": ["train", "lecture", "--update-order", "sequential", "--steps", "2"],
    "train-lecture-round-2.txt": ["train", "lecture", "--round", "2", "--steps", "2"],
    "train-classifier-round-3-batch.txt": ["train", "classifier", "--round", "3", "--batch", "full"],
}


def output_of(args: list[str]) -> str:
    result = CliRunner(env=ENV).invoke(cli, [*args, "--format", "text"] if "--format" not in args else args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("name", CASES)
def test_run_matches_its_golden_file(name: str) -> None:
    text = output_of(CASES[name])
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# ---- an independent reference: dense gradient descent, E = ½Σ(y − ŷ)² or softmax cross-entropy ----

ACTIVATIONS = {
    "sigmoid": (lambda e: 1 / (1 + np.exp(-e)), lambda y: y * (1 - y)),
    "tanh": (np.tanh, lambda y: 1 - y**2),
}


def reference_steps(network: str, steps: int, batch: bool, sequential: bool = False) -> list[dict]:
    """Each step's loss (before its update) and parameters after it, by plain gradient descent."""
    doc = yaml.safe_load((NETWORKS / f"{network}.yaml").read_text(encoding="utf-8"))
    layers = [
        {
            "name": ly["name"],
            "act": ly.get("activation", "identity"),
            "W": np.array(ly["weight"], dtype=float),
            "b": np.array(ly["bias"], dtype=float) if "bias" in ly else None,
        }
        for ly in doc["layers"]
    ]
    data = [(np.array(d["input"], float), np.array(d["target"], float)) for d in doc["data"]]
    lr, loss_kind = float(doc["learning_rate"]), doc.get("loss", "mse")
    results = []
    for step in range(steps):
        samples = data if batch else [data[step % len(data)]]
        losses, grads = [], []
        for x, t in samples:
            ys = [x]
            for ly in layers:
                e = ly["W"] @ ys[-1] + (ly["b"] if ly["b"] is not None else 0)
                if ly["act"] == "softmax":
                    z = np.exp(e - e.max())
                    ys.append(z / z.sum())
                else:
                    ys.append(ACTIVATIONS[ly["act"]][0](e))
            y = ys[-1]
            if loss_kind == "mse":
                losses.append(0.5 * float(np.sum((y - t) ** 2)))
                d_pre = (y - t) * ACTIVATIONS[layers[-1]["act"]][1](y)
            else:
                losses.append(-float(np.sum(t * np.log(y))))
                d_pre = y - t
            g = {}
            weights = [ly["W"].copy() for ly in layers]
            for k in reversed(range(len(layers))):
                g[k] = (np.outer(d_pre, ys[k]), d_pre.copy())
                if sequential:
                    weights[k] = layers[k]["W"] - lr * g[k][0]
                if k:
                    d_pre = (weights[k].T @ d_pre) * ACTIVATIONS[layers[k - 1]["act"]][1](ys[k])
            grads.append(g)
        for k, ly in enumerate(layers):
            ly["W"] = ly["W"] - lr * np.mean([g[k][0] for g in grads], axis=0)
            if ly["b"] is not None:
                ly["b"] = ly["b"] - lr * np.mean([g[k][1] for g in grads], axis=0)
        params = {f"{ly['name']}.weight": ly["W"].copy() for ly in layers}
        params.update({f"{ly['name']}.bias": ly["b"].copy() for ly in layers if ly["b"] is not None})
        results.append({"loss": float(np.mean(losses)), "params": params})
    return results


@pytest.mark.parametrize(
    "name,network,steps,batch",
    [("train-lecture-2.json", "lecture", 2, False), ("train-classifier-batch-2.json", "classifier", 2, True)],
)
def test_json_golden_values_agree_with_gradient_descent_written_apart(
    name: str, network: str, steps: int, batch: bool
) -> None:
    trace = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    expected = reference_steps(network, steps, batch)
    assert len(trace["steps"]) == steps
    for got, want in zip(trace["steps"], expected):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)
        assert set(got["parameters"]) == set(want["params"])
        for key, value in want["params"].items():
            np.testing.assert_allclose(np.array(got["parameters"][key]), value, rtol=1e-12, atol=1e-15)


def test_sequential_golden_ends_with_the_weights_of_sequential_descent_written_apart() -> None:
    """The text golden's final weights, as printed (4 significant digits), are those of the reference."""
    text = (GOLDEN / "train-lecture-sequential-2.txt").read_text(encoding="utf-8")
    want = reference_steps("lecture", 2, batch=False, sequential=True)[-1]["params"]
    exact = reference_steps("lecture", 2, batch=False, sequential=False)[-1]["params"]
    assert any(not np.allclose(want[k], exact[k], rtol=1e-6) for k in want), "the orders must differ here"
    final = text[text.rindex("Parameters after step 2") : text.rindex("Summary")]
    printed = set(final.split())
    for key in want:
        for value in want[key].flat:
            assert f"{value:.4g}" in printed, key
    assert any(f"{v:.4g}" not in printed for k in exact for v in exact[k].flat)


def test_json_strings_follow_max_terms_and_count_the_whole_sum() -> None:
    """A long sum reads as in the text (first and last terms around …); its value and term count are whole."""
    short = json.loads(output_of(["train", "homework-cnn", "--format", "json"]))
    whole = json.loads(output_of(["train", "homework-cnn", "--format", "json", "--max-terms", "1000"]))
    text = output_of(["train", "homework-cnn"])
    for s, w in zip(short["steps"][0]["equations"], whole["steps"][0]["equations"]):
        assert s["value"] == w["value"] and "terms" not in w
        if "terms" in s:
            assert s["terms"] == w["expression"].count(" + ") + 1 > 8
            assert " + … + " in s["expression"] and s["expression"] in text
        else:
            assert s["expression"] == w["expression"]
    assert any("terms" in s for s in short["steps"][0]["equations"])
