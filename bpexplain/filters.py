"""Show part of a trace: some steps, some layers, some phases. A filter over the event stream.

The CLI puts an `EventFilter` between the engine and the renderer, so that an answer key can show
exactly the part of the solution a question asks for; renderers never know that anything was left
out. What is kept:

- `steps`: the events of those steps only (the parameters a shown step starts from appear in its own
  equations, as the numbers substituted for w_mn);
- `layers`: the blocks of those layers; a block of no layer (the loss) only when `phases` names it.
- `phases`: the blocks of those phases (forward, loss, error, gradient, update).

The header, the end-of-step parameters and the closing summary are always kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import BpexplainError
from .trace import PHASES, Block, Event, StepEnd, StepStart, TraceHeader


@dataclass(frozen=True)
class EventFilter:
    steps: frozenset[int] | None = None
    layers: frozenset[str] | None = None
    phases: frozenset[str] | None = None

    @property
    def active(self) -> bool:
        return self.steps is not None or self.layers is not None or self.phases is not None

    def keeps_block(self, b: Block) -> bool:
        if self.phases is not None and b.phase not in self.phases:
            return False
        if self.layers is not None:
            if b.layer is None:
                return self.phases is not None and b.phase in self.phases
            return b.layer in self.layers
        return True

    def apply(self, events: Iterable[Event]) -> Iterator[Event]:
        """The events that the filter keeps, in order, as they come."""
        if not self.active:
            yield from events
            return
        shown = True
        for ev in events:
            if isinstance(ev, TraceHeader):
                self.check_layers(ev)
                yield ev
            elif isinstance(ev, StepStart):
                shown = self.steps is None or ev.index in self.steps
                if shown:
                    yield ev
            elif isinstance(ev, Block):
                if shown and self.keeps_block(ev):
                    yield ev
            elif isinstance(ev, StepEnd):
                if shown:
                    yield ev
            else:
                yield ev

    def check_layers(self, header: TraceHeader) -> None:
        if self.layers is None:
            return
        names = [layer["name"] for layer in header.network["layers"]]
        unknown = sorted(set(self.layers) - set(names))
        if unknown:
            raise BpexplainError(
                f"the network has no layer {', '.join(repr(u) for u in unknown)}", expected="one of " + ", ".join(names)
            )


def parse_steps(text: str) -> frozenset[int]:
    """'1,3-5' -> {1, 3, 4, 5}; step numbers start at 1."""
    steps: set[int] = set()
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"{part!r} is not a step number or a range such as 3-5")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        if first < 1 or last < first:
            raise ValueError(f"{part!r}: steps are numbered from 1, and a range goes upwards")
        steps.update(range(first, last + 1))
    return frozenset(steps)


def parse_phases(text: str) -> frozenset[str]:
    """'forward,loss' -> {'forward', 'loss'}; only the phases of a trace are allowed."""
    phases = {p.strip() for p in text.split(",") if p.strip()}
    unknown = sorted(phases - set(PHASES))
    if unknown or not phases:
        raise ValueError(
            f"unknown phase {', '.join(repr(u) for u in unknown) or '(none given)'}; choose from {','.join(PHASES)}"
        )
    return frozenset(phases)


def parse_layers(values: Iterable[str]) -> frozenset[str] | None:
    """Repeated --layer options, each possibly comma-separated."""
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    return frozenset(names) if names else None
