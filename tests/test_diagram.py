"""`bpexplain diagram`: the pictures open, carry the engine's numbers, and are the same bytes every run.

The numbers the lecture network's diagram must show are worked out here by hand (plain Python, apart
from the engine): the forward pass, δ_6 and δ_4, and the weights after one step.
"""

from __future__ import annotations

import math
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile import PRINTABLE

from bpexplain.cli import cli

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
needs_matplotlib = pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None,
    reason="drawing needs matplotlib (pip install 'bpexplain[plot]'; the test extra installs it)",
)


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def svg_texts(path: Path) -> list[str]:
    """Every text of an SVG, which must parse as XML."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")]


def g4(x: float) -> str:
    return format(x, ".4g")


def sigmoid(e: float) -> float:
    return 1.0 / (1.0 + math.exp(-e))


def lecture_by_hand() -> dict[str, float]:
    """The lecture network's forward pass and first errors, computed apart from the engine."""
    x1, x2 = 0.5, 0.8
    v: dict[str, float] = {}
    v["e_1"], v["e_2"], v["e_3"] = 0.1 * x1 + 0.4 * x2, 0.3 * x1 - 0.2 * x2, 0.5 * x1 + 0.2 * x2
    for n in (1, 2, 3):
        v[f"y_{n}"] = sigmoid(v[f"e_{n}"])
    v["e_4"] = 0.2 * v["y_1"] - 0.3 * v["y_2"] + 0.4 * v["y_3"]
    v["e_5"] = 0.1 * v["y_1"] + 0.5 * v["y_2"] - 0.2 * v["y_3"]
    for n in (4, 5):
        v[f"y_{n}"] = sigmoid(v[f"e_{n}"])
    v["e_6"] = 0.6 * v["y_4"] - 0.4 * v["y_5"]
    v["y_6"] = sigmoid(v["e_6"])
    v["δ_6"] = v["y_6"] - 1.0
    v["δ_4"] = 0.6 * v["δ_6"] * v["y_6"] * (1 - v["y_6"])
    v["w_46'"] = 0.6 - 0.5 * v["δ_6"] * v["y_6"] * (1 - v["y_6"]) * v["y_4"]
    return v


@needs_matplotlib
def test_lecture_diagram_shows_every_weight_and_the_forward_pass(tmp_path: Path) -> None:
    out = tmp_path / "lecture.svg"
    result = invoke("diagram", "lecture", "-o", str(out))
    assert result.exit_code == 0, result.output
    texts = svg_texts(out)
    for label in (
        "w_(x1)1 = 0.1",
        "w_(x2)3 = 0.2",
        "w_14 = 0.2",
        "w_24 = -0.3",
        "w_35 = -0.2",
        "w_46 = 0.6",
        "w_56 = -0.4",
    ):
        assert label in texts
    joined = "\n".join(texts)
    v = lecture_by_hand()
    for n in range(1, 7):
        assert f"e_{n} = {g4(v[f'e_{n}'])}" in joined
        assert f"y_{n} = {g4(v[f'y_{n}'])}" in joined
    assert "δ_" not in joined  # no errors without --step
    for n in range(1, 7):
        assert str(n) in texts  # the neurons, numbered in layer order


@needs_matplotlib
def test_step_adds_the_errors_and_uses_the_weights_the_step_starts_from(tmp_path: Path) -> None:
    v = lecture_by_hand()
    one, two = tmp_path / "one.svg", tmp_path / "two.svg"
    assert invoke("diagram", "lecture", "--step", "1", "-o", str(one)).exit_code == 0
    joined = "\n".join(svg_texts(one))
    assert f"δ_6 = {g4(v['δ_6'])}" in joined
    assert f"δ_4 = {g4(v['δ_4'])}" in joined
    assert "w_46 = 0.6" in joined
    assert f"E = {g4(0.5 * v['δ_6'] ** 2)}" in joined
    assert invoke("diagram", "lecture", "--step", "2", "-o", str(two)).exit_code == 0
    updated = v["w_46'"]
    assert f"w_46 = {g4(updated)}" in svg_texts(two)


@needs_matplotlib
def test_svg_is_byte_identical_on_every_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    assert invoke("diagram", "xor", "--step", "3", "-o", str(a)).exit_code == 0
    assert invoke("diagram", "xor", "--step", "3", "-o", str(b)).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert b"<dc:date>" not in a.read_bytes()


@needs_matplotlib
def test_png_opens_with_the_size_of_the_figure(tmp_path: Path) -> None:
    from matplotlib.image import imread

    out = tmp_path / "lecture.png"
    assert invoke("diagram", "lecture", "-o", str(out)).exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    height, width, channels = image.shape
    assert channels in (3, 4) and width > 1000 and height > 500
    assert image.min() < 0.5 < image.max()  # something is drawn on the white


