"""The SVG written with the picture's codes (issue 14, SVG round 9) is the SVG written from the styled lines.

`render.export` hands the terminal view an `SvgCodes`: a block's equations come back as finished lines
(`Board.ansi_texts`) and the rows of the maps under them as lines written once a block (`SvgCodes.line`), and
the picture only wraps each in its `<text>`. The general path gives the picture every line as pieces
(`SvgPicture.extend`). The two documents must be the same bytes:
- for every bundled network, trained and forward, at several widths (every layout of a board);
- where a style is first met inside a written line (its class numbered in the document's order, and the
  picture's `_runs` seeing it where it would have);
- for names that hold `<`, `&`, `>` (escaped as text), characters two cells wide, characters one cell wide
  that the picture looks at, and for lines `SvgCodes.line` cannot write (a line break, a wide character, a
  line narrower than the picture, a style drawn with a line along the text, one beside itself);
- for a board's style with a background (its rects found in the written lines), and one that draws a line along
  the text (no pair a board can use: the lines made again without codes);
- with NO_COLOR set (a picture always has its colours).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from rich.style import Style

import bpexplain
from bpexplain.engine import RunOptions, run
from bpexplain.render import export, render_to_string
from bpexplain.render import rich as rich_view
from bpexplain.render.export import WIDTH, SvgRenderer
from bpexplain.render.printer import TextPrinter
from bpexplain.render.screen import _fitted
from bpexplain.render.svg import SvgCodes, SvgPicture
from bpexplain.spec import load_network

NETWORKS = ["lecture", "xor", "classifier", "two-two-two", "homework-cnn", "cbam", "attention", "se-block"]
NETWORKS += ["resnet-block", "batchnorm"]
WIDTHS = (WIDTH, 80, 50, 30)


def by_pieces(events: list, width: int = WIDTH) -> str:
    """The picture of every line given as its pieces (the general path: the SVG format before the codes)."""
    renderer = SvgRenderer(width=width)
    picture = SvgPicture(width)
    for lines in rich_view.trace_renderables(export._titled(events, renderer), 4, 8):
        picture.extend(_fitted(lines.make(width, False), width))
    picture.title = renderer.title or "bpexplain"
    return picture.document()


def by_codes(events: list, width: int = WIDTH, coded_from: int = 0) -> str:
    """The SVG format's document, every block written with the codes (`coded_from` 0) or as the format has it."""
    out = io.StringIO()
    kept = export.CODED_FROM
    export.CODED_FROM = coded_from
    try:
        SvgRenderer(width=width).write(events, out)
    finally:
        export.CODED_FROM = kept
    return out.getvalue()


def trained(name: str) -> list:
    return list(bpexplain.train(name, steps=1, batch="full" if name == "batchnorm" else "single").events)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_bundled_network_is_the_same_document_either_way(name: str) -> None:
    events = trained(name)
    for width in WIDTHS:
        assert by_codes(events, width) == by_pieces(events, width), width
    assert by_codes(events, WIDTH, export.CODED_FROM) == by_pieces(events)  # small blocks as pieces


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lecture", {"command": "forward"}),
        ("homework-cnn", {"command": "forward"}),
        ("lecture", {"command": "train", "steps": 2, "notation": "textbook", "rule": "exact"}),
        ("classifier", {"command": "train", "steps": 1, "round": 3}),
        ("two-two-two", {"command": "train", "steps": 1, "detail": "layer"}),
        ("xor", {"command": "train", "steps": 30, "detail": "summary"}),
    ],
)
def test_runs_of_every_kind_are_the_same_document_either_way(name: str, options: dict) -> None:
    events = list(run(load_network(name), RunOptions(**options)))
    assert by_codes(events) == by_pieces(events)


def test_the_codes_write_most_lines_and_meet_styles_in_the_document_s_order() -> None:
    """homework-cnn's first forward block meets its styles (and the field's) inside written lines: tokens."""
    events = trained("homework-cnn")
    picture = SvgPicture(WIDTH)
    codes = SvgCodes(picture)
    written = given = 0
    for lines in rich_view.trace_renderables(events):
        made = list(lines.make(WIDTH, False, codes=codes) if lines.coloured else lines.make(WIDTH, False))
        written += sum(line.count("\n") + 1 for line in made if type(line) is str)
        given += sum(type(line) is not str for line in made)
        picture.draw(made)
    assert written > given
    assert codes.tokens  # styles asked for before the picture met them, each met by now
    assert all(id(style) in picture.by_id for style, _ in codes.tokens)
    assert codes.colours  # the field's cells: backgrounds written with their lines
    assert not codes.held


