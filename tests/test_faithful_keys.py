"""What a person reads is what the trace carries, in every format.

- Markdown and LaTeX show the maps text shows (the input image, kernels, rotated kernels, feature maps,
  error maps), each value parsed back from the document;
- under --round N every number shown is the carried float with at most N decimals, the value of each
  equation printed with N decimals (trailing zeros dropped), in text, Markdown, LaTeX, rich and JSON;
- a convention or note about the lecture is stated only where the trace contains what it concerns;
- --preamble full|short|none;
- an equation whose right-hand side is its value is written once: `dh_5(e)/de = 1`, never `= 1 = 1`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import bpexplain
from bpexplain.cli import cli
from bpexplain.engine import RunOptions, build_layers
from bpexplain.expr import Num, Sym, Var
from bpexplain.preamble import conventions
from bpexplain.render import render_to_string
from bpexplain.render.common import equation_columns
from bpexplain.render.printer import TextPrinter
from bpexplain.rounding import round_value
from bpexplain.spec import load_network
from bpexplain.trace import Equation

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
NUMBER = re.compile(r"(?<![\w(,])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w(])")


def run(*args: str) -> str:
    result = CliRunner(env=ENV).invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def floats(cells: list[str]) -> tuple[float, ...] | None:
    try:
        return tuple(float(c) for c in cells)
    except ValueError:
        return None


# ---- 1. the maps in every format ------------------------------------------------------------------


def text_grids(text: str) -> list[tuple[str, tuple[tuple[float, ...], ...]]]:
    """(label, rows) of every grid the plain text shows: a `label =` line, then rows of numbers only."""
    lines = text.splitlines()
    grids = []
    for i, line in enumerate(lines):
        if not line.endswith(" =") or not line.startswith("  "):
            continue
        rows = []
        for row in lines[i + 1 :]:
            values = floats(row.split()) if row.startswith("      ") else None
            if not values:
                break
            rows.append(values)
        if rows:
            grids.append((line.strip()[:-2], tuple(rows)))
    return grids


def markdown_tables(md: str) -> list[tuple[tuple[float, ...], ...]]:
    """Every table of numbers in a Markdown document (its rows, the row number left out)."""
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("| ") and not line.startswith(("| |", "| ---")):
            cells = [c.strip() for c in line.strip("|").split("|")][1:]
            values = floats(cells)
            if values is not None:
                current.append(values)
                continue
        if not line.startswith("| ") and current:
            tables.append(tuple(current))
            current = []
    return tables


def latex_matrices(tex: str) -> list[tuple[tuple[float, ...], ...]]:
    out = []
    for body in re.findall(r"\\begin\{bmatrix\} (.*?) \\end\{bmatrix\}", tex):
        rows = [floats([c.strip() for c in row.split("&")]) for row in body.split(r" \\ ")]
        if all(r is not None for r in rows):
            out.append(tuple(rows))  # type: ignore[arg-type]
    return out


def test_markdown_and_latex_show_every_map_the_text_shows() -> None:
    text = run("train", "homework-cnn", "--format", "text")
    grids = text_grids(text)
    labels = [label for label, _ in grids]
    for expected in ("x", "K1", "K1 rotated 180°", "O1", "K2 rotated 180°", "O2", "P1", "δO2 = ∂E/∂O2", "δO1 = ∂E/∂O1"):
        assert expected in labels, (expected, labels)
    md = markdown_tables(run("train", "homework-cnn", "--format", "markdown"))
    tex = latex_matrices(run("train", "homework-cnn", "--format", "latex"))
    for label, rows in grids:
        assert rows in md, f"Markdown lacks {label}"
        assert rows in tex, f"LaTeX lacks {label}"
    # the input image as a whole matrix, not the vector x = [1 0 2 ⋯ 1 0 2]
    x = dict(grids)["x"]
    assert len(x) == 6 and all(len(r) == 6 for r in x)


def test_a_dense_network_keeps_its_input_vector_in_markdown_and_latex() -> None:
    md = run("train", "lecture", "--format", "markdown")
    assert r"- $x = \left(0.5, 0.8\right)$" in md
    tex = run("train", "lecture", "--format", "latex")
    assert r"\[ x = \begin{bmatrix} 0.5 & 0.8 \end{bmatrix}" in tex


# ---- 2. --round N shows what it carries -----------------------------------------------------------


def with_decimals(x: float, n: int) -> str:
    text = f"{x:.{n}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def decimals(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def equation_lines(text: str) -> list[str]:
    """The equation lines of a plain-text trace: after a block's title and its note, up to a blank line."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith(("Forward", "Loss", "Error", "Gradients", "Update")) and not line.startswith("Loss at"):
            for eq in lines[i + 2 :]:
                if not eq.startswith("    "):
                    break
                out.append(eq)
    return out


