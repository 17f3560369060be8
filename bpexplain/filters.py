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

import bisect
import re
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any, Final

from .errors import BpexplainError
from .option_limits import MAX_STEP_PARTS, MAX_STEPS
from .record import Record
from .trace import PHASES, Block, Event, StepEnd, StepStart, TraceHeader


class EventFilter(Record):
    """The steps, layers and phases a view keeps (None: all of them)."""

    __slots__ = __match_args__ = ("steps", "layers", "phases")

    def __init__(
        self,
        steps: AbstractSet[int] | None = None,
        layers: frozenset[str] | None = None,
        phases: frozenset[str] | None = None,
    ) -> None:
        self.steps: Final = steps  # a StepSet or any set of step numbers
        self.layers: Final = layers
        self.phases: Final = phases

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


class StepSet(AbstractSet[int]):
    """Step numbers as sorted, disjoint ranges: `1-100000000` is one pair, not a hundred million numbers."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for first, last in sorted(ranges):
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        self.ranges = tuple(merged)

    def __contains__(self, step: object) -> bool:
        if not isinstance(step, int):
            return False
        i = bisect.bisect_right(self.ranges, (step, float("inf"))) - 1
        return i >= 0 and self.ranges[i][0] <= step <= self.ranges[i][1]

    def __iter__(self) -> Iterator[int]:
        for first, last in self.ranges:
            yield from range(first, last + 1)

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last in self.ranges)

    def __or__(self, other: AbstractSet[Any]) -> StepSet:
        if isinstance(other, StepSet):
            return StepSet(self.ranges + other.ranges)
        return StepSet(self.ranges + tuple((s, s) for s in other))

    __ror__ = __or__

    def __hash__(self) -> int:
        return self._hash()  # equal to the hash of the same numbers as a frozenset

    @property
    def last(self) -> int:
        """The largest step (0 when empty)."""
        return self.ranges[-1][1] if self.ranges else 0

    def __repr__(self) -> str:
        return "StepSet(" + ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.ranges) + ")"


def parse_steps(text: str, largest: int = MAX_STEPS) -> StepSet:
    """'1,3-5' -> {1, 3, 4, 5}; step numbers start at 1 and go up to `largest`, in at most MAX_STEP_PARTS parts.
    A range stays a pair of numbers, however long."""
    parts = text.replace(" ", "").split(",")
    if len(parts) > MAX_STEP_PARTS:
        raise ValueError(f"found {len(parts):,} parts (expected at most {MAX_STEP_PARTS:,}: write ranges such as 3-5)")
    ranges = []
    for part in parts:
        m = re.fullmatch(r"(\d{1,30})(?:-(\d{1,30}))?", part)
        if not m:
            raise ValueError(f"{part[:40]!r} is not a step number (expected a number such as 3 or a range such as 3-5)")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        if first < 1 or last < first:
            raise ValueError(f"found {part!r} (expected steps numbered from 1, and a range that goes upwards)")
        if last > largest:
            raise ValueError(f"found step {last:,} (expected steps from 1 to {largest:,})")
        ranges.append((first, last))
    return StepSet(ranges)


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
