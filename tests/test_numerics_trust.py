"""Trust in every number: overflow caught in every layer kind on both paths, cross-entropy targets that are
not distributions refused, and no equation that defines a symbol by itself (the textbook notation through
an activation layer or a pool)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import assert_gradients_match, batch_args, spec_from

import bpexplain
from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError, NumericalError
from bpexplain.expr import Expr, Var
from bpexplain.spec import bundled_names
from bpexplain.trace import Block, Equation

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


# ---- no equation defines a symbol by itself -------------------------------------------------------------

CONV_ACT_POOL = """
name: conv-act-pool
inputs: {shape: [4, 4]}
layers:
  - {name: conv1, type: conv2d, kernel: [[0.5, -0.2], [0.3, 0.1]], activation: tanh}
  - {name: act, type: activation, activation: sigmoid}
  - {name: pool, type: maxpool, size: 3}
  - {name: act2, type: activation, activation: tanh}
  - {name: flatten, type: flatten}
  - {name: fc, weight: [[0.4]], activation: sigmoid}
  - {name: act3, type: activation, activation: relu}
loss: mse
learning_rate: 0.5
data:
  - input: [[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]]
    target: [1]
"""

POOL_ACT = """
name: conv-pool-act
inputs: {shape: [5, 5]}
layers:
  - {name: conv1, type: conv2d, kernel: [[0.5, -0.2], [0.3, 0.1]]}
  - {name: act0, type: activation, activation: tanh}
  - {name: pool, type: avgpool, size: 2}
  - {name: act, type: activation, activation: sigmoid}
  - {name: flatten, type: flatten}
  - {name: fc, weight: [[0.4, 0.1, -0.3, 0.2]], activation: identity}
loss: mse
learning_rate: 0.5
data:
  - input: [[1, 0, 2, 1, 0], [0, 1, 1, 0, 2], [2, 1, 0, 1, 1], [1, 0, 1, 2, 0], [0, 2, 1, 0, 1]]
    target: [1]
"""


def _symbols(node: Any) -> Iterator[Expr]:
    """Every symbol a bound right-hand side names (the symbols of its Var leaves)."""
    if isinstance(node, Var):
        yield node.sym
        return
    if isinstance(node, tuple):
        for item in node:
            yield from _symbols(item)
        return
    if isinstance(node, Expr):
        for slot in type(node).__slots__:
            yield from _symbols(getattr(node, slot))


def _equations(spec: Any, notation: str, steps: int) -> Iterator[Equation]:
    batch = "full" if batch_args(spec) else "single"
    for ev in run(spec, RunOptions(command="train", steps=steps, notation=notation, max_equations=0, batch=batch)):
        if isinstance(ev, Block):
            yield from ev.equations


# LeNet-5's layers in LeNet-5's order at a size whose full trace takes a moment (lenet5's takes half a minute)
MINI_LENET = """
name: mini-lenet
inputs: {shape: [8, 8]}
init: {seed: 5, decimals: 2}
layers:
  - {name: C1, type: conv2d, kernel_size: 3, channels: 2, kernel: random, bias: zeros, activation: tanh}
  - {name: S2, type: avgpool, size: 2}
  - {name: C3, type: conv2d, kernel_size: 2, channels: 2, kernel: random, bias: zeros, activation: tanh}
  - {name: S4, type: avgpool, size: 2}
  - {name: flatten, type: flatten}
  - {name: C5, type: dense, units: 3, weight: random, bias: zeros, activation: tanh}
  - {name: output, type: dense, units: 3, weight: random, bias: zeros, activation: softmax}
loss: cross_entropy
learning_rate: 0.1
data:
  - {input: [[1, 0, 2, 1, 0, 1, 0, 2], [0, 1, 1, 0, 2, 0, 1, 1], [2, 1, 0, 1, 1, 1, 0, 0], [1, 0, 1, 2, 0, 1, 1, 0],
             [0, 2, 1, 0, 1, 0, 2, 1], [1, 1, 0, 1, 0, 2, 0, 1], [0, 1, 2, 0, 1, 1, 0, 2], [2, 0, 1, 1, 0, 1, 2, 0]],
     target: [0, 1, 0]}
"""

NETWORKS = {name: name for name in bundled_names() if name != "lenet5"} | {
    "mini-lenet": MINI_LENET,
    "conv-act-pool": CONV_ACT_POOL,
    "pool-act": POOL_ACT,
}


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_no_equation_defines_a_symbol_by_itself(name: str, notation: str) -> None:
    source = NETWORKS[name]
    spec = spec_from(source) if "\n" in source else bpexplain.load(source)
    count = 0
    for eq in _equations(spec, notation, 3):
        count += 1
        assert eq.symbol not in set(_symbols(eq.bound)), (eq.kind, eq.symbol, eq.bound)
    assert count > 0


# ---- overflow is caught in every layer kind, on the explained and the lean path --------------------------

FEATURE_NET = """
name: overflow
inputs: {{shape: [{h}, {w}]}}
layers:
{layers}
loss: mse
learning_rate: 0.1
data:
  - input: {input}
    target: [{target}]
