"""`bpexplain sheet`, `compare` and `grade`: blank answer sheets, one sheet marked, a class marked.

Heavy imports (numpy, the engine, rich) stay inside the command bodies; the work is done in
`answers.py`, `marking.py`, `grading.py` and `render/compare.py`. The CLI's error guard is imported
when a command runs (cli.py imports this module while it is being set up).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

RUN_DEFAULTS = {
    "steps": None,
    "epochs": None,
    "notation": "lecture",
    "rule": "exact",
    "update_order": "simultaneous",
    "batch": "single",
    "shuffle": False,
    "seed": 0,
    "round": None,
    "step": None,
    "layer": None,
    "only": None,
}


def _run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--steps", type=click.IntRange(1, None), help="Training steps (default 1)."),
        click.option("--epochs", type=click.IntRange(1, None), help="Passes over the whole data (instead of --steps)."),
        click.option("--notation", type=click.Choice(("lecture", "textbook")), default="lecture", show_default=True),
        click.option("--rule", type=click.Choice(("exact", "slide")), default="exact", show_default=True),
        click.option(
            "--update-order",
            type=click.Choice(("simultaneous", "sequential")),
            default="simultaneous",
            show_default=True,
        ),
        click.option("--batch", type=click.Choice(("single", "full")), default="single", show_default=True),
        click.option("--shuffle/--no-shuffle", default=False, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for --shuffle."),
        click.option("--round", "round", type=click.IntRange(0, 12), metavar="N", help="Values rounded as by hand."),
        click.option("--step", metavar="N", help="Only step N (or steps such as 1,3-5)."),
        click.option("--layer", metavar="NAMES", help="Only these layers (comma-separated)."),
        click.option("--only", metavar="PHASES", help="Only these phases: forward,loss,error,gradient,update."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _marking_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--rtol", type=click.FloatRange(0, None), help="Relative tolerance: |a − b| ≤ atol + rtol·|b|."),
        click.option("--atol", type=click.FloatRange(0, None), help="Absolute tolerance (with or without --rtol)."),
        click.option(
            "--sigfigs",
            type=click.IntRange(1, 17),
            help="Require N significant digits (within one unit of the N-th) instead of the rounding-aware default.",
        ),
        click.option(
            "--points",
            metavar="KIND=N,...",
            default="",
            help="Points per value by kind, such as forward=1,error=2,gradient=1,update=1 (default 1 each).",
        ),
        click.option(
            "--follow-through",
            type=click.Choice(("full", "half", "none")),
            default="full",
            show_default=True,
            help="Marks for a value that is right on the student's own earlier answers.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _guard(body: Callable[[], None]) -> None:
    from ..cli import _guard as guard

    guard(body)


def _tolerance_and_scoring(rtol: Any, atol: Any, sigfigs: Any, points: str, follow_through: str) -> tuple[Any, Any]:
    from ..scoring import Scoring, Tolerance, parse_points

    if sigfigs is not None and (rtol is not None or atol is not None):
        raise click.UsageError("give --sigfigs or --rtol/--atol, not both")
    return Tolerance(rtol, atol, sigfigs), Scoring(parse_points(points), follow_through)


@click.command(
    epilog="""\b
Examples:
  bpexplain sheet lecture -o sheet.yaml              every value of one step, to fill in
  bpexplain sheet lecture --only error,gradient      only the backward pass
  bpexplain sheet lecture --format markdown -o worksheet.md
  bpexplain sheet classifier --batch full --format latex -o worksheet.tex
"""
)
@click.argument("net")
@_run_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("yaml", "markdown", "latex")),
    help="yaml: the sheet to fill in (default); markdown, latex: a printable worksheet with blanks.",
)
@click.option("--student", default="", help="The student's name, written into the sheet.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE (atomically).")
def sheet(net: str, fmt: str | None, student: str, output: str | None, **run: Any) -> None:
    """A blank answer sheet (bpexplain-answers/1) for exactly the run the options describe."""
    if run["steps"] is not None and run["epochs"] is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    options = {k: v for k, v in run.items() if v != RUN_DEFAULTS[k]}
    chosen = fmt
    if chosen is None and output is not None:
        chosen = {".md": "markdown", ".tex": "latex"}.get(output[output.rfind(".") :].lower(), "yaml")

    def body() -> None:
        from ..answers import run_for, write_sheet

        events, items = run_for(net, options)
        if chosen in ("markdown", "latex"):
            from ..render.worksheet import worksheet

            chunks = worksheet(chosen, net, options, items, events, student)
        else:
            chunks = write_sheet(net, options, items, student)
        _write(chunks, output)

    _guard(body)


def _write(chunks: Any, output: str | None) -> None:
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    from ..output import atomic_output

    with atomic_output(output) as out:
        for chunk in chunks:
            out.write(chunk)


@click.command(
    epilog="""\b
Examples:
  bpexplain compare lecture answers.yaml
  bpexplain compare lecture answers.yaml --format json
  bpexplain compare lecture answers.yaml --sigfigs 3 --points error=2 --follow-through half
"""
)
@click.argument("net")
@click.argument("answers", type=click.Path(dir_okay=False))
@_marking_options
@click.option("--format", "fmt", type=click.Choice(("auto", "text", "rich", "json")), default="auto", show_default=True)
@click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True)
def compare(net: str, answers: str, fmt: str, precision: int, **marking: Any) -> None:
    """Mark a filled answer sheet: every value correct, follow-through, wrong or missing; exit 1 if any is wrong."""
    failed = []

    def body() -> None:
        from ..answers import read_sheet_file, run_for_sheet
        from ..marking import mark
        from ..record import replace
        from ..render import compare as view

        tolerance, scoring = _tolerance_and_scoring(**marking)
        sheet = read_sheet_file(answers)
        events, items = run_for_sheet(net, sheet)
        sheet = replace(sheet, network=net)
        report = mark(sheet, events, {(i.step, i.sample, i.symbol) for i in items}, tolerance, scoring)
        from ..cli import print_report  # imported late: cli.py lists this module's commands

        print_report(view, report, fmt, precision)
        failed.append(not report.ok)

    _guard(body)
    if any(failed):
        sys.exit(1)


@click.command(
    epilog="""\b
Examples:
  bpexplain grade --answers sheets/ -o marks/
  bpexplain grade --answers answers.csv --points forward=1,error=2,gradient=1,update=1 -o marks/
"""
)
@click.option(
    "--answers",
    "source",
    required=True,
    type=click.Path(exists=True),
    help="A folder of sheets (*.yaml, *.yml) or a CSV with one row per student.",
)
@_marking_options
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False), help="Folder to write to.")
def grade(source: str, outdir: str, **marking: Any) -> None:
    """Mark a whole class: scores.csv, one feedback file per student, and Gradescope's results.json."""

    def body() -> None:
        from ..grading import grade_class

        tolerance, scoring = _tolerance_and_scoring(**marking)
        rows = grade_class(source, outdir, tolerance, scoring)
        marked = sum(1 for r in rows if r.error is None)
        click.echo(f"{marked} sheet(s) marked, {len(rows) - marked} unreadable; written to {outdir}", err=True)

    _guard(body)
