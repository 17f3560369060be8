"""The command line: a click group with one small function per command. The only module that prints.

Heavy modules (numpy, rich, the engine) are imported inside the commands, so `--help` and
`--version` stay instant.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

import click

from . import __version__
from . import option_limits as limits
from .clitypes import Finite, OneOf, Refused, Whole, unknown_command_line, usage_line
from .completion import complete_network

FORMAT_CHOICES = ("auto", "text", "rich", "json", "markdown", "latex", "html", "svg")
VIEW_KEYS = ("output", "latex_body", "step", "steps_shown", "layer", "only")
EXIT_OK, EXIT_NUMERICAL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _set_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Change one value of the network for this run (repeatable): learning_rate=0.1, "
        "layers.hidden.weight=[[...]], data[0].input=[...]. Checked as if written in the file.",
    )(f)


_preamble_option = click.option(
    "--preamble",
    type=OneOf(("full", "short", "none")),
    default="full",
    show_default=True,
    help="What comes before the steps. full: conventions, legend, network, initial parameters; "
    "short: one line of notation, loss, η and rounding; none: straight to the steps.",
)


def _common_options(f: Callable[..., Any], training: bool = True) -> Callable[..., Any]:
    """The options forward and train share; `training=False` hides those that choose training steps."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=OneOf(FORMAT_CHOICES),
            default="auto",
            show_default=True,
            help="Output format; auto is rich in a terminal and plain text when piped.",
        ),
        click.option(
            "--precision",
            type=Whole(*limits.PRECISION),
            default=4,
            show_default=True,
            help="Significant digits shown (JSON values always keep full float64).",
        ),
        click.option(
            "--detail",
            type=OneOf(("full", "layer", "summary")),
            default="full",
            show_default=True,
            help="full: every equation; layer: the vectors of each layer; summary: loss and weights per step.",
        ),
        click.option(
            "--notation",
            type=OneOf(("lecture", "textbook")),
            default="lecture",
            show_default=True,
            help="lecture: δ_n = ∂E/∂y_n (the slides'); textbook: δ_n = ∂E/∂e_n.",
        ),
        click.option(
            "--max-terms",
            type=Whole(*limits.MAX_TERMS),
            default=8,
            show_default=True,
            help="Longest sum shown in full; longer ones are shortened in the middle (values are of the whole sum).",
        ),
        click.option(
            "--max-equations",
            type=Whole(0, limits.MAX_EQUATIONS),
            help="Refuse at once a full trace of more equations a step (a run, for html and svg); "
            "0: no limit. Default: the format's limit (500,000 a step for text; see docs/errors.md).",
        ),
        click.option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write to FILE (atomically: nothing is left if the run fails; never over the network file; "
            "links and devices are written through); the format follows the extension "
            "(.md .tex .json .txt .html .svg) unless --format is given.",
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
            hidden=not training,
            help="Show only step N (or steps such as 1,3-5); without --steps, runs as many steps as that needs.",
        ),
        click.option(
            "--steps-shown", metavar="LIST", hidden=not training, help="Steps to show, such as 1,3-5 (same as --step)."
        ),
        click.option(
            "--layer",
            multiple=True,
            metavar="NAME",
            help="Show only the blocks of this layer (repeatable, or comma-separated).",
        ),
        click.option(
            "--only",
            metavar="PHASES",
            help="Show only these phases: a comma-separated choice of "
            + ("forward,loss,error,gradient,update." if training else "forward,loss."),
        ),
        click.option(
            "--round",
            "round",
            type=Whole(*limits.ROUND),
            metavar="N",
            help="Round every value to N decimals as it is computed and carry the rounded value on, "
            "as by hand; the drift from exact float64 is reported at the end.",
        ),
        _preamble_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


