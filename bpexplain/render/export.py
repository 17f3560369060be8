"""A coloured picture: the terminal view (render.rich) exported by rich itself as SVG.

The renderables are printed into a recording console of fixed width whose own output is discarded;
rich's `export_svg` then turns what was recorded into one document. Unlike the other formats this
one is written at the end of the run, since an SVG picture is one piece. (HTML is render.page: a page
of its own, written as the events come.)
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, TextIO

from ..trace import Event, TraceHeader

WIDTH = 120


class _ExportRenderer:
    kind = ""

    def __init__(self, precision: int = 4, max_terms: int | None = 8, width: int = WIDTH, **_: Any) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.width = width

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        from rich.console import Console

        from .rich import print_batches, trace_renderables

        console = Console(
            record=True,
            file=io.StringIO(),
            width=self.width,
            force_terminal=True,
            color_system="truecolor",
            force_jupyter=False,
            legacy_windows=False,
            no_color=False,
        )
        title = "bpexplain"
        print_batches(console, trace_renderables(_titled(events, self), self.precision, self.max_terms))
        title = self.title or title
        out.write(self.export(console, title))

    title: str | None = None

    def export(self, console: Any, title: str) -> str:
        raise NotImplementedError


def _titled(events: Iterable[Event], renderer: _ExportRenderer) -> Iterable[Event]:
    """The events, noting the page title from the header as it passes."""
    for ev in events:
        if isinstance(ev, TraceHeader):
            renderer.title = f"bpexplain {ev.settings.command}: {ev.network['name']}"
        yield ev


class SvgRenderer(_ExportRenderer):
    kind = "svg"

    def export(self, console: Any, title: str) -> str:
        return console.export_svg(title=title)
