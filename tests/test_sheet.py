"""`bpexplain sheet`: the blank sheet lists exactly the run's quantities, reads back with numbers kept as text,
accepts the documented ASCII spellings, and renders as Markdown and pure-ASCII LaTeX worksheets."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bpexplain import train
from bpexplain.answers import KeyIndex, loose, parse_sheet, run_for
from bpexplain.cli import cli
from bpexplain.render.printer import TextPrinter

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def run_cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def trace_symbols(network: str, **options: object) -> list[tuple[int, int | None, str]]:
    """(step, sample, symbol) of every equation of the JSON trace, in order."""
    doc = train(network, **options).to_dict()
    return [(s["index"], e.get("sample"), e["symbol"]) for s in doc["steps"] for e in s["equations"]]


@pytest.mark.parametrize(
    "network,cli_options,api_options",
    [
        ("lecture", ["--steps", "2"], {"steps": 2}),
        ("lecture", ["--notation", "textbook"], {"notation": "textbook"}),
        (
            "lecture",
            ["--rule", "slide", "--update-order", "sequential"],
            {"rule": "slide", "update_order": "sequential"},
        ),
        ("classifier", ["--batch", "full"], {"batch": "full"}),
        ("homework-cnn", [], {}),
        ("xor", ["--steps", "3", "--shuffle", "--seed", "4"], {"steps": 3, "shuffle": True, "seed": 4}),
    ],
)
def test_the_sheet_lists_every_quantity_of_the_run_in_trace_order(network, cli_options, api_options) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sheet", network, *cli_options)
    assert result.exit_code == 0, result.output
    sheet = parse_sheet(result.stdout, "sheet.yaml")
    assert [(a.step, a.sample, a.key) for a in sheet.answers] == trace_symbols(network, **api_options)
    assert all(a.text is None for a in sheet.answers)
    assert sheet.options == {k: v for k, v in api_options.items()}


def test_the_sheet_states_its_format_network_options_and_comments() -> None:
    text = run_cli("sheet", "lecture", "--steps", "1", "--student", "A. Student").stdout
    assert text.startswith(
        'format: bpexplain-answers/1\nnetwork: lecture\noptions: {steps: 1}\nstudent: "A. Student"\n'
    )
    assert "    e_1: null  # weighted sum of neuron 1 (layer1)\n" in text
    assert "    δ_6: null  # error at the output of neuron 6 (output)\n" in text
    assert "    ∂E/∂w_14: null  # gradient of the loss with respect to w_14 (layer2)\n" in text
    assert "    w'_14: null  # w_14 after the update (layer2)\n" in text


def test_filters_choose_the_quantities_and_are_recorded() -> None:
    result = run_cli("sheet", "lecture", "--step", "2", "--only", "error", "--layer", "layer2")
    sheet = parse_sheet(result.stdout, "s.yaml")
    assert sheet.options == {"step": "2", "layer": "layer2", "only": "error"}
    assert [a.key for a in sheet.answers] == ["δ_4", "dh_4(e)/de", "δ_5", "dh_5(e)/de"]
    assert {a.step for a in sheet.answers} == {2}


def test_values_are_kept_as_written() -> None:
    text = (
        "format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n"
        "    e_1: -0.01000\n    y_1: 1.50e-3\n    e_2: '0.370'\n    y_2: ~\n    e_3:\n    y_3: .5\n"
    )
    got = {a.key: a.text for a in parse_sheet(text, "s.yaml").answers}
    assert got == {"e_1": "-0.01000", "y_1": "1.50e-3", "e_2": "0.370", "y_2": None, "e_3": None, "y_3": ".5"}


@pytest.mark.parametrize(
    "written,symbol",
    [
        ("delta_6", "δ_6"),
        ("Delta_6", "δ_6"),
        ("dh_6/de", "dh_6(e)/de"),
        ("dh_6(e)/de", "dh_6(e)/de"),
        ("dE/dw_14", "∂E/∂w_14"),
        ("dE / dw_(x1)1", "∂E/∂w_(x1)1"),
        ("w_14'", "w'_14"),
        ("w'_14", "w'_14"),
        ("W_14 '", "w'_14"),
        ("e_4", "e_4"),
        ("E", "E"),
    ],
)
def test_documented_ascii_spellings(written: str, symbol: str) -> None:
    symbols = [s for _, _, s in trace_symbols("lecture")]
    assert KeyIndex(symbols).resolve(written) == symbol


@pytest.mark.parametrize(
    "written,symbol",
    [("dE/de_4", "∂E/∂e_4"), ("b_1'", "b'_1"), ("B'_4", "b'_4"), ("delta_2", "δ_2")],
)
def test_ascii_spellings_in_the_classifier(written: str, symbol: str) -> None:
    symbols = [s for _, _, s in trace_symbols("classifier")]
    assert KeyIndex(symbols).resolve(written) == symbol


def test_kernel_updates_and_elements_keep_their_spelling() -> None:
    symbols = [s for _, _, s in trace_symbols("homework-cnn")]
    index = KeyIndex(symbols)
    assert index.resolve("K1(1,2)'") == "K1'(1,2)"
    assert index.resolve("o1(1,1)") == "O1(1,1)"
    assert loose("∂E/∂K1(1,1)") == "de/dk1(1,1)"


def test_a_sheet_round_trips_through_yaml_for_every_symbol() -> None:
    # keys that YAML would misread are quoted; each must read back as the trace's symbol
    _, items = run_for("homework-cnn", {"batch": "full"})
    text = run_cli("sheet", "homework-cnn", "--batch", "full").stdout
    assert [a.key for a in parse_sheet(text, "s.yaml").answers] == [i.symbol for i in items]


def test_markdown_worksheet_has_a_blank_for_every_quantity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "w.md"
    assert run_cli("sheet", "lecture", "-o", str(path)).exit_code == 0
    text = path.read_text("utf-8")
    assert text.startswith("# Worksheet: lecture\n")
    rows = [line for line in text.splitlines() if line.startswith("| $") and line.endswith("\\_ |")]
    assert len(rows) == 53
    assert "| $\\delta_4$ | error at the output of neuron 4 (layer2) |" in text
    assert "$x = \\left(0.5, 0.8\\right)$" in text  # the inputs the student works from


def test_latex_worksheet_is_pure_ascii_and_balanced() -> None:
    result = run_cli("sheet", "classifier", "--batch", "full", "--format", "latex", "--student", "Zoë_#1 & co")
    text = result.stdout
    assert result.exit_code == 0 and text.isascii()
    assert text.count(r"\begin{longtable}") == text.count(r"\end{longtable}") == 4  # 3 samples and the batch
    assert text.count(r"\begin{document}") == text.count(r"\end{document}") == 1
    assert r"Zo\"{e}\_\#1 \& co" in text
    rows = [line for line in text.splitlines() if line.endswith(r"\rule{3cm}{0.4pt} \\")]
    assert len(rows) == len(run_for("classifier", {"batch": "full"})[1])
    assert all(line.count("$") == 2 for line in rows)


def test_sheet_errors_are_one_line() -> None:
    result = run_cli("sheet", "lecture", "--step", "3", "--steps", "2")
    assert result.exit_code == 2 and "beyond" in result.stderr
    result = run_cli("sheet", "nosuchnet")
    assert result.exit_code == 2 and ERROR_LINE.match(result.stderr)


def test_json_trace_symbols_match_the_text_printer() -> None:
    doc = train("lecture").to_dict()
    t = train("lecture")
    printer = TextPrinter()
    assert [e["symbol"] for e in doc["steps"][0]["equations"]] == [printer.doprint(e.symbol) for e in t.equations]
    assert json.dumps(doc)  # serialisable
    assert re.search(r"w'_\(x2\)1", " ".join(e["symbol"] for e in doc["steps"][0]["equations"]))
