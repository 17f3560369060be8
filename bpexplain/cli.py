"""The command line: a click group with one small function per command. The only module that prints.

Heavy modules (numpy, rich, the engine) are imported inside the commands, so `--help` and
`--version` stay instant.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from . import __version__

FORMAT_CHOICES = ("auto", "text", "rich", "json")
EXIT_OK, EXIT_NUMERICAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
                     help="Output format; auto is rich in a terminal and plain text when piped."),
        click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True,
                     help="Decimals shown (JSON values always keep full float64)."),
        click.option("--detail", type=click.Choice(("full", "layer", "summary")), default="full", show_default=True,
                     help="full: every equation; layer: the vectors of each layer; summary: loss and weights "
                          "per step."),
        click.option("--notation", type=click.Choice(("lecture", "textbook")), default="lecture", show_default=True,
                     help="lecture: δ_n = ∂E/∂y_n (the slides'); textbook: δ_n = ∂E/∂e_n."),
        click.option("--max-terms", type=click.IntRange(2, None), default=8, show_default=True,
                     help="Longest sum shown in full; longer ones are shortened in the middle (JSON keeps all)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="""\b
Examples:
  bpexplain list                          the bundled networks
  bpexplain forward lecture               the lecture's 2-3-2-1 network, forward
  bpexplain train lecture --steps 5       five training steps, every equation
  bpexplain train my-net.yaml > key.txt   a plain-text answer key
  bpexplain train xor --epochs 2000 --detail summary
""")
@click.version_option(__version__, "-V", "--version", prog_name="bpexplain")
def cli() -> None:
    """Worked back-propagation: every forward, error, gradient and update equation of a network
    written in YAML, symbolic, then with numbers, then its value.

    NET is a bundled network's name (see `bpexplain list`) or a path to a YAML file.
    """


@cli.command(epilog="""\b
Examples:
  bpexplain forward lecture
  bpexplain forward xor --sample 3 --format json
""")
@click.argument("net")
@click.option("--sample", type=click.IntRange(1, None), default=1, show_default=True,
              help="Which sample of the network's data to feed forward.")
@_common_options
def forward(net: str, sample: int, **common: Any) -> None:
    """The forward pass of one sample: every weighted sum and activation (and the loss, with a target)."""
    _run(net, "forward", dict(sample=sample), common)


@cli.command(epilog="""\b
Examples:
  bpexplain train lecture --steps 5
  bpexplain train lecture --rule slide               the slides' shortcut, departures marked
  bpexplain train lecture --notation textbook        δ_n = ∂E/∂e_n
  bpexplain train xor --epochs 3000 --shuffle --until-loss 0.01 --detail summary
  bpexplain train classifier --batch full --steps 2 --format json
""")
@click.argument("net")
@click.option("--steps", type=click.IntRange(1, None), help="Training steps, one sample each, cycling through "
              "the data (default 1).")
@click.option("--epochs", type=click.IntRange(1, None), help="Passes over the whole data (instead of --steps).")
@click.option("--batch", type=click.Choice(("single", "full")), default="single", show_default=True,
              help="single: one sample a step (Algorithm 2); full: batch gradient descent with averaged gradients.")
@click.option("--shuffle/--no-shuffle", default=False, show_default=True,
              help="Reorder the samples every epoch (Algorithm 2, line 3).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --shuffle.")
@click.option("--until-loss", type=float, help="Stop once the loss (with --epochs, an epoch's mean loss) is at "
              "most this.")
@click.option("--rule", type=click.Choice(("exact", "slide")), default="exact", show_default=True,
              help="exact: the chain rule; slide: the slides' δ_m = Σ w_mn·δ_n, departures marked.")
@click.option("--update-order", type=click.Choice(("simultaneous", "sequential")), default="simultaneous",
              show_default=True, help="sequential updates each layer before the error goes back through it.")
@_common_options
def train(net: str, steps: int | None, epochs: int | None, **options: Any) -> None:
    """Training steps: forward, loss, errors (δ) from the output back, gradients, updates."""
    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    common = {k: options.pop(k) for k in ("fmt", "precision", "detail", "notation", "max_terms")}
    options["update_order"] = options.pop("update_order")
    _run(net, "train", dict(steps=steps, epochs=epochs, **options), common)


@cli.command(epilog="""\b
Examples:
  bpexplain show lecture
  bpexplain show my-net.yaml --format json
""")
@click.argument("net")
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


@cli.command("list", epilog="""\b
Example:
  bpexplain list
""")
def list_networks() -> None:
    """The bundled networks, with their titles."""

    def body() -> None:
        from .spec import bundled_names, load_network

        names = bundled_names()
        width = max(len(n) for n in names)
        for name in names:
            click.echo(f"{name.ljust(width)}  {load_network(name).title}")

    _guard(body)


# ------------------------------------------------------------------------------------------------


def _run(net: str, command: str, run_options: dict[str, Any], common: dict[str, Any]) -> None:
    fmt = common.pop("fmt")
    max_terms = common.pop("max_terms")

    def events() -> Iterable[Any]:
        from .engine import RunOptions, run
        from .spec import load_network

        spec = load_network(net)
        return run(spec, RunOptions(command=command, **common, **run_options))

    _emit(events, fmt, dict(precision=common["precision"], max_terms=max_terms))


def _emit(make_events: Callable[[], Iterable[Any]], fmt: str, options: dict[str, Any]) -> None:
    def body() -> None:
        from .render import render_stream

        chosen = fmt
        if chosen == "auto":
            chosen = "rich" if _stdout_is_terminal() else "text"
        if chosen == "json":
            options.pop("max_terms", None)
        events = iter(make_events())
        first = next(events)  # validation errors surface before anything is written
        render_stream(_chain(first, events), chosen, sys.stdout, **options)
        sys.stdout.flush()

    _guard(body)


def _chain(first: Any, rest: Iterable[Any]) -> Iterable[Any]:
    yield first
    yield from rest


def _stdout_is_terminal() -> bool:
    from rich.console import Console

    return Console().is_terminal


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


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
