"""The views of a gradient check (`bpexplain check`): a plain-text table, a rich table, and JSON.

One row per parameter element: its symbol, the back-propagated gradient, the finite-difference
estimate, their difference and a verdict. Nothing is computed here (see `bpexplain.check`).
"""

from __future__ import annotations

from typing import Any

from ..check import CheckResult
from .numbers import format_number
from .printer import TextPrinter

HEADS = ("parameter", "backprop", "finite difference", "difference", "verdict")


def rows(result: CheckResult, precision: int = 8) -> list[tuple[str, str, str, str, str]]:
    printer = TextPrinter(precision)
    return [
        (
            f"{printer.doprint(r.symbol)} ({r.label})",
            format_number(r.backprop, precision),
            format_number(r.numeric, precision),
            format_number(r.difference, 2),
            "ok" if r.ok else "DISAGREE",
        )
        for r in result.rows
    ]


def intro(result: CheckResult) -> str:
    which = (
        f"sample {result.samples[0]}"
        if len(result.samples) == 1
        else f"the mean loss over samples {', '.join(map(str, result.samples))}"
    )
    return (
        f"Gradient check of {result.network}: ∂E/∂w by back-propagation beside (E(w+h) − E(w−h))/2h, "
        f"h = {result.step:g}, for {which}; they agree when |difference| ≤ {result.atol:g} + "
        f"{result.rtol:g}·|gradient|."
    )


def verdict(result: CheckResult) -> str:
    if result.ok:
        return f"All {len(result.rows)} gradients agree."
    return (
        f"{len(result.failures)} of {len(result.rows)} gradients DISAGREE: "
        + ", ".join(r.label for r in result.failures[:8])
        + (" …" if len(result.failures) > 8 else "")
    )


def text(result: CheckResult, precision: int = 8) -> str:
    table = [HEADS] + rows(result, precision)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADS))]
    lines = [intro(result), ""]
    for row in table:
        lines.append(
            "  "
            + "  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        )
    lines += ["", verdict(result)]
    return "\n".join(lines) + "\n"


def rich_view(result: CheckResult, precision: int = 8) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD)
    for i, head in enumerate(HEADS):
        table.add_column(head, justify="left" if i in (0, 4) else "right")
    for row in rows(result, precision):
        table.add_row(*row[:4], Text(row[4], style="green" if row[4] == "ok" else "bold red"))
    return Group(
        Text(intro(result), style="italic"),
        table,
        Text(verdict(result), style="bold green" if result.ok else "bold red"),
    )


def to_dict(result: CheckResult) -> dict[str, Any]:
    printer = TextPrinter()
    return {
        "network": result.network,
        "samples": list(result.samples),
        "step": result.step,
        "rtol": result.rtol,
        "atol": result.atol,
        "ok": result.ok,
        "parameters": [
            {
                "parameter": r.parameter,
                "index": list(r.index),
                "symbol": printer.doprint(r.symbol),
                "backprop": r.backprop,
                "numeric": r.numeric,
                "difference": r.difference,
                "ok": r.ok,
            }
            for r in result.rows
        ],
    }
