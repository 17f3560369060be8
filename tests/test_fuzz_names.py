"""Fuzzing names: any printable text as a network's name, title, description, layer names and input names
gives, in every format, a trace that shows it as data (or one clear error), never markup or code.

The checks are the format's own safety rules, not its exact escapes (tests/test_names.py writes those out
for the hand-picked hostile names): LaTeX is printable ASCII with no file or shell command in it, HTML and
SVG have no element, attribute or entity made from the name, the terminal view shows the name as written,
Markdown and text carry no control character. Bounded in `make test`; `make fuzz` runs the long profile.
"""

from __future__ import annotations

import io
import json
import os
import re

from hostile import PRINTABLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from bpexplain.api import load
from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError
from bpexplain.render import render_stream

LONG = os.environ.get("BPEXPLAIN_FUZZ") == "long"
FUZZ = settings(
    max_examples=2_000 if LONG else 25,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# printable text: no control, format (bidi marks), surrogate, line or paragraph separator characters
PRINTABLE_CHARS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
SPECIALS = st.sampled_from(list("\\{}$&#^_~%[]<>\"'`|*!-=/:;@"))
TEXT = st.sampled_from(PRINTABLE) | st.text(PRINTABLE_CHARS | SPECIALS, min_size=1, max_size=24)
DANGEROUS_TEX = re.compile(
    r"(?<!\\textbackslash\{\})\\(input|include|write|immediate|openout|openin|read|catcode|def)\b"
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def network(name: str, title: str, layer: str, input_name: str) -> str:
    q = json.dumps
    return f"""name: {q(name)}
title: {q(title)}
description: {q(title + " " + name)}
inputs: [{q(input_name)}, x2]
layers:
  - name: {q(layer)}
    activation: sigmoid
    weight: [[0.1, -0.2], [0.4, 0.3]]
  - name: out
    activation: sigmoid
    weight: [[0.5, -0.6]]
data:
  - input: [0.3, 0.9]
    target: [1.0]
"""


def rendered(text: str, fmt: str) -> str:
    spec = load(text)
    out = io.StringIO()
    options: dict = {"precision": 4}
    if fmt == "rich":
        options["console"] = Console(file=out, width=100, color_system=None)
    render_stream(run(spec, RunOptions(command="train", steps=1)), fmt, out, **options)
    return out.getvalue()


@FUZZ
@given(TEXT, TEXT, TEXT, TEXT)
def test_any_printable_name_is_data_in_every_format(name: str, title: str, layer: str, input_name: str) -> None:
    text = network(name, title, layer, input_name)
    try:
        load(text)
    except BpexplainError as exc:  # refused names (a duplicate, an empty one) are one clear line
        assert "\n" not in exc.line() and "Traceback" not in exc.line()
        return
    for fmt in ("text", "markdown", "json"):
        assert not CONTROL.search(rendered(text, fmt)), fmt
    latex = rendered(text, "latex")
    assert all(c == "\n" or " " <= c <= "~" for c in latex), "LaTeX must be printable ASCII"
    assert not DANGEROUS_TEX.search(latex)
    screen = rendered(text, "rich")
    assert not CONTROL.search(screen)
    for fmt in ("html", "svg"):
        page = rendered(text, fmt)
        for written in {name, title, layer}:
            if "<" in written:
                assert written not in page, (fmt, written)  # a name with markup is never written raw
        assert "<script>alert" not in page
