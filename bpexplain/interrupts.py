"""Signals that end a run (Ctrl-C, SIGTERM, SIGHUP) become one exception, so that cleanup runs.

By default SIGTERM and SIGHUP kill Python at once, which would leave `-o FILE`'s temporary file
behind; and Ctrl-C's KeyboardInterrupt is caught by click, which prints a blank line of its own.
`install()` (called by the command's entry point only, never by the library) turns all three into
`Interrupted`, which `finally` blocks and the atomic writer's cleanup see like any exception, and
which the CLI reports as one line with the shell's status for a signal: 128 + its number.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(BaseException):
    """The run was stopped by a signal; like KeyboardInterrupt, not an Exception a handler swallows."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum  # 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP
        super().__init__(self.line())

    def line(self) -> str:
        if self.signum == signal.SIGINT:
            return "interrupted"
        return f"interrupted by {signal.Signals(self.signum).name}"


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise Interrupted in the main thread (ignored ones stay ignored)."""
    for signum in SIGNALS:
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # started under nohup, or in the background: keep ignoring it
            signal.signal(signum, _raise)
        except (ValueError, OSError):  # not the main thread, or a platform without it
            pass


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while a short cleanup runs; they arrive when it is done."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    old = mask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)
