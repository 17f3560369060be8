"""Renderers: each turns a stream of trace events into one output format.

To add a format, write a class with `write(events, out)` and register it in FORMATS.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from importlib import import_module
from typing import Any, TextIO

from ..trace import Event

FORMATS: dict[str, str] = {
    "text": "bpexplain.render.text:TextRenderer",
    "rich": "bpexplain.render.rich:RichRenderer",
    "json": "bpexplain.render.json:JsonRenderer",
    "markdown": "bpexplain.render.markdown:MarkdownRenderer",
    "latex": "bpexplain.render.latex:LatexRenderer",
    "html": "bpexplain.render.export:HtmlRenderer",
    "svg": "bpexplain.render.export:SvgRenderer",
}


def renderer(fmt: str, **options: Any) -> Any:
    module_name, class_name = FORMATS[fmt].split(":")
    return getattr(import_module(module_name), class_name)(**options)


def render_stream(events: Iterable[Event], fmt: str, out: TextIO, **options: Any) -> None:
    renderer(fmt, **options).write(events, out)


def render_to_string(events: Iterable[Event], fmt: str, **options: Any) -> str:
    buffer = io.StringIO()
    if fmt == "rich":
        from rich.console import Console

        options.setdefault("console", Console(file=buffer, width=options.pop("width", 120)))
    render_stream(events, fmt, buffer, **options)
    return buffer.getvalue()
