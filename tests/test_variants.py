"""`bpexplain variants`: the same bytes for the same seed, and every promise about the numbers, on many seeds.

The constraints are checked apart from the module that draws: decimals are counted from the numbers'
shortest decimal form, the sigmoid, tanh and softmax outputs of the dense networks by a forward pass
written here in numpy, and the key against what `bpexplain train` prints for the variant's file.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hostile import PRINTABLE

from bpexplain.cli import cli
from bpexplain.spec import NetworkSpec, load_network, parse_network, read_network_text
from bpexplain.variants import MAX_COUNT, analyse, draw, variant_seed

SOURCES = ("lecture", "xor", "classifier", "homework-cnn")
SEEDS = range(1, 26)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def decimals(x: float) -> int:
    """Decimals of a number's shortest form: 0.5 -> 1, 2.0 -> 0, 0.05 -> 2."""
    text = repr(float(x))
    assert "e" not in text, text
    whole, _, frac = text.partition(".")
    return len(frac.rstrip("0"))


def is_whole(x: float) -> bool:
    return float(x).is_integer()


# ---- same seed, same bytes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("net", "fmt"), [("lecture", "text"), ("classifier", "markdown"), ("homework-cnn", "latex"), ("xor", "text")]
)
def test_same_seed_writes_the_same_bytes(tmp_path: Path, net: str, fmt: str) -> None:
    runs = []
    for name in ("a", "b"):
        code, out, err = invoke(
            "variants", net, "--count", "3", "--seed", "2026", "--format", fmt, "-o", str(tmp_path / name)
        )
        assert code == 0, err
        runs.append(files(tmp_path / name))
    assert runs[0] == runs[1]
    ext = {"text": "txt", "markdown": "md", "latex": "tex"}[fmt]
    assert sorted(runs[0]) == sorted(
        ["manifest.csv"]
        + [f"variant-0{k}{suffix}" for k in (1, 2, 3) for suffix in (".yaml", f"-question.{ext}", f"-key.{ext}")]
    )


def test_another_seed_other_numbers_and_a_variant_does_not_depend_on_count(tmp_path: Path) -> None:
    assert invoke("variants", "lecture", "--count", "2", "--seed", "5", "-o", str(tmp_path / "two"))[0] == 0
    assert invoke("variants", "lecture", "--count", "4", "--seed", "5", "-o", str(tmp_path / "four"))[0] == 0
    assert invoke("variants", "lecture", "--count", "2", "--seed", "6", "-o", str(tmp_path / "other"))[0] == 0
    two, four, other = (files(tmp_path / d) for d in ("two", "four", "other"))
    for name in ("variant-01.yaml", "variant-02-key.txt", "variant-02-question.txt"):
        assert two[name] == four[name]
    assert two["variant-01.yaml"] != other["variant-01.yaml"]
    assert two["variant-01.yaml"] != two["variant-02.yaml"]


# ---- the files -----------------------------------------------------------------------------------


def test_each_file_records_its_seed_and_id_and_trains_as_its_key(tmp_path: Path) -> None:
    out = tmp_path / "exam"
    code, stdout, err = invoke(
        "variants", "lecture", "--count", "3", "--seed", "11", "--steps", "2", "--notation", "textbook", "-o", str(out)
    )
    assert code == 0, err
    assert "3 variants" in stdout
    rows = list(csv.reader((out / "manifest.csv").read_text().splitlines()))
    assert rows[0] == ["variant", "seed", "network", "question", "key"]
    assert [r[0] for r in rows[1:]] == ["01", "02", "03"]
    for k, (vid, seed, network, question, key) in enumerate(rows[1:], 1):
        assert int(seed) == variant_seed(11, k)
        text = (out / network).read_text()
        assert f"variant {k} of lecture.yaml, --seed 11; this variant's own seed: {seed}" in text
        assert parse_network(text, network).name == f"lecture-v{vid}"
        assert f"variant {vid}" in (out / question).read_text() and seed in (out / question).read_text()
        code, trained, err = invoke(
            "train", str(out / network), "--steps", "2", "--notation", "textbook", "--format", "text"
        )
        assert code == 0, err
        assert trained == (out / key).read_text()


