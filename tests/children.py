"""A bpexplain run in a child process that a test signals, never left running when the test fails.

A failed assertion (or a timeout) before the child ends would otherwise leave a run of a million epochs
behind the test, taking a core from every test after it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def running(args: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """`python -m bpexplain ARGS` started, and killed on the way out if it is still running."""
    proc = subprocess.Popen([sys.executable, "-m", "bpexplain", *args], **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
