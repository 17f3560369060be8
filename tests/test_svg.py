"""SVG written from the terminal view's own lines (render.svg), compared with rich's `Console.export_svg` by
what the two documents draw, not by their bytes (ours is leaner: a `<text>` per line, a `<tspan>` per style).

`drawing` reads an SVG document, rich's or ours, the way a browser places it: every character at its line
and cell (from the `<text>`/`<tspan>` positions, transforms and `textLength`), with its fill, weight, slant
and decoration; every background cell with its colour; the frame (size, window, title, fonts). The two
must be equal:
- for forward and training runs, both notations, --round, --detail summary, a CNN and hostile names
  (names are data, never markup: each parses as XML and the name is text, never an element or entity);
- for lines the layout never makes (a line break inside a piece, a line wider than the picture, wide
  characters, underline and strike-through over spaces, backgrounds), given to `SvgPicture` directly;
- across the chunks the document is written in, and far down a long picture (where rich's six-digit
  coordinates would round, ours are exact).
tests/test_svg_browser.py compares the two as Chromium draws them, pixel by pixel.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest
from hostile import PRINTABLE
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from bpexplain.api import load
from bpexplain.engine import RunOptions, run
from bpexplain.render import render_stream, render_to_string
from bpexplain.render.export import WIDTH
from bpexplain.render.rich import print_batches, trace_renderables
from bpexplain.render.svg import _PLAIN_RANGES, CHAR_HEIGHT, CHAR_WIDTH, CHUNK, LINE_HEIGHT, SvgPicture
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


# ---- what a document draws ------------------------------------------------------------------------


@dataclass
class Drawing:
    chars: dict[tuple[int, int], tuple[str, frozenset]] = field(default_factory=dict)  # (line, cell) -> char, look
    fills: dict[tuple[int, int], str] = field(default_factory=dict)  # (line, cell) -> background colour
    frame: dict[str, object] = field(default_factory=dict)


def _rules(css: str) -> frozenset:
    """`fill: #abc;font-weight: bold` as a set of (property, value), with the colour's case folded."""
    pairs = (rule.split(":", 1) for rule in css.split(";") if ":" in rule)
    return frozenset((k.strip(), v.strip().lower()) for k, v in pairs)


def _classes(style: str) -> tuple[dict[str, frozenset], frozenset]:
    """The looks of the style classes (by their last class name), and the matrix's own look (its fill)."""
    looks: dict[str, frozenset] = {}
    matrix = frozenset()
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style):
        selector = selector.strip()
        name = selector.split()[-1].lstrip(".")
        rules = _rules(body)
        if selector.endswith("-matrix"):
            matrix = frozenset((k, v) for k, v in rules if k == "fill")
        elif re.search(r"-?r\d+$", name):
            looks[re.sub(r"^.*-(r\d+)$", r"\1", name)] = rules
    return looks, matrix


def _attributes(element: ET.Element, *names: str) -> dict[str, object]:
    """An element's attributes (these `names`, or all), numbers read as numbers to six digits (rich writes six)."""
    out: dict[str, object] = {}
    for name, value in element.attrib.items():
        if not names or name in names:
            out[name] = float(f"{float(value):.6g}") if re.fullmatch(r"-?\d+(\.\d*)?", value) else value
    return out


def _translate(element: ET.Element) -> float:
    found = re.search(r"translate\(\s*[-\d.]+[ ,]\s*([-\d.]+)\s*\)", element.get("transform", ""))
    return float(found.group(1)) if found else 0.0


