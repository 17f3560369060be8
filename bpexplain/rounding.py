"""Rounding as a student rounds by hand: to N decimals, half away from zero, on the decimal value.

Binary floating point cannot hold 0.205 exactly (it is 0.20499999999999998...), so rounding the float
itself would give 0.2 where a student writes 0.21. The value is first read as the decimal a person
would read (12 significant digits, which drops the float's last-place noise), then rounded half away
from zero. Used by the engine under `--round N`; the policy is stated in every trace's conventions.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

SIGNIFICANT = 12


def round_value(x: float, decimals: int) -> float:
    """x rounded to `decimals` decimals, half away from zero, as by hand."""
    if not math.isfinite(x) or abs(x) >= 1e15:
        return x
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(format(x, f".{SIGNIFICANT}g")).quantize(quantum, rounding=ROUND_HALF_UP))


def round_array(a: np.ndarray, decimals: int) -> np.ndarray:
    """Every element of `a` rounded by `round_value`; the shape and float64 dtype are kept."""
    arr = np.asarray(a, dtype=np.float64)
    out = np.fromiter((round_value(float(v), decimals) for v in arr.ravel()), dtype=np.float64, count=arr.size)
    return out.reshape(arr.shape)
