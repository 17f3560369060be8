"""The command line: a click group with one small function per command. The only module that prints.

Heavy modules (numpy, rich, the engine) are imported inside the commands, so `--help` and
`--version` stay instant.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from . import __version__
from .commands.tools import complete_network

FORMAT_CHOICES = ("auto", "text", "rich", "json", "markdown", "latex", "html", "svg")
VIEW_KEYS = ("output", "latex_body", "step", "steps_shown", "layer", "only")
EXIT_OK, EXIT_NUMERICAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _set_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Change one value of the network for this run (repeatable): learning_rate=0.1, "
        "layers.hidden.weight=[[...]], data[0].input=[...]. Checked as if written in the file.",
    )(f)


def _common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMAT_CHOICES),
            default="auto",
            show_default=True,
            help="Output format; auto is rich in a terminal and plain text when piped.",
        ),
        click.option(
            "--precision",
            type=click.IntRange(1, 17),
            default=4,
            show_default=True,
            help="Significant digits shown (JSON values always keep full float64).",
        ),
        click.option(
            "--detail",
            type=click.Choice(("full", "layer", "summary")),
            default="full",
            show_default=True,
            help="full: every equation; layer: the vectors of each layer; summary: loss and weights per step.",
        ),
        click.option(
            "--notation",
            type=click.Choice(("lecture", "textbook")),
            default="lecture",
            show_default=True,
            help="lecture: δ_n = ∂E/∂y_n (the slides'); textbook: δ_n = ∂E/∂e_n.",
        ),
        click.option(
            "--max-terms",
            type=click.IntRange(2, None),
            default=8,
            show_default=True,
            help="Longest sum shown in full; longer ones are shortened in the middle (JSON keeps all).",
        ),
        click.option(
            "--max-equations",
            type=click.IntRange(0, None),
            help="Refuse at once a full trace of more equations a step (a run, for html and svg); "
            "0: no limit. Default: the format's limit (500,000 a step for text; see docs/errors.md).",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, writable=True),
            help="Write to FILE (atomically: nothing is left if the run fails); the format follows "
            "the extension (.md .tex .json .txt .html .svg) unless --format is given.",
        ),
        click.option(
            "--latex-body",
            is_flag=True,
            help="With --format latex: a fragment to paste into a "
            "document (which needs amsmath), not a complete document.",
        ),
        click.option(
            "--step",
            "step",
            metavar="N",
            help="Show only step N (or steps such as 1,3-5); without --steps, runs as many steps as that needs.",
        ),
        click.option("--steps-shown", metavar="LIST", help="Steps to show, such as 1,3-5 (same as --step)."),
        click.option(
            "--layer",
            multiple=True,
            metavar="NAME",
            help="Show only the blocks of this layer (repeatable, or comma-separated).",
        ),
        click.option(
            "--only",
            metavar="PHASES",
            help="Show only these phases: a comma-separated choice of forward,loss,error,gradient,update.",
        ),
        click.option(
            "--round",
            "round",
            type=click.IntRange(0, 12),
            metavar="N",
            help="Round every value to N decimals as it is computed and carry the rounded value on, "
            "as by hand; the drift from exact float64 is reported at the end.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  bpexplain list                          the bundled networks
  bpexplain forward lecture               the lecture's 2-3-2-1 network, forward
  bpexplain train lecture --steps 5       five training steps, every equation
  bpexplain train my-net.yaml > key.txt   a plain-text answer key
  bpexplain train xor --epochs 2000 --detail summary
""",
)
@click.version_option(__version__, "-V", "--version", prog_name="bpexplain")
def cli() -> None:
    """Worked back-propagation: every forward, error, gradient and update equation of a network
    written in YAML, symbolic, then with numbers, then its value.

    NET is a bundled network's name (see `bpexplain list`) or a path to a YAML file.
    """


