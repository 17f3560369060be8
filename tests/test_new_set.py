"""`bpexplain new`, `--set KEY=VALUE`, shell completion of NET, and the package's metadata."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import batch_args

import bpexplain
from bpexplain.cli import cli
from bpexplain.errors import BpexplainError
from bpexplain.functions import ACTIVATION_NAMES, LOSSES
from bpexplain.layers import LAYER_TYPES
from bpexplain.spec import bundled_names, load_network

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


# ---- new ------------------------------------------------------------------------------------------


def test_new_writes_a_commented_network_that_loads_and_trains(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = invoke("new", "my-net")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "my-net.yaml").read_text("utf-8")
    assert text.count("#") > 10  # commented
    for name in (*ACTIVATION_NAMES, *LOSSES, *LAYER_TYPES):  # the lists come from the loader's tables
        assert name in text
    spec = load_network("my-net.yaml")
    assert spec.name == "my-net"
    trained = invoke("train", "my-net.yaml", "--epochs", "2", "--detail", "summary")
    assert trained.exit_code == 0 and "b_3" in trained.output


def test_new_never_writes_over_a_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("keep me\n")
    result = invoke("new", "mine", "--like", "xor")
    assert result.exit_code == 2
    assert result.stderr.startswith("mine.yaml: error: the file already exists")
    assert (tmp_path / "mine.yaml").read_text() == "keep me\n"


@pytest.mark.parametrize("like", bundled_names())
def test_new_like_copies_a_bundled_network_under_the_new_name(tmp_path: Path, like: str) -> None:
    target = tmp_path / "start.yaml"
    result = invoke("new", str(target), "--like", like)
    assert result.exit_code == 0, result.output
    spec, original = load_network(str(target)), load_network(like)
    assert spec.name == "start" and spec.title == original.title
    assert spec.parameters().keys() == original.parameters().keys()
    origins = {f"{ls.name}.{p}": param.origin for ls in spec.layers for p, param in ls.params.items()}
    for key, value in original.parameters().items():
        if origins[key] in ("given", "default"):
            assert (spec.parameters()[key] == value).all()
    if like != "lenet5":  # one step of LeNet-5's full trace is a few seconds: its loading is enough here
        args = ("train", str(target), "--steps", "1", "--detail", "summary", *batch_args(like))
        assert invoke(*args).exit_code == 0


def test_new_into_a_missing_folder_or_an_unknown_like_is_one_line(tmp_path: Path) -> None:
    result = invoke("new", str(tmp_path / "no" / "such"))
    assert result.exit_code == 2 and "no such folder" in result.stderr
    result = invoke("new", str(tmp_path / "x"), "--like", "lectur")
    assert result.exit_code == 2 and "did you mean 'lecture'" in result.stderr
    assert not (tmp_path / "x.yaml").exists()


# ---- --set ----------------------------------------------------------------------------------------


def sigmoid(e: float) -> float:
    return 1.0 / (1.0 + math.exp(-e))


def test_set_learning_rate_changes_the_update_as_by_hand() -> None:
    spec = load_network("lecture", ["learning_rate=0.1"])
    assert spec.learning_rate == 0.1
    t = bpexplain.train(spec, steps=1)
    # the output weight w_46 after one step, worked out apart from the engine with η = 0.1
    y = [sigmoid(0.1 * 0.5 + 0.4 * 0.8), sigmoid(0.3 * 0.5 - 0.2 * 0.8), sigmoid(0.5 * 0.5 + 0.2 * 0.8)]
    y4 = sigmoid(0.2 * y[0] - 0.3 * y[1] + 0.4 * y[2])
    y5 = sigmoid(0.1 * y[0] + 0.5 * y[1] - 0.2 * y[2])
    y6 = sigmoid(0.6 * y4 - 0.4 * y5)
    w46 = 0.6 - 0.1 * (y6 - 1) * y6 * (1 - y6) * y4
    assert t.steps[0].parameters["output.weight"][0, 0] == pytest.approx(w46, rel=1e-12)


def test_set_a_layer_by_name_a_sample_and_a_new_key() -> None:
    spec = load_network(
        "xor",
        [
            "layers.hidden.weight=[[1, 2], [3, 4]]",
            "data[1].input=[0.5, 0.25]",
            "layers[1].bias={value: [0], trainable: false}",
        ],
    )
    assert spec.layers[0].params["weight"].value.tolist() == [[1, 2], [3, 4]]
    assert spec.data[1].input.tolist() == [0.5, 0.25]
    assert spec.frozen() == ["output.bias"]
    assert load_network("xor").layers[0].params["weight"].value.tolist() == [[0.5, 0.4], [0.9, 1.0]]  # file untouched


def test_set_on_the_command_line_changes_the_run() -> None:
    plain = invoke("forward", "lecture")
    changed = invoke("forward", "lecture", "--set", "data[0].input=[0, 0]")
    assert changed.exit_code == 0
    assert "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2 = 0.1·0 + 0.4·0" in changed.output
    assert plain.output != changed.output
    train = invoke("train", "lecture", "--set", "learning_rate=0.1", "--format", "json")
    assert '"learning_rate": 0.1' in train.output


@pytest.mark.parametrize(
    "setting,message",
    [
        ("learning_rate=0", "error: --set learning_rate=0: learning_rate: found 0 (expected a number greater than 0)"),
        (
            "layers.output.weight=[[1, 2, 3]]",
            "error: --set layers.output.weight=[[1, 2, 3]]: layers[2].weight: found shape 1×3",
        ),
        (
            "data[0].input=[1, abc]",
            "error: --set data[0].input=[1, abc]: data[0].input[1]: found the text 'abc' (expected a number)",
        ),
        (
            "layers.layer1.wieght=[[1]]",
            "error: --set layers.layer1.wieght=[[1]]: layers[0].wieght: unknown key 'wieght'; did you mean 'weight'?",
        ),
        (
            "layers.hiden.weight=[[1]]",
            "error: --set layers.hiden.weight=[[1]]: layers.hiden.weight: no layer named 'hiden' "
            "(expected a layer name (layer1, layer2, output)",
        ),
        (
            "data[3].input=[1, 2]",
            "error: --set data[3].input=[1, 2]: data[3].input: data has 1 item(s), so there is no [3]",
        ),
        ("learning_rate", "error: --set learning_rate: no KEY=VALUE (expected KEY=VALUE"),
        ("learning_rate=", "error: --set learning_rate=: no value after 'learning_rate='"),
        ("data[0].input=[1,", "error: --set data[0].input=[1,: data[0].input: YAML syntax error:"),
        ("loss=mae", "error: --set loss=mae: loss: unknown value 'mae'"),
    ],
)
def test_a_bad_set_names_itself_and_the_key(setting: str, message: str) -> None:
    result = invoke("train", "lecture", "--set", setting)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    with pytest.raises(BpexplainError):
        load_network("lecture", [setting])


# ---- completion -----------------------------------------------------------------------------------


def complete(shell: str, words: str, cword: int) -> str:
    env = {"_BPEXPLAIN_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return CliRunner().invoke(cli, prog_name="bpexplain", env=env).output


def test_completion_offers_bundled_networks_then_files() -> None:
    assert complete("bash", "bpexplain train lec", 2).splitlines() == ["plain,lecture", "file,lec"]
    offered = complete("bash", "bpexplain diagram ", 2).splitlines()
    assert [f"plain,{n}" for n in bundled_names()] == offered[:-1]
    assert "plain,xor" in complete("bash", "bpexplain new mine --like x", 4).splitlines()


def test_completion_offers_commands_and_options() -> None:
    assert "diagram" in complete("zsh", "bpexplain di", 1).splitlines()
    assert "plain,--plot" in complete("bash", "bpexplain train lecture --pl", 3).splitlines()
    script = CliRunner().invoke(cli, prog_name="bpexplain", env={"_BPEXPLAIN_COMPLETE": "bash_source"}).output
    assert "_bpexplain_completion()" in script and "complete -o nosort -F _bpexplain_completion bpexplain" in script


# ---- package metadata -----------------------------------------------------------------------------


def test_the_package_builds_without_warnings_of_its_own(tmp_path: Path) -> None:
    """`pip wheel` (in an isolated build, which fetches setuptools ≥ 77) prints no warning from our metadata."""
    import shutil

    source = tmp_path / "src"  # a copy: the build leaves build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "bpexplain", source / "bpexplain", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    if proc.returncode != 0 and ("Could not find a version" in log or "NewConnectionError" in log):
        pytest.skip("no package index reachable to fetch setuptools for the isolated build")
    assert proc.returncode == 0, log[-2000:]
    ours = [line for line in log.splitlines() if "deprecat" in line.lower() or "SetuptoolsWarning" in line]
    assert not ours, ours
    import zipfile

    (wheel,) = tmp_path.glob("bpexplain-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)  # the licence text travels with the wheel
    assert "Provides-Extra: plot" in metadata and "Keywords: back-propagation" in metadata
    assert "bpexplain/networks/lecture.yaml" in names and "bpexplain/commands/tools.py" in names
