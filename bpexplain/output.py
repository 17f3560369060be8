"""Writing `-o FILE` without harming anything the user did not ask to replace, and the format it asks for.

Everything about the target is checked before the run starts (`prepare`), and each problem is one
`BpexplainError` naming the file:

- the file being read as the network (the same device and inode, through any path, hard link or
  symbolic link) is never written over;
- a symbolic link is written through: its target gets the output, the link stays a link;
- a regular file (or a new one) is written atomically: the output goes to a temporary file in the
  target's own directory (so the final rename never crosses file systems) and is renamed over the
  target with `os.replace` only when the whole run has succeeded. If the run fails or is stopped
  (Ctrl-C, SIGTERM, SIGHUP: see interrupts.py), the temporary file is removed and the target keeps
  its old content, or stays absent;
- a character device (`/dev/null`, a terminal) or a FIFO is written directly, never replaced by a
  regular file; a FIFO that no process reads is refused rather than waited on. Block devices,
  sockets and directories are refused;
- an extension of a binary document (`.pdf`, `.png`, `.docx`, ...) is refused with what to do instead;
  an explicit `--format` wins over any other extension; no extension or an unknown one is plain text.

A write that fails (a full disk, a read-only file system) becomes one error line, and leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .errors import BpexplainError, Location
from .interrupts import deferred

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
# Binary documents bpexplain cannot write, and what to do instead.
_TEX_THEN_PDF = "-o key.tex, then pdflatex key.tex"
UNWRITABLE = {
    ".pdf": _TEX_THEN_PDF,
    ".dvi": _TEX_THEN_PDF,
    ".ps": _TEX_THEN_PDF,
    ".eps": _TEX_THEN_PDF,
    ".png": "-o key.svg (a picture of the terminal view) or -o key.html",
    ".jpg": "-o key.svg (a picture of the terminal view) or -o key.html",
    ".jpeg": "-o key.svg (a picture of the terminal view) or -o key.html",
    ".gif": "-o key.svg (a picture of the terminal view) or -o key.html",
    ".webp": "-o key.svg (a picture of the terminal view) or -o key.html",
    ".doc": "-o key.md or -o key.html, which word processors open",
    ".docx": "-o key.md or -o key.html, which word processors open",
    ".odt": "-o key.md or -o key.html, which word processors open",
    ".rtf": "-o key.md or -o key.html, which word processors open",
    ".xls": "-o key.json, which a spreadsheet or a script can read",
    ".xlsx": "-o key.json, which a spreadsheet or a script can read",
    ".zip": "-o key.txt (or .md .tex .json .html .svg), then compress it",
    ".gz": "-o key.txt (or .md .tex .json .html .svg), then compress it",
}
_TEMP_PREFIX_CHARS = 32  # the temporary name is `.NAME.XXXXXXXX.tmp`, NAME cut so a long name still fits


def format_for(path: str | os.PathLike[str]) -> str | None:
    """The format a file's extension names, or None for an extension we do not know."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def output_format(path: str, fmt: str) -> str:
    """The format `-o path` is written in: an explicit --format, else the extension's, else plain text.

    An extension of a binary document is refused whatever --format says: a file named key.pdf that
    holds text would only fail later, in the program that opens it."""
    suffix = Path(path).suffix.lower()
    if suffix in UNWRITABLE:
        raise BpexplainError(
            f"bpexplain cannot write {suffix} files", where=Location(path), expected=UNWRITABLE[suffix]
        )
    if fmt != "auto":
        return fmt
    return EXTENSIONS.get(suffix, "text")


class Target:
    """Where `-o` writes: the path as given (for messages), the real path (links resolved), and how."""

    def __init__(self, given: str, real: str, direct: bool) -> None:
        self.given = given
        self.real = real
        self.direct = direct  # a character device or FIFO: written in place, not replaced


