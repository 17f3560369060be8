"""The command line as a user runs it: golden text, byte-identical reruns, clean pipes, one-line errors.

Golden files are regenerated with `BPEXPLAIN_UPDATE_GOLDEN=1 make test`; the values in them are
checked independently in test_lecture.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bpexplain import __version__
from bpexplain.cli import cli

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BPEXPLAIN_UPDATE_GOLDEN") == "1"
ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


@pytest.mark.parametrize(
    "name,args",
    [
        ("forward-lecture.txt", ["forward", "lecture"]),
        ("train-lecture-1.txt", ["train", "lecture", "--steps", "1"]),
        ("train-lecture-slide.txt", ["train", "lecture", "--rule", "slide"]),
        ("train-classifier-textbook.txt", ["train", "classifier", "--notation", "textbook"]),
    ],
)
def test_text_output_matches_the_golden_file(name: str, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    path = GOLDEN / name
    if UPDATE:
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_two_runs_give_identical_bytes(fmt: str) -> None:
    args = ["train", "xor", "--epochs", "2", "--shuffle", "--seed", "3", "--format", fmt]
    assert invoke(*args).stdout_bytes == invoke(*args).stdout_bytes


def run_piped(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bpexplain", *args], capture_output=True, env=full_env, timeout=120)


def test_piped_output_is_plain_text_without_escape_codes() -> None:
    proc = run_piped("train", "lecture", "--steps", "2")
    assert proc.returncode == 0
    assert b"\x1b[" not in proc.stdout
    assert not any(ch in proc.stdout.decode() for ch in "─│╭╮╰╯━┃")
    assert proc.stdout.decode().startswith("bpexplain train: lecture")


def test_forced_rich_output_respects_no_color() -> None:
    colour = run_piped("forward", "lecture", "--format", "rich", env={"FORCE_COLOR": "1"})
    assert b"\x1b[" in colour.stdout
    plain = run_piped("forward", "lecture", "--format", "rich", env={"NO_COLOR": "1"})
    assert plain.returncode == 0
    assert b"\x1b[3" not in plain.stdout  # no colour codes
    assert "σ(0.37)" in plain.stdout.decode()


def test_json_trace_has_the_documented_fields() -> None:
    result = invoke("train", "lecture", "--steps", "3", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["format"] == "bpexplain-trace/1"
    assert doc["network"]["loss"] == "mse" and doc["network"]["learning_rate"] == 0.5
    assert [layer["activation"] for layer in doc["network"]["layers"]] == ["sigmoid"] * 3
    assert doc["initial_parameters"]["output.weight"] == [[0.6, -0.4]]
    assert len(doc["steps"]) == 3
    step = doc["steps"][0]
    assert step["index"] == 1 and step["input"] == [0.5, 0.8] and step["target"] == [1.0]
    assert set(step["outputs"]) == {"layer1", "layer2", "output"}
    assert set(step["gradients"]) == set(step["parameters"]) == {"layer1.weight", "layer2.weight", "output.weight"}
    first = step["equations"][0]
    assert first == {
        "kind": "forward",
        "layer": "layer1",
        "symbol": "e_1",
        "expression": "w_(x1)1·x_1 + w_(x2)1·x_2",
        "substituted": "0.1·0.5 + 0.4·0.8",
        "value": 0.1 * 0.5 + 0.4 * 0.8,
    }
    y1 = step["equations"][1]
    assert y1["substituted"] == "σ(0.37)" and y1["expression"] == "h_1(e_1)"
    assert {eq["kind"] for eq in step["equations"]} == {"forward", "loss", "error", "gradient", "update"}


def test_forward_json_has_one_step_without_gradients() -> None:
    doc = json.loads(invoke("forward", "lecture", "--format", "json").stdout)
    assert len(doc["steps"]) == 1
    assert "gradients" not in doc["steps"][0] and "parameters" not in doc["steps"][0]
    assert doc["steps"][0]["loss"] == pytest.approx(0.1113359, abs=1e-6)  # see test_lecture.by_hand


def test_json_keeps_full_precision_whatever_is_displayed() -> None:
    doc = json.loads(invoke("forward", "lecture", "--format", "json", "--precision", "2").stdout)
    value = doc["steps"][0]["equations"][1]["value"]
    assert value == pytest.approx(0.591458, abs=1e-6) and len(repr(value)) > 10


def test_list_shows_bundled_networks_with_titles() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    assert "lecture" in result.stdout and "2-3-2-1" in result.stdout
    assert "xor" in result.stdout and "classifier" in result.stdout


def test_show_lists_layers_parameters_and_legend() -> None:
    result = invoke("show", "lecture", "--format", "text")
    assert result.exit_code == 0
    for part in (
        "Legend",
        "δ_n",
        "error at the output of neuron n",
        "layer2  dense  sigmoid     3      2",
        "w_46 = 0.6",
    ):
        assert part in result.stdout, part


def test_version_and_help_with_examples() -> None:
    assert invoke("--version").stdout.strip() == f"bpexplain, version {__version__}"
    for command in ("forward", "train", "show", "list"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout


def test_summary_detail_prints_one_line_per_step() -> None:
    result = invoke("train", "xor", "--steps", "20", "--detail", "summary")
    lines = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert len(lines) == 20 and "E = " in lines[0]


def test_until_loss_stops_early() -> None:
    result = invoke("train", "xor", "--epochs", "5000", "--until-loss", "0.05", "--detail", "summary")
    assert result.exit_code == 0
    assert "reached --until-loss 0.05" in result.stdout
    assert "step 20000 " not in result.stdout


def test_layer_detail_shows_vectors_not_equations() -> None:
    result = invoke("train", "lecture", "--detail", "layer")
    assert "y = [0.5915, 0.4975, 0.6011]" in result.stdout
    assert "e_1 = " not in result.stdout


BAD = {
    "syntax.yaml": (
        "inputs: 2\nlayers:\n  - name: a\n    weight: [[1, 2], [3, 4]\n",
        "syntax.yaml:5:1: error: YAML syntax error",
    ),
    "unknown.yaml": (
        "inputs: 2\nlayers:\n  - name: a\n    wieght: [[1, 2]]\n",
        "unknown.yaml:4:5: error: layers[0].wieght: unknown key 'wieght'; did you mean 'weight'?",
    ),
    "shape.yaml": (
        "inputs: 2\nlayers:\n  - {name: a, weight: [[1, 2], [3, 4]]}\n  - name: b\n    weight: [[1, 2, 3]]\n",
        "shape.yaml:5:13: error: layers[1].weight: found shape 1×3 (expected",
    ),
    "target.yaml": (
        "inputs: 2\nlayers:\n  - {name: a, weight: [[1, 2]]}\ndata:\n  - input: [1, 2]\n    target: [1, 0]\n",
        "target.yaml:6:13: error: data[0].target: found shape 2 (expected a target with one value per output",
    ),
    "activation.yaml": (
        "inputs: 2\nlayers:\n  - name: a\n    activation: sigmod\n    weight: [[1, 2]]\n",
        "activation.yaml:4:17: error: layers[0].activation: unknown value 'sigmod'; did you mean 'sigmoid'?",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_gets_one_clear_line_and_exit_2(name: str, tmp_path: Path) -> None:
    text, expected = BAD[name]
    (tmp_path / name).write_text(text)
    proc = run_piped("forward", str(tmp_path / name))
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.match(rf"{re.escape(str(tmp_path / name))}:\d+:\d+: error: ", err), err
    assert expected.split(":", 1)[1] in err


def test_missing_file_and_unknown_name() -> None:
    proc = run_piped("forward", "no-such-dir/net.yaml")
    assert proc.returncode == 2 and proc.stderr.decode().startswith("no-such-dir/net.yaml: error: no such file")
    proc = run_piped("train", "lectur")
    assert proc.returncode == 2 and "did you mean 'lecture'?" in proc.stderr.decode()


def test_usage_errors_exit_2() -> None:
    assert invoke("train", "lecture", "--steps", "0").exit_code == 2
    assert invoke("train", "lecture", "--steps", "1", "--epochs", "1").exit_code == 2
    result = invoke("train", "lecture", "--rule", "slide", "--notation", "textbook")
    assert result.exit_code == 2 and "error:" in result.stderr


def test_rich_summary_lines_match_the_text_ones() -> None:
    import bpexplain

    t = bpexplain.train("xor", steps=450, detail="summary")  # more than one batch of printed lines
    text_lines = [line for line in t.render("text").splitlines() if line.startswith("step ")]
    rich_lines = [line.rstrip() for line in t.render("rich", width=250).splitlines() if line.startswith("step ")]
    assert len(text_lines) == 450
    assert rich_lines == text_lines
    assert "hidden.weight = [" in rich_lines[0]
