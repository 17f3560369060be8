"""Progress on stderr for long runs: one lazy bar, shown only once the work has lasted about a second.

`LazyProgress` is the bar itself (rich's Progress on stderr, rich imported only when it is shown): called as
progress(done, total) by `check`, and fed by `watch` for a trace, which counts the StepEnd events and the
equations of the Block events as they pass to the renderer and leaves every event as it was. Whether to show
progress at all (stderr a terminal, stdout not the terminal the trace is drawn on) is the caller's choice;
`wanted` answers it for the CLI. A quick run shows nothing, and the bar is transient: it leaves no line behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .trace import Block, StepEnd

AFTER = 1.0  # seconds of work before a bar appears
REFRESH = 0.1  # seconds between two updates of the bar from a trace's events


class LazyProgress:
    """A progress bar on stderr (rich's Progress, imported only when shown) that appears only once the work has
    taken `after` seconds: a quick check shows nothing. Called as progress(done, total); with a trace, also the
    number of equations written so far. `file` is where it draws (default: sys.stderr)."""

    def __init__(self, label: str = "checking gradients", after: float | None = None, file: TextIO | None = None):
        self._clock = time.monotonic
        self._start = self._clock()
        self._after = AFTER if after is None else after
        self._label = label
        self._file = file
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> LazyProgress:
        return self

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def __call__(self, done: int, total: int | None, equations: int | None = None) -> None:
        if self._bar is None:
            if self._clock() - self._start < self._after or (total is not None and done >= total):
                return
            self._show(total, equations is not None)
        fields = {} if equations is None else {"equations": f"{equations:,} equations"}
        self._bar.update(self._task, completed=done, **fields)

    def _show(self, total: int | None, equations: bool) -> None:
        import sys

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [TextColumn(self._label), BarColumn(), MofNCompleteColumn()]
        if equations:
            columns.append(TextColumn("{task.fields[equations]}"))
        columns.append(TimeRemainingColumn() if total is not None else TimeElapsedColumn())
        self._bar = Progress(
            *columns,
            console=Console(file=self._file or sys.stderr, stderr=self._file is None),
            transient=True,
            redirect_stdout=False,  # the trace is written to the stream it was given, never through the bar
            redirect_stderr=False,
            refresh_per_second=4,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=total, equations="0 equations")

    def close(self) -> None:
        """Take the bar off the terminal (before an error's one line, or the end of the run)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __exit__(self, *exc: object) -> None:
        self.close()


def watch(events: Iterable[Any], progress: LazyProgress, total: int | None) -> Iterator[Any]:
    """The events unchanged, counting steps done (StepEnd) and equations (in Block events) into `progress`,
    at most every REFRESH seconds."""
    clock = progress._clock
    steps = equations = 0
    due = clock()
    for ev in events:
        if type(ev) is Block:
            equations += len(ev.equations)
        elif type(ev) is StepEnd:
            steps += 1
        now = clock()
        if now >= due:
            progress(steps, total, equations)
            due = now + REFRESH
        yield ev


def total_steps(command: str, steps: int | None, epochs: int | None, batch: str, samples: int) -> int | None:
    """How many steps a run makes if nothing stops it early (None: unknown, or a forward pass)."""
    if command != "train":
        return None
    if epochs is not None:
        return epochs * (1 if batch == "full" else samples)
    return steps if steps is not None else 1


def wanted(stdout_is_terminal: bool) -> bool:
    """Whether the CLI shows progress: stderr a terminal, and stdout not one (a trace written to a terminal is
    its own progress, and a bar drawn on the same screen would tear it)."""
    import sys

    try:
        return not stdout_is_terminal and sys.stderr is not None and sys.stderr.isatty()
    except (ValueError, AttributeError):
        return False
