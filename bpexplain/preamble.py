"""What a trace states before its first step: the network, the conventions it used, the legend.

Kept apart from the engine, which computes; this module only describes the run in sentences and
symbols (the renderers decide how to show them). A convention or a note about the lecture is stated
only where the trace contains what it concerns: the slide's shortcut where an error goes back through
a dense layer, the x_2 typo where a dense layer fed by the inputs is updated, and each layer kind's own
lines (the kernel flip, pooling ties) where that kind is used. `--preamble short` states the run in
one line (`statement`), `--preamble none` states nothing: the renderers read which from the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .expr import Derivative, Expr, Partial, Sym
from .functions import LOSSES
from .layers.base import ETA, LOSS, Layer
from .spec import LayerSpec, NetworkSpec
from .trace import Settings, TraceHeader

if TYPE_CHECKING:
    from .options import RunOptions


def header(spec: NetworkSpec, opts: RunOptions, layers: Sequence[Layer]) -> TraceHeader:
    """What a trace states before its first step."""
    settings = Settings(
        opts.command,
        opts.notation,
        opts.rule,
        opts.update_order,
        opts.batch,
        opts.detail,
        opts.precision,
        opts.shuffle,
        opts.seed,
        opts.round,
        opts.preamble,
    )
    network = {
        "name": spec.name,
        "title": spec.title,
        "loss": spec.loss,
        "learning_rate": spec.learning_rate,
        "frozen": spec.frozen(),
        "inputs": list(spec.input_names),
        "input_shape": list(spec.input_shape),
        "layers": [layer_info(ls) for ls in spec.layers],
    }
    origins = {f"{ls.name}.{p}": param.origin for ls in spec.layers for p, param in ls.params.items()}
    symbols: dict[str, tuple[Expr, ...]] = {}
    if sum(p.size for p in spec.parameters().values()) <= 64:
        for layer in layers:
            for pname, param in layer.spec.params.items():
                symbols[f"{layer.name}.{pname}"] = tuple(
                    layer.param_symbol(pname, idx) for idx in np.ndindex(param.value.shape)
                )
    return TraceHeader(
        network,
        settings,
        conventions(spec, opts, layers, origins),
        legend(opts, layers),
        spec.parameters(),
        origins,
        symbols,
        statement(spec, opts),
    )


def statement(spec: NetworkSpec, opts: RunOptions) -> str:
    """Notation, loss, η and rounding in one line: what `--preamble short` states."""
    loss = LOSSES[spec.loss]
    if opts.notation == "lecture":
        notation = "lecture notation (δ_n = ∂E/∂y_n)"
    else:
        notation = "textbook notation (δ_n = ∂E/∂e_n)"
    parts = [notation, f"loss {loss.name}, {loss.formula.split('  (')[0]}"]
    if opts.command == "train":
        parts.append(f"η = {spec.learning_rate:g}")
    if opts.round is None:
        parts.append(f"no rounding (float64, shown to {opts.precision} significant digits)")
    else:
        parts.append(f"every value rounded to {opts.round} decimals as by hand, and shown as carried")
    return "; ".join(parts) + "."


def conventions(
    spec: NetworkSpec, opts: RunOptions, layers: Sequence[Layer], origins: dict[str, str]
) -> tuple[str, ...]:
    """The conventions a run used, one sentence each: notation, loss, rule, order, batch, rounding, ..."""
    loss = LOSSES[spec.loss]
    lines = []
    if opts.notation == "lecture":
        lines.append(
            "notation: the lecture's. δ_n = ∂E/∂y_n is the error at the output of neuron n; "
            "updates are w'_mn = w_mn − η·δ_n·dh_n(e)/de·y_m."
        )
    else:
        lines.append(
            "notation: textbook (Nielsen; Goodfellow et al.). δ_n = ∂E/∂e_n; updates are w'_mn = w_mn − η·δ_n·y_m."
        )
    lines.append(f"loss: {loss.name}, {loss.formula}.")
    if opts.command == "train":
        if opts.rule == "slide":
            lines.append(
                "errors: the slide's rule δ_m = Σ_n w_mn·δ_n, which leaves out dh_n(e)/de; it is exact "
                "only where that derivative is 1. Values it changes are marked ≠ with the true value."
            )
        elif opts.notation == "lecture":
            lines.append(
                "errors: the exact chain rule δ_m = Σ_n w_mn·dh_n(e)/de·δ_n."
                + (
                    " (The lecture's slides write δ_4 = w_46·δ, leaving out dh_6(e)/de: see --rule slide.)"
                    if dense_propagation(spec)
                    else ""
                )
            )
        else:
            lines.append("errors: the exact chain rule δ_m = dh_m(e)/de·Σ_n w_mn·δ_n.")
        if opts.update_order == "sequential":
            lines.append(
                "update order: sequential, layer by layer from the output; each layer is updated "
                "before the error goes back through it (not the textbook method)."
            )
        else:
            lines.append(
                "update order: simultaneous; all errors use the weights from before the step, then "
                "every weight is updated (the textbook method)."
            )
        if opts.batch == "full":
            lines.append(
                "batch: full; each step uses every sample and the mean of their gradients; "
                "E is the mean of the samples' losses."
            )
        else:
            lines.append("batch: one sample a step (stochastic gradient descent, Algorithm 2).")
        lines.append(
            "data order: "
            + (f"reordered every epoch (seed {opts.seed})." if opts.shuffle else "as in the file, every epoch.")
        )
        lines.append(f"learning rate: η = {spec.learning_rate:g}.")
        if opts.notation == "lecture" and updates_input_weights(spec):
            lines.append(
                "the lecture's Weight Updating slide drops the factor x_2 from its line for "
                "w'_(x2)1; the updates here include it."
            )
    if opts.round is None:
        lines.append(
            "rounding: none; every value is carried in full float64, and only the display is "
            f"rounded (to {opts.precision} significant digits)."
        )
    else:
        decimals = f"{opts.round} decimal{'s' if opts.round != 1 else ''}"
        lines.append(
            f"rounding: as by hand; every value is rounded to {decimals} (half away from "
            "zero) as soon as it is computed, and the rounded value is carried into the next "
            "equation. Inputs and initial parameters are used as given. Every value is shown as it "
            "is carried, trailing zeros dropped. The drift from exact float64 is reported at the end."
        )
    lines.extend(dict.fromkeys(line for layer in layers for line in layer.convention_lines()))
    if "random" in origins.values():
        lines.append(
            f"initial parameters: those marked random are drawn uniformly from ±1/√(fan-in) with "
            f"seed {spec.seed} and rounded, then used exactly as printed."
        )
    return tuple(lines)


def dense_propagation(spec: NetworkSpec) -> bool:
    """Does an error go back through a dense layer (the slides' shortcut δ_4 = w_46·δ concerns it)?"""
    return any(ls.type == "dense" for ls in spec.layers[1:])


def updates_input_weights(spec: NetworkSpec) -> bool:
    """Is there a w'_(x2)n: a trainable dense layer fed by the inputs, of which there are two or more?"""
    first = spec.layers[0] if spec.layers else None
    if first is None or first.type != "dense" or len(spec.input_names) < 2:
        return False
    weight = first.params.get("weight")
    return weight is not None and weight.trainable


def legend(opts: RunOptions, layers: Sequence[Layer]) -> tuple[tuple[Expr, str], ...]:
    """The symbols of the notation and their meanings."""
    m, n = "m", "n"
    rows: list[tuple[Expr, str]] = [
        (Sym("x", (m,)), "input m of the network"),
        (Sym("e", (n,)), "weighted sum of neuron n (its input)"),
        (Sym("y", (n,)), "output of neuron n, y_n = h_n(e_n)"),
        (Sym("h", (n,)), "activation function of neuron n"),
        (Sym("w", (m, n)), "weight from neuron m (or input x_m) to neuron n"),
        (Sym("b", (n,)), "bias of neuron n"),
        (Sym("ŷ"), "target (the expected output)"),
        (LOSS, "loss"),
    ]
    if opts.notation == "lecture":
        rows.append((Sym("δ", (n,)), "error at the output of neuron n, ∂E/∂y_n"))
    else:
        rows.append((Sym("δ", (n,)), "error at the input of neuron n, ∂E/∂e_n"))
    rows += [
        (Derivative(Sym("h", (n,)), "e"), "derivative of the activation at e_n"),
        (Partial(LOSS, Sym("w", (m, n))), "gradient of the loss with respect to w_mn"),
        (ETA, "learning rate"),
        (Sym("w", (m, n), prime=True), "weight after the update"),
    ]
    rows.extend(dict.fromkeys(row for layer in layers for row in layer.legend_rows()))
    return tuple(rows)


def layer_info(ls: LayerSpec) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": ls.name,
        "type": ls.type,
        "inputs": list(ls.inputs),
        "activation": ls.activation,
        "units": ls.units,
        "input_shape": list(ls.in_shape),
        "output_shape": list(ls.out_shape),
        "parameters": {p: list(param.value.shape) for p, param in ls.params.items()},
    }
    if len(ls.in_shapes) > 1:  # a layer that reads two or more: each one's shape, in the order of `inputs`
        info["input_shapes"] = [list(shape) for shape in ls.in_shapes]
    if ls.activation == "leaky_relu":
        info["slope"] = ls.slope
    info.update(ls.options)
    return info
