"""The views of a gradient check (`bpexplain check`): a plain-text table, a rich table, and JSON.

One row per parameter element: its symbol, the back-propagated gradient, the finite-difference
estimate, their difference and a verdict: ok, kink (the difference straddles a point where E is not
differentiable, so the two need not agree) or DISAGREE. Nothing is computed here (see `bpexplain.check`).
The JSON is strict (no bare NaN or Infinity): a NaN is null and an infinity the string "inf" or "-inf",
as in the trace's JSON.
"""

from __future__ import annotations

from typing import Any

from ..check import CheckResult
from ..progress import LazyProgress  # noqa: F401 - its home is bpexplain.progress; kept importable here
from .json import _num
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
            r.verdict,
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


def _labels(rows: tuple[Any, ...]) -> str:
    return ", ".join(r.label for r in rows[:8]) + (" …" if len(rows) > 8 else "")


def verdict(result: CheckResult) -> str:
    kinks = result.kinks
    kink_note = (
        f"{len(kinks)} straddle a kink ({_labels(kinks)}): E is not differentiable between w − h and w + h "
        "(a ReLU at 0, a tie in a max-pool window), so back-propagation's one-sided convention and the "
        "central difference need not agree; that is not an error."
    )
    if result.ok:
        if not kinks:
            return f"All {len(result.rows)} gradients agree."
        agree = len(result.rows) - len(kinks)
        return f"{agree} of {len(result.rows)} gradients agree; {kink_note}"
    return f"{len(result.failures)} of {len(result.rows)} gradients DISAGREE: {_labels(result.failures)}" + (
        f". Also, {kink_note}" if kinks else ""
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
        table.add_column(head, justify="left" if i in (0, 4) else "right", overflow="fold")  # never cut with …
    for row in rows(result, precision):
        style = {"ok": "green", "kink": "yellow"}.get(row[4], "bold red")
        table.add_row(*row[:4], Text(row[4], style=style))
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
        "kinks": len(result.kinks),
        "parameters": [
            {
                "parameter": r.parameter,
                "index": list(r.index),
                "symbol": printer.doprint(r.symbol),
                "backprop": _num(r.backprop),
                "numeric": _num(r.numeric),
                "difference": _num(r.difference),
                "ok": r.ok,
                "verdict": r.verdict,
            }
            for r in result.rows
        ],
    }


def to_json(result: CheckResult) -> str:
    """Strict JSON (json.dumps with allow_nan=False): NaN as null, infinities as "inf" / "-inf"."""
    import json

    return json.dumps(to_dict(result), ensure_ascii=False, indent=1, allow_nan=False)