@cli.command(
    epilog="""\b
Examples:
  bpexplain forward lecture
  bpexplain forward xor --sample 3 --format json
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option(
    "--sample",
    type=click.IntRange(1, None),
    default=1,
    show_default=True,
    help="Which sample of the network's data to feed forward.",
)
@_set_option
@_common_options
def forward(net: str, sample: int, sets: tuple[str, ...], **common: Any) -> None:
    """The forward pass of one sample: every weighted sum and activation (and the loss, with a target)."""
    _run(net, "forward", dict(sample=sample), common, sets)


@cli.command(
    epilog="""\b
Examples:
  bpexplain train lecture --steps 5
  bpexplain train lecture --rule slide               the slides' shortcut, departures marked
  bpexplain train lecture --notation textbook        δ_n = ∂E/∂e_n
  bpexplain train xor --epochs 3000 --shuffle --until-loss 0.01 --detail summary
  bpexplain train classifier --batch full --steps 2 --format json
  bpexplain train xor --epochs 2000 --detail summary --plot loss.png
  bpexplain train lecture --set learning_rate=0.1 --set data[0].target=[0]
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option(
    "--steps",
    type=click.IntRange(1, None),
    help="Training steps, one sample each, cycling through the data (default 1).",
)
@click.option("--epochs", type=click.IntRange(1, None), help="Passes over the whole data (instead of --steps).")
@click.option(
    "--batch",
    type=click.Choice(("single", "full")),
    default="single",
    show_default=True,
    help="single: one sample a step (Algorithm 2); full: batch gradient descent with averaged gradients.",
)
@click.option(
    "--shuffle/--no-shuffle",
    default=False,
    show_default=True,
    help="Reorder the samples every epoch (Algorithm 2, line 3).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --shuffle.")
@click.option(
    "--until-loss", type=float, help="Stop once the loss (with --epochs, an epoch's mean loss) is at most this."
)
@click.option(
    "--rule",
    type=click.Choice(("exact", "slide")),
    default="exact",
    show_default=True,
    help="exact: the chain rule; slide: the slides' δ_m = Σ w_mn·δ_n, departures marked.",
)
@click.option(
    "--update-order",
    type=click.Choice(("simultaneous", "sequential")),
    default="simultaneous",
    show_default=True,
    help="sequential updates each layer before the error goes back through it.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Also draw the loss of every step (and each epoch's mean, with --epochs) to FILE.png or "
    "FILE.svg; needs matplotlib: pip install 'bpexplain[plot]'.",
)
@_set_option
@_common_options
def train(
    net: str, steps: int | None, epochs: int | None, plot: str | None, sets: tuple[str, ...], **options: Any
) -> None:
    """Training steps: forward, loss, errors (δ) from the output back, gradients, updates."""
    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    common = {k: options.pop(k) for k in ("fmt", "precision", "detail", "notation", "max_terms")}
    _run(net, "train", dict(steps=steps, epochs=epochs, **options), common, sets, plot)


@cli.command(
    epilog="""\b
Examples:
  bpexplain show lecture
  bpexplain show my-net.yaml --format json
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True)
@click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True)
@click.option("--notation", type=click.Choice(("lecture", "textbook")), default="lecture", show_default=True)
def show(net: str, fmt: str, precision: int, notation: str) -> None:
    """The network: layers, shapes, parameters and the notation's legend."""

    def events() -> Iterable[Any]:
        from .engine import RunOptions, describe
        from .spec import load_network

        yield describe(load_network(net), RunOptions(command="show", notation=notation, precision=precision))

    _emit(events, fmt, dict(precision=precision))


@cli.command(
    epilog="""\b
Examples:
  bpexplain check lecture
  bpexplain check my-net.yaml --sample 2 --format json
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option(
    "--sample",
    type=click.IntRange(1, None),
    help="Check the loss of this sample (default: the mean loss over all samples).",
)
@click.option("--format", "fmt", type=click.Choice(("auto", "text", "rich", "json")), default="auto", show_default=True)
@click.option("--precision", type=click.IntRange(1, 17), default=8, show_default=True)
@click.option(
    "--limit",
    type=click.IntRange(1, None),
    help="Check at most N elements of each parameter, spread evenly (for large networks).",
)
@click.option(
    "--max-evaluations",
    type=click.IntRange(0, None),
    default=20_000,
    show_default=True,
    help="Refuse a check that would take more forward passes than this (2 per element and sample; 0: no limit).",
)
def check(net: str, sample: int | None, fmt: str, precision: int, limit: int | None, max_evaluations: int) -> None:
    """Every parameter's back-propagated gradient beside a central finite difference; exit 1 if any disagree
    (not for a kink: a ReLU at 0 or a max-pool tie, where the two need not agree)."""
    failed = []

    def body() -> None:
        from .check import check_gradients
        from .render import check as view
        from .spec import load_network

        spec = load_network(net)
        if sys.stderr.isatty():  # a bar on stderr once the check has run for a second; nothing when redirected
            with view.LazyProgress() as progress:
                result = check_gradients(spec, sample, limit=limit, max_evaluations=max_evaluations, progress=progress)
        else:
            result = check_gradients(spec, sample, limit=limit, max_evaluations=max_evaluations)
        chosen = fmt if fmt != "auto" else ("rich" if _stdout_is_terminal() else "text")
        if chosen == "json":
            click.echo(view.to_json(result))
        elif chosen == "rich":
            from rich.console import Console

            Console().print(view.rich_view(result, precision))
        else:
            click.echo(view.text(result, precision), nl=False)
        failed.append(not result.ok)

    _guard(body)
    if any(failed):
        sys.exit(EXIT_NUMERICAL)


@cli.command(
    "list",
    epilog="""\b
Example:
  bpexplain list
""",
)
def list_networks() -> None:
    """The bundled networks, with their titles."""

    def body() -> None:
        from .spec import bundled_names, load_network

        names = bundled_names()
        width = max(len(n) for n in names)
        for name in names:
            click.echo(f"{name.ljust(width)}  {load_network(name).title}")

    _guard(body)


def _add_module_commands() -> None:
    """The commands defined in `bpexplain/commands/` (see its COMMAND_MODULES)."""
    from importlib import import_module

    from .commands import COMMAND_MODULES

    for module_name, names in COMMAND_MODULES.items():
        module = import_module(f".commands.{module_name}", __package__)
        for name in names:
            cli.add_command(getattr(module, name))


_add_module_commands()


# ------------------------------------------------------------------------------------------------


def _run(
    net: str,
    command: str,
    run_options: dict[str, Any],
    common: dict[str, Any],
    sets: tuple[str, ...] = (),
    plot: str | None = None,
) -> None:
    fmt = common.pop("fmt")
    max_terms = common.pop("max_terms")
    view = {k: common.pop(k) if k in common else run_options.pop(k) for k in VIEW_KEYS}
    fmt = _chosen_format(fmt, view["output"])  # the trace-size guard weighs the format's cost (limits.py)
    event_filter = _event_filter(view)
    shown = event_filter.steps if event_filter is not None else None
    if command == "train" and shown:
        if run_options.get("steps") is None and run_options.get("epochs") is None:
            run_options["steps"] = max(shown)
        elif run_options.get("steps") is not None and max(shown) > run_options["steps"]:
            raise click.UsageError(f"--step {max(shown)} is beyond --steps {run_options['steps']}")

    losses: Any = None  # with --plot: the loss of every step, recorded as the events pass

    def events() -> Iterable[Any]:
        nonlocal losses
        from .engine import RunOptions, run
        from .spec import load_network

        if plot is not None:
            from .pictures import picture_format, require_matplotlib

            picture_format(plot)  # both checked before the run, not after it
            require_matplotlib()
        spec = load_network(net, sets)
        summary_steps = None
        if fmt in ("text", "markdown", "latex") and common["detail"] == "summary" and event_filter is None:
            from .render.common import SummaryTable  # these formats show only its steps' parameters

            summary_steps = (SummaryTable.head, SummaryTable.tail)
        options = RunOptions(command=command, output_format=fmt, summary_steps=summary_steps, **common, **run_options)
        stream = run(spec, options)
        if plot is None:
            return stream
        from .plot import LossRecorder

        losses = LossRecorder(by_epoch=run_options.get("epochs") is not None)
        return losses.watch(stream)

    _emit(
        events,
        fmt,
        dict(precision=common["precision"], max_terms=max_terms),
        view["output"],
        view["latex_body"],
        event_filter,
    )
    if plot is not None and losses is not None:
        from .plot import draw_losses

        _guard(lambda: draw_losses(losses, plot))


def _event_filter(view: dict[str, Any]) -> Any:
    """The --step/--steps-shown/--layer/--only filter, or None when none is given."""
    if not (view["step"] or view["steps_shown"] or view["layer"] or view["only"]):
        return None
    from .filters import EventFilter, parse_layers, parse_phases, parse_steps

    try:
        steps = None
        for option in ("step", "steps_shown"):
            if view[option]:
                steps = (steps or frozenset()) | parse_steps(view[option])
        phases = parse_phases(view["only"]) if view["only"] else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return EventFilter(steps, parse_layers(view["layer"]), phases)


def _emit(
    make_events: Callable[[], Iterable[Any]],
    fmt: str,
    options: dict[str, Any],
    output: str | None = None,
    latex_body: bool = False,
    event_filter: Any = None,
) -> None:
    chosen = _chosen_format(fmt, output)
    if latex_body and chosen != "latex":
        raise click.UsageError("--latex-body goes with --format latex (or -o FILE.tex)")

    def body() -> None:
        from .render import render_stream

        if chosen == "json":
            options.pop("max_terms", None)
        if latex_body:
            options["body_only"] = True
        events = iter(make_events())
        first = next(events)  # validation errors surface before anything is written
        stream: Iterable[Any] = itertools.chain((first,), events)
        if event_filter is not None:
            stream = event_filter.apply(stream)
        if output is None:
            render_stream(stream, chosen, sys.stdout, **options)
            sys.stdout.flush()
            return
        from .output import atomic_output

        with atomic_output(output) as out:
            if chosen == "rich":
                from rich.console import Console

                options["console"] = Console(file=out, width=120)
            render_stream(stream, chosen, out, **options)

    _guard(body)


def _chosen_format(fmt: str, output: str | None) -> str:
    """The format `auto` stands for: the extension of -o FILE, else rich in a terminal and text when piped."""
    if fmt != "auto":
        return fmt
    if output is not None:
        from .output import format_for

        return format_for(output) or "text"
    return "rich" if _stdout_is_terminal() else "text"


def _stdout_is_terminal() -> bool:
    # Rich answers yes only for a tty, TTY_COMPATIBLE=1 or a non-empty FORCE_COLOR: when none of
    # them holds, skip importing rich.console (a sizeable part of start-up when piped).
    if not (os.environ.get("TTY_COMPATIBLE") or os.environ.get("FORCE_COLOR") or _isatty()):
        return False
    from rich.console import Console

    return Console().is_terminal


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (ValueError, AttributeError):
        return False


def _guard(body: Callable[[], None]) -> None:
    """Run a command body; turn every failure a user can meet into one line and an exit status."""
    from .errors import BpexplainError

    try:
        body()
    except BpexplainError as exc:
        _flush_quietly()
        click.echo(f"error: {exc.line()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except SystemExit as exc:
        # rich meets a broken pipe by pointing stdout at /dev/null and exiting 1: the same quiet end, status 0
        if exc.code == 1 and _stdout_is_devnull():
            sys.exit(EXIT_OK)
        raise


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def main() -> None:
    # Start-up makes tens of thousands of objects that live until the process ends (numpy's, ours): the
    # cycle collector, which scans the young ones every 700 new objects, finds nothing in them, and that
    # is 1-2 ms of start-up. So it runs as rarely as render_stream has it run while a trace is written.
    gc.set_threshold(100_000, 50, 100)
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
