"""`bpexplain variants`: exam variants of a network, each with its question and its answer key.

The numbers are drawn by `bpexplain.variants`, the question is `render.question`'s, the key is the
trace of a training run rendered as `bpexplain train` renders it. Everything is made in memory first;
the files are written (each atomically) only when every variant is ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..variants import DEFAULT_VARY, MAX_COUNT, VARY_KINDS

MAX_STEPS = 50  # training steps in a key
AS_TRAIN = "The key's, as for `bpexplain train`."


@click.command(
    epilog=f"""\b
Examples:
  bpexplain variants lecture --count 30 --seed 2026 -o exam/
  bpexplain variants lecture --count 30 --seed 2026 --format latex --steps 2 -o exam/
  bpexplain variants classifier --count 5 --seed 7 --vary weights,learning_rate -o quiz/
  bpexplain train exam/variant-01.yaml          variant 1 worked out in the terminal

\b
Writes DIR/variant-NN.yaml (the network), DIR/variant-NN-question.EXT (the worksheet),
DIR/variant-NN-key.EXT (the answer key) and DIR/manifest.csv; at most {MAX_COUNT} variants.
"""
)
@click.argument("net")
@click.option("--count", type=click.IntRange(1, MAX_COUNT), required=True, help="How many variants.")
@click.option("--seed", type=int, required=True, help="The same seed writes the same bytes.")
@click.option(
    "--vary",
    default=",".join(DEFAULT_VARY),
    show_default=True,
    metavar="KINDS",
    help="What to draw anew: a comma-separated choice of " + ", ".join(VARY_KINDS) + ".",
)
@click.option(
    "--decimals",
    type=click.IntRange(0, 6),
    help="Decimals of every number drawn (default: as many as the source writes each weight, bias, input, target).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "markdown", "latex")),
    default="text",
    show_default=True,
    help="Format of the questions and keys.",
)
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(file_okay=False), help="Directory (made if missing)."
)
@click.option("--force", is_flag=True, help="Replace variant files that exist already.")
@click.option(
    "--steps",
    type=click.IntRange(1, MAX_STEPS),
    default=1,
    show_default=True,
    help="Training steps the key works out.",
)
@click.option(
    "--notation", type=click.Choice(("lecture", "textbook")), default="lecture", show_default=True, help=AS_TRAIN
)
@click.option("--rule", type=click.Choice(("exact", "slide")), default="exact", show_default=True, help=AS_TRAIN)
@click.option("--batch", type=click.Choice(("single", "full")), default="single", show_default=True, help=AS_TRAIN)
@click.option(
    "--detail", type=click.Choice(("full", "layer", "summary")), default="full", show_default=True, help=AS_TRAIN
)
@click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True, help="Digits in the key.")
@click.option("--round", "round_", type=click.IntRange(0, 12), metavar="N", help="Carry values rounded to N decimals.")
@click.option("--max-terms", type=click.IntRange(2, None), default=8, show_default=True, help=AS_TRAIN)
def variants(net: str, **options: Any) -> None:
    """Exam variants of NET: its structure with new, hand-friendly numbers, each with a question and a key."""
    from ..cli import _guard

    _guard(lambda: _make(net, **options))


def _make(
    net: str,
    count: int,
    seed: int,
    vary: str,
    decimals: int | None,
    fmt: str,
    output: str,
    force: bool,
    steps: int,
    notation: str,
    rule: str,
    batch: str,
    detail: str,
    precision: int,
    round_: int | None,
    max_terms: int,
) -> None:
    from ..engine import describe, run
    from ..errors import BpexplainError, Location
    from ..options import RunOptions, check_options
    from ..output import atomic_output
    from ..record import replace
    from ..render import render_to_string
    from ..render.question import EXTENSIONS, worksheet
    from ..spec import NetworkSpec, read_network_text
    from ..variants import analyse, draw

    kinds = tuple(k.strip() for k in vary.split(",") if k.strip())
    unknown = [k for k in kinds if k not in VARY_KINDS]
    if unknown or not kinds:
        raise click.UsageError(
            f"--vary {vary!r}: {'unknown ' + repr(unknown[0]) if unknown else 'nothing to vary'}"
            f" (expected a comma-separated choice of {', '.join(VARY_KINDS)})"
        )
    kinds = tuple(k for k in VARY_KINDS if k in kinds)
    text, source_name = read_network_text(net)
    source = analyse(text, source_name, kinds, decimals)
    opts = RunOptions(
        command="train",
        steps=steps,
        notation=notation,
        rule=rule,
        batch=batch,
        detail=detail,
        precision=precision,
        round=round_,
    )
    check_options(source.spec, opts)

    directory = Path(output)
    if directory.exists() and not directory.is_dir():
        raise BpexplainError("exists and is not a directory", where=Location(output), expected="a directory for -o")
    width = max(2, len(str(count)))
    ext = EXTENSIONS[fmt]
    names = [
        (f"variant-{k:0{width}d}.yaml", f"variant-{k:0{width}d}-question{ext}", f"variant-{k:0{width}d}-key{ext}")
        for k in range(1, count + 1)
    ]
    targets = [name for trio in names for name in trio] + ["manifest.csv"]
    if not force:
        existing = [name for name in targets if (directory / name).exists()]
        if existing:
            raise BpexplainError(
                f"{existing[0]} exists already" + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""),
                where=Location(output),
                expected="an empty directory, or --force to replace the variant files",
            )

    def check_run(spec: NetworkSpec) -> None:  # the key's run, summed up: its numbers must stay finite
        for _ in run(spec, replace(opts, detail="summary")):
            pass

    files: dict[str, str] = {}
    rows = [("variant", "seed", "network", "question", "key")]
    task = _task(steps, batch)
    for k, (yaml_name, question_name, key_name) in enumerate(names, 1):
        variant = draw(source, k, seed, check_run)
        heading = f"Question: variant {k:0{width}d} of {source.spec.name} (seed {variant.seed})"
        header = describe(variant.spec, opts)
        files[yaml_name] = variant.text
        files[question_name] = worksheet(header, variant.spec.data, fmt, heading, task)
        files[key_name] = render_to_string(run(variant.spec, opts), fmt, precision=precision, max_terms=max_terms)
        rows.append((f"{k:0{width}d}", str(variant.seed), yaml_name, question_name, key_name))
    files["manifest.csv"] = _csv(rows)

    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            with atomic_output(directory / name) as out:
                out.write(content)
    except OSError as exc:
        where = Location(str(exc.filename) if exc.filename else output)
        raise BpexplainError(f"cannot be written ({exc.strerror or exc})", where=where) from None
    click.echo(f"wrote {count} variant{'s' if count > 1 else ''} of {source.spec.name} to {output} (manifest.csv)")


def _task(steps: int, batch: str) -> list[str]:
    full = "each step on the whole data, with averaged gradients"
    each = full if batch == "full" else "one sample a step, taking the samples in order"
    what = "step" if steps == 1 else "steps"
    return [
        f"Task: carry out {steps} training {what} ({each}): the forward pass, the loss, the errors δ, "
        "the gradients and the updated parameters. The notation and conventions are stated below."
    ]


def _csv(rows: Sequence[Sequence[str]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()