def prepare(path: str, protect: Iterable[str | os.PathLike[str]] = ()) -> Target:
    """Check `-o path` before any work: refuse what cannot or must not be written. `protect`: files
    being read (the network file), which the output may not replace."""
    where = Location(path)
    if not path:
        raise BpexplainError("-o: empty file name", expected="a file name such as key.txt")
    if path.endswith(("/", os.sep)):
        raise BpexplainError("names a directory", where=where, expected="a file name, such as key.txt, after -o")
    if "\0" in path:
        raise BpexplainError("the file name contains a NUL character", where=where, expected="a file name")
    try:
        st: os.stat_result | None = os.stat(path)  # follows symbolic links: the file that would be written
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _error(exc, path) from None
    real = os.path.realpath(path)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise BpexplainError("is a directory", where=where, expected="a file name for the output")
        for source in protect:
            try:
                if os.path.samestat(st, os.stat(source)):
                    raise BpexplainError(
                        "is the network file being read; writing there would destroy it",
                        where=where,
                        expected="another file name for the output, such as key.txt",
                    )
            except OSError:
                continue
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            return Target(path, path, direct=True)  # opened as given: /dev/stdout's link may name no path
        if not stat.S_ISREG(st.st_mode):
            kind = "a block device" if stat.S_ISBLK(st.st_mode) else "a socket or other special file"
            raise BpexplainError(
                f"is {kind}", where=where, expected="a regular file, a character device such as /dev/null, or a FIFO"
            )
        if not os.access(real, os.W_OK):
            raise BpexplainError("the file is read-only", where=where, expected="a file you may write, or another name")
    directory = os.path.dirname(real) or "."
    try:
        dst = os.stat(directory)
    except OSError as exc:
        raise _error(exc, path, "the directory") from None
    if not stat.S_ISDIR(dst.st_mode):
        raise BpexplainError("a part of the path is not a directory", where=where, expected="an existing directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BpexplainError(
            f"cannot create files in {directory} (read-only or permission denied)",
            where=where,
            expected="a directory you may write in",
        )
    return Target(path, real, direct=False)


@contextmanager
def open_output(target: Target) -> Iterator[TextIO]:
    """A UTF-8 text stream to the target: atomic for a regular file, direct for a device or FIFO.
    Failures to write become a BpexplainError naming the file."""
    try:
        if target.direct:
            with _direct(target.real) as stream:
                yield stream
        else:
            with atomic_output(target.real) as stream:
                yield stream
    except OSError as exc:
        raise _error(exc, target.given) from None


@contextmanager
def _direct(path: str) -> Iterator[TextIO]:
    # O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of blocking; then writes block as usual.
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    os.set_blocking(fd, True)
    stream = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    try:
        yield stream
        stream.flush()
    finally:
        try:
            stream.close()
        except OSError:  # the same failure as the flush's: already on its way
            pass


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream that becomes the file `path` when the block ends without an exception.

    For every writer (-o, pictures, variants, grading): a symbolic link is written through to its
    target, and a character device or FIFO is written in place, never replaced by a regular file."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        with _direct(os.fspath(path)) as stream:
            yield stream
        return
    if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):  # a directory fails below
        raise BpexplainError(
            "is a block device or another special file",
            where=Location(str(path)),
            expected="a regular file, a character device such as /dev/null, or a FIFO",
        )
    directory = target.parent if str(target.parent) else Path(".")
    prefix = f".{target.name[:_TEMP_PREFIX_CHARS]}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_name, _mode_for(target))
        os.replace(tmp_name, target)
    except BaseException:  # also Ctrl-C, SIGTERM, SIGHUP (interrupts.py) and SystemExit: never leave it behind
        with deferred():  # a second signal waits until the temporary file is gone
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


_REASONS = {
    errno.ENOENT: ("no such file or directory", "an existing directory"),
    errno.ENOTDIR: ("a part of the path is not a directory", "an existing directory"),
    errno.ENAMETOOLONG: ("the file name is too long", "a shorter name (at most 255 bytes a part)"),
    errno.ELOOP: ("too many levels of symbolic links", "a link that ends at a file"),
    errno.EACCES: ("permission denied", "a file and directory you may write"),
    errno.EPERM: ("permission denied", "a file and directory you may write"),
    errno.EROFS: ("the file system is read-only", "a directory on a writable disk"),
    errno.ENOSPC: ("no space left on the device", "free space, or another disk"),
    getattr(errno, "EDQUOT", -1): ("disk quota exceeded", "free space, or another disk"),
    errno.EFBIG: ("the file is too large for its file system", "a smaller run, or another disk"),
    errno.ENXIO: ("no process is reading it", "a program reading the FIFO, or a regular file"),
    errno.EPIPE: ("the reader closed it", "a program that reads the whole output"),
    errno.EISDIR: ("is a directory", "a file name for the output"),
}


def _error(exc: OSError, path: str, what: str = "") -> BpexplainError:
    found, expected = _REASONS.get(exc.errno or 0, (exc.strerror or str(exc), "a file you may write"))
    if what and exc.errno == errno.ENOENT:
        found = "no such directory"
    return BpexplainError(f"cannot write: {found}", where=Location(path), expected=expected)
