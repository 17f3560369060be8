"""Test helpers: a central finite-difference gradient check and an evaluator for substituted trees.

Both are written independently of the engine's backward pass: the finite differences only call the
forward numerics and the loss, and the evaluator computes a printed equation from its numbers.
"""

from __future__ import annotations

import math

import numpy as np

from bpexplain.engine import RunOptions, _Run, run
from bpexplain.expr import Add, Call, Div, Expr, Mul, Name, Neg, Num, Pow, Sub
from bpexplain.functions import LOSSES
from bpexplain.spec import NetworkSpec, parse_network
from bpexplain.trace import StepEnd


def spec_from(text: str) -> NetworkSpec:
    return parse_network(text, "test.yaml")


def loss_at(spec: NetworkSpec, params: dict[str, dict[str, np.ndarray]], sample: int = 0) -> float:
    r = _Run(spec, RunOptions())
    r.params = params
    vals = r.forward(spec.data[sample].input, 1)
    return LOSSES[spec.loss].value(vals[-1].y, spec.data[sample].target)


def engine_gradients(spec: NetworkSpec, sample: int = 0, **options: object) -> dict[str, np.ndarray]:
    """The gradients the engine reports for one step on one sample (the first, unless `sample`)."""
    opts = RunOptions(command="train", steps=1, detail="full", **options)  # type: ignore[arg-type]
    r = _Run(spec, opts)
    gen = r.step(1, 1, (sample,))
    end = None
    try:
        while True:
            ev = next(gen)
            if isinstance(ev, StepEnd):
                end = ev
    except StopIteration:
        pass
    assert end is not None and end.gradients is not None
    return end.gradients


def finite_differences(spec: NetworkSpec, sample: int = 0, h: float = 1e-6) -> dict[str, np.ndarray]:
    base = {ls.name: {k: p.value.copy() for k, p in ls.params.items()} for ls in spec.layers}
    out = {}
    for layer, params in base.items():
        for pname, value in params.items():
            grad = np.zeros_like(value)
            for idx in np.ndindex(value.shape):
                plus = {ln: {k: v.copy() for k, v in ps.items()} for ln, ps in base.items()}
                minus = {ln: {k: v.copy() for k, v in ps.items()} for ln, ps in base.items()}
                plus[layer][pname][idx] += h
                minus[layer][pname][idx] -= h
                grad[idx] = (loss_at(spec, plus, sample) - loss_at(spec, minus, sample)) / (2 * h)
            out[f"{layer}.{pname}"] = grad
    return out


def assert_gradients_match(spec: NetworkSpec, rtol: float = 1e-6, atol: float = 1e-9, **options: object) -> None:
    for sample in range(len(spec.data)):
        got = engine_gradients(spec, sample, **options)
        want = finite_differences(spec, sample)
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_allclose(
                got[name], want[name], rtol=rtol, atol=atol, err_msg=f"{name}, sample {sample + 1}"
            )


FUNCTIONS = {
    "σ": lambda e: 1 / (1 + math.exp(-e)),
    "tanh": math.tanh,
    "ReLU": lambda e: max(e, 0.0),
    "ReLU'": lambda e: 1.0 if e > 0 else 0.0,
    "id": lambda e: e,
    "exp": math.exp,
    "ln": math.log,
    "max": max,
}


def evaluate(node: Expr, functions: dict | None = None) -> float:
    """The value of a substituted tree (numbers only), computed from the tree itself."""
    fns = dict(FUNCTIONS, **(functions or {}))
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Add):
        return sum(evaluate(t, fns) for t in node.terms)
    if isinstance(node, Sub):
        return evaluate(node.left, fns) - evaluate(node.right, fns)
    if isinstance(node, Mul):
        return math.prod(evaluate(f, fns) for f in node.factors)
    if isinstance(node, Div):
        return evaluate(node.numerator, fns) / evaluate(node.denominator, fns)
    if isinstance(node, Neg):
        return -evaluate(node.operand, fns)
    if isinstance(node, Pow):
        return evaluate(node.base, fns) ** evaluate(node.exponent, fns)
    if isinstance(node, Call):
        assert isinstance(node.func, Name), node
        return fns[node.func.text](*[evaluate(a, fns) for a in node.args])
    raise TypeError(f"cannot evaluate {node!r}")


def all_events(spec: NetworkSpec, **options: object) -> list:
    return list(run(spec, RunOptions(**options)))  # type: ignore[arg-type]


# Networks whose numbers go wrong, for the tests of numerical errors.
OVERFLOW = """\
inputs: 2
layers:
  - name: h
    activation: sigmoid
    weight: [[1.0e200, 1.0], [0.3, 0.4]]
  - name: out
    weight: [[0.5, 0.6]]
data:
  - {input: [1.0e200, 0], target: [1]}
"""

DIVERGING = """\
inputs: 1
layers:
  - name: out
    weight: [[1.0]]
learning_rate: 10
data:
  - {input: [3], target: [1]}
"""


def batch_args(network: str | NetworkSpec) -> tuple[str, ...]:
    """`--batch full` for a network with a layer that normalises over the batch (it refuses anything else)."""
    from bpexplain.layers import layer_class
    from bpexplain.spec import load_network

    spec = load_network(network) if isinstance(network, str) else network
    return ("--batch", "full") if any(layer_class(ls.type).batch_coupled for ls in spec.layers) else ()


def refuses_round(network: str | NetworkSpec) -> bool:
    """Does a layer of the network compute values --round cannot reach (it then refuses --round)?"""
    from bpexplain.layers import layer_class
    from bpexplain.spec import load_network

    spec = load_network(network) if isinstance(network, str) else network
    return any(layer_class(ls.type).unrounded for ls in spec.layers)
