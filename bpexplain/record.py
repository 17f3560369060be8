"""`Record`: the base of bpexplain's immutable records, plain classes that are cheap to define.

A frozen dataclass is made by writing the source of its methods and exec-ing it, which costs about a
third of a millisecond a class when the module is imported: with the expression nodes and the trace
and network records, that was most of bpexplain's own start-up. A `Record` is a plain class instead.
It names its fields in `__slots__` and `__match_args__` (as a dataclass with slots would) and sets
them in `__init__`, annotated `Final` so that mypy refuses a later assignment; equality, hashing and
`repr` follow from the fields, as a frozen dataclass's do.
"""

from __future__ import annotations

from typing import Any


class Record:
    """Equal to a record of the same class with equal fields; hashed and shown by its fields."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()  # the fields, in the order of __init__'s parameters

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self.__match_args__, self._values()))
        return f"{type(self).__qualname__}({fields})"