class BpexplainGroup(click.Group):
    """The command group; whatever happens while the command line is read, a command runs or help is
    written (a usage error, a signal, a closed or full standard output) ends as one line and a status."""

    # Commands in bpexplain/commands/ are imported when they are run or listed, never at start-up (click's
    # "lazily loading subcommands" pattern): a run of `forward` loads none of variants', grading's or tools' code.
    def list_commands(self, ctx: click.Context) -> list[str]:
        from .commands import COMMAND_MODULES

        return sorted([*super().list_commands(ctx), *(n for names in COMMAND_MODULES.values() for n in names)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:  # forward, train, show, check, list: not even the table is imported
            return self.commands[cmd_name]
        from importlib import import_module

        from .commands import COMMAND_MODULES

        for module_name, names in COMMAND_MODULES.items():
            if cmd_name in names:
                module = import_module(f".commands.{module_name}", __package__)
                self.add_command(getattr(module, cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise Refused(unknown_command_line(name, self.list_commands(ctx)), ctx)
        return super().resolve_command(ctx, args)

    # click meets KeyboardInterrupt with a blank line and "Aborted!"; Ctrl-C is Interrupted (interrupts.py) instead
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise _interrupted() from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _interrupted() from None

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            if sys.stdout is None and {"-h", "--help", "-V", "--version"} & set(sys.argv[1:] if args is None else args):
                _stdout()  # help and version have nowhere else to go
            code = super().main(args, prog_name, complete_var, False, **extra)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - _end re-raises what it does not know
            _end(exc)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(
    cls=BpexplainGroup,
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
    _sane_columns()


def _interrupted() -> BaseException:
    import signal

    from .interrupts import Interrupted

    return Interrupted(signal.SIGINT)


def _sane_columns() -> None:
    """COLUMNS, which rich reads, clamped into option_limits.COLUMNS; dropped when it is no width at all."""
    raw = os.environ.get("COLUMNS")
    if raw is None:
        return
    value = limits.columns(raw)
    if value is None:
        del os.environ["COLUMNS"]
    elif value != raw:
        os.environ["COLUMNS"] = value


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
    type=Whole(1, limits.MAX_INDEX),
    default=1,
    show_default=True,
    help="Which sample of the network's data to feed forward.",
)
@_set_option
@functools.partial(_common_options, training=False)
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
    type=Whole(1, limits.MAX_STEPS),
    help="Training steps, one sample each, cycling through the data (default 1).",
)
@click.option("--epochs", type=Whole(1, limits.MAX_EPOCHS), help="Passes over the whole data (instead of --steps).")
@click.option(
    "--batch",
    type=OneOf(("single", "full")),
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
@click.option("--seed", type=Whole(0, limits.MAX_SEED), default=0, show_default=True, help="Seed for --shuffle.")
@click.option(
    "--until-loss", type=Finite(0.0), help="Stop once the loss (with --epochs, an epoch's mean loss) is at most this."
)
@click.option(
    "--rule",
    type=OneOf(("exact", "slide")),
    default="exact",
    show_default=True,
    help="exact: the chain rule; slide: the slides' δ_m = Σ w_mn·δ_n, departures marked.",
)
@click.option(
    "--update-order",
    type=OneOf(("simultaneous", "sequential")),
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
@click.option(
    "--save",
    type=click.Path(dir_okay=False),
    metavar="FILE.yaml",
    help="Also write the trained network to FILE.yaml (the same format, weights at full precision), "
    "so that a later run continues from it.",
)
@_set_option
@_common_options
def train(
    net: str,
    steps: int | None,
    epochs: int | None,
    plot: str | None,
    save: str | None,
    sets: tuple[str, ...],
    **options: Any,
) -> None:
    """Training steps: forward, loss, errors (δ) from the output back, gradients, updates."""
    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    common = {k: options.pop(k) for k in ("fmt", "precision", "detail", "notation", "max_terms")}
    _run(net, "train", dict(steps=steps, epochs=epochs, **options), common, sets, plot, save)


@cli.command(
    epilog="""\b
Examples:
  bpexplain show lecture
  bpexplain show my-net.yaml --format json
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option("--format", "fmt", type=OneOf(FORMAT_CHOICES), default="auto", show_default=True)
@click.option("--precision", type=Whole(*limits.PRECISION), default=4, show_default=True)
@click.option("--notation", type=OneOf(("lecture", "textbook")), default="lecture", show_default=True)
@_preamble_option
def show(net: str, fmt: str, precision: int, notation: str, preamble: str) -> None:
    """The network: layers, shapes, parameters and the notation's legend."""

    def events() -> Iterable[Any]:
        from .engine import describe
        from .options import RunOptions
        from .spec import load_network

        options = RunOptions(command="show", notation=notation, precision=precision, preamble=preamble)
        yield describe(load_network(net), options)

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
    type=Whole(1, limits.MAX_INDEX),
    help="Check the loss of this sample (default: the mean loss over all samples).",
)
@click.option("--format", "fmt", type=OneOf(("auto", "text", "rich", "json")), default="auto", show_default=True)
@click.option("--precision", type=Whole(*limits.PRECISION), default=8, show_default=True)
@click.option(
    "--limit",
    type=Whole(1, limits.MAX_INDEX),
    help="Check at most N elements of each parameter, spread evenly (for large networks).",
)
@click.option(
    "--max-evaluations",
    type=Whole(0, limits.MAX_EVALUATIONS),
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

        _stdout()
        spec = load_network(net)
        if sys.stderr.isatty():  # a bar on stderr once the check has run for a second; nothing when redirected
            from .progress import LazyProgress

            with LazyProgress() as progress:
                result = check_gradients(spec, sample, limit=limit, max_evaluations=max_evaluations, progress=progress)
        else:
            result = check_gradients(spec, sample, limit=limit, max_evaluations=max_evaluations)
        print_report(view, result, fmt, precision)
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

        _stdout()
        names = bundled_names()
        width = max(len(n) for n in names)
        for name in names:
            click.echo(f"{name.ljust(width)}  {load_network(name).title}")

    _guard(body)


# ------------------------------------------------------------------------------------------------


def _run(
    net: str,
    command: str,
    run_options: dict[str, Any],
    common: dict[str, Any],
    sets: tuple[str, ...] = (),
    plot: str | None = None,
    save: str | None = None,
) -> None:
    fmt = common.pop("fmt")
    max_terms = common.pop("max_terms")
    view = {k: common.pop(k) if k in common else run_options.pop(k) for k in VIEW_KEYS}
    if command == "forward":
        _refuse_training_views(view)
    fmt = _chosen_format(fmt, view["output"])  # the trace-size guard weighs the format's cost (limits.py)
    event_filter = _event_filter(view)
    shown = event_filter.steps if event_filter is not None else None
    if command == "train" and shown:
        last = shown.last if hasattr(shown, "last") else max(shown)
        if run_options.get("steps") is None and run_options.get("epochs") is None:
            run_options["steps"] = last
        elif run_options.get("steps") is not None and last > run_options["steps"]:
            raise Refused(
                f"--step {last} is beyond --steps {run_options['steps']} "
                f"(expected a step from 1 to {run_options['steps']:,}, or leave --steps out)"
            )

    losses: Any = None  # with --plot: the loss of every step, recorded as the events pass
    trained: list[Any] = []  # with --save: the run's last event (the final parameters)
    if save is not None:
        from .save import check_save_target

        _guard(lambda: check_save_target(save, net, (view["output"], plot)))

    samples: list[int] = [0]  # the network's samples, for a progress bar's total (known once it is loaded)

    def events() -> Iterable[Any]:
        nonlocal losses
        from .engine import run
        from .options import RunOptions
        from .spec import load_network

        if plot is not None:
            from .pictures import picture_format, require_matplotlib

            picture_format(plot)  # both checked before the run, not after it
            require_matplotlib()
        spec = load_network(net, sets)
        samples[0] = len(spec.data)
        summary_steps = None
        if fmt in ("text", "markdown", "latex") and common["detail"] == "summary" and event_filter is None:
            from .render.common import SummaryTable  # these formats show only its steps' parameters

            summary_steps = (SummaryTable.head, SummaryTable.tail)
        options = RunOptions(command=command, output_format=fmt, summary_steps=summary_steps, **common, **run_options)
        stream = run(spec, options)
        if save is not None:
            stream = _last_event(stream, trained)
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
        protect=_network_path(net),
        total=lambda: _progress_total(command, run_options, samples[0]),
    )
    if plot is not None and losses is not None:
        from .plot import draw_losses

        _guard(lambda: draw_losses(losses, plot))
    if save is not None and trained:
        from .save import save_trained

        _guard(lambda: save_trained(save, net, sets, trained[-1].final_parameters))


def _progress_total(command: str, run_options: dict[str, Any], samples: int) -> int | None:
    """The steps a run makes if nothing stops it early (None for a forward pass)."""
    from .progress import total_steps

    batch = run_options.get("batch", "single")
    return total_steps(command, run_options.get("steps"), run_options.get("epochs"), batch, samples)


def _last_event(events: Iterable[Any], kept: list[Any]) -> Iterator[Any]:
    """The events as they pass, keeping the last one (the TraceEnd) in `kept`."""
    for ev in events:
        yield ev
    kept.append(ev)


def _refuse_training_views(view: dict[str, Any]) -> None:
    """forward works one pass: options that choose training steps or phases mean nothing there."""
    for key, flag in (("step", "--step"), ("steps_shown", "--steps-shown")):
        if view[key]:
            raise Refused(
                f"{flag}: forward works one pass and has no training steps to choose "
                f"(expected it with train: 'bpexplain train NET {flag} 2')"
            )
    if view["only"]:
        training = sorted({p.strip() for p in view["only"].split(",")} & {"error", "gradient", "update"})
        if training:
            raise Refused(
                f"--only: forward has no {training[0]} phase "
                "(expected forward or loss; errors, gradients and updates are shown by train)"
            )


def _network_path(net: str) -> tuple[str, ...]:
    """The file `net` names, if any (a path, or a bundled network's file): -o may never write over it."""
    bundled = os.path.join(os.path.dirname(__file__), "networks", f"{net}.yaml")
    return tuple(p for p in (net, bundled) if p and os.path.exists(p))


def _event_filter(view: dict[str, Any]) -> Any:
    """The --step/--steps-shown/--layer/--only filter, or None when none is given."""
    if not (view["step"] or view["steps_shown"] or view["layer"] or view["only"]):
        return None
    from .filters import EventFilter, StepSet, parse_layers, parse_phases, parse_steps

    steps = None
    for key, flag in (("step", "--step"), ("steps_shown", "--steps-shown"), ("only", "--only")):
        if not view[key]:
            continue
        try:
            if key == "only":
                phases = parse_phases(view["only"])
            else:
                steps = (steps or StepSet()) | parse_steps(view[key])
        except ValueError as exc:
            raise Refused(f"{flag}: {exc}") from None
    return EventFilter(steps, parse_layers(view["layer"]), phases if view["only"] else None)


def _emit(
    make_events: Callable[[], Iterable[Any]],
    fmt: str,
    options: dict[str, Any],
    output: str | None = None,
    latex_body: bool = False,
    event_filter: Any = None,
    protect: Iterable[str] = (),
    total: Callable[[], int | None] = lambda: None,
) -> None:
    def body() -> None:
        from .errors import BpexplainError
        from .render import render_stream

        chosen, target = fmt, None
        if output is not None:
            from .output import output_format, prepare

            chosen = output_format(output, fmt)
            target = prepare(output, protect)  # before any work: refuse what must not be written
        if latex_body and chosen != "latex":
            raise BpexplainError("--latex-body goes with --format latex (or -o FILE.tex)")
        if target is None:
            stdout = _stdout()
            if chosen == "auto":
                chosen = "rich" if _stdout_is_terminal() else "text"
            if chosen != "latex":  # LaTeX keys are plain ASCII; the rest needs an encoding with δ, Σ, ∂
                _check_encoding(stdout)
        if latex_body:
            options["body_only"] = True
        events = iter(make_events())
        first = next(events)  # validation errors surface before anything is written
        stream: Iterable[Any] = itertools.chain((first,), events)
        with contextlib.ExitStack() as stack:
            stream = _with_progress(stream, stack, target is None and _isatty(), total)
            if event_filter is not None:
                stream = event_filter.apply(stream)
            if target is None:
                render_stream(stream, chosen, stdout, **options)
                stdout.flush()
                return
            from .output import open_output

            out = stack.enter_context(open_output(target))
            if chosen == "rich":
                from rich.console import Console

                options["console"] = Console(file=out, width=120)
            render_stream(stream, chosen, out, **options)

    _guard(body)


def _with_progress(stream: Iterable[Any], stack: contextlib.ExitStack, on_terminal: bool, total: Any) -> Iterable[Any]:
    """The events, counted into a progress bar on stderr when stderr is a terminal and stdout is not the
    terminal the trace is written on (see `bpexplain.progress`); the bar is taken off before any error's line."""
    if on_terminal or not _stderr_isatty():  # most runs: no bar, and progress.py is not even imported
        return stream
    from .progress import LazyProgress, wanted, watch

    if not wanted(on_terminal):
        return stream

    progress = stack.enter_context(LazyProgress("writing the trace"))
    return watch(stream, progress, total())


def _stderr_isatty() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (ValueError, AttributeError):
        return False


def _stdout() -> Any:
    """sys.stdout, or an error when there is none to write to (the shell closed it: `>&-`)."""
    if sys.stdout is None:
        from .errors import BpexplainError

        raise BpexplainError(
            "standard output is closed", expected="somewhere to write: a terminal, a pipe, a file, or -o FILE"
        )
    return sys.stdout


ENCODING_PROBE = "δΣ∂η·−ŷ′×≠"  # symbols every trace but LaTeX writes


def _check_encoding(stream: Any) -> None:
    """Refuse, before any output, a standard output whose encoding cannot write the trace's symbols."""
    encoding = getattr(stream, "encoding", None)
    if not encoding or getattr(stream, "errors", "strict") != "strict":
        return  # unknown, or the user asked for replacements (PYTHONIOENCODING=ascii:replace)
    try:
        ENCODING_PROBE.encode(encoding)
    except UnicodeEncodeError as exc:
        from .errors import BpexplainError

        raise BpexplainError(
            f"standard output's encoding, {encoding}, cannot write {_char_name(ENCODING_PROBE, exc.start)}, "
            "which traces use",
            expected=ENCODING_HINT,
        ) from None
    except LookupError:
        return


def _char_name(text: Any, index: int) -> str:
    """U+03B4 GREEK SMALL LETTER DELTA: in ASCII, since stderr may not show the character itself either."""
    import unicodedata

    char = text[index : index + 1] if isinstance(text, str) else ""
    if not char:
        return "a character"
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


ENCODING_HINT = "UTF-8: set PYTHONIOENCODING=utf-8 or PYTHONUTF8=1, or write with -o FILE, which is always UTF-8"


def _chosen_format(fmt: str, output: str | None) -> str:
    """The format `auto` stands for: the extension of -o FILE, else rich in a terminal and text when piped."""
    if fmt != "auto":
        return fmt
    if output is not None:
        from .output import output_format

        return output_format(output, fmt)  # refuses .pdf and other binary documents
    return "rich" if _stdout_is_terminal() else "text"


def print_report(view: Any, report: Any, fmt: str, precision: int) -> None:
    """A report (`check`'s, `compare`'s) in its view module's format: json, rich, or text (auto: rich in a
    terminal, text when piped). The module has to_json, rich_view and text."""
    chosen = fmt if fmt != "auto" else ("rich" if _stdout_is_terminal() else "text")
    if chosen == "json":
        text = view.to_json(report)
        click.echo(text, nl=not text.endswith("\n"))
    elif chosen == "rich":
        from rich.console import Console

        Console().print(view.rich_view(report, precision))
    else:
        click.echo(view.text(report, precision), nl=False)


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
    try:
        body()
    except SystemExit as exc:
        # rich meets a broken pipe by pointing stdout at /dev/null and exiting 1: the same quiet end, status 0
        if exc.code == 1 and _stdout_is_devnull():
            sys.exit(EXIT_OK)
        raise
    except BaseException as exc:  # noqa: BLE001 - _end re-raises what it does not know
        _end(exc)


def _end(exc: BaseException) -> NoReturn:
    """End the process for a failure: one line on stderr (`error: ...`) and its exit status.

    0: the reader closed the pipe; 1: numerical trouble; 2: bad input or usage, or output that cannot
    be written; 128 + N: signal N (130: Ctrl-C); 3: a bug in bpexplain (BPEXPLAIN_TRACEBACK=1 shows it)."""
    from .errors import BpexplainError
    from .interrupts import Interrupted

    if isinstance(exc, BrokenPipeError):  # the reader went away (`| head`): stop quietly
        _abandon_stdout()
        sys.exit(EXIT_OK)
    code = EXIT_USAGE
    where = ""  # a file the error is about: the line reads `FILE:LINE:COL: error: ...`, as a compiler's
    if isinstance(exc, BpexplainError):
        _flush_quietly()
        _say(exc.report())
        sys.exit(exc.exit_code)
    if isinstance(exc, click.UsageError):
        line = usage_line(exc)
    elif isinstance(exc, click.ClickException):
        line, code = exc.format_message(), exc.exit_code
    elif isinstance(exc, (KeyboardInterrupt, click.Abort)):
        line, code = "interrupted", EXIT_INTERRUPTED
    elif isinstance(exc, Interrupted):
        line, code = exc.line(), exc.exit_code
    elif isinstance(exc, UnicodeEncodeError):
        _abandon_stdout()
        char = _char_name(exc.object, exc.start)
        line = f"the output's encoding, {exc.encoding}, cannot write {char} (expected {ENCODING_HINT})"
    elif isinstance(exc, OSError):
        _abandon_stdout()
        reason = (exc.strerror or str(exc)).lower()
        if exc.filename is None:
            line = (
                f"cannot write to standard output: {reason} (expected a terminal, pipe or file with room, or -o FILE)"
            )
        else:
            where, line = str(exc.filename), reason
    elif isinstance(exc, Exception) and not os.environ.get("BPEXPLAIN_TRACEBACK"):
        _flush_quietly()
        line, code = (
            f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            + ("please report it with the command and the network file; BPEXPLAIN_TRACEBACK=1 shows where"),
            EXIT_BUG,
        )
    else:
        raise exc
    _say(f"{where}: error: {line}" if where else f"error: {line}")
    sys.exit(code)


def _say(line: str) -> None:
    """Write one line on stderr, if there is still a stderr to write to (not after a hang-up)."""
    try:
        click.echo(line, err=True)
    except (OSError, ValueError):
        pass


def _abandon_stdout() -> None:
    """Point standard output at /dev/null, so that what is still buffered for it fails no more at exit."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


def _flush_quietly() -> None:
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass


def main() -> None:
    """The `bpexplain` command: signals become `Interrupted` (interrupts.py), then the group runs."""
    from .interrupts import install

    install()
    # Start-up makes tens of thousands of objects that live until the process ends (numpy's, ours): the
    # cycle collector, which scans the young ones every 700 new objects, finds nothing in them, and that
    # is 1-2 ms of start-up. So it runs as rarely as render_stream has it run while a trace is written.
    gc.set_threshold(100_000, 50, 100)
    cli(standalone_mode=True)
