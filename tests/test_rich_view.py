"""The terminal view at any width: every number and symbol shown whole, equations wrapped at operators,
names from the network file shown as written (never read as markup), large blocks printed as they come."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import spec_from
from hostile import PRINTABLE
from rich.cells import cell_len
from rich.console import Console

import bpexplain
from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.filters import EventFilter
from bpexplain.render import render_to_string
from bpexplain.render.json import trace_to_dict
from bpexplain.render.numbers import format_number
from bpexplain.render.rich import CHUNK, RichRenderer
from bpexplain.render.wrap import wrap_math, wrap_words
from bpexplain.spec import load_network
from bpexplain.trace import Event

WIDTHS = [60, 80, 100, 160]
NUMBER = re.compile(r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e-?\d+)?)")


def events_of(network: str, layers: Iterable[str] = ()) -> list[Event]:
    events: Iterator[Event] = run(load_network(network), RunOptions(command="train", steps=1))
    if layers:
        events = EventFilter(layers=frozenset(layers)).apply(events)
    return list(events)


CASES = {
    "lecture": (),
    "xor": (),
    "classifier": (),
    "homework-cnn": (),
    "lenet5": ("output",),  # the last layer alone: 10 sums of 84 terms, the rest of lenet5 is slow to lay out
}


@pytest.fixture(scope="module")
def traces() -> dict[str, list[Event]]:
    return {name: events_of(name, layers) for name, layers in CASES.items()}


def screen(events: list[Event], width: int, colour: bool = False, **options: Any) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="truecolor" if colour else None, force_terminal=colour)
    RichRenderer(console=console, **options).write(events, buffer)
    return buffer.getvalue()


def is_subsequence(wanted: list[str], tokens: list[str]) -> bool:
    it = iter(tokens)
    return all(any(t == w for t in it) for w in wanted)


# ---- nothing cut -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("network", list(CASES))
def test_every_number_and_symbol_appears_whole(traces: dict[str, list[Event]], network: str, width: int) -> None:
    events = traces[network]
    trace = trace_to_dict(events)  # what --format json writes: every sum in full
    equations = [eq for step in trace["steps"] for eq in step["equations"]]
    assert equations
    text = screen(events, width, max_terms=None)  # the sums in full too
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    tokens = NUMBER.findall(text)
    substituted = [n for eq in equations for n in NUMBER.findall(eq["substituted"] or "")]
    assert substituted and is_subsequence(substituted, tokens)
    values = [format_number(float(eq["value"]), 4) for eq in equations if eq["value"] is not None]
    assert is_subsequence(values, tokens)
    for eq in equations:
        assert eq["symbol"] in text
    if network in ("lecture", "xor"):
        assert "…" not in text  # nothing shortened, nothing cut (elsewhere an annotation may say y_1…y_4)


def test_json_substituted_numbers_are_those_of_the_cli() -> None:
    """The JSON the test above reads is the CLI's --format json."""
    result = CliRunner().invoke(cli, ["train", "lecture", "--steps", "1", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["steps"] == trace_to_dict(events_of("lecture"))["steps"]


def test_a_long_sum_wraps_before_its_plus_in_aligned_columns(traces: dict[str, list[Event]]) -> None:
    raw = screen(traces["lecture"], 80).splitlines()
    lines = [line.strip("│ ") for line in raw]
    k = next(i for i, line in enumerate(lines) if line.startswith("δ_1 "))
    assert lines[k].startswith("δ_1        = w_14·δ_4·dh_4(e)/de")
    assert "= 0.2·(-0.07056)·0.2473" in lines[k] and lines[k].endswith("= -0.002324")
    assert lines[k + 1].split() == ["+", "w_15·δ_5·dh_5(e)/de", "+", "0.1·0.04704·0.2478"]
    # aligned: each continued sum starts under its column, the symbols' and the numbers'
    assert raw[k + 1].index("+ w_15") == raw[k].index("w_14")
    assert raw[k + 1].index("+ 0.1") == raw[k].index("0.2·")


def test_a_narrow_terminal_stacks_the_sides(traces: dict[str, list[Event]]) -> None:
    lines = [line.strip("│ ") for line in screen(traces["lecture"], 50).splitlines()]
    k = lines.index("w'_14 = w_14 − η·δ_4·dh_4(e)/de·y_1")
    assert lines[k + 1 : k + 3] == ["= 0.2 − 0.5·(-0.07056)·0.2473·0.5915", "= 0.2052"]


def test_an_equation_whose_expression_is_its_value_is_said_once(traces: dict[str, list[Event]]) -> None:
    text = screen(traces["homework-cnn"], 120)
    assert "dh_5(e)/de = 1 " in text and "dh_5(e)/de = 1 = 1" not in text.replace("  ", " ")
    assert "δO2(1,1) = 0 " in text and "= 0 = 0" not in text


@pytest.mark.parametrize("width", [1, 5, 8, 12, 20, 30])
@pytest.mark.parametrize("network", ["lecture", "classifier", "homework-cnn"])
def test_very_narrow_terminals(traces: dict[str, list[Event]], network: str, width: int) -> None:
    text = screen(traces[network], width)
    assert max(cell_len(line) for line in text.splitlines()) <= max(width, 1)
    if width >= 12:
        assert "0.1113" in text or "0.045" in text or network == "classifier"


def test_columns_20_on_the_command_line() -> None:
    for args in (["train", "lecture"], ["train", "homework-cnn"], ["forward", "classifier"]):
        result = CliRunner().invoke(cli, [*args, "--format", "rich"], env={"COLUMNS": "20", "FORCE_COLOR": "1"})
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and "Step 1" in result.output


def test_panel_titles_wrap_instead_of_being_cut() -> None:
    title = "a title long enough to need three lines at forty columns, every word of it kept"
    spec = spec_from(f"""
name: long
title: {json.dumps(title)}
inputs: [x1]
layers:
  - {{name: a-layer-name-longer-than-any-reasonable-terminal-column, type: dense, weight: [[0.5]]}}
loss: mse
learning_rate: 0.5
data:
  - {{input: [1.0], target: [1]}}
""")
    text = screen(list(run(spec, RunOptions(command="train", steps=1))), 40)
    words = re.sub(r"[│╭╮╰╯─]", " ", text).split()
    for word in title.split():
        assert word in words
    assert "…" not in text
    assert "a-layer-name-longer-than-any-reasonable-terminal-column" in text.replace("│\n│ ", "").replace(" ", "")


# ---- names are data ---------------------------------------------------------------------------------


def hostile_events(name: str) -> list[Event]:
    spec = spec_from(f"""
name: {json.dumps(name)}
title: {json.dumps(name)}
inputs: [{json.dumps(name)}, {json.dumps(name + "2")}]
layers:
  - {{name: {json.dumps(name)}, type: dense, weight: [[0.1, 0.2]], activation: sigmoid}}
loss: mse
learning_rate: 0.5
data:
  - {{input: [0.5, 0.8], target: [1]}}
""")
    return list(run(spec, RunOptions(command="train", steps=1)))


@pytest.mark.parametrize("name", PRINTABLE)
def test_names_are_shown_as_written_never_as_markup(name: str) -> None:
    events = hostile_events(name)
    assert name in screen(events, 160)
    coloured = screen(events, 160, colour=True)
    assert "\x1b]8;" not in coloured  # no hyperlink made from [link=...]
    assert name in re.sub(r"\x1b\[[0-9;]*m", "", coloured)


@pytest.mark.parametrize("name", PRINTABLE)
def test_names_are_escaped_in_html_and_svg(name: str) -> None:
    events = hostile_events(name)
    from bpexplain.render.page import SCRIPT

    html = render_to_string(events, "html")
    assert html.count("<script>") == 1  # the page's own, and nothing else
    html = html.replace(f"<script>{SCRIPT}</script>", "")
    svg = render_to_string(events, "svg")
    for page in (html, svg):
        assert "<script>" not in page and "<img" not in page and "<!-- -->" not in page
    if "<script>" in name:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    if name.startswith("[bold red]"):
        assert "[bold red]x[/bold red]" in html


# ---- large blocks stream ------------------------------------------------------------------------------


class CountingFile(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_a_large_block_is_printed_in_parts() -> None:
    spec = spec_from("""
inputs: [a, b]
layers:
  - {name: wide, type: dense, units: 600, weight: random, activation: tanh}
  - {name: out, type: dense, units: 1, weight: random}
loss: mse
learning_rate: 0.1
data:
  - {input: [0.5, -0.5], target: [1]}
""")
    events = [e for e in run(spec, RunOptions(command="forward"))]
    out = CountingFile()
    RichRenderer(console=Console(file=out, width=120)).write(events, out)
    assert out.writes >= 1200 // CHUNK  # the wide layer's 1200 forward equations, a chunk at a time
    assert out.getvalue().count(" = tanh(") == 600


# ---- the line breaker ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,limit,lines",
    [
        ("w_14·δ_4·dh_4(e)/de + w_15·δ_5·dh_5(e)/de", 22, ["w_14·δ_4·dh_4(e)/de", "+ w_15·δ_5·dh_5(e)/de"]),
        ("0.5281·(1 − 0.5281)", 12, ["0.5281·", "(1 − 0.5281)"]),
        ("½·(0.5281 − 1)²", 8, ["½·", "(0.5281", "− 1)²"]),
        ("max(1, -1, -2, 3)", 10, ["max(1, -1,", "  -2, 3)"]),
        ("0.1·0.5", 3, ["0.1", "·", "0.5"]),  # narrower than a piece: folded, the last resort
    ],
)
def test_wrap_math(text: str, limit: int, lines: list[str]) -> None:
    assert wrap_math(text, limit) == lines


def test_wrap_math_never_cuts_a_number_that_fits() -> None:
    text = " + ".join(f"{k}.{k}{k}·(-0.0{k}5)" for k in range(1, 10))
    for limit in range(12, 60):
        lines = wrap_math(text, limit)
        assert all(cell_len(line) <= limit for line in lines)
        assert NUMBER.findall(" ".join(lines)) == NUMBER.findall(text)


def test_wrap_words() -> None:
    assert wrap_words("a bb ccc dddd", 6, 2) == ["a bb", "  ccc", "  dddd"]
    assert wrap_words("short", 10) == ["short"]


def test_the_api_trace_still_renders_in_a_rich_console() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=70).print(bpexplain.train("lecture", steps=1))
    assert "δ_1 " in buffer.getvalue() and "…" not in buffer.getvalue()


def test_the_terminal_view_ends_training_with_its_result() -> None:
    """E before training, E with the final weights and every sample's prediction, as the text shows them."""
    trace = bpexplain.train("xor", steps=3)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(trace)
    screen = out.getvalue()
    end = trace.to_dict()
    assert "E after" in screen and "Predictions after training" in screen
    assert format_number(end["final_loss"], 4) in screen and format_number(end["initial_loss"], 4) in screen
    for p in end["predictions"]:
        assert f"[{format_number(p['output'][0], 4)}]" in screen


def test_the_readme_s_80_column_excerpt_is_the_tool_s_own_output() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("<!-- 80-columns: begin -->\n```\n", 1)[1].split("```\n<!-- 80-columns: end -->", 1)[0]
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(bpexplain.train("lecture"))
    assert excerpt.count("\n") >= 10 and excerpt in out.getvalue()
    assert all(cell_len(line) == 80 for line in excerpt.splitlines())


@pytest.mark.parametrize("width", [40, 60, 80])
def test_check_and_compare_reports_cut_no_number_in_the_terminal(width: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Their tables wrap a cell that does not fit (rich's default would cut it with …)."""
    sheet = tmp_path / "s.yaml"
    assert CliRunner().invoke(cli, ["sheet", "lecture", "--layer", "output", "-o", str(sheet)]).exit_code == 0
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("y_6: null", "y_6: 0.528118851"), encoding="utf-8")
    env = {"COLUMNS": str(width), "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
    for args in (["check", "lecture"], ["compare", "lecture", str(sheet)]):
        result = CliRunner(env=env).invoke(cli, [*args, "--format", "rich"])
        assert result.exit_code in (0, 1) and result.stdout, (args, result.output)
        assert "…" not in result.stdout, (args, width)
    if width >= 60:  # narrower, a cell wraps the value across lines (beside the other cells' text)
        assert "0.528118851" in result.stdout
