"""A bpexplain run in a child process that a test signals, never left running when the test fails.

A failed assertion (or a timeout) before the child ends would otherwise leave a run of a million epochs
behind the test, taking a core from every test after it. The child starts with Ctrl-C's default action, as
from a terminal, also where the tests run in the background of a shell without job control (which starts its
children ignoring SIGINT, and Python then installs no handler for it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

POSIX = os.name == "posix"  # preexec_fn is POSIX only


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running(args: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """`python -m bpexplain ARGS` started, and killed on the way out if it is still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpexplain", *args], preexec_fn=_default_sigint if POSIX else None, **popen
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
