"""`train --plot FILE`: the loss of every step drawn as a curve (and, with --epochs, each epoch's mean).

The losses are read off the run's events as they stream past the renderer (`LossRecorder.watch`), so
the plot shows exactly the numbers the trace printed; nothing is run twice. Drawing needs matplotlib
(see `bpexplain.pictures`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .pictures import figure_bytes, new_figure, picture_format, require_matplotlib, style, wrapped, write_picture
from .render.numbers import format_number
from .trace import StepEnd, StepStart, TraceHeader

__all__ = ["LossRecorder", "draw_losses", "loss_figure", "require_matplotlib"]


class LossRecorder:
    """The loss of each step and the epoch it belongs to, taken from a stream of events it passes on."""

    def __init__(self, by_epoch: bool = False) -> None:
        self.by_epoch = by_epoch  # train --epochs: also each epoch's mean loss
        self.title = ""
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.epochs: list[int] = []
        self._epoch = 1

    def watch(self, events: Iterable[Any]) -> Iterator[Any]:
        for event in events:
            if isinstance(event, StepStart):
                self._epoch = event.epoch
            elif isinstance(event, StepEnd) and event.loss is not None:
                self.steps.append(event.index)
                self.losses.append(event.loss)
                self.epochs.append(self._epoch)
            elif isinstance(event, TraceHeader):
                self.title = str(event.network.get("title") or event.network.get("name") or "")
            yield event

    def epoch_means(self) -> tuple[list[int], list[float], list[int]]:
        """Each epoch's number, its mean loss, and the step it ends on."""
        numbers: list[int] = []
        means: list[float] = []
        ends: list[int] = []
        for step, loss, epoch in zip(self.steps, self.losses, self.epochs):
            if not numbers or numbers[-1] != epoch:
                numbers.append(epoch)
                means.append(0.0)
                ends.append(step)
                count = 0
            count += 1
            means[-1] += (loss - means[-1]) / count  # a running mean: no sum to overflow
            ends[-1] = step
        return numbers, means, ends


def loss_figure(rec: LossRecorder) -> Any:
    """The figure: loss against step, log scale when the losses span more than two decades."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(rec.steps, rec.losses, color="#1f77b4", linewidth=0.8, alpha=0.8, label="loss of the step", zorder=2)
    if len(rec.steps) == 1:
        ax.plot(rec.steps, rec.losses, "o", color="#1f77b4")
    if rec.by_epoch:
        _, means, ends = rec.epoch_means()
        ax.plot(ends, means, color="#d62728", linewidth=1.6, label="mean loss of the epoch", zorder=3)
    positive = [x for x in rec.losses if x > 0]
    if positive and min(positive) > 0 and max(positive) / min(positive) > 100 and len(positive) == len(rec.losses):
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_yscale("log")  # tick labels as the traces print numbers (mathtext is off for every picture)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v, 3)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("step")
    ax.set_ylabel("loss E")
    ax.set_title(wrapped(rec.title, 6.5, 10), fontsize=10)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


def draw_losses(rec: LossRecorder, path: str) -> None:
    """Write the loss curve to `path` (.svg or .png)."""
    fmt = picture_format(path)
    if not rec.losses:
        from .errors import BpexplainError, Location

        raise BpexplainError(
            "no step had a loss to draw", where=Location(path), expected="data with targets in the network file"
        )
    with style():
        data = figure_bytes(loss_figure(rec), fmt)
    write_picture(data, path)
