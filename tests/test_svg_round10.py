"""SVG round 10 (issue 14): each new fast path of the picture gives the document of the general path.

- A map's rows written with codes wait with the other lines, each made ready once (`SvgPicture._wait_rows`): its
  tokens met in the order of the lines, its background rects drawn at the line it will be. The general path
  draws every line from its pieces (`by_pieces`, as tests/test_svg_codes.py draws it).
- A row's fills are found from the texts after a start with a background (`_ready_filled`); the reference here
  reads every part of the row, as round 9 did.
- The elements are packed SLICE at a time (the checksum chained over the slices): the document is the one packed
  in one piece, and across the CHUNK boundary.
- The parts not written with codes are made up to HELD lines at a time, then drawn (`export.SvgRenderer`): the
  document is the one drawn part by part.
- The picture lets go of its codes once written: a document leaves no cycle for the collector.

Every bundled network at 40, 80 and 120 columns, NO_COLOR, and hostile titles and names (`<`, `&`, `]]>`, x̂, 漢字).
"""

from __future__ import annotations

import gc
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

import bpexplain
from bpexplain.api import load
from bpexplain.engine import RunOptions, run
from bpexplain.render import export, render_to_string
from bpexplain.render import rich as rich_view
from bpexplain.render import svg as svg_module
from bpexplain.render.export import SvgRenderer
from bpexplain.render.screen import _fitted
from bpexplain.render.svg import SvgPicture, _add_run, _ready

NETWORKS = ["lecture", "xor", "classifier", "two-two-two", "homework-cnn", "cbam", "attention", "se-block"]
NETWORKS += ["resnet-block", "batchnorm", "lenet5"]
WIDTHS = (40, 80, 120)
HOSTILE = ["a<b & c", "]]> <![CDATA[ x", "x\u0302 & y", "漢字 <b>", "<&>]]>"]


def events_of(name: str) -> list:
    if name == "lenet5":  # its training run is 70 MB of picture: its forward pass has every kind of line
        return list(bpexplain.forward(name).events)
    return list(bpexplain.train(name, steps=1, batch="full" if name == "batchnorm" else "single").events)


def by_pieces(events: list, width: int) -> str:
    """The general path: every line given to the picture as its pieces, part by part."""
    renderer = SvgRenderer(width=width)
    picture = SvgPicture(width)
    for lines in rich_view.trace_renderables(export._titled(events, renderer), 4, 8):
        picture.extend(_fitted(lines.make(width, False), width))
    picture.title = renderer.title or "bpexplain"
    return picture.document()


def by_format(events: list, width: int) -> str:
    out = io.StringIO()
    SvgRenderer(width=width).write(events, out)
    return out.getvalue()


def reference_fills(picture: SvgPicture, line: str) -> tuple[str, list[tuple[str, str]]]:
    """Round 9's `_ready_filled`: every tag and text of the row read in turn."""
    codes = picture.codes
    assert codes is not None
    runs: list[list] = []
    x = 0
    fill = None
    for tag, mark, text in re.findall("(\x01[^\x02]*\x02)(?:\x07([0-9]+)\x08)?|([^\x01]+)", line):
        if tag:
            fill = codes.colours[int(mark)] if mark else None
            continue
        if fill is not None:
            _add_run(runs, fill, x, len(text))
        x += len(text)
    return _ready(svg_module._FILL_OF.sub("", line)), [codes._rect(fill, first, n) for fill, first, n in runs]