@pytest.mark.parametrize(
    "network,n,wide", [("lecture", 4, False), ("classifier", 4, True), ("lecture", 2, False), ("xor", 3, False)]
)
def test_round_shows_each_value_as_carried_in_text(network: str, n: int, wide: bool) -> None:
    trace = bpexplain.train(network, steps=2, round=n)
    text = render_to_string(trace.events, "text")
    lines = equation_lines(text)
    equations = trace.equations
    assert len(lines) == len(equations)
    wider = 0
    for line, eq in zip(lines, equations):
        assert round_value(eq.value, n) == eq.value  # carried with n decimals
        shown = line.split("   ≠")[0].split("   (")[0].rsplit(" = ", 1)[1].strip()
        assert shown == with_decimals(eq.value, n), line
        wider += len(shown.lstrip("-").replace(".", "").lstrip("0")) > 4  # beyond 4 significant digits
        for token in NUMBER.findall(line.split(" = ", 1)[1]):
            assert decimals(token) <= max(n, 1), line  # inputs and given weights have one decimal here
    if wide:  # a value such as 1.0582 (the classifier's loss): 4 significant digits would show 1.058
        assert wider, "no value shows more than 4 significant digits: the test would not see 1.106 for 1.1059"


def test_round_shows_values_as_carried_in_every_format() -> None:
    n = 4
    trace = bpexplain.train("classifier", steps=1, round=n)
    values = {with_decimals(eq.value, n) for eq in trace.equations}
    long = {v for v in values if len(v.lstrip("-").replace(".", "").lstrip("0")) > 4}
    assert long
    for fmt in ("markdown", "latex", "rich"):
        out = render_to_string(trace.events, fmt).split("Summary")[0]  # the drift table has 10 digits
        for v in long:
            assert re.search(rf"(?<![\d.]){re.escape(v)}(?!\d)", out), (fmt, v)
    doc = json.loads(render_to_string(trace.events, "json"))
    for step in doc["steps"]:
        for eq in step["equations"]:
            for token in NUMBER.findall(eq["substituted"]):
                assert decimals(token) <= n, eq
    # without --round the display keeps its 4 significant digits
    plain = render_to_string(bpexplain.train("classifier", steps=1).events, "text")
    assert not any(v in plain.split() for v in long if len(v.replace("-", "").replace(".", "")) > 5)


def test_round_summary_lines_show_values_as_carried() -> None:
    out = run("train", "lecture", "--round", "4", "--steps", "3", "--detail", "summary", "--format", "text")
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert len(steps) == 3
    for line in steps:
        for token in NUMBER.findall(line.split(":", 1)[1]):
            assert decimals(token) <= 4, line


# ---- 3. conventions only where they concern the trace ---------------------------------------------

TYPO = "Weight Updating slide drops the factor x_2"
SHORTCUT = "The lecture's slides write δ_4 = w_46·δ"
FLIP = "convolution: "  # flipped (homework-cnn) or cross-correlation (lenet5)
TIES = "on a tie, to the first in reading order"


def conventions_of(network: str, **options: object) -> str:
    spec = load_network(network)
    opts = RunOptions(**options)  # type: ignore[arg-type]
    origins = {f"{ls.name}.{p}": param.origin for ls in spec.layers for p, param in ls.params.items()}
    return "\n".join(conventions(spec, opts, build_layers(spec), origins))


@pytest.mark.parametrize(
    "network,typo,shortcut,flip,ties",
    [
        ("lecture", True, True, False, False),
        ("xor", True, True, False, False),
        ("classifier", True, True, False, False),
        ("homework-cnn", False, True, True, True),  # fc's error goes back to the flattened maps
        ("lenet5", False, True, True, False),  # average pooling: no ties
    ],
)
def test_each_convention_appears_only_where_it_applies(
    network: str, typo: bool, shortcut: bool, flip: bool, ties: bool
) -> None:
    text = conventions_of(network, command="train")
    assert (TYPO in text) is typo
    assert (SHORTCUT in text) is shortcut
    assert (FLIP in text) is flip
    assert (TIES in text) is ties
    forward = conventions_of(network, command="forward")
    assert TYPO not in forward and SHORTCUT not in forward
    textbook = conventions_of(network, command="train", notation="textbook")
    assert TYPO not in textbook and SHORTCUT not in textbook


