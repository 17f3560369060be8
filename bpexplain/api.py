"""The Python API: the same runs as the CLI, returned as a `Trace` to inspect, render or serialise."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .engine import RunOptions, run
from .spec import NetworkSpec, load_network, parse_network
from .trace import Trace


def load(network: str | NetworkSpec) -> NetworkSpec:
    """A bundled network by short name, a path to a YAML file, or YAML text (if it has a newline)."""
    if isinstance(network, NetworkSpec):
        return network
    if "\n" in network:
        return parse_network(network, "<text>")
    return load_network(network)


def _options(command: str, kwargs: dict[str, Any]) -> RunOptions:
    known = {f.name for f in fields(RunOptions)}
    unknown = set(kwargs) - known
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return RunOptions(command=command, **kwargs)


def forward(network: str | NetworkSpec, **options: Any) -> Trace:
    """The forward pass of one sample (`sample=1`), as a Trace."""
    return Trace(run(load(network), _options("forward", options)))


def train(network: str | NetworkSpec, **options: Any) -> Trace:
    """Training steps (`steps=`, `epochs=`, `notation=`, `rule=`, ...), as a Trace."""
    return Trace(run(load(network), _options("train", options)))
