"""A marked sheet (`marking.Report`) as plain text, a rich renderable, or JSON (`bpexplain-compare/1`).

Renderers never compute: every number here was judged in `bpexplain.marking`; this module only
formats it (numbers through `render.numbers.format_number`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..marking import Marked, Report
from .numbers import format_number

FORMAT = "bpexplain-compare/1"
MARKS = {"correct": "ok", "follow-through": "ft", "wrong": "XX", "missing": "--"}
STYLES = {"correct": "green", "follow-through": "cyan", "wrong": "bold red", "missing": "dim"}


def _num(x: float | None, precision: int) -> str:
    return "" if x is None else format_number(x, precision)


def _points(x: float) -> str:
    return f"{x:g}"


def where(a: Marked) -> str:
    return f"step {a.step}" + (f", sample {a.sample}" if a.sample is not None else "")


def summary_lines(report: Report) -> Iterator[str]:
    title = f"bpexplain compare: {report.network}"
    if report.student:
        title += f", {report.student}"
    yield title
    counts = {v: sum(1 for a in report.answers if a.verdict == v) for v in MARKS}
    yield (
        f"score {_points(report.score)} / {_points(report.max)}   " + ", ".join(f"{n} {v}" for v, n in counts.items())
    )
    first = report.first_error
    yield "first error: " + (f"{first.symbol} ({where(first)})" if first else "none")
    yield f"tolerance: {report.tolerance.describe()}"
    ft = report.scoring.follow_through
    yield f"follow-through: {'full marks' if ft == 'full' else 'half marks' if ft == 'half' else 'no marks'}"


def detail_lines(a: Marked, precision: int) -> Iterator[str]:
    """What a follow-through or wrong answer is told: the equation on their own numbers, and the slip."""
    if a.verdict == "follow-through":
        yield f"      your earlier answers give {a.symbol} = {a.substituted} = {_num(a.own, precision)}"
    elif a.verdict == "wrong":
        yield f"      {a.symbol} = {a.expression}"
        own = f" = {_num(a.own, precision)}" if a.own is not None else ""
        yield f"      with your numbers: {a.substituted}{own}"
        if a.diagnosis:
            yield f"      likely slip: {a.diagnosis}"


def text(report: Report, precision: int = 4) -> str:
    out = list(summary_lines(report))
    width = max((len(a.symbol) for a in report.answers), default=4)
    scope = None
    for a in report.answers:
        if (a.step, a.sample) != scope:
            scope = (a.step, a.sample)
            out.append("")
            out.append(where(a).capitalize())
        given = a.given if a.given is not None else "(blank)"
        line = f"  {MARKS[a.verdict]} {a.symbol.ljust(width)}  {given:<12} {a.verdict:<14}"
        if a.verdict in ("wrong", "follow-through"):
            line += f" true {_num(a.expected, precision)}"
        out.append(line.rstrip())
        out.extend(detail_lines(a, precision))
    return "\n".join(out) + "\n"


def rich_view(report: Report, precision: int = 4) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(line, style="bold" if i == 0 else "") for i, line in enumerate(summary_lines(report))]
    table: Table | None = None
    scope = None
    for a in report.answers:
        if (a.step, a.sample) != scope or table is None:
            scope = (a.step, a.sample)
            table = Table(title=where(a).capitalize(), title_justify="left", show_header=True, expand=False)
            for col in ("symbol", "given", "verdict", "true", "note"):
                table.add_column(col, overflow="fold")  # a number wraps, never cut with …
            parts.append(table)
        note = "\n".join(line.strip() for line in detail_lines(a, precision))
        table.add_row(
            a.symbol,
            a.given if a.given is not None else "",
            Text(a.verdict, style=STYLES[a.verdict]),
            _num(a.expected, precision) if a.verdict in ("wrong", "follow-through") else "",
            note,
        )
    return Group(*parts)


def to_dict(report: Report) -> dict[str, Any]:
    first = report.first_error
    first_error = None
    if first is not None:
        first_error = {"step": first.step, "symbol": first.symbol}
        if first.sample is not None:
            first_error["sample"] = first.sample
    answers = []
    for a in report.answers:
        d: dict[str, Any] = {"step": a.step}
        if a.sample is not None:
            d["sample"] = a.sample
        d.update(
            symbol=a.symbol,
            kind=a.kind,
            given=a.given,
            expected=a.expected,
            own=a.own,
            verdict=a.verdict,
            diagnosis=a.diagnosis,
            uses=list(a.uses),
            points=a.points,
            max_points=a.max_points,
        )
        answers.append(d)
    return {
        "format": FORMAT,
        "network": report.network,
        "options": report.options,
        "student": report.student,
        "tolerance": report.tolerance.describe(),
        "follow_through": report.scoring.follow_through,
        "score": report.score,
        "max": report.max,
        "first_error": first_error,
        "answers": answers,
    }


def to_json(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=1, allow_nan=False) + "\n"