class Spy:
    """What the fast paths met while a document was written: each row's fills beside the reference's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.filled = 0
        self.rows = 0
        self.tokens = 0
        ready_filled, wait_rows = SvgPicture._ready_filled, SvgPicture._wait_rows

        def checked(picture: SvgPicture, line: str) -> tuple[str, list[tuple[str, str]]]:
            expected = reference_fills(picture, line)
            got = ready_filled(picture, line)
            assert got == expected, line
            self.filled += 1
            return got

        def counted(picture: SvgPicture, lines: str, waiting: list[str]) -> None:
            self.rows += lines.count("\n") + 1
            self.tokens += svg_module._TOKEN_MARK in lines
            wait_rows(picture, lines, waiting)

        monkeypatch.setattr(SvgPicture, "_ready_filled", checked)
        monkeypatch.setattr(SvgPicture, "_wait_rows", counted)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    yield Spy(monkeypatch)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_bundled_network_is_the_document_of_the_general_path(name: str, spy: Spy) -> None:
    events = events_of(name)
    for width in WIDTHS:
        ours = by_format(events, width)
        assert ours == by_pieces(events, width), width
    if name in ("homework-cnn", "lenet5"):  # the maps under a block's equations: rows written with codes
        assert spy.rows
    if name == "homework-cnn":  # a field's cells on a background
        assert spy.filled


def test_the_first_coded_block_s_rows_meet_their_tokens_once(spy: Spy) -> None:
    events = events_of("homework-cnn")
    assert by_format(events, 120) == by_pieces(events, 120)
    assert spy.tokens  # a map's rows written before the picture met their styles
    assert spy.filled < spy.rows  # a row made ready once, met again and again


@pytest.mark.parametrize("held", [1, 7, 10**9])
def test_parts_drawn_together_or_one_by_one(held: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """HELD 1: each part drawn as it is made (before this round); the coded blocks in between all the same."""
    for name in ("lecture", "homework-cnn", "se-block"):
        events = events_of(name)
        expected = by_format(events, 80)
        monkeypatch.setattr(export, "HELD", held)
        assert by_format(events, 80) == expected == by_pieces(events, 80)
        monkeypatch.setattr(export, "HELD", 256)


@pytest.mark.parametrize(("chunk", "slice_"), [(3, 1), (5, 2), (4096, 10**9), (7, 64)])
def test_elements_packed_in_slices_make_the_same_document(
    chunk: int, slice_: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checksum (the document's id) chained over slices of any size, packed at any chunk."""
    events = events_of("homework-cnn")
    expected = by_format(events, 120)
    monkeypatch.setattr(svg_module, "CHUNK", chunk)
    monkeypatch.setattr(svg_module, "SLICE", slice_)
    ours = by_format(events, 120)
    assert ours == expected
    uid = re.search(r"terminal-(\d+)", ours)
    assert uid is not None and int(uid[1]) > 1


def test_no_color_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    events = events_of("homework-cnn")
    before = by_format(events, 80)
    monkeypatch.setenv("NO_COLOR", "1")
    assert by_format(events, 80) == before == by_pieces(events, 80) == render_to_string(events, "svg", width=80)


def hostile_network(name: str) -> str:
    q = json.dumps(name)
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


@pytest.mark.parametrize("written", HOSTILE)
def test_hostile_titles_and_names(written: str, monkeypatch: pytest.MonkeyPatch) -> None:
    events = list(run(load(hostile_network(written)), RunOptions(command="train", steps=1)))
    for width in WIDTHS:
        ours = by_format(events, width)
        assert ours == by_pieces(events, width), width
        monkeypatch.setattr(export, "HELD", 1)
        monkeypatch.setattr(svg_module, "SLICE", 1)
        assert by_format(events, width) == ours
        monkeypatch.setattr(export, "HELD", 256)
        monkeypatch.setattr(svg_module, "SLICE", 64)
        ET.fromstring(ours)  # parses: the name made no element or entity
        if "<" in written:
            assert written not in ours


def test_a_written_document_leaves_no_cycle() -> None:
    """The picture and its codes refer to each other until the picture is written: then it is freed at once."""
    events = events_of("homework-cnn")
    gc.collect()
    gc.disable()
    try:
        by_format(events, 120)
        assert gc.collect() == 0
    finally:
        gc.enable()
