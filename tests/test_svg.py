"""SVG written from the terminal view's own lines (render.svg), without rich's recording console.

- the same bytes as rich's `Console.export_svg` of the same view (the way the format was made before, kept
  here as the reference) for forward and training runs, both notations, --round, --detail summary, a CNN
  and hostile names;
- well-formed XML, every number of the text trace in its texts, names escaped (never an element);
- `SvgPicture` on lines the layout never makes: a line break inside a piece, a line wider than the picture.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from hostile import PRINTABLE
from rich.console import Console
from rich.style import Style

from bpexplain.api import load
from bpexplain.engine import RunOptions, run
from bpexplain.render import render_stream, render_to_string
from bpexplain.render.export import WIDTH
from bpexplain.render.rich import print_batches, trace_renderables
from bpexplain.render.svg import SvgPicture
from bpexplain.spec import load_network
from bpexplain.trace import TraceHeader

SVG = "{http://www.w3.org/2000/svg}"


def rich_export(events: list, precision: int = 4, max_terms: int | None = 8) -> str:
    """The view printed into rich's recording console and exported by rich: the SVG format as it was."""
    console = Console(
        record=True,
        file=io.StringIO(),
        width=WIDTH,
        force_terminal=True,
        color_system="truecolor",
        force_jupyter=False,
        legacy_windows=False,
        no_color=False,
    )
    print_batches(console, trace_renderables(events, precision, max_terms))
    header = next(e for e in events if isinstance(e, TraceHeader))
    return console.export_svg(title=f"bpexplain {header.settings.command}: {header.network['name']}")


RUNS = [
    ("lecture", {"command": "forward"}),
    ("lecture", {"command": "train", "steps": 2}),
    ("lecture", {"command": "train", "steps": 1, "notation": "textbook", "rule": "exact"}),
    ("lecture", {"command": "train", "steps": 1, "rule": "slide"}),
    ("xor", {"command": "train", "steps": 30, "detail": "summary"}),
    ("classifier", {"command": "train", "steps": 1, "round": 3}),
    ("homework-cnn", {"command": "train", "steps": 1}),
    ("two-two-two", {"command": "train", "steps": 1, "detail": "layer"}),
]


@pytest.mark.parametrize(("name", "options"), RUNS)
def test_svg_is_the_document_rich_exported(name: str, options: dict) -> None:
    events = list(run(load_network(name), RunOptions(**options)))
    assert render_to_string(events, "svg") == rich_export(events)  # --round: both views carry its numbers


def hostile_network(name: str) -> str:
    q = json.dumps(name)  # a double-quoted YAML string
    return f"""name: {q}
title: {q}
inputs: [{q}, x2]
layers:
  - name: {q}
    activation: sigmoid
    weight: [[0.1, -0.2], [0.4, 0.3]]
  - name: out
    activation: sigmoid
    weight: [[0.5, -0.6]]
data:
  - input: [0.3, 0.9]
    target: [1.0]
"""


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return [(e.text or "").replace("\xa0", " ") for e in root.iter(SVG + "text")]


@pytest.mark.parametrize("written", PRINTABLE)
def test_names_are_escaped_text_and_the_document_is_rich_s(written: str) -> None:
    spec = load(hostile_network(written))
    events = list(run(spec, RunOptions(command="train", steps=1)))
    svg = render_to_string(events, "svg")
    assert svg == rich_export(events)
    shown = "".join(texts(svg))  # parses: the name made no element, attribute or entity
    assert written.replace(" ", "") in shown.replace(" ", "")
    if "<" in written:
        assert written not in svg  # never raw


@pytest.mark.parametrize("name", ["lecture", "homework-cnn", "classifier"])
def test_every_number_of_the_text_trace_is_in_the_picture(name: str) -> None:
    events = list(run(load_network(name), RunOptions(command="train", steps=1)))
    text = render_to_string(events, "text")
    shown = "\n".join(texts(render_to_string(events, "svg")))
    numbers = set(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text))
    assert len(numbers) > 30
    missing = [n for n in numbers if n not in shown]
    assert not missing, missing[:10]


def test_a_line_break_inside_a_piece_and_a_line_too_wide_are_drawn_as_rich_draws_them() -> None:
    bold, reverse = Style(bold=True), Style(reverse=True, color="cyan")
    lines = [
        [("one\ntwo", bold), (" three", None)],
        [("x" * 150, reverse)],  # wider than the picture: cropped
        [("y" * 39, None), ("zz", Style(italic=True)), ("beyond", Style(underline=True))],  # first met beyond it
        [("s", Style(strike=True)), ("u", Style(underline=True))],  # numbered as rich numbers them
        [("wide 漢字 " * 20, None)],
        [("<&> \"'", bold)],
        [],
    ]
    picture = SvgPicture(40, "a <title> & more")
    console = Console(record=True, file=io.StringIO(), width=40, force_terminal=True, color_system="truecolor")
    from rich.segment import Segment

    for line in lines:
        picture.add(line)
        console.print(_Segments([Segment(t, s) for t, s in line if t] + [Segment.line()]), crop=False)
    assert picture.document() == console.export_svg(title="a <title> & more")
    ET.fromstring(picture.document())


class _Segments:
    def __init__(self, segments: list) -> None:
        self.segments = segments

    def __rich_console__(self, console: object, options: object):  # type: ignore[no-untyped-def]
        yield from self.segments


def test_svg_streams_no_rich_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The format makes no recording console: rich's export is not what writes it."""
    monkeypatch.setattr(Console, "export_svg", lambda *a, **k: pytest.fail("export_svg called"))
    out = io.StringIO()
    render_stream(run(load_network("xor"), RunOptions(command="forward")), "svg", out)
    assert out.getvalue().startswith("<svg")


def test_a_picture_of_more_lines_than_are_written_at_a_time_is_rich_s() -> None:
    from rich.segment import Segment

    from bpexplain.render.svg import CHUNK

    reverse = Style(reverse=True, color="green")
    lines = [[(f"{n}", reverse), (" x", None)] for n in range(2 * CHUNK + 7)]  # clip paths, rects, texts: 3 parts
    picture = SvgPicture(12, "long")
    console = Console(record=True, file=io.StringIO(), width=12, force_terminal=True, color_system="truecolor")
    for line in lines:
        picture.add(line)
    console.print(_Segments([Segment(t, s) for line in lines for t, s in line + [("\n", None)]]), crop=False)
    assert picture.document() == console.export_svg(title="long")
