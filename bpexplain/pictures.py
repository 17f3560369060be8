"""What every picture bpexplain draws shares: matplotlib found (or one line saying how to get it), the same
settings for every figure, and a file written whole, the same bytes on every run.

matplotlib is an optional extra (`pip install 'bpexplain[plot]'`), imported only here and only by the
commands that draw. Text in a picture is never read as mathtext or TeX: names from a network file are
data, and a `$` in them is drawn as a `$`. SVG keeps its text as <text> elements (so the numbers can be
searched and copied) and carries no date and no random ids.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import BpexplainError, Location

FORMATS = {".svg": "svg", ".png": "png"}
INSTALL_HINT = "pip install 'bpexplain[plot]'"

# every figure is drawn and saved under these settings, whatever the user's matplotlibrc says
RC = {
    "text.usetex": False,
    "text.parse_math": False,  # a '$' in a layer or input name is a dollar sign, not mathtext
    "svg.fonttype": "none",  # text as text: the values are in the SVG's XML
    "svg.hashsalt": "bpexplain",  # ids derived from this, not from random numbers: the same bytes every run
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs on every machine
    "font.size": 9,
    "axes.unicode_minus": True,
    "savefig.dpi": 150,
}


def wrapped(text: str, width_inches: float, font_size: float) -> str:
    """`text` broken into lines that fit `width_inches` (matplotlib's own wrap=True reads '$' as mathtext)."""
    import textwrap

    chars = max(int(width_inches * 72 / (font_size * 0.62)), 20)
    return "\n".join(textwrap.wrap(text, chars)) if text else ""


def require_matplotlib() -> Any:
    """The matplotlib module, or a BpexplainError (exit 2) saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise BpexplainError(
            "drawing needs matplotlib, which is not installed", expected=f"matplotlib: {INSTALL_HINT}"
        ) from None
    return matplotlib


def picture_format(path: str) -> str:
    """svg or png, from the file name; anything else is an error naming the file."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise BpexplainError(
            f"cannot tell the picture format from the name {Path(path).name!r}",
            where=Location(path),
            expected="a name ending in .svg or .png",
        )
    return fmt


@contextmanager
def style() -> Iterator[Any]:
    """Draw and save inside this block: matplotlib's settings are RC here (artists read them when made)."""
    matplotlib = require_matplotlib()
    with matplotlib.rc_context(RC):
        yield matplotlib


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure (no pyplot: no global state, no window), in inches. Call inside `style()`."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """The figure as SVG or PNG, byte for byte the same on every run. Call inside `style()`."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def write_picture(data: bytes, path: str) -> None:
    """Write a picture's bytes to `path` atomically: all of it or nothing."""
    from .output import atomic_output

    try:
        with atomic_output(path) as out:
            out.flush()
            out.buffer.write(data)  # type: ignore[attr-defined]
    except OSError as exc:
        raise BpexplainError(f"cannot write the file ({exc.strerror})", where=Location(path)) from None