def test_the_question_holds_the_numbers_and_not_the_answers(tmp_path: Path) -> None:
    out = tmp_path / "q"
    assert invoke("variants", "lecture", "--count", "1", "--seed", "3", "-o", str(out))[0] == 0
    spec = load_network(str(out / "variant-01.yaml"))
    question = (out / "variant-01-question.txt").read_text()
    for ls in spec.layers:
        for value in ls.params["weight"].value.ravel():
            assert f"= {value:g}" in question
    x = spec.data[0].input
    assert f"x = [{x[0]:g}, {x[1]:g}]" in question
    assert f"ŷ = [{spec.data[0].target[0]:g}]" in question
    assert "Forward" not in question and "w'_" not in question.split("Legend")[1].split("Network")[1]
    assert "Task: carry out 1 training step" in question


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_hostile_names_are_data_in_every_file(tmp_path: Path, fmt: str) -> None:
    title = " ".join(PRINTABLE)
    names = [PRINTABLE[4], PRINTABLE[7]]
    net = tmp_path / "hostile net.yaml"
    net.write_text(
        "name: " + _dq(PRINTABLE[5]) + "\n"
        "title: " + _dq(title) + "\n"
        "inputs: [" + _dq(PRINTABLE[12]) + ", " + _dq(PRINTABLE[0]) + "]\n"
        "layers:\n"
        f"  - {{name: {_dq(names[0])}, activation: sigmoid, weight: [[0.1, 0.2], [0.3, -0.1]]}}\n"
        f"  - {{name: {_dq(names[1])}, activation: sigmoid, weight: [[0.5, -0.4]]}}\n"
        "data:\n  - {input: [0.5, 0.2], target: [1]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = invoke("variants", str(net), "--count", "2", "--seed", "1", "--format", fmt, "-o", str(out))
    assert code == 0, err
    spec = load_network(str(out / "variant-02.yaml"))
    assert spec.title == title and spec.name == PRINTABLE[5] + "-v02"
    assert [ls.name for ls in spec.layers] == names
    assert spec.input_names == (PRINTABLE[12], PRINTABLE[0])
    for name in ("variant-02-question", "variant-02-key"):
        text = (out / f"{name}.{'md' if fmt == 'markdown' else 'tex'}").read_text()
        assert "<script>" not in text
        if fmt == "latex":  # outside comments: a name never becomes a command
            body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
            assert r"\input{" not in body and r"\immediate\write18" not in body


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- the numbers -----------------------------------------------------------------------------------


def dense_forward(spec: NetworkSpec, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Each dense layer's activation and output, computed here: e = W·x + b, then the activation."""
    outputs = []
    for ls in spec.layers:
        assert ls.type == "dense"
        e = ls.params["weight"].value @ x + (ls.params["bias"].value if "bias" in ls.params else 0.0)
        if ls.activation == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-e))
        elif ls.activation == "tanh":
            x = np.tanh(e)
        elif ls.activation == "softmax":
            z = np.exp(e - e.max())
            x = z / z.sum()
        else:
            x = e
        outputs.append((ls.activation, x))
    return outputs


def source_rules(values: np.ndarray) -> tuple[int, bool, bool]:
    flat = [float(v) for v in values.ravel()]
    return (
        max(decimals(v) for v in flat),
        any(v == 0 for v in flat),
        any(v != 0 and is_whole(v) for v in flat),
    )


def assert_constraints(source: NetworkSpec, variant: NetworkSpec, vary: tuple[str, ...], fixed: int | None) -> None:
    assert [(ls.name, ls.type, ls.activation, ls.in_shape, ls.out_shape) for ls in variant.layers] == [
        (ls.name, ls.type, ls.activation, ls.in_shape, ls.out_shape) for ls in source.layers
    ]
    assert variant.loss == source.loss and len(variant.data) == len(source.data)
    for ls, vs in zip(source.layers, variant.layers):
        for pname, param in ls.params.items():
            new = vs.params[pname].value
            d, zero, whole = source_rules(param.value)
            if not np.any(param.value):
                assert not np.any(new)
                continue
            if "weights" not in vary:
                assert np.array_equal(new, param.value)
                continue
            d = fixed if fixed is not None else d
            for v in new.ravel():
                assert decimals(v) <= d, (ls.name, pname, v)
                assert zero or v != 0, (ls.name, pname)
                assert whole or d == 0 or v == 0 or not is_whole(v), (ls.name, pname, v)
    inputs = np.array([s.input for s in source.data])
    new_inputs = np.array([s.input for s in variant.data])
    if "inputs" in vary:
        d, zero, _ = source_rules(inputs)
        d = fixed if fixed is not None else d
        assert all(decimals(v) <= d and (zero or v != 0) for v in new_inputs.ravel())
        if len({s.input.tobytes() for s in source.data}) == len(source.data):
            assert len({s.input.tobytes() for s in variant.data}) == len(variant.data)
    else:
        assert np.array_equal(inputs, new_inputs)
    last = source.layers[-1].activation
    for s, vs in zip(source.data, variant.data):
        t = vs.target.ravel()
        if "targets" not in vary:
            assert np.array_equal(t, s.target.ravel())
        elif last == "softmax":
            assert sorted(t.tolist()) == [0.0] * (t.size - 1) + [1.0]
        elif last == "sigmoid":
            d = max(source_rules(np.array([x.target for x in source.data]))[0] if fixed is None else fixed, 1)
            assert all(0 < v < 1 and decimals(v) <= d for v in t), t
    if "learning_rate" in vary:
        assert variant.learning_rate in {r for r in (0.005, 0.01, 0.02, 0.2, 0.5, 1.0, 2.0, 5.0)}
        assert source.learning_rate / 2.5 <= variant.learning_rate <= source.learning_rate * 2.5
    else:
        assert variant.learning_rate == source.learning_rate
    if all(ls.type == "dense" for ls in variant.layers):
        for sample in variant.data:
            for activation, y in dense_forward(variant, sample.input):
                if activation in ("sigmoid", "softmax"):
                    assert np.all((y > 0.01) & (y < 0.99)), (activation, y)
                elif activation == "tanh":
                    assert np.all(np.abs(y) < 0.99), y


