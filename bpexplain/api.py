"""The Python API: the same runs as the CLI, returned as a `Trace` to inspect, render or serialise.

Every option is a typed keyword argument with the CLI's default, so an editor completes and checks
them; values are validated as the CLI's are.
"""

from __future__ import annotations

from typing import Literal, get_args

from .engine import run
from .options import RunOptions
from .spec import NetworkSpec, load_network, parse_network
from .trace import Trace

Notation = Literal["lecture", "textbook"]
Detail = Literal["full", "layer", "summary"]
Preamble = Literal["full", "short", "none"]


CHOICES = {
    "notation": get_args(Notation),
    "detail": get_args(Detail),
    "preamble": get_args(Preamble),
    "rule": ("exact", "slide"),
    "update_order": ("simultaneous", "sequential"),
    "batch": ("single", "full"),
}


def _checked(options: RunOptions) -> RunOptions:
    """`options`, once every choice is one the CLI offers and every count is positive."""
    for name, allowed in CHOICES.items():
        if getattr(options, name) not in allowed:
            raise ValueError(f"{name}={getattr(options, name)!r}: expected one of {', '.join(allowed)}")
    for name in ("steps", "epochs", "sample", "precision"):
        value = getattr(options, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}={value!r}: expected a whole number of at least 1")
    return options


def load(network: str | NetworkSpec) -> NetworkSpec:
    """A bundled network by short name, a path to a YAML file, or YAML text (if it has a newline)."""
    if isinstance(network, NetworkSpec):
        return network
    if "\n" in network:
        return parse_network(network, "<text>")
    return load_network(network)


def forward(
    network: str | NetworkSpec,
    *,
    sample: int = 1,
    notation: Notation = "lecture",
    detail: Detail = "full",
    precision: int = 4,
    round: int | None = None,
    preamble: Preamble = "full",
    max_equations: int | None = None,
) -> Trace:
    """The forward pass of one sample (1-based `sample`) as a Trace: every e_n and y_n, and the loss."""
    options = RunOptions(
        command="forward",
        sample=sample,
        notation=notation,
        detail=detail,
        precision=precision,
        round=round,
        preamble=preamble,
        max_equations=max_equations,
    )
    return Trace(run(load(network), _checked(options)))


def train(
    network: str | NetworkSpec,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    notation: Notation = "lecture",
    rule: Literal["exact", "slide"] = "exact",
    update_order: Literal["simultaneous", "sequential"] = "simultaneous",
    batch: Literal["single", "full"] = "single",
    shuffle: bool = False,
    seed: int = 0,
    until_loss: float | None = None,
    detail: Detail = "full",
    precision: int = 4,
    round: int | None = None,
    preamble: Preamble = "full",
    max_equations: int | None = None,
) -> Trace:
    """Training steps (Algorithm 2) as a Trace: forward, loss, errors, gradients and updates of each step.

    `steps` (default 1) or `epochs`; the other options are those of `bpexplain train`."""
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both")
    options = RunOptions(
        command="train",
        steps=steps,
        epochs=epochs,
        notation=notation,
        rule=rule,
        update_order=update_order,
        batch=batch,
        shuffle=shuffle,
        seed=seed,
        until_loss=until_loss,
        detail=detail,
        precision=precision,
        round=round,
        preamble=preamble,
        max_equations=max_equations,
    )
    return Trace(run(load(network), _checked(options)))
