"""How big a full trace would be, estimated before the run, so that a huge one is refused at once.

A full trace (`--detail full`) writes every equation: per sample, about two per unit forward (the
weighted sum and the activation) and two per unit backward (δ and ∂E/∂e), one for the loss, and per
step one gradient and one update per parameter. The estimate is within a few percent of the real
count for the bundled networks (LeNet-5: 157,389 estimated, 153,427 written for one step).
The limit is on one step, `RunOptions.max_equations` (`--max-equations`, 0 for none). The sizes of the network
itself (parameters, units, file size, YAML nesting) are limited where it is read: see `spec.py`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .errors import BpexplainError, Location

if TYPE_CHECKING:
    from .engine import RunOptions
    from .spec import NetworkSpec

MAX_EQUATIONS = 500_000  # a step; at about 10,000-50,000 equations a second, under a minute


def estimated_equations(spec: NetworkSpec, opts: RunOptions) -> tuple[int, int]:
    """(equations in the whole run, steps it runs at most), for --detail full."""
    units = sum(math.prod(layer.out_shape) for layer in spec.layers)
    params = sum(int(v.size) for v in spec.parameters().values())
    per_sample = 4 * units + 1
    n = max(len(spec.data), 1)
    if opts.command == "forward":
        return per_sample, 1
    batch = n if opts.batch == "full" else 1
    if opts.epochs is not None:
        steps = opts.epochs * (1 if opts.batch == "full" else n)
    else:
        steps = opts.steps if opts.steps is not None else 1
    return steps * (batch * (per_sample + params) + params), steps


def check_trace_size(spec: NetworkSpec, opts: RunOptions) -> None:
    """Refuse a network whose full trace would be too long for one step (many short steps are fine:
    the trace is written as it is computed, and Ctrl-C stops it)."""
    limit = getattr(opts, "max_equations", MAX_EQUATIONS)
    if opts.detail != "full" or not limit:
        return
    total, steps = estimated_equations(spec, opts)
    per_step = math.ceil(total / steps)
    if per_step > limit:
        raise BpexplainError(
            f"a full trace of this network would write about {per_step:,} equations a step, more than "
            f"--max-equations {limit:,}",
            where=Location(spec.source),
            expected="a smaller network, --detail layer or summary, or a larger --max-equations (0: none)",
        )