@pytest.mark.parametrize("net", SOURCES)
@pytest.mark.parametrize(
    ("vary", "fixed"),
    [
        (("weights", "inputs", "targets"), None),
        (("weights", "inputs", "targets", "learning_rate"), None),
        (("weights",), None),
        (("weights", "inputs", "targets"), 2),
    ],
)
def test_every_variant_keeps_the_promises(net: str, vary: tuple[str, ...], fixed: int | None) -> None:
    text, name = read_network_text(net)
    source_spec = parse_network(text, name)
    source = analyse(text, name, vary, fixed)
    seen = set()
    for seed in SEEDS:
        variant = draw(source, 1 + seed % 3, seed)
        assert variant.text.startswith("# bpexplain variants: variant")
        assert_constraints(source_spec, variant.spec, vary, fixed)
        seen.add(variant.text.split("\n", 3)[3])
    assert len(seen) > len(SEEDS) // 2  # the numbers do change


def test_conv_kernels_count_as_weights() -> None:
    text, name = read_network_text("homework-cnn")
    source = analyse(text, name)
    labels = {g.label: g for g in source.groups}
    assert {"layers[0].kernel", "layers[1].kernel", "layers[4].weight", "data inputs", "data targets"} <= set(labels)
    kernel = labels["layers[0].kernel"]
    assert (kernel.decimals, kernel.zero, kernel.whole) == (0, True, True)
    fc = labels["layers[4].weight"]
    assert (fc.decimals, fc.zero, fc.whole) == (1, False, False)
    kernels = {draw(source, 1, seed).spec.layers[0].params["weight"].value.tobytes() for seed in SEEDS}
    assert len(kernels) > 5


def test_decimals_are_counted_from_the_text() -> None:
    text = (
        "inputs: 2\n"
        "layers:\n"
        "  - {activation: sigmoid, weight: [[0.10, -0.2]], bias: [1e-2]}\n"
        "data:\n  - {input: [0.5, 1], target: [0.25]}\n"
    )
    source = analyse(text, "t.yaml")
    rules = {g.label: g.decimals for g in source.groups}
    assert rules == {"layers[0].weight": 2, "layers[0].bias": 2, "data inputs": 1, "data targets": 2}
    for seed in SEEDS:
        spec = draw(source, 1, seed).spec
        assert all(decimals(v) <= 2 for v in spec.layers[0].params["weight"].value.ravel())


def test_random_and_frozen_parameters_are_written_out() -> None:
    text = (
        "inputs: 2\ninit: {seed: 3, decimals: 1}\n"
        "layers:\n"
        "  - {units: 2, activation: sigmoid, weight: random, bias: zeros}\n"
        "  - {units: 1, activation: sigmoid, weight: {init: random, trainable: false}}\n"
        "data:\n  - {input: [0.5, 0.3], target: [1]}\n"
    )
    source_spec = parse_network(text, "r.yaml")
    for seed in SEEDS:
        variant = draw(analyse(text, "r.yaml"), 1, seed)
        spec = variant.spec
        assert spec.layers[0].params["weight"].origin == "given"
        assert spec.layers[0].params["bias"].origin == "zeros"
        assert spec.frozen() == ["layer2.weight"]
        assert_constraints(source_spec, spec, ("weights", "inputs", "targets"), None)