"""

OVERFLOWS = {
    # a convolution's forward sum: an einsum, which sets no floating-point flag
    "conv-forward": (
        dict(
            h=3,
            w=3,
            input="[[1e200, 1, 1], [1, 1, 1], [1, 1, 1]]",
            layers="  - {name: c, type: conv2d, kernel: [[1e200, 1e200], [1e200, 1e200]]}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[1, 1, 1, 1]], activation: identity}",
        ),
        "forward pass, layer 'c': O1(1,1) = ",
    ),
    # a kernel's gradient: finite errors times finite inputs, summed by an einsum past the largest float
    "conv-kernel-gradient": (
        dict(
            h=3,
            w=3,
            input="[[1e308, 1e308, 1e308], [1e308, 1e308, 1e308], [1e308, 1e308, 1e308]]",
            layers="  - {name: c, type: conv2d, kernel: [[1e-308, 1e-308], [1e-308, 1e-308]]}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[1, 1, 1, 1]], activation: identity}",
        ),
        "gradients, layer 'c': ∂E/∂K1(1,1) = δO1(1,1)·I(2,2) + ",
    ),
    # the error going back through a kernel: an einsum again
    "conv-input-gradient": (
        dict(
            h=2,
            w=2,
            input="[[1, 1], [1, 1]]",
            layers="  - {name: c1, type: conv2d, kernel: [[1e-300]]}\n"
            "  - {name: c2, type: conv2d, kernel: [[1e300]]}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[1e10, 1e10, 1e10, 1e10]], activation: identity}",
        ),
        "backward pass, layer 'c1': δO1(1,1) = ",
    ),
    "avgpool-forward": (
        dict(
            h=2,
            w=2,
            input="[[1e308, 1e308], [1e308, 1e308]]",
            layers="  - {name: p, type: avgpool, size: 2}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[1]], activation: identity}",
        ),
        "forward pass, layer 'p': P1(1,1) = ",
    ),
    # overlapping windows: the errors of two windows meet at one element
    "maxpool-backward": (
        dict(
            h=3,
            w=3,
            input="[[0, 0, 0], [0, 1e-300, 0], [0, 0, 0]]",
            target=-1e8,
            layers="  - {name: c, type: conv2d, kernel: [[1]]}\n  - {name: p, type: maxpool, size: 2, stride: 1}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[6e299, 6e299, 6e299, 6e299]], activation: identity}",
        ),
        "backward pass, layer 'c': δO1(2,2) = +∞",
    ),
    "activation-layer-forward": (
        dict(
            h=1,
            w=2,
            input="[[-1e10, 1]]",
            layers="  - {name: a, type: activation, activation: {name: leaky_relu, slope: 1e300}}\n"
            "  - {name: f, type: flatten}\n  - {name: d, weight: [[1, 1]], activation: identity}",
        ),
        "forward pass, layer 'a': ",
    ),
}


@pytest.mark.parametrize("case", sorted(OVERFLOWS))
def test_overflow_stops_the_run_on_both_paths_with_one_line(case: str, tmp_path: Any) -> None:
    fields, expected = OVERFLOWS[case]
    path = tmp_path / "net.yaml"
    path.write_text(FEATURE_NET.format(**{"target": 0, **fields}), encoding="utf-8")
    lines = []
    for args in (["--steps", "2"], ["--steps", "2", "--detail", "summary"], ["--steps", "2", "--detail", "layer"]):
        result = invoke("train", str(path), "--format", "text", *args)
        assert result.exit_code == 1, (args, result.output)
        assert ERROR_LINE.match(result.stderr) and result.stderr.count("\n") == 1, result.stderr
        assert "inf" not in result.stdout.replace("information", "")
        lines.append(result.stderr)
    assert lines[0] == lines[1] == lines[2]
    assert "step 1, " + expected in lines[0], lines[0]
    assert "logarithm" not in lines[0]  # mse takes none


def test_the_api_raises_the_same_error() -> None:
    fields, expected = OVERFLOWS["conv-kernel-gradient"]
    spec = spec_from(FEATURE_NET.format(**{"target": 0, **fields}))
    with pytest.raises(NumericalError, match="∂E/∂K1"):
        bpexplain.train(spec, steps=1)


def test_a_loss_without_a_logarithm_does_not_speak_of_one() -> None:
    spec = spec_from(
        "inputs: 1\nlayers:\n  - {name: out, activation: identity, weight: [[1e200]]}\n"
        "loss: mse\ndata:\n  - {input: [1], target: [0]}\n"
    )
    with pytest.raises(NumericalError) as caught:
        bpexplain.train(spec, steps=1)
    message = caught.value.message
    assert message.startswith("step 1, loss: E = +∞ (overflow)") and "logarithm" not in message


# ---- targets: what each loss's formulas assume of them -------------------------------------------------


def _classifier(output: str, loss: str, targets: list[str]) -> str:
    units = len(targets[0].strip("[]").split(","))
    weight = [[0.31, -0.52], [-0.41, 0.27], [0.15, 0.44]][:units]
    data = "\n".join(f"  - {{input: [{0.7 - i}, {0.4 * i - 0.2}], target: {t}}}" for i, t in enumerate(targets))
    return f"""
