"""A coloured picture: the terminal view (render.rich) as SVG.

The view's own laid-out lines, at a fixed width and with their colours, are written as an SVG document
by render.svg, the document rich's `export_svg` would make of them, without a recording console. A block
of a dozen equations or more is made with the picture's codes (render.svg.SvgCodes): its equations and the
rows of its maps come back as finished lines, as the coloured terminal's do. The other parts' lines are made
a few hundred at a time and then drawn, in order (and before a coded block is made: its codes ask the picture
what it has met). Unlike the other formats this one is written at the end of the run, since an SVG picture
is one piece. (HTML is render.page: a page of its own, written as the events come.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from ..trace import Event, TraceHeader

if TYPE_CHECKING:
    from .screen import Made

WIDTH = 120
# a block's lines are written with the picture's codes from this many (`Lines.size`: its equations and 5): below,
# what the view spends to write them once (`Board.ansi_texts` makes a format a layout) is more than the picture saves
CODED_FROM = 16
# the other parts' lines are made this many at a time, then drawn together (drawn part by part, between the view's
# work on the next, lecture's document took 6 % longer)
HELD = 256


class SvgRenderer:
    kind = "svg"

    def __init__(self, precision: int = 4, max_terms: int | None = 8, width: int = WIDTH, **_: Any) -> None:
        self.precision = precision
        self.max_terms = max_terms
        self.width = width
        self.title: str | None = None

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        from .rich import trace_renderables
        from .svg import SvgCodes, SvgPicture

        width = self.width
        picture = SvgPicture(width)
        codes = SvgCodes(picture)
        held: list[Made] = []  # the other parts' lines, not yet drawn (see HELD)
        for lines in trace_renderables(_titled(events, self), self.precision, self.max_terms):
            if lines.coloured and lines.size >= CODED_FROM:  # written with the picture's codes (render.svg.SvgCodes)
                if held:  # drawn first: the codes ask the picture which styles it has met
                    picture.draw(held)
                    held = []
                made = lines.make(width, False, codes=codes)  # type: ignore[call-arg]
                if type(made) is not list:
                    made = list(made)  # made to the end: then `poisoned` is known
                if codes.poisoned:  # a style the codes cannot write: the lines as pieces
                    codes.poisoned = False
                    made = lines.make(width, False)
                picture.draw(made)
            else:
                held += lines.make(width, False)
                if len(held) >= HELD:
                    picture.draw(held)
                    held = []
        picture.draw(held)
        picture.title = self.title or "bpexplain"
        picture.write(out)
        picture.codes = None  # the picture and its codes refer to each other: freed now, not at the next collection


def _titled(events: Iterable[Event], renderer: SvgRenderer) -> Iterable[Event]:
    """The events, noting the picture's title from the header as it passes."""
    for ev in events:
        if isinstance(ev, TraceHeader):
            renderer.title = f"bpexplain {ev.settings.command}: {ev.network['name']}"
        yield ev
