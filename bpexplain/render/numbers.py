"""The one place where numbers become text, for every format."""

from __future__ import annotations

import math

import numpy as np

# Under --round N a value is shown as it is carried: its decimal reading (the 12 significant digits of
# rounding.SIGNIFICANT), which for a rounded value is at most N decimals, trailing zeros dropped; an
# input or initial parameter used as given keeps its own digits. Every format uses it as its precision.
CARRIED = 12

_G = tuple(f".{p}g" for p in range(13))  # the `g` format spec of each precision the fast path takes


def format_number(x: float, precision: int = 4) -> str:
    """`precision` significant digits, trailing zeros dropped; scientific below 1e-6 and from 1e9 up.

    Significant digits (not decimals) keep a small gradient such as 0.0003123 readable.
    """
    if 0 < precision <= 12:
        # Python's own `g` format writes the same text whenever it chooses fixed notation (it rounds to
        # `precision` significant digits and drops trailing zeros), and the same nan, inf and -inf; only its
        # exponent form (below 1e-4, and from 10**precision up), -0, and fixed numbers from 1e9 up are ours.
        # Below, log10 can be one off within a few ulps of a power of ten (0.009999999999999998); at 12
        # digits or fewer both round such a value to the power itself, beyond that they may not.
        text = format(x, _G[precision])
        if "e" not in text and text != "-0" and (precision <= 9 or abs(x) < 1e9):
            return text
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax < 1e-6 or ax >= 1e9:
        mantissa, exponent = f"{x:.{max(precision - 1, 0)}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    decimals = max(precision - 1 - math.floor(math.log10(ax)), 0)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_numbers(values: list[float], precision: int = 4) -> list[str]:
    """`format_number` of each number of a list, by its fast path for the whole list at once where it can."""
    if 0 < precision <= 9:  # no fixed notation from 1e9 up at these precisions: the check is for "e" and -0
        spec = _G[precision]
        texts = [format(v, spec) for v in values]
        if "-0" not in texts and "e" not in "".join(texts):
            return texts
    return [format_number(float(v), precision) for v in values]


def format_vector(values: np.ndarray, precision: int = 4, limit: int = 12) -> str:
    """[0.1, 0.4, 0.2], shortened in the middle beyond `limit` values."""
    numbers = np.asarray(values).ravel().tolist()
    if len(numbers) > limit:
        half = limit // 2
        flat = format_numbers(numbers[:half], precision) + ["…"] + format_numbers(numbers[-half:], precision)
    else:
        flat = format_numbers(numbers, precision)
    return "[" + ", ".join(flat) + "]"


def format_grid(values: np.ndarray, precision: int = 4, limit: int = 12) -> list[str]:
    """A matrix as right-aligned rows of text (a vector as one row); rows and columns shortened beyond `limit`."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        return [format_number(float(arr), precision)]
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim > 2 and arr.shape[0] == 1:  # one channel: the plain matrix
        return format_grid(arr[0], precision, limit)
    if arr.ndim > 2:
        lines: list[str] = []
        for c in range(arr.shape[0]):
            lines.append(f"[{c + 1}]")  # channels numbered from 1, as in the symbols O1(c,i,j)
            lines.extend("  " + line for line in format_grid(arr[c], precision, limit))
        return lines
    half = limit // 2
    if half == 0:  # a limit of 0 or 1 (never used): every row, as the slices below would not give them
        return _whole_grid(arr, precision, limit)
    rows_shown = arr if arr.shape[0] <= limit else arr[np.r_[:half, arr.shape[0] - half : arr.shape[0]]]
    columns = min(arr.shape[1], limit + 1)  # a shortened row: limit numbers and "…"
    if arr.shape[1] <= limit:
        values = rows_shown.tolist()  # Python floats: formatting numpy scalars one by one is several times slower
        rows = [format_numbers(r, precision) for r in values]
    else:  # only the cells shown become Python floats (a large layer's weights are hundreds of thousands)
        left, right = rows_shown[:, :half].tolist(), rows_shown[:, rows_shown.shape[1] - half :].tolist()
        rows = [format_numbers(a, precision) + ["…"] + format_numbers(b, precision) for a, b in zip(left, right)]
    if arr.shape[0] > limit:
        rows = rows[:half] + [["⋮"] * columns] + rows[half:]
    width = max([max(map(len, row)) for row in rows])
    pad = f"{{:>{width}}}".format  # str.rjust's padding, one call a cell by map
    return ["  ".join(map(pad, row)) for row in rows]


def _whole_grid(values: np.ndarray, precision: int, limit: int) -> list[str]:
    """`format_grid` of a matrix for any `limit`, every cell made a Python float first."""
    rows_list = values.tolist()
    half = limit // 2
    if len(rows_list) > limit:
        rows_list = rows_list[:half] + [None] + rows_list[-half:]
    columns = min(values.shape[1], limit + 1)
    rows = [["⋮"] * columns if r is None else _shorten_numbers(r, limit, precision) for r in rows_list]
    width = max(len(cell) for row in rows for cell in row)
    return ["  ".join(cell.rjust(width) for cell in row) for row in rows]


def _shorten_numbers(row: list[float], limit: int, precision: int) -> list[str]:
    """A row's numbers as text, shortened in the middle beyond `limit` (only the numbers shown are formatted)."""
    if len(row) <= limit:
        return format_numbers(row, precision)
    half = limit // 2
    return format_numbers(row[:half], precision) + ["…"] + format_numbers(row[-half:], precision)
