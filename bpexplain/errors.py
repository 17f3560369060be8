"""One error type for everything a user can fix: it knows where (file, line, column) and what was expected."""

from __future__ import annotations

from typing import Final

from .record import Record


class Location(Record):
    """Where in the user's input: a file, and a line and column in it when known."""

    __slots__ = __match_args__ = ("file", "line", "column")

    def __init__(self, file: str, line: int | None = None, column: int | None = None) -> None:
        self.file: Final = file
        self.line: Final = line  # 1-based
        self.column: Final = column  # 1-based

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class BpexplainError(Exception):
    """A problem with the user's input; the CLI prints it as one line and exits with status 2."""

    exit_code = 2

    def __init__(
        self, message: str, *, where: Location | None = None, path: str = "", expected: str | None = None
    ) -> None:
        self.message = message
        self.where = where
        self.path = path
        self.expected = expected
        super().__init__(self.line())

    def line(self) -> str:
        parts = []
        if self.where is not None:
            parts.append(f"{self.where}: ")
        if self.path:
            parts.append(f"{self.path}: ")
        parts.append(self.message)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        return "".join(parts)


class NumericalError(BpexplainError):
    """A value became NaN or infinite; exit status 1."""

    exit_code = 1
