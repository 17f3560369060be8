"""Every limit in one place, each checked before the work it protects, so that a hostile file is refused at once.

Two kinds. The sizes a network file may ask for (the file itself, its YAML, the input, each layer's numbers,
the parameters, the values and products of one forward pass, the data) are checked as they are read, by
`yamldoc.py` (the file and its YAML), `reader.py` (the parameters and products), `spec.py` and the layers'
`read_spec`, before anything of that size is built: an array, a list of names, random weights, a loop over
the elements.

The size of a full trace (`--detail full`) is estimated before the run and checked against the budget of
the output format. A full trace writes every equation: per sample, about two per unit forward (the
weighted sum and the activation) and two per unit backward (δ and ∂E/∂e), one for the loss, and per
step one gradient and one update per parameter. The estimate is within a few percent of the real
count for the bundled networks (LeNet-5: 157,389 estimated, 153,427 written for one step). Formats
written as they are computed (text, markdown, latex, json, rich) are limited per step: many short steps
are fine, Ctrl-C stops them. An HTML page is held whole by the browser that opens it, and SVG is rich's
export of a recording console, which holds the whole run until the end: they are limited on the whole run,
and much lower. The tables of window positions a
full trace of a convolution or pooling layer keeps are weighed too. `--max-equations N` replaces the
format's limit; 0 lifts every trace limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .errors import BpexplainError, Location
from .record import Record

# ---- what a network file may ask for (yamldoc.py, reader.py, spec.py, layers/*.py read_spec) -----------

MAX_FILE_BYTES = 2_000_000  # the network file, checked before it is read
MAX_DEPTH = 64  # YAML nesting
MAX_NODES = 200_000  # YAML values, counting what aliases expand to ("billion laughs")
MAX_SIZE = 100_000  # any one size: units, a side or the channels of the input, channels, kernel rows or
#                     columns, stride, padding, dilation, a pooling window or its stride
MAX_INPUTS = 1_000_000  # values of one input: the count, or the product of {shape: [c, h, w]}
MAX_PARAMETERS = 2_000_000  # weights and biases of the whole network
MAX_UNITS = 2_000_000  # values computed in one forward pass (the sum of every layer's output size)
MAX_CONNECTIONS = 20_000_000  # products and window terms of one forward pass (Σ units × inputs each reads)
MAX_SAMPLES = 10_000  # items of `data`
MAX_DATA_VALUES = 2_000_000  # samples × (input values + output values): what the data holds, targets filled in
MAX_DECIMALS = 12  # init.decimals, the decimals random weights keep (as --round)
MAX_SEED = 2**63 - 1  # seed, init.seed

# ---- the size of a full trace, per output format ----------------------------------------------------------


class FormatCost(Record):
    """What one equation of a full trace costs in a format (measured: see below), and the format's limit."""

    __slots__ = __match_args__ = ("seconds", "kilobytes", "held_whole", "limit")

    def __init__(self, seconds: float, kilobytes: float, held_whole: bool, limit: int) -> None:
        self.seconds: Final = seconds  # to compute and write one equation (one core, idle machine)
        self.kilobytes: Final = kilobytes  # written per equation; for a format held whole, peak memory per equation
        self.held_whole: Final = held_whole  # the whole run is held in memory until the end (rich's export)
        self.limit: Final = limit  # equations allowed by default: a step, or the whole run when held whole


# Budgets: a streamed format may take STEP_SECONDS a step (it is written as it is computed, and Ctrl-C stops
# it), and never more than MAX_EQUATIONS; a format held whole may take HELD_MEGABYTES of memory in all.
MAX_EQUATIONS = 500_000  # a step of text, markdown, latex and json; a trace made through the API
STEP_SECONDS = 300
HELD_MEGABYTES = 256

