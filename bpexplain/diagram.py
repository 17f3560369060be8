"""`bpexplain diagram`: the network drawn as on the lecture's slides.

A dense network is drawn neuron by neuron: the inputs x_m in the first column, then each layer's
neurons, numbered 1..n in layer order as the lecture numbers them, every edge labelled with its weight
symbol and value (w_14 = 0.2), every neuron with its e_n and y_n (and, for a training step, its δ_n).
Other networks (a CNN, or a dense one too large to label) are drawn as a chain of layer boxes with
their shapes, and their kernels where small.

Every number and symbol is read from the engine's own events (`collect`): the drawing computes
nothing. The picture is made by `bpexplain.pictures` (matplotlib, an optional extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import describe, run
from .expr import Partial, Sym
from .options import RunOptions
from .pictures import figure_bytes, new_figure, picture_format, style, wrapped, write_picture
from .render.numbers import format_number
from .render.printer import TextPrinter
from .spec import NetworkSpec, format_shape
from .trace import Block, StepEnd, StepStart, TraceHeader

MAX_UNITS_DRAWN = 12  # a dense layer wider than this is drawn as a box: its labels would not fit


class Snapshot:
    """What the engine says about one moment of the network: the numbers a diagram shows."""

    def __init__(self, header: TraceHeader) -> None:
        self.header = header
        self.parameters: dict[str, np.ndarray] = dict(header.initial_parameters)
        self.blocks: list[Block] = []
        self.start: StepStart | None = None
        self.loss: float | None = None
        self.caption = ""

    def unit_values(self) -> dict[int, list[tuple[Any, float]]]:
        """Neuron number -> its (symbol, value) pairs: e_n, y_n from the forward pass, δ_n (or ∂E/∂e_n)."""
        values: dict[int, list[tuple[Any, float]]] = {}
        for block in self.blocks:
            if block.phase not in ("forward", "error") or block.sample not in (None, 1):
                continue
            for eq in block.equations:
                n = _neuron_of(eq.symbol, block.phase)
                if n is not None:
                    values.setdefault(n, []).append((eq.symbol, eq.value))
        return values


def _neuron_of(symbol: Any, phase: str) -> int | None:
    """The neuron an equation's symbol is about: e_4, y_4 (forward), δ_4 or ∂E/∂e_4 (error)."""
    if isinstance(symbol, Partial) and phase == "error":
        symbol = symbol.wrt
        wanted: tuple[str, ...] = ("e",)
    else:
        wanted = ("e", "y") if phase == "forward" else ("δ",)
    if type(symbol) is Sym and symbol.base in wanted and len(symbol.indices) == 1:
        index = symbol.indices[0]
        if isinstance(index, str) and index.isdigit():
            return int(index)
    return None


def collect(spec: NetworkSpec, step: int | None = None, sample: int = 1, detail: str = "full") -> Snapshot:
    """The numbers to draw, from the engine: the forward pass of `sample` with the initial parameters, or
    training step `step` (the parameters it starts from, its forward pass, its errors)."""
    if step is None and not spec.data:
        bare = Snapshot(describe(spec, RunOptions(command="show")))
        bare.caption = "initial weights (the file has no data to feed forward)"
        return bare
    if step is None:
        opts = RunOptions(command="forward", sample=sample, detail=detail)
    else:
        opts = RunOptions(command="train", steps=step, detail=detail)
    snap: Snapshot | None = None
    for event in run(spec, opts):
        if isinstance(event, TraceHeader):
            snap = Snapshot(event)
        elif snap is None:
            continue
        elif isinstance(event, StepStart):
            snap.start, snap.blocks, snap.loss = event, [], None
        elif isinstance(event, Block):
            snap.blocks.append(event)
        elif isinstance(event, StepEnd):
            snap.loss = event.loss
            if step is not None and event.index < step and event.parameters is not None:
                snap.parameters = dict(event.parameters)  # what the next step starts from
            if step is None or event.index >= step:
                break
    assert snap is not None
    if step is None:
        snap.caption = f"forward pass of sample {sample}, with the initial weights"
    else:
        snap.caption = f"training step {step}: the weights it starts from, its forward pass and its errors δ_n"
    return snap


def neuron_by_neuron(spec: NetworkSpec, header: TraceHeader) -> bool:
    """Whether the network is drawn neuron by neuron (else as a chain of layer boxes)."""
    return (
        all(ls.type == "dense" for ls in spec.layers)
        and all(ls.units <= MAX_UNITS_DRAWN for ls in spec.layers)
        and len(spec.input_names) <= MAX_UNITS_DRAWN
        and set(header.parameter_symbols) == set(header.initial_parameters)
    )


