"""`Record`: the base of bpexplain's immutable records, plain classes that are cheap to define.

A dataclass is made by writing the source of its methods and exec-ing it, which costs about a
millisecond a class (two for a frozen one of many fields) when the module is imported: with the
expression nodes and the trace, network and option records, that was most of bpexplain's own
start-up. A `Record` is a plain class instead. It names its fields in `__slots__` and
`__match_args__` (as a dataclass with slots would) and sets them in `__init__`, whose parameters
are the fields in that order, annotated `Final` so that mypy refuses a later assignment; equality,
hashing and `repr` follow from the fields, as a frozen dataclass's do, and `replace` makes a copy
with some fields changed, as `dataclasses.replace` does.
"""

from __future__ import annotations

from typing import Any, TypeVar

R = TypeVar("R")


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

    def __replace__(self: R, **changes: Any) -> R:
        """A copy with `changes` made (Python 3.13's `copy.replace` calls this); an unknown field is a TypeError."""
        fields = dict(zip(self.__match_args__, self._values()))  # type: ignore[attr-defined]
        fields.update(changes)
        return type(self)(**fields)


def replace(obj: R, /, **changes: Any) -> R:
    """A copy of a record, or of a dataclass, with `changes` made: the one call for both."""
    method = getattr(type(obj), "__replace__", None)
    if method is not None:
        return method(obj, **changes)  # type: ignore[no-any-return]
    import dataclasses

    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