# Measured with `/usr/bin/time -f "%U %M"` and `train NET.yaml -o FILE --max-equations 0`, less the same run
# with --detail summary: a dense 100-150-30 network (39,721 equations a step) for text, markdown, latex and
# json (and html's seconds); a 40-60-10 one (6,281) for rich and svg. Each limit is min(MAX_EQUATIONS, budget / cost),
# rounded down; tests/test_bounds.py checks that every limit keeps within its budget, and
# benchmarks/format_costs.py measures the costs again.
FORMAT_COSTS: dict[str, FormatCost] = {
    "text": FormatCost(0.000_045, 0.12, False, MAX_EQUATIONS),  # 22 s and 57 MB for 500,000
    "markdown": FormatCost(0.000_060, 0.17, False, MAX_EQUATIONS),
    "latex": FormatCost(0.000_105, 0.18, False, MAX_EQUATIONS),  # 53 s
    "json": FormatCost(0.000_050, 0.25, False, MAX_EQUATIONS),  # every term of every sum: the largest file
    # rich: 36 µs (into a file, 80 columns; the fastest of 7 runs); a LeNet-5 step (157,389) is some 6 s of it. Its
    # limit stays 160,000, set when an equation cost 1.8 ms (by the rule above it would now be MAX_EQUATIONS)
    "rich": FormatCost(0.000_036, 0.15, False, 160_000),
    # written as it comes (render.page), but a browser holds the page whole: kilobytes are the page's per equation
    # (LeNet-5's full step: 0.6), and the limit a page a browser opens in seconds (LeNet-5's forward pass, 15,013
    # equations, 14 MB: under 10 s in headless Chromium on a busy machine)
    "html": FormatCost(0.000_065, 0.6, True, 50_000),
    # the terminal view's coloured lines written by render/svg.py, a <text> a line (no rich export), the picture
    # held whole: kilobytes are peak memory per equation (the file's are 0.41). benchmarks/format_costs.py: 35 µs
    # and 2.9 kB; beside the writer of rich's document (an element a piece, 93 µs and 6.3 kB here), interleaved,
    # 26 µs against 43, so 55 µs on the scale of the entries above. The limit is not the budget's (88,000): it is
    # what a browser still opens, 16,000 (a 6 MB picture; headless Chromium took 64 s to draw it on a busy
    # machine, 93 s for rich's 30 MB document of the same run, and 175 s for 40,000 equations)
    "svg": FormatCost(0.000_055, 2.9, True, 16_000),
}


if TYPE_CHECKING:  # what the budget reads, for mypy only: making a Protocol class costs time at every start-up
    from typing import Protocol

    class LayerSize(Protocol):
        """What the trace budget reads of a layer (`spec.LayerSpec` has it)."""

        @property
        def type(self) -> str: ...
        @property
        def out_shape(self) -> tuple[int, ...]: ...
        @property
        def options(self) -> Mapping[str, Any]: ...

    class NetworkSize(Protocol):
        """What the trace budget reads of a network (`spec.NetworkSpec` has it): limits.py imports no spec, which
        imports these limits, so that the limits stay a leaf below the reading of a file and the running of it."""

        @property
        def source(self) -> str: ...
        @property
        def layers(self) -> Sequence[LayerSize]: ...
        @property
        def data(self) -> Sequence[object]: ...
        def parameters(self) -> Mapping[str, Any]: ...

    class TraceRequest(Protocol):
        """What the trace budget reads of a run's options (`options.RunOptions` has it): limits.py imports no options,
        so that options.py may import the limits without a circle."""

        @property
        def command(self) -> str: ...
        @property
        def steps(self) -> int | None: ...
        @property
        def epochs(self) -> int | None: ...
        @property
        def batch(self) -> str: ...
        @property
        def detail(self) -> str: ...
        @property
        def output_format(self) -> str: ...
        @property
        def max_equations(self) -> int | None: ...


