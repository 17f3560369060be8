"""Renderers: each turns a stream of trace events into one output format.

To add a format, write a class with `write(events, out)` and register it in FORMATS.
"""

from __future__ import annotations

import gc
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import Any, TextIO

from ..trace import Event

FORMATS: dict[str, str] = {
    "text": "bpexplain.render.text:TextRenderer",
    "rich": "bpexplain.render.rich:RichRenderer",
    "json": "bpexplain.render.json:JsonRenderer",
    "markdown": "bpexplain.render.markdown:MarkdownRenderer",
    "latex": "bpexplain.render.latex:LatexRenderer",
    "html": "bpexplain.render.page:PageRenderer",
    "svg": "bpexplain.render.export:SvgRenderer",
}


def renderer(fmt: str, **options: Any) -> Any:
    module_name, class_name = FORMATS[fmt].split(":")
    return getattr(import_module(module_name), class_name)(**options)


def render_stream(events: Iterable[Event], fmt: str, out: TextIO, **options: Any) -> None:
    with fewer_collections():
        renderer(fmt, **options).write(events, out)


@contextmanager
def fewer_collections(young: int = 100_000) -> Iterator[None]:
    """Python's cycle collector run less often while a trace is made and written, then as before.

    Equation trees hold no cycles (refcounting frees them), but a large trace makes millions of nodes,
    and each few hundred new objects would set the collector scanning all that are alive: for lenet5
    that is half the time of a run.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], young), max(old[1], 50), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def render_to_string(events: Iterable[Event], fmt: str, **options: Any) -> str:
    buffer = io.StringIO()
    if fmt == "rich":
        from rich.console import Console

        options.setdefault("console", Console(file=buffer, width=options.pop("width", 120)))
    render_stream(events, fmt, buffer, **options)
    return buffer.getvalue()