def draw_network(spec: NetworkSpec, path: str, step: int | None = None, sample: int = 1, precision: int = 4) -> None:
    """Write the diagram of `spec` to `path` (.svg or .png)."""
    fmt = picture_format(path)
    header = describe(spec, RunOptions(command="show"))
    dense = neuron_by_neuron(spec, header)
    snap = collect(spec, step, sample, detail="full" if dense else "summary")
    with style():
        fig = dense_figure(spec, snap, precision) if dense else chain_figure(spec, snap, precision)
        data = figure_bytes(fig, fmt)
    write_picture(data, path)


# ------------------------------------------------------------------------------------------------
# Drawing (matplotlib, inside pictures.style())

NEURON = "#e8f1fb"
INPUT = "#f3f3f3"
EDGE = "#7f7f7f"
TEXT_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}


def _axes(fig: Any, width: float, height: float) -> Any:
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def dense_figure(spec: NetworkSpec, snap: Snapshot, precision: int) -> Any:
    """Inputs and numbered neurons in columns, every weight on its edge, e_n, y_n (δ_n) at each neuron."""
    printer = TextPrinter(precision)
    num = lambda x: format_number(float(x), precision)  # noqa: E731
    header = snap.header
    columns = [len(spec.input_names)] + [ls.units for ls in spec.layers]
    tallest = max(columns)
    dx, dy, radius = 3.2, 1.55, 0.3
    width = dx * (len(columns) - 1) + 4.6
    height = dy * (tallest - 1) + 3.3
    fig = new_figure(width, height)
    ax = _axes(fig, width, height)
    x0, top = 1.2, height - 1.55

    def position(col: int, i: int) -> tuple[float, float]:
        offset = (tallest - columns[col]) * dy / 2
        return x0 + col * dx, top - offset - i * dy

    ax.text(
        width / 2, height - 0.3, wrapped(spec.title, width - 0.5, 11), ha="center", va="top", fontsize=11, weight="bold"
    )
    ax.text(width / 2, 0.2, snap.caption, ha="center", va="bottom", fontsize=8, color="#555555")

    # inputs
    x_values = snap.start.inputs[0].reshape(-1) if snap.start is not None else None
    ax.text(x0, top + 0.75, "inputs", ha="center", va="bottom", fontsize=9, weight="bold")
    for j, name in enumerate(spec.input_names):
        x, y = position(0, j)
        ax.add_patch(_circle(x, y, radius, INPUT))
        ax.text(x, y, f"x_{j + 1}", ha="center", va="center", fontsize=9, zorder=5)
        lines = [] if name == f"x{j + 1}" else [name]
        if x_values is not None:
            lines.append(f"x_{j + 1} = {num(x_values[j])}")
        if lines:
            ax.text(x, y - radius - 0.06, "\n".join(lines), ha="center", va="top", fontsize=7.5, bbox=TEXT_BOX)

    # layers: edges first (under the neurons), then neurons
    values = snap.unit_values()
    first = 1
    for col, ls in enumerate(spec.layers, start=1):
        key = f"{ls.name}.weight"
        weights = snap.parameters[key]
        symbols = header.parameter_symbols[key]
        n_in = weights.shape[1]
        for i in range(ls.units):
            tx, ty = position(col, i)
            t = 0.3 + 0.4 * (i / max(ls.units - 1, 1))
            for j in range(n_in):
                sx, sy = position(col - 1, j)
                ax.plot([sx + radius, tx - radius], [sy, ty], color=EDGE, linewidth=0.8, zorder=1)
                lx, ly = sx + radius + t * (tx - sx - 2 * radius), sy + t * (ty - sy)
                label = f"{printer.doprint(symbols[i * n_in + j])} = {num(weights[i, j])}"
                ax.text(lx, ly, label, ha="center", va="center", fontsize=7, bbox=TEXT_BOX, zorder=3)
        activation = ls.activation if ls.activation != "leaky_relu" else f"leaky_relu {num(ls.slope)}"
        ax.text(position(col, 0)[0], top + 0.75, ls.name, ha="center", va="bottom", fontsize=9, weight="bold")
        ax.text(position(col, 0)[0], top + 0.55, activation, ha="center", va="bottom", fontsize=8, color="#555555")
        bias_key = f"{ls.name}.bias"
        for i in range(ls.units):
            n = first + i
            x, y = position(col, i)
            ax.add_patch(_circle(x, y, radius, NEURON))
            ax.text(x, y, str(n), ha="center", va="center", fontsize=10, weight="bold", zorder=5)
            lines = []
            if bias_key in snap.parameters:
                b_symbols = header.parameter_symbols[bias_key]
                lines.append(f"{printer.doprint(b_symbols[i])} = {num(snap.parameters[bias_key][i])}")
            lines += [f"{printer.doprint(sym)} = {num(v)}" for sym, v in values.get(n, [])]
            if lines:
                ax.text(
                    x, y - radius - 0.06, "\n".join(lines), ha="center", va="top", fontsize=7.5, bbox=TEXT_BOX, zorder=4
                )
        first += ls.units

    # the target and the loss, right of the output neurons
    last = len(columns) - 1
    if snap.start is not None:
        targets = snap.start.targets[0].reshape(-1)
        for i, target in enumerate(targets):
            x, y = position(last, i)
            if target == target:  # no NaN: a target was given
                ax.annotate(
                    f"ŷ_{first - len(targets) + i} = {num(target)}",
                    xy=(x + radius, y),
                    xytext=(x + 1.0, y),
                    va="center",
                    fontsize=8,
                    arrowprops={"arrowstyle": "<-", "color": EDGE, "linewidth": 0.8},
                )
    if snap.loss is not None:
        x, y = position(last, 0)
        ax.text(x + 1.0, y + 0.45, f"E = {num(snap.loss)}", va="center", fontsize=9, weight="bold", color="#8e24aa")
    return fig