@needs_matplotlib
def test_biases_and_combined_output_errors_are_shown(tmp_path: Path) -> None:
    out = tmp_path / "c.svg"
    assert invoke("diagram", "classifier", "--step", "1", "-o", str(out)).exit_code == 0
    joined = "\n".join(svg_texts(out))
    assert "b_1 = " in joined and "∂E/∂e_4 = " in joined and "δ_1 = " in joined


@needs_matplotlib
def test_a_cnn_is_a_chain_of_layer_boxes_with_shapes_and_small_kernels(tmp_path: Path) -> None:
    out = tmp_path / "cnn.svg"
    assert invoke("diagram", "homework-cnn", "-o", str(out)).exit_code == 0
    joined = "\n".join(svg_texts(out))
    for text in ("conv1", "conv2", "pool", "1×6×6 → 1×5×5", "1×4×4 → 1×2×2", "[1, 0]", "[-1, 2]", "kernel 2×2"):
        assert text in joined
    assert "E = 0.045" in joined  # the homework file's first loss, as its comment says


@needs_matplotlib
def test_names_from_the_file_are_drawn_as_data_never_as_mathtext(tmp_path: Path) -> None:
    import json

    net = {
        "title": PRINTABLE[6],
        "inputs": [PRINTABLE[6], PRINTABLE[7]],
        "layers": [{"name": name, "units": 1, "activation": "sigmoid"} for name in (PRINTABLE[4], PRINTABLE[8])],
        "data": [{"input": [1, 2], "target": [1]}],
    }
    src = tmp_path / "hostile.yaml"
    src.write_text(json.dumps(net), encoding="utf-8")  # JSON is YAML
    out = tmp_path / "hostile.svg"
    result = invoke("diagram", str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    texts = svg_texts(out)
    for name in (PRINTABLE[6], PRINTABLE[7], PRINTABLE[4], PRINTABLE[8]):
        assert name in texts
    root = ET.parse(out).getroot()
    assert not [el for el in root.iter() if el.tag.endswith(("script", "img"))]


@needs_matplotlib
def test_default_output_is_the_network_name_in_the_current_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = invoke("diagram", "xor")
    assert result.exit_code == 0 and result.output.strip() == "wrote xor.svg"
    assert (tmp_path / "xor.svg").exists()


@needs_matplotlib
def test_set_changes_the_drawn_value(tmp_path: Path) -> None:
    out = tmp_path / "s.svg"
    assert invoke("diagram", "lecture", "--set", "layers.output.weight=[[0.7, -0.4]]", "-o", str(out)).exit_code == 0
    assert "w_46 = 0.7" in svg_texts(out)


def test_a_picture_name_must_end_in_svg_or_png(tmp_path: Path) -> None:
    result = invoke("diagram", "lecture", "-o", str(tmp_path / "x.jpg"))
    assert result.exit_code == 2
    assert "expected a name ending in .svg or .png" in result.output
    assert not (tmp_path / "x.jpg").exists()


def test_without_matplotlib_one_line_says_what_to_install(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    for args in (
        ("diagram", "lecture", "-o", str(tmp_path / "d.svg")),
        ("train", "lecture", "--plot", str(tmp_path / "p.png")),
    ):
        result = CliRunner(env=ENV).invoke(cli, list(args))
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and ERROR_LINE.match(lines[0]) and "pip install 'bpexplain[plot]'" in lines[0]
        assert "Traceback" not in result.output
        assert not list(tmp_path.iterdir())


# the README's pictures: `make docs` writes them with these commands
DOCS_IMAGES = {
    "lecture.svg": ["diagram", "lecture"],
    "lecture-step1.svg": ["diagram", "lecture", "--step", "1"],
    "homework-cnn.svg": ["diagram", "homework-cnn"],
    "xor-loss.svg": ["train", "xor", "--epochs", "2000", "--detail", "summary", "--plot"],
}
ROOT = Path(__file__).resolve().parent.parent


@needs_matplotlib
@pytest.mark.parametrize("name", DOCS_IMAGES)
def test_the_readme_pictures_come_out_of_make_docs_as_committed(name: str, tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    args = DOCS_IMAGES[name]
    assert f"bpexplain {' '.join(args)} $(DOCS_IMG)/{name}" in makefile.replace(" -o ", " ")
    assert "![" in (ROOT / "README.md").read_text("utf-8") and f"img/{name}" in "".join(
        p.read_text("utf-8") for p in (ROOT / "README.md", ROOT / "docs" / "pictures.md")
    )
    out = tmp_path / name
    result = invoke(*args, str(out)) if args[0] == "train" else invoke(*args, "-o", str(out))
    assert result.exit_code == 0, result.output
    made, committed = svg_texts(out), svg_texts(ROOT / "docs" / "img" / name)
    assert made == committed  # the same words and numbers (the bytes may differ with matplotlib's version)
    assert len(made) > 5
