"""Marking a sheet against the run it names: correct, follow-through, wrong or missing, with a diagnosis.

Error carried forward, as exam boards mark it: every equation of the trace is a bound tree of the
symbols it reads (see `bpexplain.expr`), so each answer is also checked against the same equation
evaluated on the student's *own* earlier answers (`own`). A slip is charged once; what is done right
after it earns its marks as follow-through. Leaves map to answers by symbol: a quantity of this step
(and sample) when the student gave it; a parameter (w_14 at step 2) to their updated value of the step
before (w'_14 at step 1); anything left blank, and every input and target, to the true value.

A wrong answer is tried against the known slips (`bpexplain.diagnoses`). Which numbers agree is
`bpexplain.scoring`'s rule; the trees are evaluated by `bpexplain.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Final

from .answers import Answer, KeyIndex, Sheet
from .diagnoses import Diagnoser
from .errors import BpexplainError
from .evaluate import Leaf, evaluate, functions_for, rebind
from .expr import Expr, Var
from .facts import Quantity, RunFacts, collect
from .record import Record
from .scoring import Scoring, Tolerance
from .trace import Event

VERDICTS = ("correct", "follow-through", "wrong", "missing")

# ------------------------------------------------------------------------------------------------
# Judging


class Marked(Record):
    """One quantity judged: what was written, what it should be, the verdict, why, and the points."""

    __slots__ = __match_args__ = (
        "step",
        "sample",
        "symbol",
        "kind",
        "given",
        "expected",
        "own",
        "verdict",
        "diagnosis",
        "uses",
        "points",
        "max_points",
        "expression",
        "substituted",
    )

    def __init__(
        self,
        step: int,
        sample: int | None,
        symbol: str,
        kind: str,
        given: str | None,
        expected: float,
        own: float | None,
        verdict: str,
        diagnosis: str | None,
        uses: list[str],
        points: float,
        max_points: float,
        expression: str = "",
        substituted: str = "",
    ) -> None:
        self.step: Final = step
        self.sample: Final = sample
        self.symbol: Final = symbol
        self.kind: Final = kind
        self.given: Final = given
        self.expected: Final = expected
        self.own: Final = own
        self.verdict: Final = verdict
        self.diagnosis: Final = diagnosis
        self.uses: Final = uses
        self.points: Final = points
        self.max_points: Final = max_points
        self.expression: Final = expression  # the equation in symbols
        self.substituted: Final = substituted  # with the student's own inputs substituted


class Report(Record):
    """A sheet marked: whose, for which run, under which rules, and every quantity judged."""

    __slots__ = __match_args__ = ("network", "options", "student", "variant", "tolerance", "scoring", "answers")

    def __init__(
        self,
        network: str,
        options: dict[str, Any],
        student: str,
        variant: str,
        tolerance: Tolerance,
        scoring: Scoring,
        answers: tuple[Marked, ...],
    ) -> None:
        self.network: Final = network
        self.options: Final = options
        self.student: Final = student
        self.variant: Final = variant
        self.tolerance: Final = tolerance
        self.scoring: Final = scoring
        self.answers: Final = answers

    @property
    def score(self) -> float:
        return sum(a.points for a in self.answers)

    @property
    def max(self) -> float:
        return sum(a.max_points for a in self.answers)

    @property
    def first_error(self) -> Marked | None:
        return next((a for a in self.answers if a.verdict == "wrong"), None)

    @property
    def ok(self) -> bool:
        return self.first_error is None


def match_answers(sheet: Sheet, facts: RunFacts, wanted: set[tuple[int, int | None, str]]) -> dict[tuple, Answer]:
    """The sheet's answers by (step, sample, symbol); a key the run does not have is an error at its position."""
    by_scope: dict[tuple[int, int | None], list[str]] = {}
    for q in facts.quantities:
        if (q.step, q.sample, q.symbol) in wanted:
            by_scope.setdefault((q.step, q.sample), []).append(q.symbol)
    indexes = {scope: KeyIndex(symbols) for scope, symbols in by_scope.items()}
    out: dict[tuple, Answer] = {}
    for a in sheet.answers:
        index = indexes.get((a.step, a.sample))
        where = f"steps.{a.step}" + (f".sample {a.sample}" if a.sample is not None else "")
        if index is None:
            scopes = sorted({f"step {s}" + (f", sample {m}" if m else "") for s, m in by_scope})
            raise BpexplainError(
                f"the run has no {where.replace('steps.', 'step ').replace('.', ', ')}",
                where=a.where,
                path=where,
                expected="; ".join(scopes[:6]) or "a sheet of this run",
            )
        symbol = index.resolve(a.key)
        if symbol is None:
            from difflib import get_close_matches

            close = get_close_matches(a.key, sorted(index.exact), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise BpexplainError(
                f"the run has no quantity {a.key!r} here{hint}",
                where=a.where,
                path=f"{where}.{a.key}",
                expected="a symbol as the trace writes it, or its ASCII spelling such as delta_4 or dE/dw_14",
            )
        if (a.step, a.sample, symbol) in out:
            raise BpexplainError(
                f"{a.key!r} is another spelling of {symbol!r}, given already",
                where=a.where,
                path=f"{where}.{a.key}",
                expected="each quantity once",
            )
        out[(a.step, a.sample, symbol)] = a
    return out


def mark(
    sheet: Sheet,
    events: Iterable[Event],
    wanted: set[tuple[int, int | None, str]] | None = None,
    tolerance: Tolerance | None = None,
    scoring: Scoring | None = None,
) -> Report:
    """Judge every quantity of the run that the sheet is for (`wanted`: the filtered run's keys; None: all)."""
    from .render.printer import TextPrinter

    tolerance = tolerance or Tolerance()
    scoring = scoring or Scoring()
    printer = TextPrinter(4, None)
    facts = collect(events, printer)
    if wanted is None:
        wanted = {(q.step, q.sample, q.symbol) for q in facts.quantities}
    answers = match_answers(sheet, facts, wanted)
    given: dict[tuple[int, int | None, str], float] = {k: float(a.text) for k, a in answers.items() if a.text}
    true: dict[tuple[int, int | None, str], float] = {
        (q.step, q.sample, q.symbol): q.equation.value for q in facts.quantities
    }
    samples_of: dict[int, list[int]] = {}
    for q in facts.quantities:
        if q.sample is not None and q.sample not in samples_of.setdefault(q.step, []):
            samples_of[q.step].append(q.sample)
    judge = _Judge(facts, printer, tolerance, given, true, samples_of)
    marked: list[Marked] = []
    for q in facts.quantities:
        key = (q.step, q.sample, q.symbol)
        if key not in wanted:
            continue
        a = answers.get(key)
        marked.append(judge.judge(q, None if a is None else a.text, scoring))
    return Report(sheet.network, dict(sheet.options), sheet.student, sheet.variant, tolerance, scoring, tuple(marked))


class _Judge:
    """Judges one quantity at a time, reading leaves from the student's answers (see `diagnoses.Reading`)."""

    def __init__(
        self,
        facts: RunFacts,
        printer: Any,
        tolerance: Tolerance,
        given: dict[tuple[int, int | None, str], float],
        true: dict[tuple[int, int | None, str], float],
        samples_of: dict[int, list[int]],
    ) -> None:
        self.facts = facts
        self.printer = printer
        self.tol = tolerance
        self.given = given
        self.true = true
        self.samples_of = samples_of
        self._text: dict[Expr, str] = {}
        self.diagnoser = Diagnoser(self)

    def text(self, sym: Expr) -> str:
        t = self._text.get(sym)
        if t is None:
            t = self._text[sym] = self.printer.doprint(sym)
        return t

    def lookup(self, table: dict, q: Quantity, name: str) -> float | None:
        """A value of `name` as quantity `q` reads it: this sample's, this step's, or a parameter's update."""
        scopes = (q.sample, None) if q.sample is not None else (None, *self.samples_of.get(q.step, ()))
        for scope in scopes:
            v = table.get((q.step, scope, name))
            if v is not None:
                return v
        if name in self.facts.updated and q.step > 1:
            primed = self.facts.updated[name]
            return table.get((q.step - 1, None, primed))
        return None

    def own_leaf(self, q: Quantity) -> Leaf:
        def leaf(v: Var) -> float:
            got = self.lookup(self.given, q, self.text(v.sym))
            return v.value if got is None else got

        return leaf

    def functions(self, q: Quantity) -> dict[str, Callable[..., float]]:
        return functions_for(self.facts.slopes.get(q.layer, 0.01))

    def judge(self, q: Quantity, text: str | None, scoring: Scoring) -> Marked:
        eq = q.equation
        worth = scoring.points.get(eq.kind, 1.0)
        fns = self.functions(q)
        own_leaf = self.own_leaf(q)
        own = evaluate(eq.bound, own_leaf, fns)
        own_value = own if math.isfinite(own) else None
        if text is None:
            verdict, diagnosis = "missing", None
        elif self.tol.accepts(text, eq.value):
            verdict, diagnosis = "correct", None
        elif own_value is not None and self.tol.accepts(text, own_value):
            verdict, diagnosis = "follow-through", None
        else:
            verdict, diagnosis = "wrong", self.diagnoser.diagnose(q, text, fns)
        substituted = ""
        if verdict in ("wrong", "follow-through"):
            substituted = self.printer.doprint(rebind(eq.bound, own_leaf), numbers=True)
        return Marked(
            q.step,
            q.sample,
            q.symbol,
            eq.kind,
            text,
            eq.value,
            own_value,
            verdict,
            diagnosis,
            q.uses,
            scoring.earned(eq.kind, verdict),
            worth,
            self.printer.doprint(eq.bound),
            substituted,
        )
