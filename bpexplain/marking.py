"""Marking a sheet against the run it names: correct, follow-through, wrong or missing, with a diagnosis.

Error carried forward, as exam boards mark it: every equation of the trace is a bound tree of the
symbols it reads (see `bpexplain.expr`), so each answer is also checked against the same equation
evaluated on the student's *own* earlier answers (`own`). A slip is charged once; what is done right
after it earns its marks as follow-through. Leaves map to answers by symbol: a quantity of this step
(and sample) when the student gave it; a parameter (w_14 at step 2) to their updated value of the step
before (w'_14 at step 1); anything left blank, and every input and target, to the true value.

A wrong answer is tried against a table of known slips, each an equation evaluated another way (a
leaf set to 1, the updated weight for the old one, the ½ of the loss, ...); the first that gives the
student's number names the slip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from .answers import Answer, KeyIndex, Sheet
from .errors import BpexplainError
from .expr import Add, Call, Derivative, Div, Expr, Func, Mul, Name, Neg, Num, Pow, Sub, Sym, Var
from .trace import Block, Equation, Event, StepEnd, StepStart, TraceHeader

VERDICTS = ("correct", "follow-through", "wrong", "missing")
KINDS = ("forward", "loss", "error", "gradient", "update")
ACTIVATION_LABELS = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LReLU", "identity": "id"}
FOLLOW_THROUGH = {"full": 1.0, "half": 0.5, "none": 0.0}
ZERO = 1e-12  # a written 0 is right when the true value is within this of 0 (float noise)

# ------------------------------------------------------------------------------------------------
# Tolerance


def significant_digits(text: str) -> int:
    """Digits as written: `-0.01000` has 4, `100` has 3, `1.5e-3` has 2, `0.0` has 0."""
    mantissa = text.strip().lstrip("+-").split("e")[0].split("E")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    return len(digits)


def _round_sig(x: Decimal, k: int) -> Decimal:
    if x == 0:
        return x
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        return x.quantize(Decimal(1).scaleb(x.adjusted() - k + 1))


@dataclass(frozen=True)
class Tolerance:
    """When a written number agrees with a value.

    Default (rounding-aware): a number written to k significant digits (k counted as written, at least
    2) is accepted when it is within one unit of its last digit of the value rounded to k digits.
    `sigfigs=N`: within one unit of the N-th digit of the value rounded to N digits. `rtol`/`atol`:
    |a − b| ≤ atol + rtol·|b|.
    """

    rtol: float | None = None
    atol: float | None = None
    sigfigs: int | None = None

    def accepts(self, text: str, value: float) -> bool:
        if not math.isfinite(value):
            return False
        given = Decimal(text)
        if self.rtol is not None or self.atol is not None:
            return abs(float(given) - value) <= (self.atol or 0.0) + (self.rtol or 0.0) * abs(value)
        if given == 0:
            return abs(value) <= ZERO
        true = Decimal(repr(float(value)))
        if self.sigfigs is not None:
            if true == 0:
                return abs(given) <= Decimal(ZERO)
            rounded = _round_sig(true, self.sigfigs)
            return abs(given - rounded) <= Decimal(1).scaleb(rounded.adjusted() - self.sigfigs + 1)
        k = max(significant_digits(text), 2)
        unit = Decimal(1).scaleb(given.adjusted() - k + 1)
        return abs(given - _round_sig(true, k)) <= unit

    def describe(self) -> str:
        if self.rtol is not None or self.atol is not None:
            return f"|given − value| ≤ {self.atol or 0:g} + {self.rtol or 0:g}·|value|"
        if self.sigfigs is not None:
            return f"{self.sigfigs} significant digits, within one unit of the last"
        return (
            "rounding-aware: a number written to k significant digits (at least 2) is accepted within one "
            "unit of its last digit of the value rounded to k digits"
        )


# ------------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class Scoring:
    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 1.0))
    follow_through: str = "full"

    def earned(self, kind: str, verdict: str) -> float:
        worth = self.points.get(kind, 1.0)
        if verdict == "correct":
            return worth
        if verdict == "follow-through":
            return worth * FOLLOW_THROUGH[self.follow_through]
        return 0.0


def parse_points(text: str) -> dict[str, float]:
    """'forward=1,error=2' -> points per kind of equation (the kinds not named stay at 1)."""
    points = dict.fromkeys(KINDS, 1.0)
    for part in text.split(","):
        if not part.strip():
            continue
        kind, sep, value = part.partition("=")
        kind = kind.strip()
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or kind not in KINDS or not math.isfinite(number) or number < 0:
            raise BpexplainError(
                f"--points: found {part.strip()!r}",
                expected="kind=points for kinds " + ", ".join(KINDS) + ", such as forward=1,error=2",
            )
        points[kind] = number
    return points


# ------------------------------------------------------------------------------------------------
# Evaluating a bound tree with some leaves replaced


def _sigmoid(e: float) -> float:
    return 1 / (1 + math.exp(-e)) if e >= 0 else math.exp(e) / (1 + math.exp(e))


def functions_for(slope: float = 0.01) -> dict[str, Callable[..., float]]:
    return {
        "σ": _sigmoid,
        "tanh": math.tanh,
        "ReLU": lambda e: max(e, 0.0),
        "ReLU'": lambda e: 1.0 if e > 0 else 0.0,
        "LReLU": lambda e: e if e > 0 else slope * e,
        "LReLU'": lambda e: 1.0 if e > 0 else slope,
        "id": lambda e: e,
        "exp": math.exp,
        "ln": math.log,
        "max": lambda *a: max(a),
        "min": lambda *a: min(a),
    }


Leaf = Callable[[Var], float]


def evaluate(node: Expr, leaf: Leaf, functions: dict[str, Callable[..., float]]) -> float:
    """The value of a bound tree with each `Var` read through `leaf`; NaN where the maths fails."""
    try:
        return _eval(node, leaf, functions)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan


def _eval(node: Expr, leaf: Leaf, fns: dict[str, Callable[..., float]]) -> float:
    if isinstance(node, Var):
        return leaf(node)
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, Add):
        return math.fsum(_eval(t, leaf, fns) for t in node.terms)
    if isinstance(node, Mul):
        return math.prod(_eval(f, leaf, fns) for f in node.factors)
    if isinstance(node, Sub):
        return _eval(node.left, leaf, fns) - _eval(node.right, leaf, fns)
    if isinstance(node, Div):
        return _eval(node.numerator, leaf, fns) / _eval(node.denominator, leaf, fns)
    if isinstance(node, Neg):
        return -_eval(node.operand, leaf, fns)
    if isinstance(node, Pow):
        return float(_eval(node.base, leaf, fns) ** _eval(node.exponent, leaf, fns))
    if isinstance(node, Call):
        func = node.func.concrete if isinstance(node.func, Func) else node.func
        if not isinstance(func, Name) or func.text not in fns:
            raise ValueError(f"no rule for {func!r}")
        return float(fns[func.text](*[_eval(a, leaf, fns) for a in node.args]))
    raise ValueError(f"cannot evaluate {node!r}")


def leaves(node: Expr) -> list[Var]:
    """The bound leaves of a tree, in reading order."""
    out: list[Var] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Var):
            out.append(n)
        elif isinstance(n, (Add,)):
            stack.extend(reversed(n.terms))
        elif isinstance(n, Mul):
            stack.extend(reversed(n.factors))
        elif isinstance(n, (Sub,)):
            stack.extend((n.right, n.left))
        elif isinstance(n, Div):
            stack.extend((n.denominator, n.numerator))
        elif isinstance(n, Neg):
            stack.append(n.operand)
        elif isinstance(n, Pow):
            stack.extend((n.exponent, n.base))
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))
    return out


def rebind(node: Expr, leaf: Leaf) -> Expr:
    """The tree with every bound leaf holding the number `leaf` gives (to print a student's substitution)."""
    if isinstance(node, Var):
        return Var(node.sym, leaf(node))
    if isinstance(node, Add):
        return Add(tuple(rebind(t, leaf) for t in node.terms))
    if isinstance(node, Mul):
        return Mul(tuple(rebind(f, leaf) for f in node.factors))
    if isinstance(node, Sub):
        return Sub(rebind(node.left, leaf), rebind(node.right, leaf))
    if isinstance(node, Div):
        return Div(rebind(node.numerator, leaf), rebind(node.denominator, leaf))
    if isinstance(node, Neg):
        return Neg(rebind(node.operand, leaf))
    if isinstance(node, Pow):
        return Pow(rebind(node.base, leaf), rebind(node.exponent, leaf))
    if isinstance(node, Call):
        return Call(node.func, tuple(rebind(a, leaf) for a in node.args))
    return node


# ------------------------------------------------------------------------------------------------
# The run, as marking needs it


@dataclass
class Quantity:
    """One equation of the run with what marking needs to know about it."""

    step: int
    sample: int | None
    symbol: str
    equation: Equation
    layer: str | None
    uses: list[str]


@dataclass
class RunFacts:
    """The run's equations by step, parameters before each step, and how parameters are named."""

    quantities: list[Quantity]
    params_before: dict[int, dict[str, Any]]
    param_index: dict[str, tuple[str, int]]  # w_14 -> ("layer2.weight", flat index)
    updated: dict[str, str]  # w_14 -> w'_14 (from the update equations)
    slopes: dict[str | None, float]
    activations: dict[str | None, str]  # layer -> the activation's printed name (σ, tanh, ...)
    loss: str
    notation: str
    rule: str
    update_order: str


def collect(events: Iterable[Event], printer: Any) -> RunFacts:
    quantities: list[Quantity] = []
    params_before: dict[int, dict[str, Any]] = {}
    param_index: dict[str, tuple[str, int]] = {}
    updated: dict[str, str] = {}
    slopes: dict[str | None, float] = {}
    activations: dict[str | None, str] = {}
    current: dict[str, Any] = {}
    step = 0
    header: TraceHeader | None = None
    for ev in events:
        if isinstance(ev, TraceHeader):
            header = ev
            current = dict(ev.initial_parameters)
            for pname, syms in ev.parameter_symbols.items():
                for i, s in enumerate(syms):
                    param_index[printer.doprint(s)] = (pname, i)
            for layer in ev.network.get("layers", []):
                if "slope" in layer:
                    slopes[layer["name"]] = float(layer["slope"])
                if layer.get("activation") in ACTIVATION_LABELS:
                    activations[layer["name"]] = ACTIVATION_LABELS[layer["activation"]]
        elif isinstance(ev, StepStart):
            step = ev.index
            params_before[step] = current
        elif isinstance(ev, Block):
            for eq in ev.equations:
                symbol = printer.doprint(eq.symbol)
                uses: list[str] = []
                for v in leaves(eq.bound):
                    t = printer.doprint(v.sym)
                    if t not in uses:
                        uses.append(t)
                quantities.append(Quantity(step, ev.sample, symbol, eq, ev.layer, uses))
                if eq.kind == "update" and isinstance(eq.bound, Sub) and isinstance(eq.bound.left, Var):
                    updated[printer.doprint(eq.bound.left.sym)] = symbol
        elif isinstance(ev, StepEnd):
            if ev.parameters is not None:
                current = dict(ev.parameters)
    assert header is not None
    settings = header.settings
    loss = str(header.network.get("loss", ""))
    return RunFacts(
        quantities,
        params_before,
        param_index,
        updated,
        slopes,
        activations,
        loss,
        settings.notation,
        settings.rule,
        settings.update_order,
    )


# ------------------------------------------------------------------------------------------------
# Judging


@dataclass
class Marked:
    step: int
    sample: int | None
    symbol: str
    kind: str
    given: str | None
    expected: float
    own: float | None
    verdict: str
    diagnosis: str | None
    uses: list[str]
    points: float
    max_points: float
    expression: str = ""  # the equation in symbols
    substituted: str = ""  # with the student's own inputs substituted


@dataclass
class Report:
    network: str
    options: dict[str, Any]
    student: str
    variant: str
    tolerance: Tolerance
    scoring: Scoring
    answers: list[Marked]

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
    return Report(sheet.network, dict(sheet.options), sheet.student, sheet.variant, tolerance, scoring, marked)


class _Judge:
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
        self._derivatives: dict[tuple[int, int | None], list[tuple[Quantity, Var]]] | None = None

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
            verdict, diagnosis = "wrong", self.diagnose(q, text, fns)
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

    # -- diagnoses --------------------------------------------------------------------------------

    def diagnose(self, q: Quantity, text: str, fns: dict[str, Callable[..., float]]) -> str | None:
        own = self.own_leaf(q)
        for sentence, candidates in self.slips(q, own, fns):
            for value in candidates:
                if value is not None and math.isfinite(value) and self.tol.accepts(text, value):
                    return sentence
        digits = significant_digits(text)
        if digits < 2 and Tolerance(sigfigs=max(digits, 1)).accepts(text, q.equation.value):
            return f"rounded to {max(digits, 1)} significant digit: write at least 2 (better 4)"
        return None

    def slips(self, q: Quantity, own: Leaf, fns: dict[str, Callable[..., float]]) -> Iterable[tuple[str, list]]:
        """(sentence, values the slip would give), most specific first; each value from the student's own
        inputs and from the true ones. Generated lazily: the first match ends the search."""
        eq = q.equation
        bound = eq.bound
        leafs = leaves(bound)
        texts = [self.text(v.sym) for v in leafs]

        def both(override: Callable[[Var, float], float | None]) -> list[float]:
            def with_own(v: Var) -> float:
                r = override(v, own(v))
                return own(v) if r is None else r

            def with_true(v: Var) -> float:
                r = override(v, v.value)
                return v.value if r is None else r

            return [evaluate(bound, with_own, fns), evaluate(bound, with_true, fns)]

        own_value = evaluate(bound, own, fns)
        kind = eq.kind
        has_derivative = any(isinstance(v.sym, Derivative) for v in leafs)
        if kind == "error" and has_derivative and not isinstance(eq.symbol, Derivative) and self.facts.rule == "exact":
            yield (
                "dh/de left out of δ: the slide's shortcut δ_m = Σ_n w_mn·δ_n; the exact chain rule keeps the "
                "factor dh_n(e)/de",
                both(lambda v, x: 1.0 if isinstance(v.sym, Derivative) else None),
            )
        mse = self.facts.loss == "mse"
        if kind == "loss" and mse:
            yield "the ½ of the loss dropped: E = ½ Σ (y_k − ŷ_k)² keeps it", [2 * own_value, 2 * eq.value]
            yield "the ½ of the loss counted twice: E = ½ Σ (y_k − ŷ_k)²", [own_value / 2, eq.value / 2]
        if kind == "error" and mse and "ŷ" in "".join(texts) and not isinstance(eq.symbol, Derivative):
            yield (
                "a factor 2 from the square: the ½ of the loss cancels it, so ∂E/∂y = y − ŷ",
                [2 * own_value, 2 * eq.value],
            )
            yield "the ½ of the loss counted twice: ∂E/∂y = y − ŷ, not ½(y − ŷ)", [own_value / 2, eq.value / 2]
        if kind == "update" and "η" in texts:
            yield (
                "η left out: the update is w' = w − η·∂E/∂w",
                both(lambda v, x: 1.0 if self.text(v.sym) == "η" else None),
            )
        if kind in ("update", "gradient") and any(_is_input(v) for v in leafs):
            names = ", ".join(t for v, t in zip(leafs, texts) if _is_input(v))
            yield (
                f"the factor {names} left out (the lecture's Weight Updating slide drops x_2 from w'_(x2)1)",
                both(lambda v, x: 1.0 if _is_input(v) else None),
            )
        if kind in ("error", "gradient", "update") and has_derivative:
            yield (
                "dh/de left out",
                both(lambda v, x: 1.0 if isinstance(v.sym, Derivative) else None),
            )
        swap = self.updated_weights(q)
        if swap:
            old_for_new = self.facts.update_order == "sequential"
            yield (
                "the old weight used where the updated one belongs (sequential update order)"
                if old_for_new
                else "the updated weight w' used where the old one belongs: every δ uses the weights from "
                "before the step",
                both(lambda v, x: swap.get(self.text(v.sym))),
            )
        transposed = self.transposed(q)
        if transposed:
            values = both(lambda v, x: transposed.get(self.text(v.sym)))
            for name, value in transposed.items():
                values += both(self._only(name, value))
            yield "a transposed weight: weight[i][j] is the weight from input j to unit i, not from i to j", values
        h = self.facts.activations.get(q.layer, "h")
        if kind == "error" and isinstance(eq.symbol, Derivative) and leafs:
            first = leafs[0]
            yield (
                f"{h}(e) = {texts[0]} written for its derivative dh(e)/de = {self.printer.doprint(bound)}",
                [own(first), first.value],
            )
        if has_derivative:
            deriv_y = self.derivative_outputs(q)
            yield (
                "σ(e) written for its derivative: dh(e)/de (for σ, σ(e)·(1 − σ(e))) belongs here, not y = h(e)",
                both(lambda v, x: deriv_y.get(self.text(v.sym)) if isinstance(v.sym, Derivative) else None),
            )
        yield "the sign flipped", [-own_value, -eq.value]
        for digits in (1, 2, 3):
            yield (
                f"rounding too early: the same equation on its inputs rounded to {digits} significant digit"
                f"{'s' if digits > 1 else ''} gives this; keep 4 or more digits until the end",
                both(_rounded(digits)),
            )

    def updated_weights(self, q: Quantity) -> dict[str, float]:
        """For an error equation: each weight leaf -> the value it has on the other side of this step's update."""
        if q.equation.kind != "error":
            return {}
        out: dict[str, float] = {}
        facts = self.facts
        inverse = {new: old for old, new in facts.updated.items()}
        for v in leaves(q.equation.bound):
            t = self.text(v.sym)
            if facts.update_order != "sequential" and t in facts.updated:
                val = self.true.get((q.step, None, facts.updated[t]))
                if val is not None:
                    out[t] = val
            elif facts.update_order == "sequential" and t in inverse and inverse[t] in facts.param_index:
                pname, i = facts.param_index[inverse[t]]
                arr = facts.params_before.get(q.step, {}).get(pname)
                if arr is not None:
                    out[t] = float(arr.reshape(-1)[i])
        return out

    def transposed(self, q: Quantity) -> dict[str, float]:
        """Each weight leaf of a matrix -> the element at its place with the matrix read transposed."""
        out: dict[str, float] = {}
        params = self.facts.params_before.get(q.step, {})
        for v in leaves(q.equation.bound):
            t = self.text(v.sym)
            where = self.facts.param_index.get(t)
            if where is None:
                continue
            arr = params.get(where[0])
            if arr is None or arr.ndim != 2:
                continue
            i, j = divmod(where[1], arr.shape[1])
            if j < arr.shape[0] and i < arr.shape[1] and i != j:
                out[t] = float(arr[j, i])
        return out

    def _only(self, name: str, value: float) -> Callable[[Var, float], float | None]:
        """An override that replaces the leaf `name` by `value` and keeps every other."""
        return lambda v, x: value if self.text(v.sym) == name else None

    def derivative_outputs(self, q: Quantity) -> dict[str, float]:
        """dh_n(e)/de -> y_n (the student's when given), from this step's dh/de equations."""
        if self._derivatives is None:
            self._derivatives = {}
            for other in self.facts.quantities:
                if isinstance(other.equation.symbol, Derivative):
                    read = leaves(other.equation.bound)
                    if read:
                        self._derivatives.setdefault((other.step, other.sample), []).append((other, read[0]))
        out: dict[str, float] = {}
        for other, first in self._derivatives.get((q.step, q.sample), []):
            y = self.lookup(self.given, q, self.text(first.sym))
            out[other.symbol] = first.value if y is None else y
        return out


def _rounded(digits: int) -> Callable[[Var, float], float | None]:
    """An override that rounds every leaf to `digits` significant digits."""
    return lambda v, x: float(_round_sig(Decimal(repr(float(x))), digits))


def _is_input(v: Var) -> bool:
    return isinstance(v.sym, Sym) and v.sym.base == "x" and bool(v.sym.indices) and not v.sym.prime
