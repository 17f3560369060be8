"""The event dispatch shared by the renderers that write lines of text (plain text, Markdown, LaTeX).

A subclass says how each kind of event reads in its format (`header_lines`, `step_lines`,
`block_lines`, `step_end_lines`, `end_lines`, and optionally `open`/`close` around the document);
this base keeps the state they share: the header, the current step and phase, the summary table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

from ..trace import Block, Event, StepEnd, StepStart, TraceEnd, TraceHeader
from .common import SummaryTable
from .numbers import CARRIED


class LineRenderer:
    def __init__(self, precision: int = 4) -> None:
        self.precision = precision
        self.header: TraceHeader | None = None
        self.start: StepStart | None = None
        self.phase: str | None = None
        self.summary = SummaryTable()

    def write(self, events: Iterable[Event], out: TextIO) -> None:
        for event in events:
            for line in self.lines(event):
                out.write(line + "\n")
        for line in self.close():
            out.write(line + "\n")

    def lines(self, event: Event) -> Iterator[str]:
        if isinstance(event, TraceHeader):
            self.header = event
            if event.settings.round is not None:
                self.show_carried()
            yield from self.open(event)
            yield from self.header_lines(event)
        elif isinstance(event, StepStart):
            self.start, self.phase = event, None
            if self.detail != "summary":
                yield from self.step_lines(event)
        elif isinstance(event, Block):
            yield from self.block_lines(event)
        elif isinstance(event, StepEnd):
            self.summary.add(self.start, event)
            yield from self.step_end_lines(event)
        elif isinstance(event, TraceEnd):
            yield from self.end_lines(event)

    @property
    def detail(self) -> str:
        return self.header.settings.detail if self.header else "full"

    def show_carried(self) -> None:
        """Under --round: numbers shown as carried (see numbers.CARRIED); a subclass remakes its printers."""
        self.precision = CARRIED

    @property
    def preamble(self) -> str:
        """full, short or none: what is stated before the first step (--preamble)."""
        return self.header.settings.preamble if self.header else "full"

    def open(self, h: TraceHeader) -> Iterator[str]:
        """Lines before the header (a document's preamble)."""
        return iter(())

    def close(self) -> Iterator[str]:
        """Lines after the last event (a document's end)."""
        return iter(())

    def header_lines(self, h: TraceHeader) -> Iterator[str]:
        raise NotImplementedError

    def step_lines(self, s: StepStart) -> Iterator[str]:
        raise NotImplementedError

    def block_lines(self, b: Block) -> Iterator[str]:
        raise NotImplementedError

    def step_end_lines(self, e: StepEnd) -> Iterator[str]:
        raise NotImplementedError

    def end_lines(self, end: TraceEnd) -> Iterator[str]:
        raise NotImplementedError