def drawing(svg: str) -> Drawing:
    """What an SVG document draws (see the module's docstring); also checks that it is well-formed XML and
    that every `textLength` spaces its characters one cell (12.2) apart."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    style = "".join(e.text or "" for e in root.iter(SVG + "style"))
    looks, plain = _classes(style)
    out = Drawing()
    out.frame["viewBox"] = [round(float(v), 6) for v in root.get("viewBox", "").split()]
    out.frame["fonts"] = re.findall(r"@font-face\s*\{[^}]*\}", style)
    out.frame["matrix font"] = re.findall(r"font-(?:family|size): [^;]+;", style.split("-title")[0].split("-matrix")[1])
    out.frame["title font"] = re.findall(r"-title\s*\{([^}]*)\}", style)[0].split()
    out.frame["circles"] = [_attributes(c) for c in root.iter(SVG + "circle")]
    out.frame["window"] = [_attributes(r) for r in root.findall(SVG + "rect")]
    titles = [t for t in root.findall(SVG + "text") if (t.get("class") or "").endswith("-title")]
    out.frame["title"] = [((t.text or "").replace("\xa0", " "), _attributes(t, "x", "y", "fill")) for t in titles]
    terminal = next(g for g in root.findall(SVG + "g") if "clip-terminal" in (g.get("clip-path") or ""))
    out.frame["terminal"] = terminal.get("transform")

    def look_of(element: ET.Element, inherited: frozenset) -> frozenset:
        names = [n for n in (element.get("class") or "").split() if n != "bg"]
        if not names:
            return inherited
        name = re.sub(r"^.*-(r\d+)$", r"\1", names[0])
        return looks[name] if name in looks else inherited

    def walk(element: ET.Element, dy: float) -> None:
        if element is not terminal:  # lines and cells counted from the terminal's corner
            dy += _translate(element)
        if element.tag == SVG + "rect" and element.get("fill") and element is not terminal:
            line = round((dy + float(element.get("y", 0)) - 1.5) / LINE_HEIGHT)
            first = round(float(element.get("x", 0)) / CHAR_WIDTH)
            for cell in range(first, first + round(float(element.get("width", 0)) / CHAR_WIDTH)):
                assert (line, cell) not in out.fills, ("two backgrounds", line, cell)
                out.fills[line, cell] = element.get("fill", "").lower()
        if element.tag == SVG + "text" and element is not terminal and element not in titles:
            text_line(element, dy)
            return
        for child in element:
            if child.tag != SVG + "defs":
                walk(child, dy)

    def text_line(text: ET.Element, dy: float) -> None:
        line = round((dy + float(text.get("y", 0)) - CHAR_HEIGHT) / LINE_HEIGHT)
        base = look_of(text, frozenset(_rules(";".join(f"{k}: {v}" for k, v in plain))))
        cell = round(float(text.get("x", 0)) / CHAR_WIDTH)
        runs = [(text.text or "", base, None, text.get("textLength"))]
        for span in text:
            assert span.tag == SVG + "tspan" and len(span) == 0
            runs.append((span.text or "", look_of(span, base), span.get("x"), span.get("textLength")))
            runs.append((span.tail or "", base, None, None))
        length = text.get("textLength")
        if length is not None:
            assert float(length) == pytest.approx(CHAR_WIDTH * sum(len(r[0]) for r in runs)), "one cell a character"
        for chars, look, x, span_length in runs:
            if x is not None:
                cell = round(float(x) / CHAR_WIDTH)
            if span_length is not None and length is None:
                assert float(span_length) == pytest.approx(CHAR_WIDTH * len(chars))
            for ch in chars.replace("\xa0", " ").rstrip("\n"):  # rich's line end: a text of its own, nothing drawn
                decorated = any(k == "text-decoration" for k, _ in look)
                if ch != " " or decorated:
                    assert (line, cell) not in out.chars, ("two characters", line, cell)
                    out.chars[line, cell] = (ch, look)
                cell += cell_len(ch)

    walk(terminal, 0.0)
    return out


def same_drawing(ours: str, theirs: str) -> None:
    a, b = drawing(ours), drawing(theirs)
    assert a.frame == b.frame
    assert a.fills == b.fills
    if a.chars != b.chars:
        wrong = sorted(k for k in a.chars.keys() | b.chars.keys() if a.chars.get(k) != b.chars.get(k))
        raise AssertionError(
            f"{len(wrong)} cells differ, first {[(k, a.chars.get(k), b.chars.get(k)) for k in wrong[:3]]}"
        )
    assert len(a.chars) > 0


# ---- bundled runs -----------------------------------------------------------------------------------

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
def test_svg_draws_what_rich_s_export_draws(name: str, options: dict) -> None:
    events = list(run(load_network(name), RunOptions(**options)))
    same_drawing(render_to_string(events, "svg"), rich_export(events))  # --round: both views carry its numbers


def test_the_cnn_s_backgrounds_are_drawn_and_merged() -> None:
    events = list(run(load_network("homework-cnn"), RunOptions(command="forward")))
    ours, theirs = render_to_string(events, "svg"), rich_export(events)
    assert drawing(ours).fills == drawing(theirs).fills != {}
    assert ours.count("<rect") < theirs.count("<rect")  # a run of cells of one colour is one rect
    assert len(ours) * 3 < len(theirs)


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
    return ["".join(e.itertext()).replace("\xa0", " ") for e in root.iter(SVG + "text")]


@pytest.mark.parametrize("written", PRINTABLE + ("]]> <![CDATA[ x", "漢字 & <b>", "e\u0301 ]]>"))
def test_names_are_escaped_text_and_drawn_as_rich_draws_them(written: str) -> None:
    spec = load(hostile_network(written))
    events = list(run(spec, RunOptions(command="train", steps=1)))
    svg = render_to_string(events, "svg")
    same_drawing(svg, rich_export(events))
    shown = "".join(texts(svg))  # parses: the name made no element, attribute or entity
    assert written.replace(" ", "") in shown.replace(" ", "")
    root = ET.fromstring(svg)
    assert {e.tag for e in root.iter()} <= {
        SVG + t for t in ("svg", "style", "defs", "clipPath", "rect", "g", "text", "tspan", "circle")
    }
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


# ---- lines the layout never makes, given to SvgPicture directly --------------------------------------


class _Segments:
    def __init__(self, segments: list) -> None:
        self.segments = segments

    def __rich_console__(self, console: object, options: object):  # type: ignore[no-untyped-def]
        yield from self.segments


def both(lines: list, width: int, title: str) -> tuple[str, str]:
    """Ours and rich's export of the same lines."""
    picture = SvgPicture(width, title)
    console = Console(record=True, file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    for line in lines:
        picture.add(line)
    console.print(_Segments([Segment(t, s) for line in lines for t, s in line + [("\n", None)] if t]), crop=False)
    return picture.document(), console.export_svg(title=title)


STYLED = [
    [("one\ntwo", Style(bold=True)), (" three", None)],  # a line break inside a piece: two lines
    [("x" * 150, Style(reverse=True, color="cyan"))],  # wider than the picture: cropped
    [("y" * 39, None), ("zz", Style(italic=True)), ("beyond", Style(underline=True))],  # first met beyond it
    [
        ("s", Style(strike=True)),
        ("u", Style(underline=True)),
        ("   ", Style(underline=True)),
        ("u u", Style(underline=True)),
    ],
    [("wide 漢字 ", None), ("x", Style(color="red", bgcolor="blue")), (" é̂ ", Style(dim=True))],
    [("<&> \"' ]]>", Style(bold=True)), ("  ", Style(bgcolor="green")), ("a", Style(bgcolor="green"))],
    [("on", Style(bgcolor="yellow")), (" ", None), ("on", Style(bgcolor="yellow")), ("d", Style(dim=True, bold=True))],
    [],
    [("   ", None)],
    [("  indented", Style(color="magenta")), ("   ", Style(bgcolor="red", underline=True))],
]


def test_lines_the_layout_never_makes_are_drawn_as_rich_draws_them() -> None:
    ours, theirs = both(STYLED, 40, "a <title> & more")
    same_drawing(ours, theirs)
    assert drawing(ours).fills  # backgrounds met
    assert "&lt;&amp;&gt;" in ours


def test_a_picture_of_more_lines_than_are_written_at_a_time_is_rich_s() -> None:
    reverse = Style(reverse=True, color="green")
    lines = [[(f"{n}", reverse), (" x", None)] for n in range(2 * CHUNK + 7)]
    same_drawing(*both(lines, 12, "long"))


def test_far_down_a_long_picture_every_line_is_where_it_belongs() -> None:
    """Line 60,000 is at y = 60,000 · 24.4 exactly (rich's `format(y, 'g')` keeps six digits: 1.464e+06)."""
    picture = SvgPicture(20, "long")
    count = 60_003
    picture.extend((len(f"{n}"), [(f"{n}", Style(bold=True) if n % 2 else None)]) for n in range(count))
    shown = drawing(picture.document())
    assert len(shown.chars) == sum(len(f"{n}") for n in range(count))
    for n in (0, 1, 41_000, 59_999, 60_002):
        assert "".join(shown.chars[n, c][0] for c in range(len(f"{n}"))) == f"{n}"


def test_the_plain_characters_are_one_cell_wide_in_rich() -> None:
    """The characters a line may hold and be drawn as it comes (render.svg's `_PLAIN`) are each one cell."""
    plain = re.findall(r"(.)-(.)|(.)", _PLAIN_RANGES)
    chars = [chr(c) for a, b, one in plain for c in (range(ord(a), ord(b) + 1) if a else [ord(one)])]
    assert len(chars) > 1000
    assert all(cell_len(c) == 1 for c in chars)
    assert not set(chars) & set("<&>\n")


def test_svg_streams_no_rich_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The format makes no recording console: rich's export is not what writes it."""
    monkeypatch.setattr(Console, "export_svg", lambda *a, **k: pytest.fail("export_svg called"))
    out = io.StringIO()
    render_stream(run(load_network("xor"), RunOptions(command="forward")), "svg", out)
    assert out.getvalue().startswith("<svg")
