"""Commands that help while writing a network: `schema`, `new`, `diagram`; and the completion of NET.

Only click is imported here at the top: the engine, numpy and matplotlib are imported inside the
command bodies, so that `bpexplain --help` and shell completion stay instant.
"""

from __future__ import annotations

from typing import Any

import click

from ..completion import complete_network


def _guard(body: Any) -> None:
    from ..cli import _guard as guard  # imported late: cli.py imports this module

    guard(body)


@click.command(
    epilog="""\b
Examples:
  bpexplain schema > network.schema.json
  then, as the first line of a network file:
  # yaml-language-server: $schema=network.schema.json
"""
)
def schema() -> None:
    """Print the JSON Schema of the network file format (for editors that complete and check YAML)."""

    def body() -> None:
        from ..schema import schema_json

        click.echo(schema_json())

    _guard(body)


@click.command(
    epilog="""\b
Examples:
  bpexplain new my-net                 writes my-net.yaml: a commented 2-2-1 network
  bpexplain new hw --like homework-cnn a copy of a bundled network to change
  bpexplain train my-net.yaml
"""
)
@click.argument("name")
@click.option(
    "--like",
    metavar="NET",
    shell_complete=complete_network,
    help="Start from this bundled network (see `bpexplain list`) instead of the commented template.",
)
def new(name: str, like: str | None) -> None:
    """Write NAME.yaml, a commented network file to start from (an existing file is never overwritten)."""

    def body() -> None:
        from ..scaffold import write_new

        path = write_new(name, like)
        click.echo(f"wrote {path}; try: bpexplain train {path}")

    _guard(body)


@click.command(
    epilog="""\b
Examples:
  bpexplain diagram lecture                      writes lecture.svg
  bpexplain diagram my-net.yaml -o my-net.png
  bpexplain diagram lecture --step 1 -o step1.svg   with δ_n of step 1
  bpexplain diagram homework-cnn -o cnn.svg       a CNN: its layers as boxes
"""
)
@click.argument("net", shell_complete=complete_network)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="FILE.svg or FILE.png (default: the network's name, .svg, in the current folder).",
)
@click.option(
    "--step",
    type=click.IntRange(1, None),
    metavar="N",
    help="Draw the network as training step N finds it: its weights, e_n, y_n and the errors δ_n.",
)
@click.option(
    "--sample",
    type=click.IntRange(1, None),
    help="Without --step: the sample whose forward pass is drawn (default 1).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Change one value of the network first.")
@click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True, help="Significant digits.")
def diagram(
    net: str, output: str | None, step: int | None, sample: int | None, sets: tuple[str, ...], precision: int
) -> None:
    """Draw the network: inputs and numbered neurons, each weight w_mn and its value, e_n and y_n (a CNN as
    a chain of layers). Needs matplotlib: pip install 'bpexplain[plot]'."""

    if step is not None and sample is not None:
        raise click.UsageError("--sample goes without --step (a training step takes the samples in order)")

    def body() -> None:
        from ..diagram import draw_network
        from ..pictures import picture_format, require_matplotlib
        from ..spec import load_network

        if output is not None:
            picture_format(output)
        require_matplotlib()
        spec = load_network(net, sets)
        target = output if output is not None else f"{spec.name if _plain(spec.name) else 'network'}.svg"
        draw_network(spec, target, step=step, sample=sample or 1, precision=precision)
        click.echo(f"wrote {target}")

    _guard(body)


def _plain(name: str) -> bool:
    """A network name that makes a safe file name in the current folder."""
    return bool(name) and all(c.isalnum() or c in "-_." for c in name) and not name.startswith(".")