def estimated_equations(
    spec: NetworkSize, opts: TraceRequest, per_layer: Sequence[int] | None = None
) -> tuple[int, int]:
    """(equations in the whole run, steps it runs at most), for --detail full. `per_layer`: each layer's
    equations a sample, as its kind counts them (`Layer.trace_equations`); four a unit where not given."""
    if per_layer is None:
        per_layer = [4 * math.prod(layer.out_shape) for layer in spec.layers]
    params = sum(int(v.size) for v in spec.parameters().values())
    per_sample = sum(per_layer) + 1
    n = max(len(spec.data), 1)
    if opts.command == "forward":
        return per_sample, 1
    batch = n if opts.batch == "full" else 1
    if opts.epochs is not None:
        steps = opts.epochs * (1 if opts.batch == "full" else n)
    else:
        steps = opts.steps if opts.steps is not None else 1
    return steps * (batch * (per_sample + params) + params), steps


# A full trace of a convolution or a pooling layer first makes tables of which input element each window
# position reads (layers/conv.py `tables`, layers/pool.py `fields`), kept for the whole run in every format.
# Measured as above (forward, text): a 15×15 kernel on a 75×75 map (837,225 taps) and a 10×10 max-pooling
# window at stride 1 on a 100×100 map (828,100 entries).
TAP_KILOBYTES = 0.77  # a convolution tap: an output position and a kernel entry (three tables hold it)
WINDOW_KILOBYTES = 0.17  # an element of a pooling window
TABLE_MEGABYTES = 256


def window_tables(spec: NetworkSize) -> tuple[int, int]:
    """(convolution taps, pooling window elements) whose tables a full trace of `spec` makes."""
    taps = entries = 0
    for layer in spec.layers:
        if layer.type == "conv2d":
            kh, kw = layer.options["kernel_size"]
            taps += layer.out_shape[1] * layer.out_shape[2] * kh * kw
        elif layer.type in ("maxpool", "avgpool"):
            size = layer.options["size"]
            rows, cols = (size, size) if isinstance(size, int) else size
            entries += math.prod(layer.out_shape) * rows * cols
    return taps, entries


def format_limit(fmt: str, max_equations: int | None) -> int:
    """The equations allowed in `fmt`: --max-equations when given (0: none), else the format's own limit."""
    if max_equations is not None:
        return max_equations
    return FORMAT_COSTS.get(fmt, FORMAT_COSTS["text"]).limit


def check_trace_size(spec: NetworkSize, opts: TraceRequest, per_layer: Sequence[int] | None = None) -> None:
    """Refuse, before any output, a full trace larger than its format's budget: a step of a streamed format,
    the whole run of one held in memory (HTML, SVG)."""
    fmt = getattr(opts, "output_format", "text")
    given = getattr(opts, "max_equations", None)
    limit = format_limit(fmt, given)
    if opts.detail != "full" or not limit:
        return
    taps, entries = window_tables(spec)
    table_mb = (taps * TAP_KILOBYTES + entries * WINDOW_KILOBYTES) / 1000
    if table_mb > TABLE_MEGABYTES:
        raise BpexplainError(
            f"a full trace of this network keeps tables of its windows ({taps:,} convolution taps, {entries:,} "
            f"pooling elements) of about {table_mb:,.0f} MB, more than {TABLE_MEGABYTES} MB",
            where=Location(spec.source),
            expected="smaller maps or kernels, --detail layer or summary, or --max-equations 0 (no limit)",
        )
    cost = FORMAT_COSTS.get(fmt, FORMAT_COSTS["text"])
    total, steps = estimated_equations(spec, opts, per_layer)
    count = total if cost.held_whole else math.ceil(total / steps)
    if count <= limit:
        return
    what = "in all" if cost.held_whole else "a step"
    size = f"{max(count * cost.kilobytes / 1000, 1):,.0f} MB {'of memory' if cost.held_whole else 'of output'}"
    bound = f"--max-equations {limit:,}" if given is not None else f"the limit of {fmt}, {limit:,} {what}"
    raise BpexplainError(
        f"a full trace of this network in {fmt} would write about {count:,} equations {what} "
        f"(about {size} and {_duration(count * cost.seconds)}), more than {bound}",
        where=Location(spec.source),
        expected="a smaller network, "
        + ("fewer steps, " if cost.held_whole else "")
        + "--detail layer or summary, another format, or --max-equations N to change the limit (0: none)",
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:,.1f} hours"
