"""When a written number counts as right (`Tolerance`), and what it earns (`Scoring`).

A number is compared as the student wrote it: its significant digits are counted from its text
(`-0.01000` has four), and the arithmetic is decimal, so that 0.5915 is exactly 0.5915. The default
rule follows rounding; `--sigfigs` and `--rtol`/`--atol` (PrairieLearn's |a − b| ≤ atol + rtol·|b|)
replace it. Points are per kind of equation; follow-through earns them in full, by half or not at all.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Final

from .errors import BpexplainError
from .record import Record

KINDS = ("forward", "loss", "error", "gradient", "update")
FOLLOW_THROUGH = {"full": 1.0, "half": 0.5, "none": 0.0}
ZERO = 1e-12  # a written 0 is right when the true value is within this of 0 (float noise)


def significant_digits(text: str) -> int:
    """Digits as written: `-0.01000` has 4, `100` has 3, `1.5e-3` has 2, `0.0` has 0."""
    mantissa = text.strip().lstrip("+-").split("e")[0].split("E")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    return len(digits)


def round_sig(x: Decimal, k: int) -> Decimal:
    if x == 0:
        return x
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        return x.quantize(Decimal(1).scaleb(x.adjusted() - k + 1))


class Tolerance(Record):
    """When a written number agrees with a value.

    Default (rounding-aware): a number written to k significant digits (k counted as written, at least
    2) is accepted when it is within one unit of its last digit of the value rounded to k digits.
    `sigfigs=N`: within one unit of the N-th digit of the value rounded to N digits. `rtol`/`atol`:
    |a − b| ≤ atol + rtol·|b|.
    """

    __slots__ = __match_args__ = ("rtol", "atol", "sigfigs")

    def __init__(self, rtol: float | None = None, atol: float | None = None, sigfigs: int | None = None) -> None:
        self.rtol: Final = rtol
        self.atol: Final = atol
        self.sigfigs: Final = sigfigs

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
            rounded = round_sig(true, self.sigfigs)
            return abs(given - rounded) <= Decimal(1).scaleb(rounded.adjusted() - self.sigfigs + 1)
        k = max(significant_digits(text), 2)
        unit = Decimal(1).scaleb(given.adjusted() - k + 1)
        return abs(given - round_sig(true, k)) <= unit

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


class Scoring(Record):
    """Points per kind of equation (1 each unless given), and what follow-through earns of them."""

    __slots__ = __match_args__ = ("points", "follow_through")

    def __init__(self, points: dict[str, float] | None = None, follow_through: str = "full") -> None:
        self.points: Final = dict.fromkeys(KINDS, 1.0) if points is None else points
        self.follow_through: Final = follow_through

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
