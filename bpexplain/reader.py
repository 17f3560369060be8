"""The vocabulary of validation: typed reads of a document's values whose errors point at the node.

`Reader` checks a value's kind (a mapping of known keys, a number, a whole number within a limit, one of
some words, an array of a shape) and fails with the position, the key path, what was found and what was
expected; `describe` says what was found in words. `ParamInit` draws random parameters and counts the
network's parameters and products against limits.py as they are read. The assembly of a network (spec.py)
and every layer module's `read_spec` speak it.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import numpy as np

from .limits import MAX_CONNECTIONS, MAX_PARAMETERS
from .yamldoc import Document, _close_matches

# --------------------------------------------------------------------------------------------
# Typed access to a document's values


class Reader:
    """Typed access to the document with errors that point at the node."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def fail(self, path: tuple, message: str, expected: str | None = None, key: bool = False) -> NoReturn:
        self.doc.fail(path, message, expected, key)

    def mapping(self, value: Any, path: tuple, allowed: Sequence[str], required: Sequence[str] = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"found {describe(value)}", expected="a mapping of keys")
        for key in value:
            if key not in allowed:
                close = _close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(
                    path + (key,), f"unknown key {key!r}{hint}", key=True, expected="one of " + ", ".join(allowed)
                )
        for key in required:
            if key not in value:
                self.fail(path, f"missing key {key!r}", expected=f"{key!r} in this mapping")
        return value

    def number(self, value: Any, path: tuple, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"found {describe(value)}", expected="a number")
        if not _finite(value):
            self.fail(path, f"found {_show(value)}", expected="a finite number (within ±1.8e308)")
        x = float(value)
        if positive and x <= 0:
            self.fail(path, f"found {value!r}", expected="a number greater than 0")
        return x

    def integer(self, value: Any, path: tuple, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole number from `minimum` to `maximum` (a limit of `limits.py`, checked before it is used)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"found {describe(value)}", expected=f"a whole number ≥ {minimum}")
        if value < minimum:
            self.fail(path, f"found {_show(value)}", expected=f"a whole number ≥ {minimum}")
        if maximum is not None and value > maximum:
            self.fail(path, f"found {_show(value)}", expected=f"a whole number ≤ {maximum:,}, the limit here")
        return int(value)

    def string(self, value: Any, path: tuple, choices: Sequence[str] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(path, f"found {describe(value)}", expected="a string")
        if choices is not None and value not in choices:
            close = _close_matches(value, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(path, f"unknown value {value!r}{hint}", expected="one of " + ", ".join(choices))
        return value

    def boolean(self, value: Any, path: tuple) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"found {describe(value)}", expected="true or false")
        return value

    def array(self, value: Any, path: tuple, shape: tuple[int, ...], what: str = "") -> np.ndarray:
        """A nested list of numbers of exactly `shape`; `what` describes the shape in words."""
        found = _shape_of(value)
        expected = f"{what} of shape {format_shape(shape)}" if what else f"shape {format_shape(shape)}"
        if found is None:
            self._fail_elements(value, path, expected)
        if found != shape:
            self.fail(path, f"found shape {format_shape(found)}", expected=expected)
        arr = np.array(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            self._fail_elements(value, path, "finite numbers")
        arr.setflags(write=False)
        return arr

    def _fail_elements(self, value: Any, path: tuple, expected: str) -> NoReturn:
        for sub, leaf in _leaves(value, path):
            if isinstance(leaf, bool) or not isinstance(leaf, (int, float, list)):
                self.fail(sub, f"found {describe(leaf)}", expected="a number")
            if isinstance(leaf, (int, float)) and not isinstance(leaf, bool) and not _finite(leaf):
                self.fail(sub, f"found {_show(leaf)}", expected="a finite number (within ±1.8e308)")
        self.fail(path, "the rows are of different lengths (a ragged matrix)", expected=expected)


def _finite(value: int | float) -> bool:
    """Whether a number read from YAML is a finite float64 (a whole number of 400 digits is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _show(value: Any) -> str:
    """A number for a message; a whole number of many digits by its length (and never converted whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(10**21) < value < 10**21:
        return f"a whole number of {len(str(abs(value)))} digits"
    return repr(value)


def _leaves(value: Any, path: tuple) -> Iterable[tuple[tuple, Any]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, path + (i,))
    else:
        yield path, value


def _shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a regular nested list of numbers, or None when it is ragged or not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return () if _finite(value) else None
    if not isinstance(value, list) or not value:
        return (0,) if value == [] else None
    shapes = {_shape_of(v) for v in value}
    if len(shapes) != 1 or None in shapes:
        return None
    inner = shapes.pop()
    assert inner is not None
    return (len(value),) + inner


def format_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape) if shape else "scalar"


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (int, float)):
        shown = _show(value)
        return shown if shown.startswith("a whole") else f"the number {shown}"
    if isinstance(value, bytes):
        return "binary data (!!binary)"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, set):
        return f"a set of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class ParamInit:
    """Seeded random initialisation (Algorithm 2, line 1): uniform in ±1/√fan_in, rounded for hand work."""

    def __init__(self, seed: int, decimals: int) -> None:
        self.seed = seed
        self._rng: np.random.Generator | None = None  # made on first draw: numpy.random is slow to import
        self.decimals = decimals
        self.total = 0  # parameters of the network so far
        self.connections = 0  # products and window terms of one forward pass so far

    def count(self, reader: Reader, path: tuple, shape: tuple[int, ...]) -> None:
        """Refuse, before allocating it, a parameter that takes the network past MAX_PARAMETERS."""
        size = math.prod(shape)
        self.total += size
        if self.total > MAX_PARAMETERS:
            reader.fail(
                path,
                f"{format_shape(shape)} = {size:,} parameters bring the network to {self.total:,}",
                expected=f"at most {MAX_PARAMETERS:,} parameters in all: a network small enough to explain",
            )

    def connect(self, reader: Reader, path: tuple, units: int, terms: int) -> None:
        """Refuse, before the engine loops over them, a layer whose units × terms each (the products of a
        weighted sum, the elements of a window) take one forward pass past MAX_CONNECTIONS."""
        size = units * terms
        self.connections += size
        if self.connections > MAX_CONNECTIONS:
            reader.fail(
                path,
                f"{units:,} outputs of {terms:,} terms each bring one forward pass to {self.connections:,} terms",
                expected=f"at most {MAX_CONNECTIONS:,} in all: a network small enough to explain",
            )

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def draw(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        arr = np.round(self.rng.uniform(-bound, bound, size=shape), self.decimals)
        arr = arr + 0.0  # turn -0.0 into 0.0 so that it prints as 0
        arr.setflags(write=False)
        return arr


# --------------------------------------------------------------------------------------------
# Names that become symbols


MAX_NAME = 32  # characters of an input, unit or weight name: it becomes a symbol's index


def is_identifier(text: str) -> bool:
    """Whether `text` is a letter, then letters, digits or _, all ASCII: [A-Za-z][A-Za-z0-9_]* (a pattern
    compiled at import took a tenth of a millisecond of every start-up)."""
    return text.isascii() and text[:1].isalpha() and text.replace("_", "a").isalnum()


def check_identifier(r: Reader, value: Any, path: tuple, what: str) -> str:
    """A name that becomes a symbol (an input, a unit, a weight's label): a letter, then letters, digits or _."""
    if not isinstance(value, str) or not is_identifier(value) or len(value) > MAX_NAME:
        found = describe(value) if not isinstance(value, str) else f"the name {value!r}"
        r.fail(
            path,
            f"found {found} as {what}",
            expected=f"a name of a letter, then letters, digits or _ (at most {MAX_NAME} characters): "
            "it becomes a symbol",
        )
    return value


def names_are_symbols(names: Sequence[str]) -> bool:
    """Whether a network's input names become its symbols (i1 -> i_1): when every one is an identifier.
    Other text (`age (years)`) is kept as a label, and the inputs are written x_1, x_2, ... as by default."""
    return all(is_identifier(n) and len(n) <= MAX_NAME for n in names)