def test_one_dense_layer_has_the_typo_but_no_error_propagation(tmp_path: Path) -> None:
    net = tmp_path / "one.yaml"
    net.write_text(
        "name: one\ntitle: one layer\ninputs: [x1, x2]\nlayers:\n"
        "  - {name: out, activation: sigmoid, weight: [[0.1, 0.2]]}\n"
        "loss: mse\nlearning_rate: 0.5\ndata:\n  - {input: [1, 0], target: [1]}\n",
        encoding="utf-8",
    )
    text = run("train", str(net), "--format", "text")
    assert TYPO in text and SHORTCUT not in text
    frozen = net.read_text(encoding="utf-8").replace(
        "weight: [[0.1, 0.2]]", "weight: {value: [[0.1, 0.2]], trainable: false}"
    )
    net.write_text(frozen, encoding="utf-8")
    assert TYPO not in run("train", str(net), "--format", "text")


# ---- 4. --preamble ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "rich"])
def test_preamble_full_short_none(fmt: str) -> None:
    full = run("train", "lecture", "--format", fmt)
    short = run("train", "lecture", "--format", fmt, "--preamble", "short")
    none = run("train", "lecture", "--format", fmt, "--preamble", "none")
    for out in (full, short, none):
        assert "Step 1" in out
    assert "Legend" in full and "Initial parameters" in full
    assert "Legend" not in short and "Initial parameters" not in short and "Network" not in short
    assert "lecture notation" in short and "η = 0.5" in short.replace(r"$\eta$", "η") and "no rounding" in short
    assert "Legend" not in none and "Conventions" not in none and "lecture notation" not in none
    assert len(none) < len(short) < len(full)


def test_preamble_none_goes_straight_to_the_steps_and_show_keeps_its_network() -> None:
    none = run("train", "lecture", "--format", "text", "--preamble", "none")
    assert none.splitlines()[0] == "=" * 72 and none.splitlines()[1].startswith("Step 1")
    show = run("show", "lecture", "--format", "text", "--preamble", "none")
    assert "Network" in show and "Initial parameters" in show and "Legend" not in show
    short = run("forward", "lecture", "--format", "text", "--preamble", "short", "--round", "2")
    assert "rounded to 2 decimals" in short and "η" not in short.split("Step 1")[0]


# ---- 5. no empty equations ------------------------------------------------------------------------


def test_an_equation_that_is_its_value_is_written_once() -> None:
    printer = TextPrinter()
    one = equation_columns(Equation.of("error", Sym("d"), Num(1.0), 1.0), printer)
    assert one.once and one.expression == "1" and one.substituted == ""
    passed = equation_columns(Equation.of("error", Sym("δ"), Var(Sym("δ", ("1",)), 0.03), 0.03), printer)
    assert not passed.once and passed.expression == "δ_1"


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "rich"])
def test_no_empty_equations_in_any_format(fmt: str) -> None:
    out = run("train", "homework-cnn", "--format", fmt)
    assert not re.search(r"= (-?[\d.]+) = \1(?:\s|\$|\\|│|$)", out), re.search(r".*= (-?[\d.]+) = \1.*", out)
    if fmt in ("text", "rich"):
        assert re.search(r"dh_5\(e\)/de = 1\s", out) and re.search(r"δO2\(1,1\) = 0\s", out)
    elif fmt == "markdown":
        assert r"$\frac{dh_5(e)}{de} = 1$" in out and r"$\delta O2(1,1) = 0$" in out
    else:
        assert r"\frac{dh_5(e)}{de} &= 1" + "\n" in out and r"\delta O2(1,1) &= 0 \\" in out


def test_channels_are_numbered_from_one_in_markdown_and_latex() -> None:
    md = run("forward", "lenet5", "--detail", "layer", "--format", "markdown")
    assert "channel 1:" in md and "channel 6:" in md and "channel 0:" not in md
    tex = run("forward", "lenet5", "--detail", "layer", "--format", "latex")
    assert "C1.weight [1]:" in tex and "C1.weight [6]:" in tex and "[0]" not in tex