inputs: 2
layers:
  - {{name: h, activation: tanh, weight: [[0.3, -0.8], [0.55, 0.21]], bias: [0.1, -0.2]}}
  - {{name: out, activation: {output}, weight: {weight}, bias: {[0.07, -0.11, 0.2][:units]}}}
loss: {loss}
learning_rate: 0.3
data:
{data}
"""


@pytest.mark.parametrize(
    "output,loss,target,found",
    [
        ("softmax", "cross_entropy", "[1, 1, 0]", "cross_entropy's target sums to 2, not 1"),
        ("softmax", "cross_entropy", "[0.5, 0.25, 0.2]", "cross_entropy's target sums to 0.95, not 1"),
        ("softmax", "cross_entropy", "[1.5, -0.5, 0]", "cross_entropy's target has entry 2 = -0.5, below 0"),
        ("sigmoid", "cross_entropy", "[1, 1, 0]", "cross_entropy's target sums to 2, not 1"),
        ("sigmoid", "binary_cross_entropy", "[1.5, 0, 1]", "binary_cross_entropy's target has entry 1 = 1.5"),
        ("sigmoid", "binary_cross_entropy", "[0, -0.25, 1]", "binary_cross_entropy's target has entry 2 = -0.25"),
    ],
)
def test_a_target_the_loss_cannot_take_is_refused_where_it_is_written(
    output: str, loss: str, target: str, found: str
) -> None:
    text = _classifier(output, loss, ["[0, 1, 0]", "[1, 0, 0]", target])
    with pytest.raises(BpexplainError) as caught:
        spec_from(text)
    err = caught.value
    assert err.path == "data[2].target" and found in err.message, err.line()
    line = text.splitlines().index(next(s for s in text.splitlines() if target in s and "input: [-1.3" in s)) + 1
    assert err.where is not None and err.where.line == line
    assert err.exit_code == 2 and err.expected


def test_a_distribution_that_sums_to_1_only_up_to_rounding_is_accepted() -> None:
    thirds = "[0.3333333333, 0.3333333333, 0.3333333333]"  # sums to 0.9999999999
    text = (
        "inputs: 1\nlayers:\n  - {name: out, activation: softmax, units: 3}\nloss: cross_entropy\n"
        f"data:\n  - {{input: [1], target: {thirds}}}\n"
    )
    assert abs(spec_from(text).data[0].target.sum() - 1.0) > 1e-11
    with pytest.raises(BpexplainError, match="sums to 0.999999"):
        spec_from(text.replace("0.3333333333]", "0.333333]"))


# Every output activation with every loss it is allowed with, on targets that are not one-hot (soft labels,
# any real numbers for mse): the gradients the trace shows against central differences.
SOFT = {
    "mse": ["[-2, 3.5]", "[0.25, 0.5]"],
    "cross_entropy": ["[0.2, 0.7, 0.1]", "[0.5, 0, 0.5]"],
    "binary_cross_entropy": ["[0.3, 0.8]", "[1, 0.5]"],
}
ALLOWED = [
    (output, loss)
    for loss, outputs in {
        "mse": ("sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax"),
        "cross_entropy": ("softmax", "sigmoid"),
        "binary_cross_entropy": ("sigmoid",),
    }.items()
    for output in outputs
]


@pytest.mark.parametrize("notation", ["lecture", "textbook"])
@pytest.mark.parametrize("output,loss", ALLOWED, ids=[f"{o}-{loss}" for o, loss in ALLOWED])
def test_soft_targets_get_the_true_gradient(output: str, loss: str, notation: str) -> None:
    spec = spec_from(_classifier(output, loss, SOFT[loss]))
    assert_gradients_match(spec, notation=notation)
