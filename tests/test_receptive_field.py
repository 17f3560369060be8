"""Receptive fields: the input elements each conv and pooling forward equation reads (recorded by the
layers), and the terminal view that highlights them on the input map (small maps only)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import spec_from
from rich.console import Console

from bpexplain.engine import RunOptions, run
from bpexplain.filters import EventFilter
from bpexplain.render.rich import FIELD_LIMIT, trace_renderables
from bpexplain.spec import load_network
from bpexplain.trace import Block


def forward_blocks(spec, **options) -> dict[str, Block]:  # type: ignore[no-untyped-def]
    events = run(spec, RunOptions(command="forward", **options))
    return {e.layer: e for e in events if isinstance(e, Block) and e.phase == "forward"}


def pre_activation_equations(block: Block) -> list:  # type: ignore[type-arg]
    return [eq for eq in block.equations if eq.cells]


def net(shape: list[int], conv: str) -> str:
    image = np.arange(np.prod(shape)).reshape(shape) % 5
    return f"""
inputs: {{shape: {shape}}}
layers:
  - {{name: conv, type: conv2d, {conv}}}
  - {{name: flat, type: flatten}}
  - {{name: out, type: dense, units: 1, weight: random}}
init: {{seed: 1, decimals: 2}}
loss: mse
learning_rate: 0.1
data:
  - {{input: {image.tolist()}, target: [0.5]}}
"""


# ---- recording ------------------------------------------------------------------------------------


def test_homework_fields_are_the_windows_in_reading_order() -> None:
    blocks = forward_blocks(load_network("homework-cnn"))
    conv1 = pre_activation_equations(blocks["conv1"])
    assert len(conv1) == 25  # 5×5 outputs of a 2×2 kernel on 6×6
    assert conv1[0].cells == (0, 1, 6, 7)  # O1(1,1) reads I(1,1), I(1,2), I(2,1), I(2,2)
    assert conv1[7].cells == (8, 9, 14, 15)  # O1(2,3) reads rows 2–3, columns 3–4
    pool = pre_activation_equations(blocks["pool"])
    assert [eq.cells for eq in pool] == [(0, 1, 4, 5), (2, 3, 6, 7), (8, 9, 12, 13), (10, 11, 14, 15)]
    assert not any(eq.cells for eq in blocks["fc"].equations + blocks["flatten"].equations)


def test_fields_leave_out_the_padding_and_follow_stride_and_dilation() -> None:
    spec = spec_from(net([5, 5], "kernel: [[1, 2, 3], [4, 5, 6], [7, 8, 9]], padding: 1, stride: 2"))
    eqs = pre_activation_equations(forward_blocks(spec)["conv"])
    assert eqs[0].cells == (0, 1, 5, 6)  # the corner: 4 of the 9 taps fall on the padding
    assert eqs[4].cells == (6, 7, 8, 11, 12, 13, 16, 17, 18)  # O(2,2): rows 2–4, columns 2–4
    spec = spec_from(net([5, 5], "kernel: [[1, 2], [3, 4]], dilation: 2"))
    assert pre_activation_equations(forward_blocks(spec)["conv"])[0].cells == (0, 2, 10, 12)


def test_a_field_covers_every_input_channel() -> None:
    spec = spec_from(net([2, 3, 3], "kernel_size: 2, channels: 2, kernel: random"))
    eqs = pre_activation_equations(forward_blocks(spec)["conv"])
    assert eqs[0].cells == (0, 1, 3, 4, 9, 10, 12, 13)
    assert eqs[4].cells == eqs[0].cells  # the second output channel reads the same field


# ---- the terminal view ----------------------------------------------------------------------------


def rendered(spec, color: bool, width: int = 120, **options):  # type: ignore[no-untyped-def]
    console = Console(file=io.StringIO(), width=width, force_terminal=color, color_system="standard" if color else None)
    segments = []
    for renderable in trace_renderables(run(spec, RunOptions(command="forward", **options))):
        segments.extend(console.render(renderable))
    return segments


def highlighted(segments) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.text.strip() for s in segments if s.style is not None and s.style.reverse]


def test_the_terminal_highlights_each_field_on_the_input_map() -> None:
    spec = load_network("homework-cnn")
    cells = highlighted(rendered(spec, color=True))
    # every conv and pool forward equation: 25 + 16 + 4 fields of 4 cells
    assert len(cells) == (25 + 16 + 4) * 4
    image = spec.data[0].input.reshape(6, 6)
    # O1(1,1)'s field, row by row: I(1,1), I(1,2), then I(2,1), I(2,2)
    assert cells[:4] == [str(int(v)) for v in (image[0, 0], image[0, 1], image[1, 0], image[1, 1])]


def test_without_styles_the_field_is_bracketed() -> None:
    text = "".join(s.text for s in rendered(load_network("homework-cnn"), color=False, width=80))
    assert "[1] [0]  2   1   0   1" in text  # I's first row, O1(1,1)'s field bracketed, digits in columns
    assert "  0   2   1   0   1   0" in text  # a row of I outside the field


def test_a_filtered_out_input_map_shows_the_field_as_a_pattern() -> None:
    assert "■" not in "".join(s.text for s in rendered(load_network("homework-cnn"), color=False))
    spec = load_network("homework-cnn")
    console = Console(file=io.StringIO(), width=80, color_system=None)
    events = EventFilter(layers=frozenset({"conv2"})).apply(run(spec, RunOptions(command="forward")))
    text = "".join(s.text for r in trace_renderables(events) for s in console.render(r))
    assert "■ ■ · · ·" in text  # O2(1,1) reads the top-left 2×2 of the 5×5 O1, whose block was left out


@pytest.mark.parametrize("side", [12, 13])
def test_fields_are_drawn_only_on_small_maps(side: int) -> None:
    spec = spec_from(net([side, side], "kernel: [[1, 0], [0, 1]]"))
    count = len(highlighted(rendered(spec, color=True)))
    assert count == ((side - 1) ** 2 * 4 if side * side <= FIELD_LIMIT else 0)  # 4 cells per output
