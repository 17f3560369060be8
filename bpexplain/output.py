"""Writing `-o FILE` atomically, and the format a file name asks for.

The output goes to a temporary file in the target's own directory (so that the final rename never
crosses file systems) and is renamed over the target with `os.replace` only when the whole run has
succeeded. If the run fails, is interrupted (Ctrl-C) or the process is killed, the target keeps its
old content, or stays absent: an answer key is never half written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".tex": "latex",
    ".json": "json",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".svg": "svg",
}


def format_for(path: str | os.PathLike[str]) -> str | None:
    """The format a file's extension names, or None for an extension we do not know."""
    return EXTENSIONS.get(Path(path).suffix.lower())


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream that becomes the file `path` when the block ends without an exception."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_name, _mode_for(target))
        os.replace(tmp_name, target)
    except BaseException:  # also KeyboardInterrupt and SystemExit: never leave the temporary file
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _mode_for(target: Path) -> int:
    """The existing file's permissions, or those a new file gets under the current umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