def chain_figure(spec: NetworkSpec, snap: Snapshot, precision: int) -> Any:
    """The layers as boxes in file order: kind, shapes, activation; a small kernel's numbers. An arrow joins
    each layer to what it reads: straight from the box before it, arched over the boxes from any other."""
    num = lambda x: format_number(float(x), precision)  # noqa: E731
    boxes: list[tuple[str, list[str]]] = [("input", [format_shape(spec.input_shape)])]
    for ls in spec.layers:
        lines = [ls.type + (f", {ls.activation}" if ls.activation != "identity" else "")]
        lines.append(f"{format_shape(ls.in_shape)} → {format_shape(ls.out_shape)}")
        for pname in ls.params:
            value = snap.parameters[f"{ls.name}.{pname}"]
            lines.append(
                f"{'kernel' if ls.type == 'conv2d' and pname == 'weight' else pname} {format_shape(value.shape)}"
            )
            if value.ndim <= 2 and value.size <= 16:
                rows = value.reshape(1, -1) if value.ndim <= 1 else value
                lines += ["[" + ", ".join(num(v) for v in row) + "]" for row in rows]
        for option in ("stride", "padding", "size"):
            if option in ls.options and ls.options[option] not in (None, 0):
                lines.append(f"{option} {ls.options[option]}")
        if ls.type == "conv2d":
            lines.append("flipped (convolution)" if ls.options.get("flip", True) else "not flipped (correlation)")
        boxes.append((ls.name, lines))
    box_w, gap = 2.3, 0.6
    tallest = max(len(lines) for _, lines in boxes)
    box_h = 0.6 + 0.15 * tallest
    width = len(boxes) * (box_w + gap) + 0.6
    position = {"input": 0, **{ls.name: k + 1 for k, ls in enumerate(spec.layers)}}
    edges = [(position[src], k + 1) for k, ls in enumerate(spec.layers) for src in ls.inputs]
    arched = [(a, b) for a, b in edges if b - a > 1]
    height = box_h + 2.0 + (0.5 + 0.12 * max(b - a for a, b in arched) if arched else 0.0)
    fig = new_figure(width, height)
    ax = _axes(fig, width, height)
    ax.text(
        width / 2,
        height - 0.25,
        wrapped(spec.title, width - 0.5, 11),
        ha="center",
        va="top",
        fontsize=11,
        weight="bold",
    )
    caption = snap.caption + (f"; E = {num(snap.loss)}" if snap.loss is not None else "")
    ax.text(width / 2, 0.15, caption, ha="center", va="bottom", fontsize=8, color="#555555")
    from matplotlib.patches import FancyBboxPatch

    y0 = 0.7
    for k, (title, lines) in enumerate(boxes):
        x = 0.3 + k * (box_w + gap)
        ax.add_patch(
            FancyBboxPatch(
                (x, y0), box_w, box_h, boxstyle="round,pad=0.04", facecolor=NEURON if k else INPUT, edgecolor="#4a6fa5"
            )
        )
        ax.text(x + box_w / 2, y0 + box_h - 0.12, title, ha="center", va="top", fontsize=9, weight="bold")
        ax.text(x + box_w / 2, y0 + box_h - 0.42, "\n".join(lines), ha="center", va="top", fontsize=7.5)
    for a, b in edges:
        xa, xb = 0.3 + a * (box_w + gap), 0.3 + b * (box_w + gap)
        if b - a == 1:
            ax.annotate(
                "",
                xy=(xb, y0 + box_h / 2),
                xytext=(xa + box_w, y0 + box_h / 2),
                arrowprops={"arrowstyle": "->", "color": EDGE},
            )
        else:  # a skip: over the boxes between, from the top of one to the top of the other
            ax.annotate(
                "",
                xy=(xb + box_w / 2, y0 + box_h + 0.05),
                xytext=(xa + box_w / 2, y0 + box_h + 0.05),
                arrowprops={"arrowstyle": "->", "color": EDGE, "connectionstyle": "arc3,rad=-0.25"},
            )
    return fig


def _circle(x: float, y: float, radius: float, color: str) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), radius, facecolor=color, edgecolor="#4a6fa5", linewidth=1.0, zorder=4)