def test_a_draw_that_always_saturates_is_an_error_after_a_bounded_number(tmp_path: Path) -> None:
    net = tmp_path / "hot.yaml"
    net.write_text(
        "inputs: 1\nlayers:\n  - {activation: sigmoid, weight: [[9.5]]}\ndata:\n  - {input: [50], target: [1]}\n"
    )
    out = tmp_path / "out"
    code, _, err = invoke("variants", str(net), "--count", "1", "--seed", "1", "--vary", "weights", "-o", str(out))
    assert code == 1
    assert err.startswith(f"{net}: error: variant 1 (seed {variant_seed(1, 1)}): none of 200 draws met the checks")
    assert "outside (0.01, 0.99)" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


# ---- usage -----------------------------------------------------------------------------------------


def test_existing_files_are_kept_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "exam"
    assert invoke("variants", "xor", "--count", "2", "--seed", "1", "-o", str(out))[0] == 0
    before = files(out)
    code, _, err = invoke("variants", "xor", "--count", "2", "--seed", "2", "-o", str(out))
    assert code == 2 and "variant-01.yaml exists already (and 6 more)" in err and "--force" in err
    assert files(out) == before
    assert invoke("variants", "xor", "--count", "2", "--seed", "2", "-o", str(out), "--force")[0] == 0
    assert files(out)["variant-01.yaml"] != before["variant-01.yaml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lecture", "--count", str(MAX_COUNT + 1), "--seed", "1"], f"1<=x<={MAX_COUNT}"),
        (["lecture", "--count", "2", "--seed", "1", "--vary", "weights,bias"], "unknown 'bias'"),
        (["lecture", "--count", "2", "--seed", "1", "--decimals", "9"], "0<=x<=6"),
        (["lenet5", "--count", "1", "--seed", "1"], "lenet5.yaml: error: the network has 62,740 numbers"),
        (["lecture", "--count", "1", "--seed", "1", "--rule", "slide", "--notation", "textbook"], "--rule slide"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("variants", *args, "-o", str(tmp_path / "out"))
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("keep")
    code, _, err = invoke("variants", "lecture", "--count", "1", "--seed", "1", "-o", str(target))
    assert code == 2 and target.read_text() == "keep"
    code, _, err = invoke("variants", "lecture", "--count", "1", "--seed", "1", "-o", str(target / "sub"))
    assert code == 2 and err == f"{target / 'sub'}: error: cannot be written (Not a directory)\n"


def test_learning_rates_are_hand_friendly() -> None:
    text, name = read_network_text("homework-cnn")
    assert analyse(text, name, ("learning_rate",)).learning_rates == (0.005, 0.01, 0.02)
    text, name = read_network_text("lecture")
    rates = {draw(analyse(text, name, ("learning_rate",)), 1, s).spec.learning_rate for s in SEEDS}
    assert rates == {0.2, 0.5, 1.0}


def test_the_yaml_keeps_everything_it_does_not_vary() -> None:
    text, name = read_network_text("homework-cnn")
    variant = draw(analyse(text, name, ("targets",)), 2, 9)
    assert re.search(r"^inputs:\n  shape: \[6, 6\]$", variant.text, re.M)
    assert variant.text.count("flip: true") == 2
    spec = variant.spec
    source = parse_network(text, name)
    for ls, vs in zip(source.layers, spec.layers):
        assert ls.options == vs.options
        for p in ls.params:
            assert np.array_equal(ls.params[p].value, vs.params[p].value)
    assert math.isclose(spec.learning_rate, 0.01)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_the_question_shows_every_number_of_a_wide_network_in_full(tmp_path: Path, fmt: str) -> None:
    net = tmp_path / "wide.yaml"
    weights = [[round(0.01 * (8 * i + j + 1), 2) for j in range(14)] for i in range(2)]
    net.write_text(
        "inputs: 14\nlayers:\n"
        f"  - {{activation: sigmoid, weight: {weights}}}\n"
        "  - {activation: sigmoid, weight: [[0.3, -0.2]]}\n"
        f"data:\n  - {{input: {[0.1] * 7 + [0.2] * 7}, target: [1]}}\n"
    )
    out = tmp_path / "out"
    assert invoke("variants", str(net), "--count", "1", "--seed", "4", "--format", fmt, "-o", str(out))[0] == 0
    spec = load_network(str(out / "variant-01.yaml"))
    question = next(out.glob("variant-01-question.*")).read_text()
    assert "…" not in question and "cdots" not in question and "⋮" not in question
    body = question.split("nitial parameters", 1)[1]
    numbers = [float(t) for t in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", body)]
    for value in [*spec.layers[0].params["weight"].value.ravel(), *spec.data[0].input]:
        assert float(value) in numbers, value
