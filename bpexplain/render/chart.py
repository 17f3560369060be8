"""A one-line chart of the loss per step, in unicode block characters, for the end-of-run summary.

Each column is one step, or, when there are more steps than columns, the mean of a run of consecutive
steps (the steps split as evenly as they go: column k takes steps k·n/w to (k+1)·n/w, rounded down). The
lowest column is ▁ and the highest █; the range between is cut into eight equal bands, one per character.
The chart is labelled with the lowest and highest of its columns. Nothing here computes a loss: it only
averages and scales the losses the engine recorded.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from .numbers import format_number

BLOCKS = "▁▂▃▄▅▆▇█"
NOT_FINITE = "×"  # a column whose mean is not a number (the loss overflowed)
WIDTH = 80


class LossHistory:
    """Every step's loss, kept as 8-byte floats (a step without a loss is left out)."""

    def __init__(self) -> None:
        self.values = array("d")

    def add(self, loss: float | None) -> None:
        if loss is not None:
            self.values.append(loss)


def buckets(values: Sequence[float], columns: int) -> list[float]:
    """The values, or, when there are more than `columns`, the means of `columns` runs of consecutive values."""
    n = len(values)
    if n <= columns:
        return list(values)
    out = []
    for k in range(columns):
        lo, hi = k * n // columns, (k + 1) * n // columns
        part = values[lo:hi]
        out.append(math.fsum(part) / len(part))
    return out


def bars(values: Sequence[float]) -> str:
    """One block character per value: its eighth of the range from the lowest to the highest."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return NOT_FINITE * len(values)
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(NOT_FINITE)
        elif hi == lo:
            out.append(BLOCKS[0])
        else:
            out.append(BLOCKS[min(7, int((v - lo) / (hi - lo) * 8))])
    return "".join(out)


def loss_chart(losses: Sequence[float], precision: int = 4, width: int = WIDTH) -> list[str]:
    """The chart's lines, at most `width` columns wide; none for fewer than two steps.

    Loss per step, 40 steps (a column: the mean of 2 steps)
      max 0.2983 ▕█▇▆▅▄▃▂▂▁▁▁
      min 0.0012 ▕
    """
    n = len(losses)
    if n < 2:
        return []
    finite = [v for v in losses if math.isfinite(v)]
    w = max((len(format_number(v, precision)) for v in (min(finite), max(finite))), default=1) if finite else 1
    for _ in range(4):  # the labels' width depends on the columns' means, and the columns on the labels' width
        shown = buckets(losses, max(1, width - 8 - w))
        means = [v for v in shown if math.isfinite(v)]
        top = format_number(max(means), precision) if means else "-"
        bottom = format_number(min(means), precision) if means else "-"
        if max(len(top), len(bottom)) <= w:
            break
        w = max(len(top), len(bottom))
    w = max(len(top), len(bottom))  # no wider than the bound the columns were counted for
    columns = len(shown)
    few, many = n // columns, -(-n // columns)
    per = "" if columns == n else f" (a column: the mean of {few}{'' if few == many else f' or {many}'} steps)"
    return [
        f"Loss per step, {n} steps{per}",
        f"  max {top.rjust(w)} ▕{bars(shown)}",
        f"  min {bottom.rjust(w)} ▕",
    ]