HOSTILE = ["<b>&amp;", "a<b", "x>y & z", "漢字", "é", "ạ", "]]>", "\u0301x"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_board_s_hostile_text_is_the_same_document_either_way(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts a board may one day hold (network names are identifiers where they become symbols): escaped,
    drawn as rich draws them, or left to the general path (a character not one cell wide)."""
    original = TextPrinter.columns

    def hostile(self: TextPrinter, *args: object) -> tuple[str, str, str, str]:
        symbol, expression, substituted, value = original(self, *args)  # type: ignore[arg-type]
        return f"{symbol}{text}", f"{text}{expression}", substituted, value

    monkeypatch.setattr(TextPrinter, "columns", hostile)
    for name in ("lecture", "homework-cnn"):
        events = trained(name)
        for width in (WIDTH, 50):
            ours = by_codes(events, width)
            assert ours == by_pieces(events, width)
            ET.fromstring(ours)  # parses: the text made no element or entity
            if "<" in text:
                assert text not in ours


def test_no_color_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    events = trained("homework-cnn")
    before = by_codes(events)
    monkeypatch.setenv("NO_COLOR", "1")
    assert by_codes(events) == before == by_pieces(events) == render_to_string(events, "svg")


@pytest.mark.parametrize(
    ("style", "rects"), [(Style(color="black", bgcolor="yellow"), True), (Style(underline=True, color="red"), False)]
)
def test_a_board_style_with_a_background_or_a_line_along_its_text(
    style: Style, rects: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background is drawn from the written lines (its rects found in them); a style that draws a line along the
    text has no pair a board can use: the block's lines are made again without codes."""
    roles = rich_view._roles

    def styled(colour: str) -> dict:
        return {**roles(colour), "op": style}

    monkeypatch.setattr(rich_view, "_roles", styled)
    for name in ("lecture", "homework-cnn"):
        events = trained(name)
        ours = by_codes(events)
        assert ours == by_pieces(events)
        assert (ours.count("<rect fill") > 1) is (rects or name == "homework-cnn")  # the frame's and the backgrounds'


WIDE = Style(bold=True, color="cyan")
LINED = Style(underline=True)
BACK = Style(bgcolor="green")


def _framed(*pieces: tuple[str, Style | None], width: int = 20) -> list[tuple[str, Style | None]]:
    used = sum(len(t) for t, _ in pieces)
    return [("│ ", WIDE), *pieces, (" " * (width - 4 - used) + " │", WIDE)]


LINES = [
    _framed(("ab", None), ("cd", BACK), ("ef", BACK), ("<&>", None)),  # backgrounds in one run, escaped text
    _framed(("x", LINED), (" ", LINED), ("y", None)),  # a line along the text: its pieces
    _framed(("漢字", None)),  # two cells each: its pieces
    _framed(("a\nb", None)),  # a line break: its pieces
    [("short", None)],  # narrower than the picture: its pieces
    _framed(("on", Style(bgcolor="red", bold=True)), ("on", Style(bgcolor="red", bold=True))),
    _framed(("s", BACK), ("t", BACK), width=20),
    [(" " * 20, None)],  # nothing to draw
]


@pytest.mark.parametrize("first", [False, True])
def test_lines_the_codes_write_are_the_lines_the_picture_draws(first: bool) -> None:
    """Each line written by `SvgCodes.line` (its styles met before, or first in it) draws as its pieces."""
    width = 20
    ours, theirs = SvgPicture(width, "t"), SvgPicture(width, "t")
    codes = SvgCodes(ours)
    if not first:  # the picture has met every style
        for line in LINES:
            ours.add(line)
            theirs.add(line)
    ours.draw([codes.line(line) for line in LINES])
    ours.draw([codes.line(line) for line in LINES])  # again: the same styles, by then met
    for line in LINES + LINES:
        theirs.add(line)
    assert ours.document() == theirs.document()
    assert codes.held  # some lines were given as pieces


def test_a_style_beside_itself_not_met_yet_is_given_as_pieces() -> None:
    """rich's way (`_runs`) writes two pieces of one style not met yet in one tspan: such a line is pieces."""
    width = 20
    style = Style(italic=True, color="red")
    line = _framed(("ab", style), ("cd", style))
    ours, theirs = SvgPicture(width, "t"), SvgPicture(width, "t")
    codes = SvgCodes(ours)
    ours.draw([codes.line(line)])
    theirs.add(line)
    assert ours.document() == theirs.document()
    assert ours.document().count('<tspan class="r2">') == 1
